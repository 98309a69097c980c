//! Content hashes: files, folders and stage keys. Everything is SHA-256, hex encoded.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hash and length of a file, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        hasher.update(&buffer[..n]);
        len += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}

/// Every regular file under `root` (or `root` itself), sorted, so folder hashes are stable.
pub fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root).with_context(|| format!("{}: not found", root.display()))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("{}: cannot stat", path.display()))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// One hash for a file or a whole folder: the hash of every (relative path, content hash).
pub fn sha256_path(root: &Path) -> anyhow::Result<String> {
    let files = files_under(root)?;
    if files.len() == 1 && files[0] == root {
        return Ok(sha256_file(root)?.0);
    }
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(sha256_file(&file)?.0.as_bytes());
        hasher.update([b'\n']);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Builds a stage key from labelled parts; the labels keep `("a","bc")` and `("ab","c")` apart.
#[derive(Default)]
pub struct KeyHasher {
    hasher: Sha256,
}

impl KeyHasher {
    pub fn new(domain: &str) -> KeyHasher {
        let mut k = KeyHasher::default();
        k.part("domain", domain);
        k
    }

    pub fn part(&mut self, label: &str, value: &str) -> &mut Self {
        for piece in [label, value] {
            self.hasher.update((piece.len() as u64).to_le_bytes());
            self.hasher.update(piece.as_bytes());
        }
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256_vectors() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), (sha256_bytes(b"abc"), 3));
    }

    #[test]
    fn folder_hash_sees_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x.png"), b"1").unwrap();
        std::fs::write(dir.path().join("y.png"), b"2").unwrap();
        let first = sha256_path(dir.path()).unwrap();
        assert_eq!(first, sha256_path(dir.path()).unwrap());
        std::fs::write(dir.path().join("y.png"), b"3").unwrap();
        let second = sha256_path(dir.path()).unwrap();
        assert_ne!(first, second);
        std::fs::rename(dir.path().join("y.png"), dir.path().join("z.png")).unwrap();
        assert_ne!(second, sha256_path(dir.path()).unwrap());
    }

    #[test]
    fn key_parts_are_length_prefixed() {
        let mut a = KeyHasher::new("t");
        a.part("a", "bc");
        let mut b = KeyHasher::new("t");
        b.part("ab", "c");
        assert_ne!(a.finish(), b.finish());
    }
}
