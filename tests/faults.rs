//! Faults and bad input across the pipeline, on all five stages as processes.
//! Two small projects: `PIPELINE`, a real `prepare` (synthetic subspaces), a hand-made
//! `affinity` stage folder (files and manifest, as the stage runner leaves them) and a real
//! `cluster`; and `FULL`, every stage for real on the same data (an MLP pretrained and
//! trained for a few steps, a checkpoint after each, `--device cpu --threads 1` so that the
//! outputs are the same bytes run to run). Each scenario is a temp folder:
//!
//! - a deleted, truncated or byte-flipped artifact is found from the manifest, named, and
//!   rebuilt by its own stage; downstream refuses to read it meanwhile, and is up to date
//!   again once the rebuilt bytes are the same; the stage above stays up to date. For
//!   pretrain, train and affinity too: their rebuilt models and graphs are byte-identical
//!   and `metrics.parquet` differs only in its timings (`samples_per_s`), which no stage
//!   reads, so no downstream key hashes it;
//! - a config edit re-runs exactly the stage it changes and those downstream; a cosmetic
//!   edit (comments, key order, description) re-runs nothing;
//! - a second run of a stage while one holds its lock is refused, naming the holder, and
//!   racing runs never leave outputs that disagree with their manifest;
//! - a full disk (a file-size limit, `ulimit -f`) gives one clear error line; upstream
//!   artifacts and manifests are intact and no half-written file lands under a final name.
//!   During pretrain: a checkpoint that does not fit, then an output that does not fit
//!   after the last checkpoint; the rerun resumes there and writes an uninterrupted run's
//!   bytes;
//! - `kill -9` of pretrain and of train at random moments (seeded; `EBSC_FAULTS_SEED`
//!   replays a run), each followed by a plain rerun, ends on the uninterrupted run's bytes;
//! - a loss that turns NaN (`lr = 1e30`) stops the stage with one line naming the step, the
//!   loss term and the checkpoint kept, no manifest; the fixed config runs from the start.
//!
//! Stage processes are this test binary re-executed as `faults --stage-child <stage> ARGS`,
//! which calls the stage library exactly as the stage's `main.rs` does; so the test needs no
//! binary built by another package. `harness = false`: `main` below runs the scenarios
//! (`cargo test -p ebsc-tests --test faults -- NAME` runs those whose name contains NAME).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::Parser;
use ebsc_core::lock::StageLock;
use ebsc_core::manifest::{Manifest, Provenance, output_entry};
use ebsc_io::{MetricKind, MetricsLog, Triplets, read_samples, write_triplets};

const CHILD_FLAG: &str = "--stage-child";

const PIPELINE: &str = r#"[pipeline]
seed = 0
description = "faults"

[prepare]
source = "synthetic-subspaces"
n_subspaces = 3
subspace_dim = 2
ambient_dim = 6
points_per_subspace = 20
noise = 0.05
seed = 1

[cluster]
n_clusters = 3
kmeans_restarts = 2
"#;

/// Every stage on the same 60 points: a small MLP pretrained for 9 steps (3 epochs of 20),
/// the energy model trained jointly for 6 steps (3 epochs of 30), a checkpoint after every
/// step. About a second per stage in a debug build.
const FULL: &str = r#"[pipeline]
seed = 0
description = "faults, every stage"

[prepare]
source = "synthetic-subspaces"
n_subspaces = 3
subspace_dim = 2
ambient_dim = 6
points_per_subspace = 20
noise = 0.05
seed = 1

[pretrain]
epochs = 3
batch_size = 20
checkpoint_every = 1
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
noise = { std = 0.01 }

[train]
method = "ebsc"
freeze_encoder = false
dictionary = "backbone"
coefficients = "shrink"
gamma = 200.0
lambda = 0.9
alpha = 1.0
beta = 1.0
tau = 0.5
temperature = 0.1
queue_size = 0
energy_dim = 8
energy_hidden = [16]
epochs = 3
batch_size = 30
clip_grad_norm = 10.0
checkpoint_every = 1
[train.optimizer]
kind = "adam"
lr = 5e-3
[train.augment]
noise = { std = 0.01 }

[affinity]
top_k = 5
block_size = 16
normalize_rows = true
affinity = "symmetric"

[cluster]
n_clusters = 3
kmeans_restarts = 2
"#;

const STAGES: [&str; 5] = ["prepare", "pretrain", "train", "affinity", "cluster"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return stage_child(&args[2..]);
    }
    let filter = args[1..].iter().find(|a| !a.starts_with('-'));
    let scenarios: [(&str, fn()); 9] = [
        (
            "damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt",
            damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt,
        ),
        (
            "damaged_downstream_artifacts_rerun_only_their_stage",
            damaged_downstream_artifacts_rerun_only_their_stage,
        ),
        (
            "config_edits_rerun_exactly_the_stages_they_change",
            config_edits_rerun_exactly_the_stages_they_change,
        ),
        (
            "a_second_run_is_refused_while_the_lock_is_held",
            a_second_run_is_refused_while_the_lock_is_held,
        ),
        (
            "a_full_disk_fails_cleanly_and_keeps_earlier_artifacts",
            a_full_disk_fails_cleanly_and_keeps_earlier_artifacts,
        ),
        (
            "damaged_training_artifacts_are_named_refused_downstream_and_rebuilt",
            damaged_training_artifacts_are_named_refused_downstream_and_rebuilt,
        ),
        (
            "killed_training_stages_resume_to_the_same_bytes",
            killed_training_stages_resume_to_the_same_bytes,
        ),
        (
            "a_full_disk_during_training_fails_cleanly_and_resumes",
            a_full_disk_during_training_fails_cleanly_and_resumes,
        ),
        (
            "a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint",
            a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint,
        ),
    ];
    let started = Instant::now();
    let (mut passed, mut failed, mut filtered) = (0, 0, 0);
    for (name, scenario) in scenarios {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        let scenario_started = Instant::now();
        let result = std::panic::catch_unwind(scenario);
        println!(
            "test {name} ... {} ({:.1} s)",
            if result.is_ok() { "ok" } else { "FAILED" },
            scenario_started.elapsed().as_secs_f64()
        );
        if result.is_ok() {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A stage process: the same two lines as `crates/ebsc-<stage>/src/main.rs`.
fn stage_child(args: &[String]) -> ExitCode {
    let Some((stage, rest)) = args.split_first() else {
        eprintln!("{CHILD_FLAG} needs a stage name");
        return ExitCode::FAILURE;
    };
    let argv = std::iter::once(format!("ebsc-{stage}")).chain(rest.iter().cloned());
    match stage.as_str() {
        "prepare" => {
            let args = ebsc_prepare::Args::parse_from(argv);
            ebsc_core::cli::finish(ebsc_prepare::STAGE, ebsc_prepare::run(&args))
        }
        "pretrain" => {
            let args = ebsc_pretrain::Args::parse_from(argv);
            ebsc_core::cli::finish(ebsc_pretrain::STAGE, ebsc_pretrain::run(&args))
        }
        "train" => {
            let args = ebsc_train::Args::parse_from(argv);
            ebsc_core::cli::finish(ebsc_train::STAGE, ebsc_train::run(&args))
        }
        "affinity" => {
            let args = ebsc_affinity::Args::parse_from(argv);
            ebsc_core::cli::finish(ebsc_affinity::STAGE, ebsc_affinity::run(&args))
        }
        "cluster" => {
            let args = ebsc_cluster::Args::parse_from(argv);
            ebsc_cluster::finish(ebsc_cluster::run(&args))
        }
        other => {
            eprintln!("no stage {other} in this test");
            ExitCode::FAILURE
        }
    }
}

/// The tch stages on the CPU with one libtorch thread: byte-reproducible outputs, and
/// the scenarios leave the second core to whatever runs beside them.
fn tensor_flags(stage: &str) -> &'static [&'static str] {
    match stage {
        "pretrain" | "train" | "affinity" => &["--device", "cpu", "--threads", "1"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------
// A project: pipelines/p.toml and data/runs/p/<stage>/ in a temp folder.

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Output {
    fn from(output: std::process::Output) -> Output {
        Output {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn expect_ran(&self, stage: &str, reason: &str) {
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

    fn expect_up_to_date(&self, stage: &str) {
        assert!(self.ok, "{stage} failed:\n{}", self.stderr);
        assert!(
            self.stdout.starts_with(&format!("{stage}: up to date")),
            "{stage} ran again:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }

    /// Non-zero exit and exactly one error line, holding every needle; no panic.
    fn expect_error(&self, stage: &str, needles: &[&str]) -> String {
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
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project::with(PIPELINE)
    }

    fn with(pipeline: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(project.dir.path().join("pipelines")).unwrap();
        project.write_pipeline(pipeline);
        project
    }

    /// Runs `stages` in order; each must run (not be up to date).
    fn run_stages(&self, stages: &[&str]) {
        for stage in stages {
            self.run(stage, &[]).expect_ran(stage, "");
        }
    }

    fn write_pipeline(&self, text: &str) {
        std::fs::write(self.dir.path().join("pipelines/p.toml"), text).unwrap();
    }

    fn stage_dir(&self, stage: &str) -> PathBuf {
        self.dir.path().join("data/runs/p").join(stage)
    }

    fn command(&self, stage: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([CHILD_FLAG, stage, "pipelines/p.toml", "--progress", "none"])
            .args(tensor_flags(stage))
            .args(extra)
            .current_dir(self.dir.path());
        command
    }

    fn run(&self, stage: &str, extra: &[&str]) -> Output {
        Output::from(self.command(stage, extra).output().unwrap())
    }

    /// Runs a stage with every file it writes limited to `kib` KiB, as on a full disk:
    /// SIGXFSZ ignored first, so a write past the limit fails with EFBIG instead of killing
    /// the process (the ignored disposition survives exec).
    fn run_with_file_limit(&self, stage: &str, kib: u64, extra: &[&str]) -> Output {
        let exe = std::env::current_exe().unwrap();
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$@\""))
            .arg("bash")
            .arg(exe)
            .args([CHILD_FLAG, stage, "pipelines/p.toml", "--progress", "none"])
            .args(tensor_flags(stage))
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        Output::from(output)
    }

    /// Every file under a stage folder (relative path → bytes), the lock file aside.
    fn snapshot(&self, stage: &str) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            // A stage killed before it started has no folder yet.
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if path.file_name().unwrap() != ".lock" {
                    let name = path.strip_prefix(root).unwrap().display().to_string();
                    out.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(&self.stage_dir(stage), &self.stage_dir(stage), &mut files);
        files
    }

    fn manifest(&self, stage: &str) -> Manifest {
        Manifest::read(&self.stage_dir(stage).join("manifest.json")).unwrap()
    }

    /// The manifest exists and every output it lists verifies.
    fn assert_consistent(&self, stage: &str) {
        let manifest = self.manifest(stage);
        assert_eq!(
            manifest.verify_outputs(&self.stage_dir(stage)).unwrap(),
            Ok(()),
            "{stage}'s outputs disagree with its manifest"
        );
    }

    /// The `affinity` stage as the runner leaves it: each sample joined to the next three
    /// of its class (both directions), so clustering recovers the classes exactly.
    fn fake_affinity(&self) {
        let samples = read_samples(&self.stage_dir("prepare").join("samples.parquet")).unwrap();
        let mut by_class: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
        for sample in &samples {
            by_class
                .entry(sample.label.unwrap())
                .or_default()
                .push(sample.index);
        }
        let mut graph = Triplets::default();
        for members in by_class.values() {
            for (i, &a) in members.iter().enumerate() {
                for step in 1..=3 {
                    let b = members[(i + step) % members.len()];
                    graph.push(a, b, 1.0);
                    graph.push(b, a, 1.0);
                }
            }
        }
        let dir = self.stage_dir("affinity");
        std::fs::create_dir_all(&dir).unwrap();
        write_triplets(
            std::fs::File::create(dir.join("affinity.parquet")).unwrap(),
            &graph,
        )
        .unwrap();
        let manifest = Manifest {
            format: Manifest::new_format(),
            pipeline: "p".into(),
            stage: "affinity".into(),
            stage_version: 1,
            key: "affinity-key-made-by-hand-0123456789".into(),
            config: serde_json::json!({}),
            inputs: BTreeMap::new(),
            upstream: BTreeMap::new(),
            outputs: BTreeMap::from([(
                "affinity.parquet".to_string(),
                output_entry(&dir.join("affinity.parquet")).unwrap(),
            )]),
            stats: serde_json::json!({}),
            provenance: Provenance {
                git_revision: None,
                device: "cpu".into(),
                wall_seconds: 0.0,
                finished_at_unix: 0,
                ebsc_version: "test".into(),
                command: Vec::new(),
            },
        };
        manifest.write(&dir.join("manifest.json")).unwrap();
    }

    /// prepare, the hand-made affinity, cluster: every stage run once.
    fn run_all(&self) {
        self.run("prepare", &[])
            .expect_ran("prepare", "no previous run");
        self.fake_affinity();
        let cluster = self.run("cluster", &[]);
        cluster.expect_ran("cluster", "no previous run");
        assert_eq!(self.manifest("cluster").stats["acc"], 1.0);
        let n_samples = self.manifest("prepare").stats["n_samples"].clone();
        assert_eq!(self.manifest("cluster").stats["n_samples"], n_samples);
    }
}

/// Files whose name says they are being written (`AtomicFile`'s `.<name>.tmp-<pid>-<n>`).
fn temp_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    files.keys().filter(|name| name.contains(".tmp-")).collect()
}

/// Two snapshots are the same; on failure names the files that differ (not their bytes).
#[track_caller]
fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let differ: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|name| a.get(*name) != b.get(*name))
        .collect();
    assert!(differ.is_empty(), "{what}: these files differ: {differ:?}");
}

/// Outputs only: the manifest's provenance (time, command) differs between runs.
fn outputs(mut files: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files.remove("manifest.json");
    files
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Delete,
    Truncate,
    FlipByte,
}

impl Damage {
    /// Damages `path`; returns what the manifest check should say about `name`.
    fn apply(self, path: &Path, name: &str) -> String {
        let mut bytes = std::fs::read(path).unwrap();
        let size = bytes.len();
        match self {
            Damage::Delete => {
                std::fs::remove_file(path).unwrap();
                format!("{name} is missing")
            }
            Damage::Truncate => {
                std::fs::write(path, &bytes[..size / 2]).unwrap();
                format!("{name} has {} bytes, the manifest says {size}", size / 2)
            }
            Damage::FlipByte => {
                bytes[size / 2] ^= 0x01;
                std::fs::write(path, &bytes).unwrap();
                format!("{name} does not match its recorded sha256")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

fn damaged_upstream_artifacts_are_named_refused_downstream_and_rebuilt() {
    let project = Project::new();
    project.run_all();
    let prepare_outputs = outputs(project.snapshot("prepare"));
    let prepare_key = project.manifest("prepare").key;
    let cluster_files = project.snapshot("cluster");

    for name in ["samples.parquet", "inputs.safetensors"] {
        for damage in [Damage::Delete, Damage::Truncate, Damage::FlipByte] {
            let problem = damage.apply(&project.stage_dir("prepare").join(name), name);
            // Downstream reads the upstream manifest, finds the damage and refuses,
            // touching nothing of its own.
            project.run("cluster", &[]).expect_error(
                "cluster",
                &[
                    &format!("upstream stage prepare: {problem}"),
                    "run `just prepare p` first",
                ],
            );
            assert_same(
                &project.snapshot("cluster"),
                &cluster_files,
                &format!("cluster folder after {damage:?} {name}"),
            );
            // The stage itself says what is wrong and rebuilds the same bytes.
            project.run("prepare", &[]).expect_ran("prepare", &problem);
            assert_same(
                &outputs(project.snapshot("prepare")),
                &prepare_outputs,
                "rebuilt prepare outputs",
            );
            assert_eq!(project.manifest("prepare").key, prepare_key);
            // Same upstream bytes, same downstream key: nothing else runs.
            project.run("cluster", &[]).expect_up_to_date("cluster");
        }
    }

    // A damaged manifest is no manifest: the stage runs again.
    let manifest = project.stage_dir("prepare").join("manifest.json");
    let text = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    project
        .run("cluster", &[])
        .expect_error("cluster", &["prepare/manifest.json: not a valid manifest"]);
    project
        .run("prepare", &[])
        .expect_ran("prepare", "manifest.json: not a valid manifest");
    project.run("cluster", &[]).expect_up_to_date("cluster");

    // The hand-made affinity stage: cluster names its file too.
    let problem = Damage::FlipByte.apply(
        &project.stage_dir("affinity").join("affinity.parquet"),
        "affinity.parquet",
    );
    project.run("cluster", &[]).expect_error(
        "cluster",
        &[
            &format!("upstream stage affinity: {problem}"),
            "run `just affinity p` first",
        ],
    );
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );
}

fn damaged_downstream_artifacts_rerun_only_their_stage() {
    let project = Project::new();
    project.run_all();
    let assignments = project.snapshot("cluster")["assignments.parquet"].clone();
    let cluster_key = project.manifest("cluster").key;
    for (name, damage) in [
        ("assignments.parquet", Damage::FlipByte),
        ("metrics.json", Damage::Truncate),
        ("report/report.md", Damage::Delete),
    ] {
        let problem = damage.apply(&project.stage_dir("cluster").join(name), name);
        project.run("prepare", &[]).expect_up_to_date("prepare");
        project.run("cluster", &[]).expect_ran("cluster", &problem);
        project.assert_consistent("cluster");
        assert_eq!(project.manifest("cluster").key, cluster_key);
        // Seeded: the rebuilt assignments are the same bytes.
        assert!(project.snapshot("cluster")["assignments.parquet"] == assignments);
    }
}

fn config_edits_rerun_exactly_the_stages_they_change() {
    let project = Project::new();
    project.run_all();
    let cluster_key = project.manifest("cluster").key;

    // Comments, key order, section order and the free-text description change nothing.
    let cosmetic = r#"# The same pipeline, written differently.
[cluster]
kmeans_restarts = 2   # fewer restarts: a small graph
n_clusters = 3

[prepare]
seed = 1
noise = 0.05
points_per_subspace = 20
ambient_dim = 6
subspace_dim = 2
n_subspaces = 3
source = "synthetic-subspaces"

[pipeline]
description = "another description"
seed = 0
"#;
    project.write_pipeline(cosmetic);
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project.run("cluster", &[]).expect_up_to_date("cluster");

    // A cluster value: only cluster runs, and says which key changed.
    project.write_pipeline(&cosmetic.replace("kmeans_restarts = 2", "kmeans_restarts = 3"));
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "config changed: kmeans_restarts");
    let cluster_key_3 = project.manifest("cluster").key;
    assert_ne!(cluster_key_3, cluster_key);

    // A prepare value: prepare runs, and cluster after it because its upstream changed.
    project.write_pipeline(
        &cosmetic
            .replace("kmeans_restarts = 2", "kmeans_restarts = 3")
            .replace("noise = 0.05", "noise = 0.06"),
    );
    project
        .run("prepare", &[])
        .expect_ran("prepare", "config changed: noise");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "upstream stage prepare changed");
    assert_ne!(project.manifest("cluster").key, cluster_key_3);

    // The pipeline seed feeds every stage.
    project.write_pipeline(
        &cosmetic
            .replace("kmeans_restarts = 2", "kmeans_restarts = 3")
            .replace("noise = 0.05", "noise = 0.06")
            .replace("seed = 0", "seed = 5"),
    );
    project
        .run("prepare", &[])
        .expect_ran("prepare", "config changed: seed");
    project
        .run("cluster", &[])
        .expect_ran("cluster", "config changed: seed");
    project.run("prepare", &[]).expect_up_to_date("prepare");
    project.run("cluster", &[]).expect_up_to_date("cluster");
}

fn a_second_run_is_refused_while_the_lock_is_held() {
    let project = Project::new();
    project
        .run("prepare", &[])
        .expect_ran("prepare", "no previous run");
    let before = project.snapshot("prepare");

    // This process holds the lock, as a running stage would.
    let lock_path = project.stage_dir("prepare").join(".lock");
    let held = StageLock::acquire(&lock_path, "p/prepare").unwrap();
    let error = project.run("prepare", &["--force"]).expect_error(
        "prepare",
        &[
            "p/prepare is being run by another process",
            &format!("pid {}", std::process::id()),
            "lock file data/runs/p/prepare/.lock",
        ],
    );
    assert!(!error.contains('\n'));
    assert_same(
        &project.snapshot("prepare"),
        &before,
        "the refused run wrote nothing",
    );
    drop(held);
    project
        .run("prepare", &["--force"])
        .expect_ran("prepare", "--force");

    // Real races: two forced runs at once, a few times. Whichever way each race goes,
    // at least one run finishes, a refused one says why, and the outputs always match
    // the manifest.
    for _ in 0..4 {
        let mut first = project.command("prepare", &["--force"]);
        let mut second = project.command("prepare", &["--force"]);
        for command in [&mut first, &mut second] {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let (a, b) = (first.spawn().unwrap(), second.spawn().unwrap());
        let results = [
            Output::from(a.wait_with_output().unwrap()),
            Output::from(b.wait_with_output().unwrap()),
        ];
        assert!(results.iter().any(|r| r.ok), "neither run finished");
        for result in results.iter().filter(|r| !r.ok) {
            result.expect_error("prepare", &["p/prepare is being run by another process"]);
        }
        project.assert_consistent("prepare");
        assert!(temp_files(&project.snapshot("prepare")).is_empty());
        assert_same(
            &outputs(project.snapshot("prepare")),
            &outputs(before.clone()),
            "prepare outputs after a race",
        );
    }
}

fn a_full_disk_fails_cleanly_and_keeps_earlier_artifacts() {
    let project = Project::new();
    // 300 samples, so that samples.parquet is larger than the manifest: a limit can then
    // stop the first output while the manifest still fits.
    let pipeline = PIPELINE.replace("points_per_subspace = 20", "points_per_subspace = 100");
    project.write_pipeline(&pipeline);
    project.run_all();
    let prepare_files = project.snapshot("prepare");
    let cluster_files = project.snapshot("cluster");
    let largest_cluster_file = cluster_files.values().map(Vec::len).max().unwrap();
    assert!(
        largest_cluster_file > 8 << 10,
        "a cluster output bigger than the limit: {largest_cluster_file} bytes"
    );

    // cluster with every file limited to 8 KiB: its figures do not fit.
    let out = project.run_with_file_limit("cluster", 8, &["--force"]);
    // e.g. "cluster: error: data/runs/p/cluster/report/embedding.png: cannot write: File
    // too large (os error 27)".
    out.expect_error(
        "cluster",
        &["data/runs/p/cluster/", "cannot write: File too large"],
    );
    // Upstream untouched; downstream holds no temp file and no manifest, and every file
    // under a final name is whole (the old one, or the new one completely written).
    assert_same(
        &project.snapshot("prepare"),
        &prepare_files,
        "prepare folder",
    );
    project.assert_consistent("prepare");
    let after = project.snapshot("cluster");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    // assignments.parquet and metrics.json (new timings) landed before the figures
    // failed, so the previous manifest no longer holds and is not put back.
    assert!(
        !after.contains_key("manifest.json"),
        "no manifest that lies"
    );
    for (name, bytes) in &after {
        if name == "metrics.json" {
            serde_json::from_slice::<serde_json::Value>(bytes).expect("metrics.json is whole");
        } else {
            assert_eq!(Some(bytes), cluster_files.get(name), "{name} is whole");
        }
    }
    // With room again, it runs (there is no manifest) and writes the same assignments.
    project
        .run("cluster", &[])
        .expect_ran("cluster", "no previous run");
    assert!(
        project.snapshot("cluster")["assignments.parquet"] == cluster_files["assignments.parquet"]
    );
    let cluster_files = project.snapshot("cluster");

    // prepare with a limit that its manifest fits under but samples.parquet, its first
    // output, does not.
    let manifest_len = prepare_files["manifest.json"].len() as u64;
    let samples_len = prepare_files["samples.parquet"].len() as u64;
    let limit_kib = manifest_len.div_ceil(1024);
    assert!(
        limit_kib * 1024 < samples_len,
        "samples.parquet ({samples_len} bytes) must not fit under {limit_kib} KiB"
    );
    let out = project.run_with_file_limit("prepare", limit_kib, &["--force"]);
    out.expect_error(
        "prepare",
        &["data/runs/p/prepare/samples.parquet: cannot write: File too large"],
    );
    let after = project.snapshot("prepare");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    // samples.parquet, the first output, did not fit: nothing was replaced, so the runner
    // put the previous manifest back and the stage is exactly as before.
    assert_same(&after, &prepare_files, "prepare folder");
    project.assert_consistent("prepare");
    // Downstream goes on reading it: up to date, its outputs untouched.
    project.run("cluster", &[]).expect_up_to_date("cluster");
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );

    // A full disk after the first output landed, different from the old one (one sample
    // fewer per subspace): the old manifest no longer holds, so the stage keeps none, and
    // downstream refuses it until it is rebuilt. (A change that leaves samples.parquet
    // byte-identical, such as `noise`, would get the old manifest back, rightly.)
    project
        .write_pipeline(&pipeline.replace("points_per_subspace = 100", "points_per_subspace = 99"));
    let samples_len = prepare_files["samples.parquet"].len() as u64;
    let inputs_len = prepare_files["inputs.safetensors"].len() as u64;
    assert!(inputs_len > samples_len, "{inputs_len} ≤ {samples_len}");
    let limit_kib = samples_len.div_ceil(1024);
    assert!(
        limit_kib * 1024 < inputs_len,
        "inputs.safetensors must not fit"
    );
    let out = project.run_with_file_limit("prepare", limit_kib, &[]);
    out.expect_error(
        "prepare",
        &["data/runs/p/prepare/inputs.safetensors: cannot write: File too large"],
    );
    let after = project.snapshot("prepare");
    assert!(temp_files(&after).is_empty(), "{:?}", temp_files(&after));
    assert!(
        !after.contains_key("manifest.json"),
        "no manifest that lies"
    );
    assert!(after["inputs.safetensors"] == prepare_files["inputs.safetensors"]);
    project.run("cluster", &[]).expect_error(
        "cluster",
        &[
            "upstream stage prepare has not completed",
            "run `just prepare p` first",
        ],
    );
    assert_same(
        &project.snapshot("cluster"),
        &cluster_files,
        "cluster folder",
    );
    project.write_pipeline(&pipeline);
    project
        .run("prepare", &[])
        .expect_ran("prepare", "no previous run");
    assert_same(
        &outputs(project.snapshot("prepare")),
        &outputs(prepare_files),
        "rebuilt prepare outputs",
    );
    project.run("cluster", &[]).expect_up_to_date("cluster");
}

// ---------------------------------------------------------------------------------------
// The training stages: pretrain, train and affinity as processes too.

/// The columns of a training stage's `metrics.parquet` (pretrain: one loss term, so no
/// `loss_<term>` columns; train, jointly on an MLP with a head: L_ssl, L_se and L_ebm, the
/// per-epoch monitors of the dictionary and its two diagnostics).
fn metric_columns(stage: &str) -> Vec<(&'static str, MetricKind)> {
    let mut columns = vec![
        ("epoch", MetricKind::U64),
        ("step", MetricKind::U64),
        ("loss", MetricKind::F64),
        ("lr", MetricKind::F64),
        ("samples_per_s", MetricKind::F64),
    ];
    if stage == "train" {
        for term in [
            "loss_ssl",
            "loss_se",
            "loss_ebm",
            "effective_rank",
            "knn_accuracy",
            "mean_nonzeros",
            "same_label_share",
        ] {
            columns.push((term, MetricKind::F64));
        }
    }
    columns
}

/// `metrics.parquet` as text, without `samples_per_s`: a wall-clock measurement, the one
/// column that differs from run to run.
fn metrics_without_timing(path: &Path, stage: &str) -> Vec<u8> {
    let columns = metric_columns(stage);
    let log = MetricsLog::read(path, &columns).unwrap();
    let mut text = String::new();
    for (name, kind) in &columns {
        match (name, kind) {
            (&"samples_per_s", _) => {}
            (_, MetricKind::U64) => text += &format!("{name}: {:?}\n", log.u64_column(name)),
            (_, MetricKind::F64) => text += &format!("{name}: {:?}\n", log.f64_column(name)),
        }
    }
    text.into_bytes()
}

impl Project {
    /// A stage's outputs as a rerun must reproduce them: every byte, `metrics.parquet`
    /// aside, whose values but its timings must be the same (and the training report
    /// drawn from it).
    fn reproducible(&self, stage: &str) -> BTreeMap<String, Vec<u8>> {
        let mut files = outputs(self.snapshot(stage));
        if files.remove("metrics.parquet").is_some() {
            let path = self.stage_dir(stage).join("metrics.parquet");
            files.insert(
                "metrics.parquet without samples_per_s".into(),
                metrics_without_timing(&path, stage),
            );
            // The training report is drawn from metrics.parquet, its samples/s panel and
            // last-value table included: its values are compared just above.
            files.retain(|name, _| !name.starts_with("report/"));
        }
        files
    }

    /// The steps of the complete checkpoints under `<stage>/.work/*/`.
    fn checkpoints(&self, stage: &str) -> Vec<u64> {
        let mut steps = Vec::new();
        for key in std::fs::read_dir(self.stage_dir(stage).join(".work"))
            .into_iter()
            .flatten()
        {
            for entry in std::fs::read_dir(key.unwrap().path()).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if let Some(step) = name.strip_prefix("ckpt-")
                    && let Ok(step) = step.parse()
                {
                    steps.push(step);
                }
            }
        }
        steps
    }
}

/// Names under a stage folder that say they are being written: `AtomicFile`'s
/// `.<name>.tmp-<pid>-<n>` and a checkpoint's `ckpt-<step>.tmp/`.
fn unfinished(files: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    files.keys().filter(|name| name.contains(".tmp")).collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): the kill delays, reproducible from a printed seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn damaged_training_artifacts_are_named_refused_downstream_and_rebuilt() {
    let project = Project::with(FULL);
    project.run_stages(&STAGES);
    for i in 1..=3 {
        let stage = STAGES[i];
        let next = STAGES[i + 1];
        let names: Vec<String> = project.manifest(stage).outputs.keys().cloned().collect();
        for (j, name) in names.iter().enumerate() {
            // One damage per file, in turn: each stage with three outputs meets all three,
            // and each process start costs about a second in a debug build.
            let damages = [[Damage::Delete, Damage::Truncate, Damage::FlipByte][(i + j) % 3]];
            for damage in damages {
                let what = format!("{damage:?} {stage}/{name}");
                let next_files = project.snapshot(next);
                let reproducible = project.reproducible(stage);
                let key = project.manifest(stage).key;
                let problem = damage.apply(&project.stage_dir(stage).join(name), name);

                project.run(next, &[]).expect_error(
                    next,
                    &[
                        &format!("upstream stage {stage}: {problem}"),
                        &format!("run `just {stage} p` first"),
                    ],
                );
                assert_same(
                    &project.snapshot(next),
                    &next_files,
                    &format!("{next} folder after {what}"),
                );
                // The stage right above stays up to date (which verifies its own upstream
                // outputs on the way).
                let above = STAGES[i - 1];
                project.run(above, &[]).expect_up_to_date(above);
                project.run(stage, &[]).expect_ran(stage, &problem);
                assert_eq!(project.manifest(stage).key, key, "{what}");
                assert_same(
                    &project.reproducible(stage),
                    &reproducible,
                    &format!("{stage} rebuilt after {what}"),
                );
                assert!(!project.stage_dir(stage).join(".work").exists());
                // Downstream: the same bytes of every file it reads (a rebuilt
                // metrics.parquet differs in its timings, and no stage reads it), so the same
                // key, up to date.
                for down in &STAGES[i + 1..] {
                    project.run(down, &[]).expect_up_to_date(down);
                }
            }
        }
    }
}

fn killed_training_stages_resume_to_the_same_bytes() {
    // 180 pretrain steps and 160 train steps, a checkpoint after each: a few seconds of
    // training after about a second of process start-up (libtorch, debug build).
    let pipeline = FULL
        .replace("[pretrain]\nepochs = 3\n", "[pretrain]\nepochs = 60\n")
        .replace(
            "epochs = 3\nbatch_size = 30",
            "epochs = 80\nbatch_size = 30",
        );
    let seed = std::env::var("EBSC_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127);
    println!("kill -9 at random moments: seed {seed} (EBSC_FAULTS_SEED={seed} replays it)");
    let mut rng = SplitMix64(seed);
    const KILLS: u32 = 3;
    for (i, stage) in [(1, "pretrain"), (2, "train")] {
        let project = Project::with(&pipeline);
        project.run_stages(&STAGES[..i + 1]);
        let expected = project.reproducible(stage);
        // T: a forced run, as the killed ones will be (measured: a project's first run of
        // a stage is slower); it reproduces the first run's bytes too.
        let started = Instant::now();
        project
            .run(stage, &["--force"])
            .expect_ran(stage, "--force");
        let whole = started.elapsed();
        assert_same(&project.reproducible(stage), &expected, "a forced rerun");

        let mut between_checkpoints = 0;
        for kill in 0..KILLS {
            // Stratified: kill k lands in [k·T/3, (k+1)·T/3), so the later kills fall in
            // the training loop whatever the start-up costs on this machine.
            let delay = whole.mul_f64((f64::from(kill) + rng.next_f64()) / f64::from(KILLS));
            let mut child = project.command(stage, &["--force"]);
            let mut child = child
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            // The forced run removes the manifest before it starts work: none now means
            // the kill interrupted it.
            let mid_run = !project.stage_dir(stage).join("manifest.json").exists();
            let checkpoints = project.checkpoints(stage);
            println!(
                "  {stage}: killed after {:.3} s of {:.3} s: {}, checkpoints {checkpoints:?}",
                delay.as_secs_f64(),
                whole.as_secs_f64(),
                if mid_run {
                    "mid-run"
                } else {
                    "not started or finished"
                }
            );
            let out = project.run(stage, &[]);
            if mid_run {
                out.expect_ran(stage, "no previous run");
                if let Some(step) = checkpoints.iter().max() {
                    between_checkpoints += 1;
                    assert!(
                        out.stderr
                            .contains(&format!("resuming from the checkpoint at step {step} of")),
                        "{}",
                        out.stderr
                    );
                }
            } else {
                out.expect_up_to_date(stage);
            }
            assert_same(
                &project.reproducible(stage),
                &expected,
                &format!("{stage} after a kill at {delay:?}"),
            );
            let files = project.snapshot(stage);
            assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));
            assert!(!project.stage_dir(stage).join(".work").exists());
        }
        assert!(
            between_checkpoints > 0,
            "no kill landed in the training loop: the {stage} run needs more steps"
        );
    }
}

fn a_full_disk_during_training_fails_cleanly_and_resumes() {
    // 300 samples: features.safetensors (300 × 16 floats) outgrows a checkpoint (the MLP's
    // weights and two Adam moments), so a limit can fail the output while checkpoints fit.
    let project = Project::with(
        &FULL
            .replace("points_per_subspace = 20", "points_per_subspace = 100")
            .replace("[pretrain]\nepochs = 3\n", "[pretrain]\nepochs = 1\n"),
    );
    project.run_stages(&STAGES[..1]);
    let prepare_files = project.snapshot("prepare");
    let after_failure = |out: &Output, needles: &[&str]| {
        out.expect_error("pretrain", needles);
        assert_same(
            &project.snapshot("prepare"),
            &prepare_files,
            "prepare folder",
        );
        project.assert_consistent("prepare");
        let files = project.snapshot("pretrain");
        assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));
        assert!(
            !files.contains_key("manifest.json"),
            "no manifest that lies"
        );
        project.run("train", &[]).expect_error(
            "train",
            &[
                "upstream stage pretrain has not completed",
                "run `just pretrain p` first",
            ],
        );
    };

    // 1 KiB: the first checkpoint does not fit.
    let out = project.run_with_file_limit("pretrain", 1, &[]);
    // e.g. "pretrain: error: data/runs/p/pretrain/.work/<key>/ckpt-0000000001.tmp/
    // tensors.safetensors: writing checkpoint tensors: ... File too large ..."
    after_failure(
        &out,
        &[
            "data/runs/p/pretrain/.work/",
            "/ckpt-0000000001.tmp/tensors.safetensors: writing checkpoint tensors",
            "File too large",
        ],
    );
    assert!(project.checkpoints("pretrain").is_empty());

    // 12 KiB: every checkpoint fits, the encoder too, features.safetensors does not.
    let out = project.run_with_file_limit("pretrain", LIMIT_KIB, &[]);
    after_failure(
        &out,
        &["data/runs/p/pretrain/features.safetensors: cannot write: File too large"],
    );
    assert_eq!(project.checkpoints("pretrain"), vec![15]);

    // With room again it resumes from the last checkpoint (the end of training) and writes
    // the outputs an uninterrupted run writes.
    let out = project.run("pretrain", &[]);
    out.expect_ran("pretrain", "no previous run");
    assert!(
        out.stderr
            .contains("resuming from the checkpoint at step 15 of 15"),
        "{}",
        out.stderr
    );
    let resumed = project.reproducible("pretrain");
    let sizes: BTreeMap<&String, usize> = resumed.iter().map(|(k, v)| (k, v.len())).collect();
    assert!(
        resumed["encoder.safetensors"].len() < LIMIT_KIB as usize * 1024
            && resumed["features.safetensors"].len() > LIMIT_KIB as usize * 1024,
        "{sizes:?}"
    );
    project
        .run("pretrain", &["--force"])
        .expect_ran("pretrain", "--force");
    assert_same(
        &project.reproducible("pretrain"),
        &resumed,
        "resumed against uninterrupted",
    );
    project
        .run("train", &[])
        .expect_ran("train", "no previous run");
}

const LIMIT_KIB: u64 = 12;

fn a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint() {
    let project = Project::with(&FULL.replace("lr = 1e-2", "lr = 1e30"));
    project.run_stages(&STAGES[..1]);
    let out = project.run("pretrain", &[]);
    // e.g. "pretrain: error: step 3 (epoch 1): loss term `ssl` is NaN; training stopped,
    // the last good checkpoint (after step 2) is kept in data/runs/p/pretrain/.work/<key>"
    let line = out.expect_error(
        "pretrain",
        &[
            "loss term `ssl` is",
            "training stopped, the last good checkpoint (after step ",
            ") is kept in data/runs/p/pretrain/.work/",
        ],
    );
    println!("  {line}");
    let number_after = |marker: &str| -> u64 {
        let rest = &line[line.find(marker).unwrap() + marker.len()..];
        rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap()]
            .parse()
            .unwrap()
    };
    let (step, kept) = (
        number_after(": step "),
        number_after("checkpoint (after step "),
    );
    assert!(line.contains(&format!("step {step} (epoch ")), "{line}");
    assert!(kept >= 1 && kept < step, "{line}");
    let dir = &line[line.find("is kept in ").unwrap() + "is kept in ".len()..];
    assert!(
        project
            .dir
            .path()
            .join(dir.trim())
            .join(format!("ckpt-{kept:010}/tensors.safetensors"))
            .is_file(),
        "{line}"
    );
    let files = project.snapshot("pretrain");
    assert!(!files.contains_key("manifest.json"), "no manifest");
    assert!(unfinished(&files).is_empty(), "{:?}", unfinished(&files));

    // A sane learning rate: a new key, so it runs from the start (the failed run left no
    // manifest to compare with) and succeeds; the stale checkpoint is never resumed.
    project.write_pipeline(FULL);
    let out = project.run("pretrain", &[]);
    out.expect_ran("pretrain", "no previous run");
    assert!(!out.stderr.contains("resuming"), "{}", out.stderr);
    project.assert_consistent("pretrain");
    assert!(!project.stage_dir("pretrain").join(".work").exists());
}
