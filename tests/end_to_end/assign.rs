//! Out-of-sample assignment end to end: a tiny pipeline fitted on a seeded subset of a
//! table (the landmarks), then `ebsc-assign` (what `just assign` runs, after prepare's
//! standalone mode) on the table's whole source and on a new table; a table of another
//! width refused in one line; a killed run and a re-run ending in the same bytes; shards
//! merged into the bytes of a single run.
//!
//! The data: three groups in R^6, each around one axis and spread along the next, with a
//! little noise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use ebsc_io::assigned::{Assigned, read_assigned};
use ebsc_io::assignments::read_assignments;
use ebsc_tests::run_all;

const CLASSES: usize = 3;

fn next(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// A CSV of `per_class` points of each class, `width` feature columns, then `label`.
fn write_table(path: &Path, per_class: usize, width: usize, seed: u64) {
    let mut state = seed;
    let header: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
    let mut text = format!("{},label\n", header.join(","));
    for i in 0..per_class * CLASSES {
        let class = i % CLASSES;
        let (a, b) = (next(&mut state), next(&mut state));
        let row: Vec<String> = (0..width)
            .map(|j| {
                let on = if j == 2 * class {
                    1.0 + 0.3 * a
                } else if j == 2 * class + 1 {
                    0.5 * b
                } else {
                    0.0
                };
                format!("{:.5}", on + 0.02 * next(&mut state))
            })
            .collect();
        text.push_str(&format!("{},{class}\n", row.join(",")));
    }
    std::fs::write(path, text).unwrap();
}

/// A small MLP pretrained for a few steps and the energy trained jointly for a few more:
/// seconds in a debug build.
fn pipeline(table: &Path) -> String {
    format!(
        r#"[pipeline]
seed = 0
description = "assign"

[prepare]
source = "table"
path = "{}"
label_column = "label"
subset = {{ total = 60 }}

[pretrain]
epochs = 3
batch_size = 20
knn_monitor = false
[pretrain.encoder]
kind = "mlp"
hidden = [16]
out_dim = 8
[pretrain.head]
hidden = 16
out_dim = 8
[pretrain.optimizer]
kind = "adam"
lr = 1e-2
[pretrain.augment]
noise = {{ std = 0.01 }}

[train]
method = "ebsc"
freeze_encoder = false
dictionary = "backbone"
coefficients = "gibbs"
geometry = 1.0
residual_init = "zero"
gamma = 200.0
lambda = 0.9
alpha = 1.0
beta = 1.0
ssl_temperature = 0.5
energy_temperature = 0.1
queue_size = 0
energy_dim = 8
energy_hidden = [16]
min_effective_rank = 0
epochs = 3
batch_size = 30
[train.optimizer]
kind = "adam"
lr = 5e-3
[train.augment]
noise = {{ std = 0.01 }}

[affinity]
top_k = 5
block_size = 16
normalize_rows = true
affinity = "symmetric"

[cluster]
n_clusters = 3
kmeans_restarts = 2
"#,
        table.display()
    )
}

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pipeline: PathBuf,
    runs: PathBuf,
}

impl Project {
    fn new() -> Project {
        Project::with(pipeline_text)
    }

    /// A project whose pipeline `text` writes for the table.
    fn with(text: fn(&Path) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let table = root.join("train.csv");
        write_table(&table, 30, 6, 1);
        let pipeline = root.join("p.toml");
        std::fs::write(&pipeline, text(&table)).unwrap();
        let runs = root.join("runs");
        assert!(run_all(&pipeline, &runs).iter().all(|&ran| ran));
        Project {
            _dir: dir,
            root,
            pipeline,
            runs,
        }
    }

    /// `ebsc-prepare p.toml --out <dir>/input [--data PATH]`, as `just assign` runs it.
    fn prepare(&self, name: &str, data: Option<&Path>) -> PathBuf {
        let dir = self.runs.join("p/assign").join(name);
        let input = dir.join("input");
        let mut argv = vec![
            "ebsc-prepare".to_string(),
            self.pipeline.display().to_string(),
            "--out".into(),
            input.display().to_string(),
        ];
        if let Some(data) = data {
            argv.extend(["--data".into(), data.display().to_string()]);
        }
        ebsc_prepare::run(&ebsc_prepare::Args::try_parse_from(argv).unwrap()).unwrap();
        dir
    }

    fn assign_argv(&self, dir: &Path, extra: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = [
            "ebsc-assign",
            self.pipeline.to_str().unwrap(),
            "--input",
            dir.join("input").to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--runs-dir",
            self.runs.to_str().unwrap(),
            "--progress",
            "none",
            "--device",
            "cpu",
            "--threads",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv
    }

    /// `ebsc-assign` on `dir/input` into `dir`; an error as the binary prints it.
    fn assign(&self, dir: &Path, extra: &[&str]) -> Result<(), String> {
        let args = ebsc_assign::Args::try_parse_from(self.assign_argv(dir, extra)).unwrap();
        ebsc_assign::run(&args)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

fn pipeline_text(table: &Path) -> String {
    pipeline(table)
}

/// The same pipeline with the affinity stage's ridge solve over every other landmark.
fn ridge_pipeline_text(table: &Path) -> String {
    pipeline(table).replace(
        "affinity = \"symmetric\"\n",
        "affinity = \"symmetric\"\nrefine = \"ridge\"\n",
    )
}

/// The elastic-net solve over the ridge solve's candidates: new samples take the ridge
/// solve too.
fn ridge_candidates_pipeline_text(table: &Path) -> String {
    pipeline(table).replace(
        "affinity = \"symmetric\"\n",
        "affinity = \"symmetric\"\nrefine = \"elastic-net\"\nrefine_candidates_by = \"ridge\"\nrefine_candidates = 40\nrefine_lambda = 0.2\n",
    )
}

/// The same with two elastic-net solves, averaged: new samples take both.
fn paired_lambdas_pipeline_text(table: &Path) -> String {
    ridge_candidates_pipeline_text(table)
        .replace("refine_lambda = 0.2\n", "refine_lambda = [0.2, 0.9]\n")
}

fn output(dir: &Path) -> PathBuf {
    dir.join("assignments.parquet")
}

/// The share of rows whose cluster's majority label (among the landmarks, from the
/// cluster stage) is their own label.
fn agreement(assigned: &Assigned, landmark_clusters: &[(u32, Option<i32>)]) -> f64 {
    let mut votes = [[0usize; CLASSES]; CLASSES];
    for &(cluster, label) in landmark_clusters {
        votes[cluster as usize][label.unwrap() as usize] += 1;
    }
    let majority: Vec<i32> = votes
        .iter()
        .map(|v| (0..CLASSES).max_by_key(|&c| v[c]).unwrap() as i32)
        .collect();
    let labels = assigned.labels.as_ref().unwrap();
    let right = assigned
        .clusters
        .iter()
        .zip(labels)
        .filter(|(c, l)| Some(majority[**c as usize]) == **l)
        .count();
    right as f64 / assigned.len() as f64
}

/// The child process of the kill test: `ebsc-assign` with the arguments in the
/// environment (the test binary re-executed); does nothing in a normal test run.
#[test]
fn assign_child() {
    if let Ok(argv) = std::env::var("EBSC_ASSIGN_CHILD") {
        let argv: Vec<&str> = argv.split('\u{1f}').collect();
        let args = ebsc_assign::Args::try_parse_from(argv).unwrap();
        ebsc_assign::run(&args).unwrap();
    }
}

#[test]
fn a_ridge_pipeline_assigns_new_samples_by_the_same_solve() {
    for (text, refine) in [
        (
            ridge_pipeline_text as fn(&Path) -> String,
            "refine = \"ridge\"",
        ),
        (
            ridge_candidates_pipeline_text,
            "refine_candidates_by = \"ridge\"",
        ),
        (paired_lambdas_pipeline_text, "refine_lambda = [0.2, 0.9]"),
    ] {
        let project = Project::with(text);
        let text = std::fs::read_to_string(&project.pipeline).unwrap();
        assert!(text.contains(refine), "{text}");
        let landmarks =
            read_assignments(&project.runs.join("p/cluster/assignments.parquet")).unwrap();
        let source = project.prepare("source", None);
        project.assign(&source, &[]).unwrap();
        let all = read_assigned(&output(&source)).unwrap();
        assert_eq!(all.len(), 90);
        assert!(all.confidences.iter().all(|&c| (0.0..=1.0).contains(&c)));
        let accuracy = agreement(&all, &landmarks);
        assert!(accuracy >= 0.9, "{refine}, source: {accuracy}");
        let new_table = project.root.join("new.csv");
        write_table(&new_table, 10, 6, 99);
        let new = project.prepare("new", Some(&new_table));
        project.assign(&new, &[]).unwrap();
        let accuracy = agreement(&read_assigned(&output(&new)).unwrap(), &landmarks);
        assert!(accuracy >= 0.9, "{refine}, new table: {accuracy}");
    }
}

#[test]
fn a_fitted_subset_assigns_its_source_new_files_and_shards_to_the_same_bytes() {
    let project = Project::new();
    let landmarks = read_assignments(&project.runs.join("p/cluster/assignments.parquet")).unwrap();
    assert_eq!(landmarks.len(), 60);

    // The pipeline's whole source: all 90 rows, the 30 held out included.
    let source = project.prepare("source", None);
    project.assign(&source, &[]).unwrap();
    let all = read_assigned(&output(&source)).unwrap();
    assert_eq!(all.len(), 90);
    assert_eq!(all.sources.as_ref().unwrap().len(), 90);
    assert!(all.confidences.iter().all(|&c| (0.0..=1.0).contains(&c)));
    let accuracy = agreement(&all, &landmarks);
    assert!(accuracy >= 0.9, "source: {accuracy}");
    let reference = std::fs::read(output(&source)).unwrap();

    // New files: another table of the same width.
    let new_table = project.root.join("new.csv");
    write_table(&new_table, 10, 6, 99);
    let new = project.prepare("new", Some(&new_table));
    project.assign(&new, &[]).unwrap();
    let assigned = read_assigned(&output(&new)).unwrap();
    assert_eq!(assigned.len(), 30);
    let accuracy = agreement(&assigned, &landmarks);
    assert!(accuracy >= 0.9, "new table: {accuracy}");

    // Another width: refused in one line naming the file and both shapes.
    let wide_table = project.root.join("wide.csv");
    write_table(&wide_table, 2, 7, 5);
    let wide = project.prepare("wide", Some(&wide_table));
    let error = project.assign(&wide, &[]).unwrap_err();
    assert!(!error.contains('\n'), "{error}");
    assert!(
        error.contains("wide/input/inputs.safetensors: holds features [N, 7], but the pipeline was trained on features [N, 6]"),
        "{error}"
    );
    assert!(!output(&wide).exists());

    // A re-run writes the same bytes.
    project.assign(&source, &[]).unwrap();
    assert_eq!(std::fs::read(output(&source)).unwrap(), reference);

    // Killed at several moments: what is left is the old file or nothing, never half a
    // file, and the next run ends in the same bytes.
    let exe = std::env::current_exe().unwrap();
    for delay_ms in [0, 30, 120, 400] {
        std::fs::remove_file(output(&source)).unwrap();
        let argv = project.assign_argv(&source, &[]).join("\u{1f}");
        let mut child = Command::new(&exe)
            .args(["assign::assign_child", "--exact", "--nocapture"])
            .env("EBSC_ASSIGN_CHILD", argv)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        if let Ok(left) = std::fs::read(output(&source)) {
            assert_eq!(left, reference, "killed after {delay_ms} ms");
        }
        project.assign(&source, &[]).unwrap();
        assert_eq!(std::fs::read(output(&source)).unwrap(), reference);
    }

    // Shards on a grid of 16 rows (6 blocks in 4 shards), then the merge: the bytes of a
    // single run on the same grid. The parts read as one table.
    let grid = ["--block-rows", "16"];
    project.assign(&source, &grid).unwrap();
    let single = std::fs::read(output(&source)).unwrap();
    std::fs::remove_file(output(&source)).unwrap();
    let err = project
        .assign(&source, &["--merge", "--block-rows", "16"])
        .unwrap_err();
    assert!(err.contains("no parts to merge"), "{err}");
    for i in 0..4 {
        let shard = format!("{i}/4");
        project
            .assign(&source, &["--shard", &shard, "--block-rows", "16"])
            .unwrap();
        if i == 2 {
            let err = project
                .assign(&source, &["--merge", "--block-rows", "16"])
                .unwrap_err();
            assert!(err.contains("shards 3/4 missing"), "{err}");
        }
    }
    let mut rows = 0;
    for i in 0..4 {
        let part = read_assigned(&source.join(format!("parts/part-{i}-of-4.parquet"))).unwrap();
        assert_eq!(part.first_index, rows);
        rows += part.len();
    }
    assert_eq!(rows, 90);
    // Parts of another grid are not this run's.
    let err = project.assign(&source, &["--merge"]).unwrap_err();
    assert!(err.contains("no parts for the current config"), "{err}");
    project
        .assign(&source, &["--merge", "--block-rows", "16"])
        .unwrap();
    assert_eq!(std::fs::read(output(&source)).unwrap(), single);
    assert_eq!(read_assigned(&output(&source)).unwrap(), all);

    // Clusters from another affinity run than the one on disk: refused.
    let manifest = project.runs.join("p/cluster/manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    json["upstream"]["affinity"] = "0".repeat(64).into();
    std::fs::write(&manifest, json.to_string()).unwrap();
    let err = project.assign(&source, &[]).unwrap_err();
    assert!(err.contains("ran on another affinity run"), "{err}");
}

/// `scripts/assign.sh`, which `just assign` calls, with stand-in binaries that record their
/// arguments: prepare's standalone mode into the assign folder, then ebsc-assign on it, the
/// path taken from the folder `just` was typed in, flags passed on.
#[test]
fn the_just_recipe_prepares_then_assigns() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::copy(
        ebsc_tests::repo_root().join("scripts/assign.sh"),
        root.join("scripts/assign.sh"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("target/release")).unwrap();
    for name in ["prepare", "assign"] {
        let bin = root.join(format!("target/release/ebsc-{name}"));
        std::fs::write(
            &bin,
            format!("#!/usr/bin/env bash\necho \"{name} $*\" >> calls.log\n"),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(root.join("pipelines/p.toml"), "[pipeline]\nseed = 0\n").unwrap();
    std::fs::create_dir_all(root.join("data/photos")).unwrap();
    let run = |args: &[&str], from: &Path| -> Vec<String> {
        let _ = std::fs::remove_file(root.join("calls.log"));
        let status = Command::new("bash")
            .arg(root.join("scripts/assign.sh"))
            .args(args)
            .env("INVOCATION_DIR", from)
            .status()
            .unwrap();
        assert!(status.success(), "assign.sh {args:?}");
        std::fs::read_to_string(root.join("calls.log"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let calls = run(&["p"], root);
    let folder = "data/runs/p/assign/source";
    assert_eq!(
        calls,
        [
            format!("prepare pipelines/p.toml --out {folder}/input"),
            format!("assign pipelines/p.toml --input {folder}/input --out {folder}"),
        ]
    );
    let calls = run(&["p", "photos/", "--shard", "0/2"], &root.join("data"));
    let folder = "data/runs/p/assign/photos";
    assert_eq!(
        calls,
        [
            format!("prepare pipelines/p.toml --out {folder}/input --data data/photos"),
            format!("assign pipelines/p.toml --input {folder}/input --out {folder} --shard 0/2"),
        ]
    );
}
