//! Whole-file writes that either land completely or not at all: write a temp file in the
//! destination's folder, flush it to disk, then rename it over the destination. A crash at
//! any point leaves either the old file or the new one, never half of either.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written; dropped without a successful [`AtomicFile::commit`], it removes
/// itself (a commit that fails on a full disk included).
pub struct AtomicFile {
    destination: PathBuf,
    temp_path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Set once the temp file has been renamed into place: nothing is left to remove.
    renamed: bool,
}

impl AtomicFile {
    pub fn create(destination: &Path) -> anyhow::Result<AtomicFile> {
        let folder = destination
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = destination
            .file_name()
            .with_context(|| format!("{}: not a file path", destination.display()))?;
        let temp_path = folder.join(format!(
            ".{}.tmp-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&temp_path)
            .with_context(|| format!("{}: cannot create", temp_path.display()))?;
        Ok(AtomicFile {
            destination: destination.to_path_buf(),
            temp_path,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            renamed: false,
        })
    }

    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// The temp file's path, for writers that insist on opening a path themselves.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer
            .as_mut()
            .expect("the writer is only taken by commit, which consumes self")
    }

    /// Flushes, syncs and renames over the destination.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let writer = self
            .writer
            .take()
            .expect("the writer is only taken by commit, which consumes self");
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: cannot write", self.destination.display()))?;
        file.sync_all()
            .with_context(|| format!("{}: cannot write", self.destination.display()))?;
        drop(file);
        std::fs::rename(&self.temp_path, &self.destination).with_context(|| {
            format!(
                "{}: cannot move {} into place",
                self.destination.display(),
                self.temp_path.display()
            )
        })?;
        self.renamed = true;
        sync_parent(&self.destination);
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // The writer (and its file handle) closes first; then the temp file goes, whether
        // the writes failed or the final flush, sync or rename in `commit` did.
        drop(self.writer.take());
        if !self.renamed {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    file.commit()
}

/// Makes a rename durable: the folder entry is flushed too (best effort, not all file
/// systems allow opening a folder).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn commit_replaces_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_commit_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        // A commit that fails after taking the writer: here the rename, onto a non-empty
        // folder; a full disk fails its flush the same way (tests/faults/). Before the
        // fix such a failure left `.out.bin.tmp-*` behind.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let error = format!("{:#}", file.commit().unwrap_err());
        assert!(error.contains("cannot move"), "{error}");
        assert!(
            temp_files(dir.path()).is_empty(),
            "a failed commit removes its temp file"
        );
    }

    #[test]
    fn a_failure_midway_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        // A writer that fails after writing part of its output, as a full disk would.
        let result: anyhow::Result<()> = (|| {
            let mut file = AtomicFile::create(&path)?;
            file.write_all(&[7u8; 4096])?;
            file.flush()?;
            assert_eq!(
                temp_files(dir.path()).len(),
                1,
                "the temp file exists while writing"
            );
            anyhow::bail!("simulated failure");
        })();
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(temp_files(dir.path()).is_empty());
    }
}
