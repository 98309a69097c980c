//! The shipped pipelines' prepare stage, run through the same library call as the binary.

use ebsc_core::cli::StageArgs;
use ebsc_core::{Outcome, ProgressMode};
use ebsc_io::{TensorFile, read_samples};
use ebsc_tests::repo_root;

fn prepare(pipeline: &str, runs: &std::path::Path) -> Outcome {
    // Pipelines name their data relative to the repository root, as `just` runs them.
    std::env::set_current_dir(repo_root()).unwrap();
    let args = ebsc_prepare::Args {
        stage: StageArgs {
            pipeline: format!("pipelines/{pipeline}.toml").into(),
            runs_dir: runs.to_path_buf(),
            force: false,
            progress: ProgressMode::None,
        },
        out: None,
        data: None,
    };
    ebsc_prepare::run(&args).unwrap()
}

#[test]
fn mnist_demo_prepares_the_embedded_test_split() {
    let runs = tempfile::tempdir().unwrap();
    let first = prepare("mnist-demo", runs.path());
    assert!(matches!(first, Outcome::Ran { .. }));
    let dir = runs.path().join("mnist-demo/prepare");

    let samples = read_samples(&dir.join("samples.parquet")).unwrap();
    assert_eq!(samples.len(), 10_000);
    // Class sizes of the MNIST test split, as published with the data set.
    let expected = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
    for (digit, &count) in expected.iter().enumerate() {
        let n = samples
            .iter()
            .filter(|s| s.label == Some(digit as i32))
            .count();
        assert_eq!(n, count, "digit {digit}");
    }
    assert!(samples.iter().all(|s| s.split == "test"));
    assert_eq!(
        samples[0].label_name.as_deref(),
        Some("7"),
        "the first test digit is a 7"
    );

    let inputs = TensorFile::open(&dir.join("inputs.safetensors")).unwrap();
    let (shape, pixels) = inputs.u8("images").unwrap();
    assert_eq!(shape, vec![10_000, 1, 28, 28]);
    // Total ink of the split: a checksum of the decoded pixels, independent of encoding.
    let ink: u64 = pixels.iter().map(|&p| p as u64).sum();
    assert_eq!(
        ink, 264_923_200,
        "sum computed with Python gzip over the raw bytes"
    );

    assert!(matches!(
        prepare("mnist-demo", runs.path()),
        Outcome::UpToDate { .. }
    ));
}

#[test]
fn subspaces_pipeline_generates_its_data() {
    let runs = tempfile::tempdir().unwrap();
    prepare("subspaces", runs.path());
    let dir = runs.path().join("subspaces/prepare");
    let samples = read_samples(&dir.join("samples.parquet")).unwrap();
    assert_eq!(samples.len(), 8 * 60);
    let inputs = TensorFile::open(&dir.join("inputs.safetensors")).unwrap();
    let (shape, _) = inputs.f32("features").unwrap();
    assert_eq!(shape, vec![480, 32]);
}

#[test]
fn digits_pipeline_reads_the_embedded_csv() {
    let runs = tempfile::tempdir().unwrap();
    prepare("digits", runs.path());
    let dir = runs.path().join("digits/prepare");
    let samples = read_samples(&dir.join("samples.parquet")).unwrap();
    // Class sizes of scikit-learn's load_digits().
    let expected = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
    for (digit, &count) in expected.iter().enumerate() {
        let n = samples
            .iter()
            .filter(|s| s.label == Some(digit as i32))
            .count();
        assert_eq!(n, count, "digit {digit}");
    }
    let inputs = TensorFile::open(&dir.join("inputs.safetensors")).unwrap();
    let (shape, features) = inputs.f32("features").unwrap();
    assert_eq!(shape, vec![1797, 64]);
    let total: f64 = features.iter().map(|&v| f64::from(v)).sum();
    assert_eq!(
        total, 561_718.0,
        "sum computed with Python gzip over the CSV"
    );
}

/// An ablation pipeline extends its base and differs from it only in `[train]` (and the
/// description): the ablation bench reuses the base's prepare and pretrain folders on that
/// promise.
#[test]
fn ablation_pipelines_differ_from_their_base_only_in_train() {
    let root = repo_root();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("pipelines/ablations")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let base = table
            .get("extends")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{}: no `extends`", path.display()));
        let a = ebsc_core::Pipeline::load(&path).unwrap();
        let b = ebsc_core::Pipeline::load(&root.join(format!("pipelines/{base}.toml"))).unwrap();
        assert_eq!(a.settings.seed, b.settings.seed, "{}: seed", path.display());
        for section in ["prepare", "pretrain", "affinity", "cluster"] {
            assert_eq!(
                a.raw_section(section).unwrap(),
                b.raw_section(section).unwrap(),
                "{}: [{section}] differs from {base}'s",
                path.display()
            );
        }
        assert_ne!(
            a.raw_section("train").unwrap(),
            b.raw_section("train").unwrap(),
            "{}: [train] is the same as {base}'s",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} ablation pipelines found");
}
