//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

use clap::Parser;
use ebsc_core::Outcome;
use faer::Mat;

/// The repository root, so tests can use `pipelines/` and `data/` as a user would.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the repository root")
        .to_path_buf()
}

/// `[bin, pipeline, --runs-dir, runs, --progress, none, extra...]` parsed as stage `A`'s
/// arguments.
pub fn stage_args<A: Parser>(bin: &str, pipeline: &Path, runs: &Path, extra: &[&str]) -> A {
    let mut argv: Vec<String> = vec![
        bin.into(),
        pipeline.display().to_string(),
        "--runs-dir".into(),
        runs.display().to_string(),
        "--progress".into(),
        "none".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    A::try_parse_from(argv).unwrap()
}

/// Runs every stage once, through the same library calls as the binaries; returns whether
/// each ran (true: every member of it, for the stages that run once a member) or was up to
/// date (false).
pub fn run_all(pipeline: &Path, runs: &Path) -> Vec<bool> {
    // One libtorch thread: tests run side by side on a 2-core machine.
    let tensors = ["--device", "cpu", "--threads", "1"];
    let ran = |o: &Outcome| matches!(o, Outcome::Ran { .. });
    let all_ran = |outcomes: Vec<(usize, Outcome)>| outcomes.iter().all(|(_, o)| ran(o));
    let mut outcomes = vec![
        ran(&ebsc_prepare::run(&stage_args("ebsc-prepare", pipeline, runs, &[])).unwrap()),
        all_ran(
            ebsc_pretrain::run(&stage_args("ebsc-pretrain", pipeline, runs, &tensors)).unwrap(),
        ),
        all_ran(ebsc_train::run(&stage_args("ebsc-train", pipeline, runs, &tensors)).unwrap()),
        all_ran(
            ebsc_affinity::run(&stage_args("ebsc-affinity", pipeline, runs, &tensors)).unwrap(),
        ),
    ];
    let cluster = ebsc_cluster::run(&stage_args("ebsc-cluster", pipeline, runs, &[])).unwrap();
    outcomes.push(matches!(
        cluster,
        ebsc_cluster::Finished::Stage(Outcome::Ran { .. })
    ));
    outcomes
}

/// `acc` of a `metrics.json`.
pub fn accuracy(metrics_json: &Path) -> f64 {
    let text = std::fs::read_to_string(metrics_json).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    metrics["acc"].as_f64().unwrap()
}

/// ACC of `ebsc-cluster` run standalone with `args` (its input, labels and settings),
/// writing into `out`.
pub fn standalone_accuracy(args: &[&str], out: &Path) -> f64 {
    let out_arg = out.to_str().unwrap();
    let argv = ["ebsc-cluster"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--out", out_arg, "--progress", "none"]);
    let args = ebsc_cluster::Args::try_parse_from(argv).unwrap();
    ebsc_cluster::run(&args).unwrap();
    accuracy(&out.join("metrics.json"))
}

/// ACC of spectral clustering of the cosine k-NN graph of a tensor's rows
/// (`ebsc-cluster --features F --tensor T --knn K`), written under `out`.
pub fn knn_graph_accuracy(
    features: &Path,
    tensor: &str,
    labels: &Path,
    n_clusters: usize,
    n_eigenvectors: usize,
    out: &Path,
) -> f64 {
    standalone_accuracy(
        &[
            "--features",
            features.to_str().unwrap(),
            "--tensor",
            tensor,
            "--labels",
            labels.to_str().unwrap(),
            "--n-clusters",
            &n_clusters.to_string(),
            "--n-eigenvectors",
            &n_eigenvectors.to_string(),
            "--knn",
            "10",
        ],
        out,
    )
}

/// For each row of `x` `[n, d]`, the `k` other rows of highest cosine similarity, most
/// similar first; brute force in f64, an independent reference for the stages' own code.
/// The similarities come from faer's matrix product: this crate's own loops are not
/// optimised in test builds, and a loop over 2,000 × 2,000 pairs of 784 pixels took a
/// minute there.
pub fn cosine_neighbours(x: &[f32], n: usize, d: usize, k: usize) -> Vec<Vec<u32>> {
    let norms: Vec<f64> = x
        .chunks(d)
        .map(|r| r.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt())
        .collect();
    let unit = Mat::<f64>::from_fn(n, d, |i, j| f64::from(x[i * d + j]) / norms[i]);
    let similarity = &unit * unit.transpose();
    (0..n)
        .map(|i| {
            let mut scored: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (similarity[(i, j)], j as u32))
                .collect();
            scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(k);
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            scored.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

/// Checks a report figure as a reader gets it: `<stem>.png` decodes, is at least
/// `min_size` pixels and not blank; `<stem>.svg` has a text line starting with each of
/// `texts` (titles carry run-specific scores after a fixed start).
pub fn assert_figure(stem: &Path, min_size: (u32, u32), texts: &[&str]) {
    let png = stem.with_extension("png");
    let image = image::open(&png)
        .unwrap_or_else(|e| panic!("{}: {e}", png.display()))
        .to_rgb8();
    let (width, height) = image.dimensions();
    assert!(
        width >= min_size.0 && height >= min_size.1,
        "{}: {width}×{height}, expected at least {min_size:?}",
        png.display()
    );
    let corner = *image.get_pixel(0, 0);
    let drawn = image.pixels().filter(|&&p| p != corner).count();
    assert!(
        drawn * 100 > image.len() / 3,
        "{}: blank ({drawn} pixels drawn)",
        png.display()
    );
    let svg_path = stem.with_extension("svg");
    let svg = std::fs::read_to_string(&svg_path)
        .unwrap_or_else(|e| panic!("{}: {e}", svg_path.display()));
    assert!(svg.starts_with("<svg"), "{}", svg_path.display());
    for text in texts {
        assert!(
            svg.lines().any(|line| line.starts_with(text)),
            "{}: no text starting with {text:?}",
            svg_path.display()
        );
    }
}
