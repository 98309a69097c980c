//! Running a binary and checking what it said.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// What a finished process left: its success and its output as text.
#[derive(Debug, Clone)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn from_std(output: std::process::Output) -> Output {
        Output {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The one error line of a failed run: a non-zero exit, exactly one stderr line that
    /// mentions an error, no panic, and every needle in that line.
    pub fn error_line(&self, needles: &[&str]) -> &str {
        assert!(!self.ok, "expected a failure, got success: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.contains("error"))
            .collect();
        assert_eq!(errors.len(), 1, "exactly one error line:\n{}", self.stderr);
        for needle in needles {
            assert!(
                errors[0].contains(needle),
                "`{needle}` not in: {}",
                errors[0]
            );
        }
        errors[0]
    }

    /// A stage that failed with exactly one `<stage>: error: …` line holding every needle
    /// (other lines may mention errors: a stage's log is free text); no panic.
    pub fn expect_error(&self, stage: &str, needles: &[&str]) -> String {
        assert!(!self.ok, "{stage} succeeded: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let prefix = format!("{stage}: error: ");
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        for needle in needles {
            assert!(
                errors[0].contains(needle),
                "`{needle}` not in: {}",
                errors[0]
            );
        }
        errors[0].to_string()
    }

    /// A stage that ran, saying why (`<stage>: running (<reason>…`), and finished.
    pub fn expect_ran(&self, stage: &str, reason: &str) {
        assert!(self.ok, "{stage} failed:\n{}", self.stderr);
        let running = format!("{stage}: running (");
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with(&running))
            .unwrap_or_else(|| panic!("{stage} did not say why it runs:\n{}", self.stderr));
        assert!(line.contains(reason), "`{reason}` not in: {line}");
        assert!(
            self.stdout.starts_with(&format!("{stage}: done in")),
            "{}",
            self.stdout
        );
    }

    /// A stage that found its outputs up to date and did nothing.
    pub fn expect_up_to_date(&self, stage: &str) {
        assert!(self.ok, "{stage} failed:\n{}", self.stderr);
        assert!(
            self.stdout.starts_with(&format!("{stage}: up to date")),
            "{stage} ran again:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `bin args…` in `dir` and waits for it.
pub fn run(bin: impl AsRef<OsStr>, dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary under test starts");
    Output::from_std(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str) -> Output {
        Output {
            ok: false,
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn the_error_line_is_found_among_log_lines() {
        let out = failed("stage: reading x\nstage: error: x.parquet: bad column\n");
        assert_eq!(
            out.error_line(&["x.parquet", "bad column"]),
            "stage: error: x.parquet: bad column"
        );
    }

    #[test]
    #[should_panic(expected = "exactly one error line")]
    fn two_error_lines_are_refused() {
        failed("a: error: one\na: error: two\n").error_line(&[]);
    }

    #[test]
    #[should_panic(expected = "not in")]
    fn a_missing_needle_is_refused() {
        failed("a: error: one\n").error_line(&["two"]);
    }

    #[test]
    fn runs_a_real_binary() {
        let dir = std::env::temp_dir();
        let out = run(
            "sh",
            &dir,
            &["-c", "echo out; echo 'sh: error: no' >&2; exit 3"],
        );
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.error_line(&["no"]), "sh: error: no");
    }
}
