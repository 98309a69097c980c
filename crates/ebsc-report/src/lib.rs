//! `ebsc-report`: one table of every run's scores and stage times. It reads every
//! `metrics.json` the cluster stage wrote under the runs folder (pipeline runs and
//! standalone/ablation outputs alike) and the stage manifests beside pipeline runs, and
//! writes the table as Markdown to stdout and `<runs>/report.md`, and as `<runs>/report.csv`;
//! `<runs>/report.png` and `report.svg` show every run's scores as bars.
//! The only crate with polars: the table is a `DataFrame` (ARCHITECTURE.md).

pub mod collect;
pub mod figure;
pub mod json;
pub mod markdown;
pub mod output;
pub mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

pub const NAME: &str = "ebsc-report";

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = NAME,
    about = "One Markdown table of every run's scores and stage times (<runs-dir>/report.md, report.csv)"
)]
pub struct Args {
    /// The folder searched for metrics.json files, where report.md and report.csv go.
    #[arg(long, default_value = "data/runs")]
    pub runs_dir: PathBuf,
}

/// What a run of the report produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub markdown: String,
    pub n_runs: usize,
    /// report.md, report.csv, report.png, report.svg.
    pub files: [PathBuf; 4],
}

pub fn run(args: &Args) -> anyhow::Result<Report> {
    let runs = collect::collect(&args.runs_dir)?;
    let frame = table::frame(&runs).context("building the table")?;
    let markdown = markdown::render(&frame, table::decimals).context("formatting the table")?;
    let [md, csv] = output::write(&args.runs_dir, &markdown, &frame)?;
    let [png, svg] = figure::write(&runs, &args.runs_dir)?;
    let files = [md, csv, png, svg];
    Ok(Report {
        markdown,
        n_runs: runs.len(),
        files,
    })
}

/// Prints the table (stdout) and where it went (stderr), or the error on one line.
pub fn finish(result: anyhow::Result<Report>) -> ExitCode {
    match result {
        Ok(report) => {
            print!("{}", report.markdown);
            let files: Vec<String> = report
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            eprintln!(
                "{NAME}: {} run{} -> {}",
                report.n_runs,
                if report.n_runs == 1 { "" } else { "s" },
                files.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{NAME}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &std::path::Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn manifest(seconds: f64, device: &str) -> String {
        format!(
            r#"{{"stage": "x", "provenance": {{"wall_seconds": {seconds}, "device": "{device}"}}}}"#
        )
    }

    #[test]
    fn two_pipelines_and_an_ablation_make_one_table() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "alpha/cluster/metrics.json",
            r#"{"n_samples": 100, "n_clusters": 10, "n_eigenvectors": 12, "n_labelled": 100,
                "acc": 0.91234, "nmi": 0.85, "nmi_geometric": 0.8512, "ari": 0.8,
                "eigen_method": "lanczos", "timings": {"kmeans": 0.5},
                "quality": {"cohesion": 0.95123, "normalized_cut": 0.4, "eigengap": 0.25,
                            "eigengap_n_clusters": 10, "silhouette": 0.61, "clusters": []}}"#,
        );
        let stages = [
            ("prepare", 0.52, "cpu"),
            ("pretrain", 120.33, "cuda(0)"),
            ("train", 60.0, "cuda(0)"),
            ("affinity", 5.04, "cuda(0)"),
            ("cluster", 1.11, "cpu"),
        ];
        for (stage, seconds, device) in stages {
            write(
                root,
                &format!("alpha/{stage}/manifest.json"),
                &manifest(seconds, device),
            );
        }
        write(
            root,
            "alpha/ablations/kmeans-raw/metrics.json",
            r#"{"n_samples": 100, "n_clusters": 10, "acc": 0.5, "nmi": 0.4,
                "nmi_geometric": 0.41, "ari": 0.3}"#,
        );
        // No labels: no scores; only two stages have manifests.
        write(
            root,
            "beta/cluster/metrics.json",
            r#"{"n_samples": 50, "n_clusters": 3}"#,
        );
        write(root, "beta/prepare/manifest.json", &manifest(0.1, "cpu"));
        write(root, "beta/cluster/manifest.json", &manifest(2.0, "cpu"));

        let report = run(&Args {
            runs_dir: root.to_path_buf(),
        })
        .unwrap();
        // The label-free measures come from metrics.json's `quality` (absent: `–`).
        // Sorted by run name; alpha's total 0.52 + 120.33 + 60 + 5.04 + 1.11 = 187.0, beta's
        // 0.1 + 2.0 = 2.1; the ablation has no stage folder of its own, so no times.
        let expected = "\
| run                        | n_samples | n_clusters |    acc |    nmi | nmi_geometric |    ari | cohesion |   ncut | eigengap | gap_k | silhouette | prepare_s | pretrain_s | train_s | affinity_s | cluster_s | total_s | devices      |
|----------------------------|----------:|-----------:|-------:|-------:|--------------:|-------:|---------:|-------:|---------:|------:|-----------:|----------:|-----------:|--------:|-----------:|----------:|--------:|--------------|
| alpha/ablations/kmeans-raw |       100 |         10 | 0.5000 | 0.4000 |        0.4100 | 0.3000 |        – |      – |        – |     – |          – |         – |          – |       – |          – |         – |       – | –            |
| alpha/cluster              |       100 |         10 | 0.9123 | 0.8500 |        0.8512 | 0.8000 |   0.9512 | 0.4000 |   0.2500 |    10 |     0.6100 |       0.5 |      120.3 |    60.0 |        5.0 |       1.1 |   187.0 | cpu, cuda(0) |
| beta/cluster               |        50 |          3 |      – |      – |             – |      – |        – |      – |        – |     – |          – |       0.1 |          – |       – |          – |       2.0 |     2.1 | cpu          |
";
        assert_eq!(report.markdown, expected);
        assert_eq!(report.n_runs, 3);
        assert_eq!(
            std::fs::read_to_string(root.join("report.md")).unwrap(),
            expected
        );
        let csv = std::fs::read_to_string(root.join("report.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "run,n_samples,n_clusters,acc,nmi,nmi_geometric,ari,cohesion,ncut,eigengap,gap_k,\
             silhouette,prepare_s,pretrain_s,train_s,affinity_s,cluster_s,total_s,devices"
        );
        assert_eq!(lines.len(), 4);
        // Full precision in the CSV, nulls as empty cells.
        assert!(
            lines[2].starts_with("alpha/cluster,100,10,0.91234,0.85,"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("beta/cluster,50,3,,,,,,,,,,0.1,,,,2.0,"),
            "{}",
            lines[3]
        );
        // Rerunning replaces the files and leaves no temp file behind.
        run(&Args {
            runs_dir: root.to_path_buf(),
        })
        .unwrap();
        let mut names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "alpha",
                "beta",
                "report.csv",
                "report.md",
                "report.png",
                "report.svg"
            ]
        );
        let svg = std::fs::read_to_string(root.join("report.svg")).unwrap();
        for text in [
            "alpha/cluster",
            "alpha/ablations/kmeans-raw",
            "beta/cluster (no labels)",
            "0.912",
        ] {
            assert!(svg.lines().any(|l| l == text), "{text} in report.svg");
        }
        let png = std::fs::read(root.join("report.png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    }
}
