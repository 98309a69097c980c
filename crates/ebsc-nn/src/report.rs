//! A training stage's `report/`: `training.png` and `training.svg` (every logged quantity
//! against the step: total loss, each loss term, learning rate, throughput, and the
//! per-epoch monitors such as kNN accuracy and effective rank) and `report.md` showing
//! them beside the run's summary. Drawn from the same `MetricsLog` that becomes
//! `metrics.parquet`, so a resumed run's figure covers every step.

use std::fmt::Write as _;

use anyhow::Context;
use ebsc_core::StageRun;
use ebsc_io::artifacts::{self, REPORT_DIR};
use ebsc_io::{MetricKind, MetricsLog};
use ebsc_plot::{Curve, CurvePanel, TrainingCurves};

/// Panel title and y-axis text for the columns the training loop and tasks log.
fn describe(column: &str) -> (String, String) {
    match column {
        "loss" => ("total loss".into(), "loss".into()),
        "lr" => ("learning rate".into(), "learning rate".into()),
        "samples_per_s" => ("throughput".into(), "samples / s".into()),
        "knn_accuracy" => ("kNN accuracy (per epoch)".into(), "accuracy".into()),
        "effective_rank" => ("effective rank of the dictionary".into(), "rank".into()),
        "mean_nonzeros" => ("non-zero coefficients per sample".into(), "count".into()),
        "same_label_share" => (
            "coefficient weight on the same class".into(),
            "share".into(),
        ),
        other => match other.strip_prefix("loss_") {
            Some(term) => (format!("loss term: {term}"), "loss".into()),
            None => (other.replace('_', " "), other.into()),
        },
    }
}

/// One panel per logged measurement (every `f64` column), in the log's column order.
pub fn training_curves(title: &str, metrics: &MetricsLog) -> TrainingCurves {
    let steps: Vec<f64> = match metrics.u64_column("step") {
        Some(steps) => steps.iter().map(|&s| s as f64).collect(),
        None => (1..=metrics.len()).map(|s| s as f64).collect(),
    };
    let panels = metrics
        .columns()
        .iter()
        .filter(|(_, kind)| *kind == MetricKind::F64)
        .filter_map(|(name, _)| {
            let values = metrics.f64_column(name)?;
            let points: Vec<(f64, f64)> = steps
                .iter()
                .zip(values)
                .filter_map(|(&step, value)| value.map(|v| (step, v)))
                .collect();
            if points.is_empty() {
                return None;
            }
            let (title, y_label) = describe(name);
            Some(CurvePanel {
                title,
                y_label,
                curves: vec![Curve {
                    name: name.clone(),
                    points,
                    // The schedule is exact; smoothing would only shift it.
                    smooth: name != "lr",
                }],
            })
        })
        .collect();
    TrainingCurves {
        title: title.to_string(),
        x_label: "step".into(),
        panels,
    }
}

/// The last logged value of each measurement, for the report's table.
fn last_values(metrics: &MetricsLog) -> Vec<(String, f64)> {
    metrics
        .columns()
        .iter()
        .filter(|(_, kind)| *kind == MetricKind::F64)
        .filter_map(|(name, _)| {
            let last = metrics.f64_column(name)?.iter().rev().find_map(|v| *v)?;
            Some((name.clone(), last))
        })
        .collect()
}

/// The report text: what ran, the last value of everything logged, the figure.
pub fn render_markdown(stage: &str, pipeline: &str, metrics: &MetricsLog) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {stage} — {pipeline}\n");
    let _ = writeln!(md, "{} optimisation steps logged.\n", metrics.len());
    let last = last_values(metrics);
    if !last.is_empty() {
        let _ = writeln!(md, "| measurement | last value |\n|---|---|");
        for (name, value) in last {
            let _ = writeln!(md, "| {} | {value:.6} |", describe(&name).0);
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "## Training curves\n\n![training curves](training.png)\n\n\
         [SVG](training.svg). One panel per logged quantity against the optimisation step: \
         faint lines are the per-step values, solid lines their centred moving average \
         (over about 5 % of the run; the learning rate is drawn as it is); values logged \
         once per epoch are drawn as points. \
         A healthy run has falling loss terms, the learning rate following its warm-up and \
         decay, and monitors (kNN accuracy, effective rank) that do not collapse."
    );
    md
}

/// Writes `report/training.{png,svg}` and `report/report.md` into the stage folder (as
/// stage outputs: atomic, listed in the manifest). A log with no steps (a stage with
/// nothing to train) gets the report without a figure.
pub fn write_training_report(
    run: &mut StageRun,
    stage: &'static str,
    metrics: &MetricsLog,
) -> anyhow::Result<()> {
    let pipeline = run
        .dir()
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    std::fs::create_dir_all(run.dir().join(REPORT_DIR))
        .with_context(|| format!("{}: cannot create {REPORT_DIR}/", run.dir().display()))?;
    if !metrics.is_empty() {
        let curves = training_curves(
            &format!("{pipeline}: {stage} stage, training curves"),
            metrics,
        );
        let figure = ebsc_plot::render(&curves).context("drawing the training curves")?;
        for (name, bytes) in figure.files(artifacts::training_figure(stage).file) {
            run.write_output(&name, bytes)?;
        }
    }
    let markdown = render_markdown(stage, &pipeline, metrics);
    run.write_output(artifacts::report(stage).file, markdown.as_bytes())
}

/// Draws `report/` again from the stage's `metrics.parquet`, as [`write_training_report`]
/// drew it from the log in memory (for [`ebsc_core::StageRunner::redraw_reports`]). The log
/// reads back bit for bit with its columns in their order, and the drawing is
/// deterministic, so the files come back as the same bytes.
pub fn redraw_training_report(run: &mut StageRun, stage: &'static str) -> anyhow::Result<()> {
    let path = artifacts::metrics_log(stage).path(run.dir());
    let metrics = MetricsLog::read_all_columns(&path)?;
    write_training_report(run, stage, &metrics)
}

#[cfg(test)]
mod tests {
    use ebsc_core::{Outcome, Pipeline, ProgressMode, StageRunner};
    use ebsc_io::MetricValue;

    use super::*;

    fn log() -> MetricsLog {
        let mut log = MetricsLog::new(&[
            ("epoch", MetricKind::U64),
            ("step", MetricKind::U64),
            ("loss", MetricKind::F64),
            ("lr", MetricKind::F64),
            ("loss_tcr", MetricKind::F64),
            ("knn_accuracy", MetricKind::F64),
        ]);
        for step in 1..=60u64 {
            let epoch_end = step % 20 == 0;
            log.push(&[
                MetricValue::U64(step / 20),
                MetricValue::U64(step),
                MetricValue::F64(Some(3.0 / step as f64)),
                MetricValue::F64(Some(0.1)),
                MetricValue::F64(Some(1.0 / step as f64)),
                MetricValue::F64(epoch_end.then_some(0.5 + step as f64 / 200.0)),
            ])
            .unwrap();
        }
        log
    }

    #[test]
    fn a_panel_per_measurement_with_its_logged_steps() {
        let curves = training_curves("p: train stage, training curves", &log());
        let titles: Vec<&str> = curves.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "total loss",
                "learning rate",
                "loss term: tcr",
                "kNN accuracy (per epoch)"
            ]
        );
        assert_eq!(curves.panels[0].curves[0].points.len(), 60);
        // Per-epoch values only where they were logged.
        assert_eq!(
            curves.panels[3].curves[0].points,
            vec![(20.0, 0.6), (40.0, 0.7), (60.0, 0.8)]
        );
        let figure = ebsc_plot::render(&curves).unwrap();
        for text in [
            "p: train stage, training curves",
            "kNN accuracy (per epoch)",
            "step",
        ] {
            assert!(figure.svg.lines().any(|l| l == text), "{text}");
        }
    }

    #[test]
    fn markdown_lists_last_values_and_the_figure() {
        let md = render_markdown("train", "p", &log());
        assert!(md.starts_with("# train — p\n"), "{md}");
        assert!(
            md.contains("| kNN accuracy (per epoch) | 0.800000 |"),
            "{md}"
        );
        assert!(md.contains("| total loss | 0.050000 |"), "{md}");
        assert!(md.contains("![training curves](training.png)"), "{md}");
    }

    /// A training stage as pretrain and train run it: metrics.parquet and the report drawn
    /// from the log in memory; `redraw` draws the report again from the file.
    fn stage(p: &Pipeline, runs: &std::path::Path, force: bool) -> Outcome {
        StageRunner::new(p, runs, "train", 1)
            .progress(ProgressMode::None)
            .redraw_reports(&artifacts::metrics_log("train"), |run| {
                redraw_training_report(run, "train")
            })
            .run(force, |run| {
                let metrics = log();
                let mut file = run.create_output("metrics.parquet")?;
                metrics.write(file.writer())?;
                file.commit()?;
                write_training_report(run, "train", &metrics)
            })
            .unwrap()
    }

    #[test]
    fn a_redrawn_report_is_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pipeline::parse(&dir.path().join("p.toml"), "[pipeline]\nseed = 0\n").unwrap();
        let runs = dir.path().join("runs");
        assert!(matches!(stage(&p, &runs, false), Outcome::Ran { .. }));
        let stage_dir = runs.join("p/train");
        let files = [
            "report/training.png",
            "report/training.svg",
            "report/report.md",
        ];
        let read = |file: &str| std::fs::read(stage_dir.join(file)).unwrap();
        let drawn: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
        let manifest = std::fs::read(stage_dir.join("manifest.json")).unwrap();
        for file in files {
            std::fs::remove_file(stage_dir.join(file)).unwrap();
        }
        let outcome = stage(&p, &runs, false);
        assert!(matches!(outcome, Outcome::Redrawn { .. }), "{outcome:?}");
        for (file, before) in files.iter().zip(&drawn) {
            assert!(read(file) == *before, "{file} redrawn with other bytes");
        }
        // Same entries, same stats and provenance: the very same manifest.
        assert_eq!(
            std::fs::read(stage_dir.join("manifest.json")).unwrap(),
            manifest
        );
    }
}
