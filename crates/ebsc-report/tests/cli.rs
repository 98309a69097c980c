//! The `ebsc-report` binary as a user meets it: the table on stdout, and one error line and
//! a non-zero exit on bad input, with no report written.

use std::path::Path;

use ebsc_test_support::cli::{self, Output};

fn report(runs_dir: &Path) -> Output {
    let runs_dir = runs_dir.to_str().expect("a UTF-8 temp path");
    cli::run(
        env!("CARGO_BIN_EXE_ebsc-report"),
        Path::new("."),
        &["--runs-dir", runs_dir],
    )
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Non-zero exit, exactly one stderr line, containing every needle; nothing written.
fn expect_error(runs_dir: &Path, needles: &[&str]) {
    let out = report(runs_dir);
    let line = out.error_line(needles);
    assert!(line.starts_with("ebsc-report: error: "), "{line}");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "only that line:\n{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "no table on failure");
    for file in ["report.md", "report.csv", "report.png", "report.svg"] {
        assert!(!runs_dir.join(file).exists(), "{file} after a failure");
    }
}

#[test]
fn prints_the_table_and_writes_the_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p/cluster/metrics.json",
        r#"{"n_samples": 4, "n_clusters": 2, "acc": 0.75}"#,
    );
    let out = report(dir.path());
    assert!(out.ok, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "header, rule, one run:\n{}", out.stdout);
    assert!(lines[2].starts_with("| p/cluster | "), "{}", lines[2]);
    assert!(lines[2].contains(" 0.7500 "), "{}", lines[2]);
    assert!(out.stderr.contains("1 run ->"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.md")).unwrap(),
        out.stdout
    );
    for file in ["report.csv", "report.png", "report.svg"] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
}

#[test]
fn a_broken_metrics_file_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good/cluster/metrics.json",
        r#"{"n_samples": 4, "n_clusters": 2}"#,
    );
    write(
        dir.path(),
        "bad/cluster/metrics.json",
        "{\"n_samples\": 4,\n",
    );
    expect_error(
        dir.path(),
        &["bad/cluster/metrics.json: not valid JSON", "line 2"],
    );
}

#[test]
fn a_missing_or_mistyped_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p/ablations/a/metrics.json",
        r#"{"n_clusters": 2, "acc": 0.5}"#,
    );
    expect_error(
        dir.path(),
        &["p/ablations/a/metrics.json: missing field `n_samples`"],
    );
    write(
        dir.path(),
        "p/ablations/a/metrics.json",
        r#"{"n_samples": 4, "n_clusters": 2, "acc": "0.5"}"#,
    );
    expect_error(
        dir.path(),
        &["metrics.json: field `acc`: expected a number, found a string"],
    );
}

#[test]
fn no_runs_at_all_is_an_error_not_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    expect_error(dir.path(), &["no metrics.json", "just run"]);
    expect_error(&dir.path().join("nowhere"), &["nowhere: no such folder"]);
}
