//! The fault scenarios' harness: the two projects (`PIPELINE`, `FULL`), a project in a
//! temp folder with its stage processes, snapshots and comparisons of stage folders, and
//! the damages done to artifacts.

//! (`cargo test -p ebsc-tests --test faults -- NAME` runs those whose name contains NAME).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ebsc_core::manifest::{Manifest, Provenance, output_entry};
use ebsc_io::{MetricKind, MetricsLog, Triplets, read_samples, write_triplets};
use ebsc_test_support::cli::Output;

use crate::CHILD_FLAG;

pub(crate) const PIPELINE: &str = r#"[pipeline]
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
pub(crate) const FULL: &str = r#"[pipeline]
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
ssl_temperature = 0.5
energy_temperature = 0.1
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

/// The tch stages on the CPU with one libtorch thread: byte-reproducible outputs, and
/// the scenarios leave the second core to whatever runs beside them.
pub(crate) fn tensor_flags(stage: &str) -> &'static [&'static str] {
    match stage {
        "pretrain" | "train" | "affinity" => &["--device", "cpu", "--threads", "1"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------
// A project: pipelines/p.toml and data/runs/p/<stage>/ in a temp folder.

pub(crate) struct Project {
    pub(crate) dir: tempfile::TempDir,
}

impl Project {
    pub(crate) fn new() -> Project {
        Project::with(PIPELINE)
    }

    pub(crate) fn with(pipeline: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(project.dir.path().join("pipelines")).unwrap();
        project.write_pipeline(pipeline);
        project
    }

    /// Runs `stages` in order; each must run (not be up to date).
    pub(crate) fn run_stages(&self, stages: &[&str]) {
        for stage in stages {
            self.run(stage, &[]).expect_ran(stage, "");
        }
    }

    pub(crate) fn write_pipeline(&self, text: &str) {
        std::fs::write(self.dir.path().join("pipelines/p.toml"), text).unwrap();
    }

    pub(crate) fn stage_dir(&self, stage: &str) -> PathBuf {
        self.dir.path().join("data/runs/p").join(stage)
    }

    pub(crate) fn command(&self, stage: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([CHILD_FLAG, stage, "pipelines/p.toml", "--progress", "none"])
            .args(tensor_flags(stage))
            .args(extra)
            .current_dir(self.dir.path());
        command
    }

    pub(crate) fn run(&self, stage: &str, extra: &[&str]) -> Output {
        Output::from_std(self.command(stage, extra).output().unwrap())
    }

    /// Runs a stage with every file it writes limited to `kib` KiB, as on a full disk:
    /// SIGXFSZ ignored first, so a write past the limit fails with EFBIG instead of killing
    /// the process (the ignored disposition survives exec).
    pub(crate) fn run_with_file_limit(&self, stage: &str, kib: u64, extra: &[&str]) -> Output {
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
        Output::from_std(output)
    }

    /// Every file under a stage folder (relative path → bytes), the lock file aside.
    pub(crate) fn snapshot(&self, stage: &str) -> BTreeMap<String, Vec<u8>> {
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

    pub(crate) fn manifest(&self, stage: &str) -> Manifest {
        Manifest::read(&self.stage_dir(stage).join("manifest.json")).unwrap()
    }

    /// The manifest exists and every output it lists verifies.
    pub(crate) fn assert_consistent(&self, stage: &str) {
        let manifest = self.manifest(stage);
        assert_eq!(
            manifest.verify_outputs(&self.stage_dir(stage)).unwrap(),
            Ok(()),
            "{stage}'s outputs disagree with its manifest"
        );
    }

    /// The `affinity` stage as the runner leaves it: each sample joined to the next three
    /// of its class (both directions), so clustering recovers the classes exactly.
    pub(crate) fn fake_affinity(&self) {
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
            provenance: Provenance::by_hand(),
        };
        manifest.write(&dir.join("manifest.json")).unwrap();
    }

    /// prepare, the hand-made affinity, cluster: every stage run once.
    pub(crate) fn run_all(&self) {
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
pub(crate) fn temp_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    files.keys().filter(|name| name.contains(".tmp-")).collect()
}

/// Two snapshots are the same; on failure names the files that differ (not their bytes).
#[track_caller]
pub(crate) fn assert_same(
    a: &BTreeMap<String, Vec<u8>>,
    b: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let differ: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|name| a.get(*name) != b.get(*name))
        .collect();
    assert!(differ.is_empty(), "{what}: these files differ: {differ:?}");
}

/// Outputs only: the manifest's provenance (time, command) differs between runs.
pub(crate) fn outputs(mut files: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files.remove("manifest.json");
    files
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Damage {
    Delete,
    Truncate,
    FlipByte,
}

impl Damage {
    /// Damages `path`; returns what the manifest check should say about `name`.
    pub(crate) fn apply(self, path: &Path, name: &str) -> String {
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
// The training stages: pretrain, train and affinity as processes too.

/// The columns of a training stage's `metrics.parquet` (pretrain: one loss term, so no
/// `loss_<term>` columns; train, jointly on an MLP with a head: L_ssl, L_se and L_ebm, the
/// per-epoch monitors of the dictionary and its two diagnostics).
pub(crate) fn metric_columns(stage: &str) -> Vec<(&'static str, MetricKind)> {
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
pub(crate) fn metrics_without_timing(path: &Path, stage: &str) -> Vec<u8> {
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
    pub(crate) fn reproducible(&self, stage: &str) -> BTreeMap<String, Vec<u8>> {
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

    /// Whether a complete checkpoint is under `<stage>/.work/*/`, read while the stage
    /// runs: folders that vanish mid-listing count as none.
    pub(crate) fn has_checkpoint(&self, stage: &str) -> bool {
        let Ok(keys) = std::fs::read_dir(self.stage_dir(stage).join(".work")) else {
            return false;
        };
        keys.flatten().any(|key| {
            std::fs::read_dir(key.path()).is_ok_and(|entries| {
                entries.flatten().any(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("ckpt-")
                        .is_some_and(|step| step.parse::<u64>().is_ok())
                })
            })
        })
    }

    /// The steps of the complete checkpoints under `<stage>/.work/*/`.
    pub(crate) fn checkpoints(&self, stage: &str) -> Vec<u64> {
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
pub(crate) fn unfinished(files: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    files.keys().filter(|name| name.contains(".tmp")).collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): the kill delays, reproducible from a printed seed.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
