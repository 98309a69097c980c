//! Faults and bad input across the pipeline (issue 7), on the stages that exist as
//! processes: a real `prepare` (synthetic subspaces), a hand-made `affinity` stage folder
//! (files and manifest, as the stage runner leaves them) and a real `cluster` in pipeline
//! mode. Each scenario is a small project in a temp folder:
//!
//! - a deleted, truncated or byte-flipped artifact is found from the manifest, named, and
//!   rebuilt by its own stage; downstream refuses to read it meanwhile, and is up to date
//!   again once the rebuilt bytes are the same;
//! - a config edit re-runs exactly the stage it changes and those downstream; a cosmetic
//!   edit (comments, key order, description) re-runs nothing;
//! - a second run of a stage while one holds its lock is refused, naming the holder, and
//!   racing runs never leave outputs that disagree with their manifest;
//! - a full disk (a file-size limit, `ulimit -f`) gives one clear error line; upstream
//!   artifacts and manifests are intact and no half-written file lands under a final name.
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
use ebsc_io::{Triplets, read_samples, write_triplets};

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD_FLAG) {
        return stage_child(&args[2..]);
    }
    let filter = args[1..].iter().find(|a| !a.starts_with('-'));
    let scenarios: [(&str, fn()); 5] = [
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
    ];
    let started = Instant::now();
    let (mut passed, mut failed, mut filtered) = (0, 0, 0);
    for (name, scenario) in scenarios {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        let result = std::panic::catch_unwind(scenario);
        println!(
            "test {name} ... {}",
            if result.is_ok() { "ok" } else { "FAILED" }
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
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(project.dir.path().join("pipelines")).unwrap();
        project.write_pipeline(PIPELINE);
        project
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
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        Output::from(output)
    }

    /// Every file under a stage folder (relative path → bytes), the lock file aside.
    fn snapshot(&self, stage: &str) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
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
