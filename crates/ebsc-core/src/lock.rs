//! One process per stage of a pipeline at a time: an exclusive advisory lock on
//! `<stage>/.lock`, held for the whole run. The operating system drops it when the process
//! ends, however it ends (kill -9 included), so a crash never leaves a stale lock behind.
//! A second run retries for a second, then is refused with a message naming the holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{stage} is being run by another process ({holder}); lock file {}", path.display())]
    Held {
        stage: String,
        holder: String,
        path: PathBuf,
    },
    #[error("{}: cannot lock: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while alive.
#[derive(Debug)]
pub struct StageLock {
    _file: File,
    path: PathBuf,
}

impl StageLock {
    /// Takes the lock or says who holds it. `stage` names the stage in the message.
    pub fn acquire(path: &Path, stage: &str) -> Result<StageLock, LockError> {
        let io_error = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        match try_lock_with_grace(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    stage: stage.to_string(),
                    holder: if holder.is_empty() {
                        "process unknown".into()
                    } else {
                        holder.to_string()
                    },
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
        // Who holds it, for the message a second process prints.
        let holder = format!(
            "pid {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0).map_err(io_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        file.write_all(holder.as_bytes()).map_err(io_error)?;
        file.flush().map_err(io_error)?;
        Ok(StageLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How long a contended lock is retried before the run is refused.
const GRACE: Duration = Duration::from_secs(1);

/// `try_lock`, retried for [`GRACE`]. A lock released a moment ago can still be held by a
/// child process that another thread of the releasing process was spawning: the child
/// shares every open file until its `exec` closes them, and a flock belongs to the open
/// file. (Seen as spurious "being run by another process" errors between stage runs in
/// one test process.) A real second run still holds the lock after the grace.
fn try_lock_with_grace(file: &File) -> Result<(), TryLockError> {
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if started.elapsed() < GRACE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = StageLock::acquire(&path, "demo/prepare").unwrap();
        // flock locks belong to the open file, so a second open in this process contends
        // exactly as another process would.
        let err = StageLock::acquire(&path, "demo/prepare").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, LockError::Held { .. }));
        assert!(
            message.contains("demo/prepare is being run by another process"),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(first);
        StageLock::acquire(&path, "demo/prepare").expect("free again once dropped");
    }
}
