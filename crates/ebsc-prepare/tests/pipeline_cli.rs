//! The `ebsc-pipeline` binary as a user meets it: `new` on each kind of data, its errors,
//! and `show`.

use std::path::Path;

use ebsc_test_support::cli::{self, Output};

/// Runs `ebsc-pipeline args…` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    cli::run(env!("CARGO_BIN_EXE_ebsc-pipeline"), dir, args)
}

/// The one error line of a failed run (and nothing else on stderr).
fn error(output: &Output) -> &str {
    let line = output.error_line(&[]);
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    line
}

fn read(dir: &Path, relative: &str) -> toml::Table {
    std::fs::read_to_string(dir.join(relative))
        .unwrap()
        .parse()
        .unwrap()
}

/// A CSV of `rows` samples of 3 features with a `species` label cycling through 3 classes.
fn write_csv(path: &Path, rows: usize, label: &str) {
    let mut text = format!("a,b,c,{label}\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},{},{},{}\n",
            i % 3,
            i % 5,
            i % 7 + 1,
            ["x", "y", "z"][i % 3]
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_labelled_table_gets_the_features_template() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("iris.csv"), 30, "label");
    let out = run(
        dir.path(),
        &["new", "iris", "iris.csv", "seed=4", "train.epochs=7"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("30 rows of 3 features, 3 classes"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("template features"), "{}", out.stdout);
    assert!(
        out.stdout.ends_with("run it with: just run iris\n"),
        "{}",
        out.stdout
    );
    let pipeline = read(dir.path(), "pipelines/iris.toml");
    assert_eq!(pipeline["prepare"]["source"].as_str(), Some("table"));
    assert_eq!(pipeline["prepare"]["label_column"].as_str(), Some("label"));
    assert_eq!(pipeline["pipeline"]["seed"].as_integer(), Some(4));
    assert_eq!(pipeline["train"]["epochs"].as_integer(), Some(7));
    assert_eq!(pipeline["train"]["batch_size"].as_integer(), Some(30));
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(3));

    // The file exists now: a second `new` refuses, --force replaces it.
    let again = run(dir.path(), &["new", "iris", "iris.csv"]);
    assert!(error(&again).contains("already exists"), "{}", again.stderr);
    assert!(run(dir.path(), &["new", "iris", "iris.csv", "--force"]).ok);
}

#[test]
fn without_labels_the_cluster_count_is_required() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("t.csv"), 12, "species");
    // `species` is not a label name it knows, and text is no feature: the reader says so.
    let out = run(dir.path(), &["new", "t", "t.csv"]);
    assert!(error(&out).contains("label_column"), "{}", out.stderr);
    assert!(!dir.path().join("pipelines/t.toml").exists());
    let out = run(dir.path(), &["new", "t", "t.csv", "label_column=species"]);
    assert!(out.ok, "{}", out.stderr);
    // Numbers only: no labels, so the number of clusters must be given.
    std::fs::write(dir.path().join("n.csv"), "1,2\n3,4\n5,7\n").unwrap();
    let out = run(dir.path(), &["new", "u", "n.csv"]);
    assert!(
        error(&out).contains("pass it as n_clusters=K"),
        "{}",
        out.stderr
    );
    let out = run(dir.path(), &["new", "u", "n.csv", "n_clusters=2"]);
    assert!(out.ok, "{}", out.stderr);
    let pipeline = read(dir.path(), "pipelines/u.toml");
    assert_eq!(pipeline["cluster"]["n_clusters"].as_integer(), Some(2));
    assert_eq!(pipeline["prepare"]["header"].as_bool(), Some(false));
}

#[test]
fn bad_arguments_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("t.csv"), 12, "label");
    let cases: [(&[&str], &str); 6] = [
        (&["new", "t", "missing"], "missing: not found"),
        (&["new", "t", "t.csv", "epochs=3"], "unknown key \"epochs\""),
        (
            &["new", "t", "t.csv", "n_clusters=1"],
            "an integer of at least 2",
        ),
        (
            &["new", "t", "t.csv", "template=huge"],
            "expected one of small-images, images, features",
        ),
        (
            &["new", "t", "t.csv", "template=images"],
            "use template=features",
        ),
        (&["new", "../t", "t.csv"], "is not a pipeline name"),
    ];
    for (args, expected) in cases {
        let out = run(dir.path(), args);
        assert!(error(&out).contains(expected), "{args:?}: {}", out.stderr);
    }
    let none = std::fs::read_dir(dir.path().join("pipelines")).map_or(0, |d| d.count());
    assert_eq!(none, 0, "no pipeline file is written on an error");
}

#[test]
fn show_prints_the_merged_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pipelines")).unwrap();
    std::fs::write(
        dir.path().join("pipelines/base.toml"),
        "[pipeline]\nseed = 1\n[cluster]\nn_clusters = 5\nkmeans_restarts = 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pipelines/child.toml"),
        "extends = \"base\"\n[cluster]\nn_clusters = 7\n",
    )
    .unwrap();
    let out = run(dir.path(), &["show", "child"]);
    assert!(out.ok, "{}", out.stderr);
    let shown: toml::Table = out.stdout.parse().unwrap();
    assert_eq!(shown["cluster"]["n_clusters"].as_integer(), Some(7));
    assert_eq!(shown["cluster"]["kmeans_restarts"].as_integer(), Some(3));
    assert_eq!(shown["pipeline"]["seed"].as_integer(), Some(1));
    let out = run(dir.path(), &["show", "nope"]);
    assert!(error(&out).contains("nope.toml"), "{}", out.stderr);
}
