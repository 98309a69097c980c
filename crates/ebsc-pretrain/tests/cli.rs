//! The `ebsc-pretrain` binary as a user meets it: outputs and their shapes, a falling
//! loss, resume after `kill -9` ending on the same bytes, and bad input.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ebsc_core::{Pipeline, StageRunner};
use ebsc_io::{
    MetricKind, MetricsLog, SampleRow, TensorData, TensorFile, write_samples, write_tensors,
};
use ebsc_test_support::cli;

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose `p` pipeline has a completed prepare stage with `inputs`, and
    /// `[pretrain]` = `section`.
    fn new(
        section: &str,
        name: &str,
        shape: Vec<usize>,
        inputs: TensorData,
        labels: Vec<i32>,
    ) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        let text = format!(
            "[pipeline]\nseed = 5\n\n[prepare]\nsource = \"test\"\n\n[pretrain]\n{section}"
        );
        std::fs::create_dir_all(project.path("pipelines")).unwrap();
        std::fs::write(project.pipeline(), &text).unwrap();
        // The prepare stage's outputs and manifest, written through the same runner.
        let pipeline = Pipeline::parse(&project.pipeline(), &text).unwrap();
        StageRunner::new(&pipeline, &project.path("data/runs"), "prepare", 1)
            .run(false, |run| {
                let mut f = run.create_output("inputs.safetensors")?;
                write_tensors(&mut f, &[(name, shape.clone(), &inputs)], &HashMap::new())?;
                f.commit()?;
                let rows: Vec<SampleRow> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| SampleRow {
                        index: i as u32,
                        label: Some(l),
                        label_name: Some(l.to_string()),
                        source: "test".into(),
                        split: "test".into(),
                    })
                    .collect();
                let mut f = run.create_output("samples.parquet")?;
                write_samples(&mut f, &rows)?;
                f.commit()
            })
            .unwrap();
        project
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn pipeline(&self) -> PathBuf {
        self.path("pipelines/p.toml")
    }

    fn set_section(&self, section: &str) {
        let text = std::fs::read_to_string(self.pipeline()).unwrap();
        let head = &text[..text.find("[pretrain]").unwrap()];
        std::fs::write(self.pipeline(), format!("{head}[pretrain]\n{section}")).unwrap();
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ebsc-pretrain"));
        command
            .args([
                "pipelines/p.toml",
                "--device",
                "cpu",
                "--threads",
                "1",
                "--progress",
                "log",
            ])
            .current_dir(self.dir.path());
        command
    }

    fn run(&self) -> Output {
        self.command().output().unwrap()
    }

    fn out(&self, file: &str) -> PathBuf {
        self.path(&format!("data/runs/p/pretrain/{file}"))
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `n` 8×8 grayscale images of two kinds (bright left half / bright top half), with noise.
fn two_kinds(n: usize) -> (Vec<usize>, TensorData, Vec<i32>) {
    let mut data = Vec::with_capacity(n * 64);
    let mut labels = Vec::new();
    for i in 0..n {
        let kind = i % 2;
        for y in 0..8 {
            for x in 0..8 {
                let on = if kind == 0 { x < 4 } else { y < 4 };
                let jitter = ((i * 31 + y * 7 + x * 13) % 40) as u8;
                data.push(if on { 200 + jitter / 2 } else { jitter });
            }
        }
        labels.push(kind as i32);
    }
    (vec![n, 1, 8, 8], TensorData::U8(data), labels)
}

const CONVNET: &str = "epochs = 6\nbatch_size = 8\nwarmup_epochs = 1\ncheckpoint_every = 2\n\
    [pretrain.encoder]\nkind = \"convnet\"\nwidth = 4\n\
    [pretrain.head]\nhidden = 16\nout_dim = 8\n\
    [pretrain.optimizer]\nkind = \"adam\"\nlr = 0.01\n\
    [pretrain.augment]\ncrop = { p = 1.0, scale = [0.6, 1.0] }\nflip = { p = 0.5 }\nnoise = { p = 0.5, std = 0.05 }\n";

fn metric_columns() -> Vec<(&'static str, MetricKind)> {
    vec![
        ("epoch", MetricKind::U64),
        ("step", MetricKind::U64),
        ("loss", MetricKind::F64),
        ("lr", MetricKind::F64),
        ("samples_per_s", MetricKind::F64),
        ("knn_accuracy", MetricKind::F64),
    ]
}

#[test]
fn trains_writes_outputs_and_lowers_the_loss() {
    let (shape, data, labels) = two_kinds(32);
    let project = Project::new(CONVNET, "images", shape, data, labels);
    let output = project.run();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("pretrain: done in"), "{stdout}");

    let features = TensorFile::open(&project.out("features.safetensors")).unwrap();
    assert_eq!(features.f32("backbone").unwrap().0, vec![32, 16]); // convnet: 4·width
    let (shape, head) = features.f32("head").unwrap();
    assert_eq!(shape, vec![32, 8]);
    let norm: f32 = head[..8].iter().map(|v| v * v).sum();
    assert!(
        (norm - 1.0).abs() < 1e-4,
        "head rows are unit vectors: {norm}"
    );

    let encoder = TensorFile::open(&project.out("encoder.safetensors")).unwrap();
    assert!(encoder.metadata()["ebsc.encoder"].contains("convnet"));
    assert_eq!(
        encoder.f32("encoder.block1.conv1.weight").unwrap().0,
        vec![4, 1, 3, 3]
    );
    assert_eq!(encoder.f32("head.fc2.weight").unwrap().0, vec![8, 16]);

    // 6 epochs × 4 steps, one row each; the last epoch's mean loss is below the first's.
    let metrics = MetricsLog::read(&project.out("metrics.parquet"), &metric_columns()).unwrap();
    assert_eq!(metrics.len(), 24);
    assert_eq!(
        metrics.u64_column("step").unwrap(),
        (0..24).collect::<Vec<u64>>()
    );
    let loss: Vec<f64> = metrics
        .f64_column("loss")
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let first: f64 = loss[..4].iter().sum::<f64>() / 4.0;
    let last: f64 = loss[20..].iter().sum::<f64>() / 4.0;
    assert!(last < first, "loss did not fall: {first} → {last}");
    // The kNN monitor fills an epoch's last row, at most once per 20 steps and after the
    // last epoch: epochs of 4 steps are scored after epochs 5 and 6 (rows 19 and 23).
    let knn = metrics.f64_column("knn_accuracy").unwrap();
    let scored: Vec<usize> = (0..knn.len()).filter(|&i| knn[i].is_some()).collect();
    assert_eq!(scored, vec![19, 23]);

    // Nothing changed: up to date.
    let again = project.run();
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
}

#[test]
fn killed_run_resumes_to_the_same_bytes() {
    let section = CONVNET
        .replace("epochs = 6", "epochs = 30")
        .replace("checkpoint_every = 2", "checkpoint_every = 3");
    let (shape, data, labels) = two_kinds(32);
    let whole = Project::new(
        &section,
        "images",
        shape.clone(),
        data.clone(),
        labels.clone(),
    );
    let output = whole.run();
    assert!(output.status.success(), "{}", stderr(&output));

    let killed = Project::new(&section, "images", shape, data, labels);
    let mut child = killed
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let work = killed.path("data/runs/p/pretrain/.work");
    let started = Instant::now();
    // Kill -9 as soon as a checkpoint exists (mid-run: 120 steps, one every 3).
    loop {
        let has_checkpoint = std::fs::read_dir(&work)
            .into_iter()
            .flatten()
            .flatten()
            .any(|key| {
                std::fs::read_dir(key.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
            });
        if has_checkpoint || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !killed.out("manifest.json").exists(),
        "the run finished before it could be killed; the test needs more steps"
    );

    let resumed = killed.run();
    let log = stderr(&resumed);
    assert!(resumed.status.success(), "{log}");
    assert!(
        log.contains("resuming from the checkpoint at step"),
        "{log}"
    );
    for file in ["encoder.safetensors", "features.safetensors"] {
        let a = std::fs::read(whole.out(file)).unwrap();
        let b = std::fs::read(killed.out(file)).unwrap();
        assert!(a == b, "{file} differs after resume");
    }
    // The metrics of the resumed run cover every step once; the losses are the same.
    let a = MetricsLog::read(&whole.out("metrics.parquet"), &metric_columns()).unwrap();
    let b = MetricsLog::read(&killed.out("metrics.parquet"), &metric_columns()).unwrap();
    assert_eq!(a.f64_column("loss"), b.f64_column("loss"));
    assert!(
        !killed.path("data/runs/p/pretrain/.work").exists(),
        "checkpoints are removed"
    );
}

#[test]
fn identity_passes_features_through() {
    let data = TensorData::F32(vec![3.0, 4.0, 0.0, 2.0, 1.0, 0.0]);
    let project = Project::new(
        "[pretrain.encoder]\nkind = \"identity\"\n",
        "features",
        vec![3, 2],
        data,
        vec![0, 1, 0],
    );
    let output = project.run();
    assert!(output.status.success(), "{}", stderr(&output));
    let features = TensorFile::open(&project.out("features.safetensors")).unwrap();
    let (shape, backbone) = features.f32("backbone").unwrap();
    assert_eq!(shape, vec![3, 2]);
    assert_eq!(backbone, vec![0.6, 0.8, 0.0, 1.0, 1.0, 0.0]);
    assert_eq!(features.f32("head").unwrap().1, backbone);
    let metrics =
        MetricsLog::read(&project.out("metrics.parquet"), &metric_columns()[..5]).unwrap();
    assert!(metrics.is_empty());
}

fn expect_error(project: &Project, needles: &[&str]) {
    cli::Output::from_std(project.run()).error_line(needles);
    assert!(!project.out("manifest.json").exists());
}

#[test]
fn bad_input_is_one_line_naming_what_is_wrong() {
    let data = TensorData::F32(vec![1.0; 8]);
    let project = Project::new(
        "[pretrain.encoder]\nkind = \"convnet\"\n",
        "features",
        vec![4, 2],
        data,
        vec![0, 1, 0, 1],
    );
    expect_error(
        &project,
        &[
            "pipelines/p.toml: [pretrain]:",
            "encoder `convnet` needs images",
        ],
    );
    project.set_section("[pretrain.encoder]\nkind = \"mlp\"\nlayers = 3\n");
    expect_error(&project, &["[pretrain]", "unknown field `layers`"]);
    project.set_section("batch_size = 0\n[pretrain.encoder]\nkind = \"mlp\"\n");
    expect_error(&project, &["batch_size must be at least 2"]);
    project.set_section("[pretrain.encoder]\nkind = \"mlp\"\n");
    std::fs::remove_file(project.path("data/runs/p/prepare/manifest.json")).unwrap();
    expect_error(&project, &["upstream stage prepare has not completed"]);
}
