//! One module per raw data format; each turns files into a [`crate::dataset::Dataset`].
//!
//! Every reader returns all samples with their split; choosing splits and subsets is the
//! caller's job. Every error is one line that starts with the offending path (or the source
//! name for generated data), then the problem and what was expected.

pub mod cifar;
pub mod decoded;
pub mod idx;
pub mod image_folder;
pub mod synthetic;
pub mod table;

use std::fmt::Display;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// One value or a list of values, so a TOML key may hold `"a"` or `["a", "b"]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values in order; `One` gives a list of one.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(value) => vec![value.clone()],
            OneOrMany::Many(values) => values.clone(),
        }
    }
}

/// `<path>: <message>` on one line.
pub(crate) fn file_error(path: &Path, message: impl Display) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", path.display(), one_line(&message.to_string()))
}

/// An IO error on `path`: `not found` for a missing file, else the OS message.
pub(crate) fn io_error(path: &Path, error: &io::Error) -> anyhow::Error {
    match error.kind() {
        io::ErrorKind::NotFound => file_error(path, "not found"),
        _ => file_error(path, format_args!("cannot read: {error}")),
    }
}

/// Collapses a foreign error message (which may span lines) into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn open_file(path: &Path) -> anyhow::Result<File> {
    File::open(path).map_err(|e| io_error(path, &e))
}

/// The file's length in bytes; errors when it is missing or not a regular file.
pub(crate) fn file_len(path: &Path, file: &File) -> anyhow::Result<u64> {
    let metadata = file.metadata().map_err(|e| io_error(path, &e))?;
    if !metadata.is_file() {
        return Err(file_error(path, "not a regular file"));
    }
    Ok(metadata.len())
}

/// The whole file. Allocating from the file's own length is safe: the bytes exist.
pub(crate) fn read_whole_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut file = open_file(path)?;
    let len = file_len(path, &file)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    Ok(bytes)
}

/// Errors with `<path>: not found` unless `path` exists.
pub(crate) fn require_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(io_error(path, &e)),
    }
}

/// Runs a third-party decoder, turning a panic on hostile input into an error on `path`.
pub(crate) fn guard_panic<T>(
    path: &Path,
    what: &str,
    run: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(payload) => {
            let message = ebsc_io::triplets::panic_message(payload.as_ref());
            Err(file_error(
                path,
                format_args!("{what} failed on this file ({message})"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many_deserializes_both_forms() {
        #[derive(serde::Deserialize)]
        struct Holder {
            files: OneOrMany<String>,
        }
        let one: Holder = toml::from_str("files = \"a\"").unwrap();
        assert_eq!(one.files.to_vec(), vec!["a".to_string()]);
        let many: Holder = toml::from_str("files = [\"a\", \"b\"]").unwrap();
        assert_eq!(many.files.to_vec(), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn missing_file_says_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.bin");
        let error = read_whole_file(&path).unwrap_err().to_string();
        assert_eq!(error, format!("{}: not found", path.display()));
    }

    #[test]
    fn foreign_messages_become_one_line() {
        let error = file_error(Path::new("x"), "first\n  second");
        assert_eq!(error.to_string(), "x: first second");
    }
}
