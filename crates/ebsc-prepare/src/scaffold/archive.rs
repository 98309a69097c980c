//! Archives handed to `new` as the data (`kmnist.zip`, `notMNIST_small.tar.gz`): unpacked
//! once into a folder beside the archive, named as the archive without its extension,
//! which the pipeline then reads. The stages never see the archive, so a pipeline reads
//! the same files on every run.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// The archive formats `new` unpacks, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Zip,
    Tar,
    TarGz,
}

/// Archive endings, matched without regard to case.
const ENDINGS: [(&str, Format); 4] = [
    (".tar.gz", Format::TarGz),
    (".tgz", Format::TarGz),
    (".tar", Format::Tar),
    (".zip", Format::Zip),
];

/// The format and the folder name (the file name without its ending) of an archive.
fn archive_name(path: &Path) -> Option<(Format, String)> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    ENDINGS.iter().find_map(|(ending, format)| {
        let stem = &name[..lower.strip_suffix(ending)?.len()];
        (!stem.is_empty()).then(|| (*format, stem.to_string()))
    })
}

/// Whether `new` unpacks this file before reading it.
pub fn is_archive(path: &Path) -> bool {
    path.is_file() && archive_name(path).is_some()
}

/// What [`unpack_beside`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// The archive was unpacked: this many files.
    Now { files: usize },
    /// The folder was there already (an earlier `new`, or the user's own unpacking).
    Before,
}

/// The folder beside `archive` holding its files: unpacked now (into a temporary folder
/// renamed when every file is out, so a failed unpacking leaves nothing behind), or read as
/// it is when it exists. Entries that would land outside the folder are an error; links,
/// devices and macOS's `__MACOSX/` and `.DS_Store` entries are skipped.
pub fn unpack_beside(archive: &Path) -> anyhow::Result<(PathBuf, Unpacked)> {
    let Some((format, stem)) = archive_name(archive) else {
        bail!(
            "{}: not a .zip, .tar, .tar.gz or .tgz archive",
            archive.display()
        );
    };
    let parent = archive.parent().unwrap_or(Path::new(""));
    let folder = parent.join(&stem);
    if folder.is_dir() {
        return Ok((folder, Unpacked::Before));
    }
    if folder.exists() {
        bail!(
            "{}: cannot unpack {} there, a file of that name exists; unpack it elsewhere and give the folder",
            folder.display(),
            archive.display()
        );
    }
    let partial = parent.join(format!(".{stem}.unpacking-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("{}: cannot remove", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("{}: cannot create", partial.display()))?;
    let unpacked = match format {
        Format::Zip => unpack_zip(archive, &partial),
        Format::Tar => unpack_tar(archive, &partial, open(archive)?),
        Format::TarGz => unpack_tar(
            archive,
            &partial,
            flate2::read::MultiGzDecoder::new(open(archive)?),
        ),
    }
    .and_then(|files| match files {
        0 => bail!("{}: holds no files", archive.display()),
        files => Ok(files),
    })
    .and_then(|files| {
        std::fs::rename(&partial, &folder).with_context(|| {
            format!(
                "{}: cannot rename to {}",
                partial.display(),
                folder.display()
            )
        })?;
        Ok(files)
    });
    match unpacked {
        Ok(files) => Ok((folder, Unpacked::Now { files })),
        Err(error) => {
            // Best effort: the error that stopped the unpacking is the one to report.
            let _ = std::fs::remove_dir_all(&partial);
            Err(error)
        }
    }
}

fn open(archive: &Path) -> anyhow::Result<BufReader<File>> {
    Ok(BufReader::new(File::open(archive).with_context(|| {
        format!("{}: cannot open", archive.display())
    })?))
}

/// Where an entry named `name` goes under `root`: `None` for entries skipped (macOS's
/// resource forks and folder settings); an error for a name that leaves the folder.
fn destination(archive: &Path, root: &Path, name: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut path = root.to_path_buf();
    for component in name.components() {
        match component {
            Component::Normal(part) => {
                if part == "__MACOSX" || part == ".DS_Store" {
                    return Ok(None);
                }
                path.push(part);
            }
            Component::CurDir => {}
            _ => bail!(
                "{}: entry {:?} would be written outside the folder it unpacks into; refusing it",
                archive.display(),
                name.display().to_string()
            ),
        }
    }
    Ok((path != root).then_some(path))
}

/// Writes one entry's bytes to `path`, creating its folders.
fn write_entry(archive: &Path, path: &Path, mut bytes: impl Read) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let mut file =
        File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    io::copy(&mut bytes, &mut file).with_context(|| {
        format!(
            "{}: cannot unpack into {}",
            archive.display(),
            path.display()
        )
    })?;
    Ok(())
}

fn unpack_zip(archive: &Path, root: &Path) -> anyhow::Result<usize> {
    let mut zip = zip::ZipArchive::new(open(archive)?)
        .with_context(|| format!("{}: not a readable zip archive", archive.display()))?;
    let mut files = 0;
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .with_context(|| format!("{}: cannot read entry {index}", archive.display()))?;
        // S_IFLNK: a symbolic link, whose bytes are its target.
        let link = entry
            .unix_mode()
            .is_some_and(|mode| mode & 0o170000 == 0o120000);
        if entry.is_dir() || link {
            continue;
        }
        let name = PathBuf::from(entry.name());
        let Some(path) = destination(archive, root, &name)? else {
            continue;
        };
        write_entry(archive, &path, entry)?;
        files += 1;
    }
    Ok(files)
}

fn unpack_tar(archive: &Path, root: &Path, reader: impl Read) -> anyhow::Result<usize> {
    let mut tar = tar::Archive::new(reader);
    let mut files = 0;
    let entries = tar
        .entries()
        .with_context(|| format!("{}: not a readable tar archive", archive.display()))?;
    for entry in entries {
        let entry =
            entry.with_context(|| format!("{}: not a readable tar archive", archive.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .with_context(|| format!("{}: an entry's name is not readable", archive.display()))?
            .into_owned();
        let Some(path) = destination(archive, root, &name)? else {
            continue;
        };
        write_entry(archive, &path, entry)?;
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::FileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn tar_gz_of(path: &Path, entries: &[(&str, &[u8])]) {
        let gz = flate2::write::GzEncoder::new(File::create(path).unwrap(), Default::default());
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            // Written raw, so that a name leaving the folder can be tested.
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            tar.append(&header, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn archives_are_named_by_their_endings() {
        for (name, expected) in [
            ("kmnist.zip", Some((Format::Zip, "kmnist"))),
            (
                "notMNIST_small.tar.gz",
                Some((Format::TarGz, "notMNIST_small")),
            ),
            ("faces.TGZ", Some((Format::TarGz, "faces"))),
            ("a.b.tar", Some((Format::Tar, "a.b"))),
            (".zip", None),
            ("x.npz", None),
            ("x.csv.gz", None),
        ] {
            let found = archive_name(Path::new(name));
            assert_eq!(
                found.as_ref().map(|(f, s)| (*f, s.as_str())),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_zip_is_unpacked_beside_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("shapes.zip");
        zip_of(
            &archive,
            &[
                ("shapes/a/1.txt", b"one"),
                ("shapes/b/2.txt", b"two"),
                ("__MACOSX/shapes/a/._1.txt", b"fork"),
                ("shapes/.DS_Store", b"settings"),
            ],
        );
        let (folder, unpacked) = unpack_beside(&archive).unwrap();
        assert_eq!(folder, dir.path().join("shapes"));
        assert_eq!(unpacked, Unpacked::Now { files: 2 });
        assert_eq!(
            std::fs::read(folder.join("shapes/b/2.txt")).unwrap(),
            b"two"
        );
        assert!(!folder.join("__MACOSX").exists());
        assert!(!folder.join("shapes/.DS_Store").exists());
        // The second time the folder is read as it is.
        std::fs::write(folder.join("shapes/a/1.txt"), "changed").unwrap();
        assert_eq!(unpack_beside(&archive).unwrap().1, Unpacked::Before);
        assert_eq!(
            std::fs::read(folder.join("shapes/a/1.txt")).unwrap(),
            b"changed"
        );
    }

    #[test]
    fn a_tar_gz_is_unpacked_and_entries_leaving_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("set.tar.gz");
        tar_gz_of(
            &archive,
            &[("set/x.csv", b"1,2\n"), ("./set/y.csv", b"3,4\n")],
        );
        let (folder, unpacked) = unpack_beside(&archive).unwrap();
        assert_eq!(unpacked, Unpacked::Now { files: 2 });
        assert_eq!(std::fs::read(folder.join("set/y.csv")).unwrap(), b"3,4\n");
        // A name with `..` leaves nothing behind: no folder, no partial one.
        let evil = dir.path().join("evil.tgz");
        tar_gz_of(&evil, &[("ok.txt", b"fine"), ("../escaped.txt", b"gotcha")]);
        let error = unpack_beside(&evil).unwrap_err().to_string();
        assert!(error.contains("outside the folder"), "{error}");
        assert!(!dir.path().join("escaped.txt").exists());
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !left.iter().any(|n| n == "evil" || n.contains("unpacking")),
            "{left:?}"
        );
        // Not an archive inside, or nothing in it: errors naming the file.
        let broken = dir.path().join("broken.zip");
        std::fs::write(&broken, b"not a zip").unwrap();
        let error = unpack_beside(&broken).unwrap_err().to_string();
        assert!(error.starts_with(&broken.display().to_string()), "{error}");
        let empty = dir.path().join("empty.zip");
        zip_of(&empty, &[("__MACOSX/._x", b"")]);
        let error = unpack_beside(&empty).unwrap_err().to_string();
        assert!(error.contains("holds no files"), "{error}");
    }
}
