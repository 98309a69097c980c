//! `report.png` and `report.svg` in the runs folder: ACC, NMI and ARI of every run as
//! bars, grouped by pipeline, each pipeline's own run first and its ablations under it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_core::atomic::write_atomic;
use ebsc_plot::{RunScores, ScoreBars};

use crate::collect::Run;

pub const REPORT_FIGURE: &str = "report";

/// The pipeline a run belongs to: the first component of its name.
fn pipeline_of(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// Runs in drawing order: by pipeline, then the pipeline's cluster stage before the
/// other runs under it (ablations, standalone outputs), each group by name.
pub fn drawing_order(runs: &[Run]) -> Vec<&Run> {
    let mut ordered: Vec<&Run> = runs.iter().collect();
    ordered.sort_by(|a, b| {
        let key = |run: &Run| {
            let pipeline = pipeline_of(&run.name).to_string();
            let is_base = run.name == format!("{pipeline}/cluster");
            (pipeline, !is_base, run.name.clone())
        };
        key(a).cmp(&key(b))
    });
    ordered
}

pub fn chart(runs: &[Run], runs_dir: &Path) -> ScoreBars {
    ScoreBars {
        title: format!(
            "ACC, NMI and ARI of {} runs under {}",
            runs.len(),
            runs_dir.display()
        ),
        score_names: vec!["ACC".into(), "NMI".into(), "ARI".into()],
        runs: drawing_order(runs)
            .into_iter()
            .map(|run| RunScores {
                name: run.name.clone(),
                pipeline: pipeline_of(&run.name).to_string(),
                scores: vec![run.acc, run.nmi, run.ari],
            })
            .collect(),
    }
}

/// Draws the chart and writes `report.png` and `report.svg`; returns their paths.
pub fn write(runs: &[Run], runs_dir: &Path) -> anyhow::Result<[PathBuf; 2]> {
    let figure = ebsc_plot::render(&chart(runs, runs_dir)).context("drawing report.png")?;
    let paths = figure.files(REPORT_FIGURE).map(|(name, bytes)| {
        let path = runs_dir.join(name);
        write_atomic(&path, bytes).map(|()| path)
    });
    let [png, svg] = paths;
    Ok([png?, svg?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, acc: Option<f64>) -> Run {
        Run {
            name: name.into(),
            n_samples: 10,
            n_clusters: 2,
            acc,
            nmi: acc,
            nmi_geometric: acc,
            ari: acc,
            quality: Default::default(),
            pipeline: None,
        }
    }

    #[test]
    fn base_run_first_then_its_ablations() {
        let runs = vec![
            run("beta/cluster", None),
            run("alpha/ablations/b", Some(0.4)),
            run("alpha/cluster", Some(0.9)),
            run("alpha/ablations/a", Some(0.5)),
        ];
        let names: Vec<&str> = drawing_order(&runs)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "alpha/cluster",
                "alpha/ablations/a",
                "alpha/ablations/b",
                "beta/cluster"
            ]
        );
    }
}
