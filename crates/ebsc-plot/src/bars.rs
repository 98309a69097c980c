//! Scores of many runs side by side: one row per run (grouped by pipeline, in the given
//! order), a horizontal bar per score, a legend naming the scores.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::style::{self, palette};
use crate::{Chart, DrawResult};

#[derive(Debug, Clone)]
pub struct RunScores {
    /// The run's name, drawn beside its row.
    pub name: String,
    /// Rows of one pipeline are drawn together, separated from the next pipeline.
    pub pipeline: String,
    /// One value per entry of [`ScoreBars::score_names`]; `None` where not measured.
    pub scores: Vec<Option<f64>>,
}

#[derive(Debug, Clone)]
pub struct ScoreBars {
    pub title: String,
    pub score_names: Vec<String>,
    pub runs: Vec<RunScores>,
}

const BAR: u32 = 11;
const ROW_GAP: u32 = 14;
const LEFT: u32 = 300;
const HEADER: u32 = 70;

impl ScoreBars {
    fn row_height(&self) -> u32 {
        BAR * self.score_names.len().max(1) as u32 + ROW_GAP
    }
}

impl Chart for ScoreBars {
    fn size(&self) -> (u32, u32) {
        let rows = self.runs.len().max(1) as u32;
        (LEFT + 560, HEADER + 24 + rows * self.row_height() + 60)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let rows = self.runs.len().max(1) as f64;
        let per_row = self.score_names.len().max(1) as f64;
        // The title, and under it the legend, left to right.
        let (header, body) = root.split_vertically(HEADER);
        let (width, _) = self.size();
        header.draw(&Text::new(
            self.title.clone(),
            (width as i32 / 2, 10),
            style::title().pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        let (mut x, y) = (LEFT as i32, HEADER as i32 - 22);
        for (j, name) in self.score_names.iter().enumerate() {
            header.draw(&Rectangle::new(
                [(x, y - 6), (x + 18, y + 6)],
                palette(j).filled(),
            ))?;
            header.draw(&Text::new(
                name.clone(),
                (x + 24, y),
                style::tick().pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += 110;
        }
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .margin_right(30)
            .x_label_area_size(45)
            .y_label_area_size(LEFT - 20)
            .build_cartesian_2d(0.0..1.0, 0.0..rows)?;
        chart
            .configure_mesh()
            .light_line_style(style::GRID.mix(0.0))
            .bold_line_style(style::GRID)
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(11)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .label_style(style::tick())
            .x_desc("score (1 is a perfect clustering)")
            .axis_desc_style(style::label())
            .draw()?;
        // Row i from the top spans [rows − i − 1, rows − i]; bars fill it but a gap.
        let gap = f64::from(ROW_GAP) / f64::from(self.row_height());
        let bar = (1.0 - gap) / per_row;
        for (i, run) in self.runs.iter().enumerate() {
            let top = rows - i as f64 - gap / 2.0;
            for (j, score) in run.scores.iter().enumerate() {
                let Some(value) = score else { continue };
                let (y1, y0) = (top - j as f64 * bar, top - (j + 1) as f64 * bar);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (value.clamp(0.0, 1.0), y1)],
                    palette(j).filled(),
                )))?;
                let (x, y) = chart.backend_coord(&(value.clamp(0.0, 1.0), (y0 + y1) / 2.0));
                root.draw(&Text::new(
                    format!("{value:.3}"),
                    (x + 4, y),
                    (crate::FONT, 10)
                        .into_font()
                        .color(&style::TEXT)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
            let (x, y) = chart.backend_coord(&(0.0, rows - i as f64 - 0.5));
            let name = if run.scores.iter().all(Option::is_none) {
                format!("{} (no labels)", run.name)
            } else {
                run.name.clone()
            };
            root.draw(&Text::new(
                name,
                (x - 8, y),
                style::tick().pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            let next = self.runs.get(i + 1);
            if next.is_some_and(|next| next.pipeline != run.pipeline) {
                let at = rows - i as f64 - 1.0;
                let (x0, y) = chart.backend_coord(&(0.0, at));
                root.draw(&PathElement::new(
                    vec![
                        (x0 - LEFT as i32 + 30, y),
                        (chart.backend_coord(&(1.0, at)).0, y),
                    ],
                    style::TEXT.mix(0.5).stroke_width(1),
                ))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn bars_name_runs_and_scores() {
        let run = |name: &str, pipeline: &str, scores: [Option<f64>; 3]| RunScores {
            name: name.into(),
            pipeline: pipeline.into(),
            scores: scores.to_vec(),
        };
        let chart = ScoreBars {
            title: "runs under data/runs".into(),
            score_names: vec!["ACC".into(), "NMI".into(), "ARI".into()],
            runs: vec![
                run(
                    "alpha/cluster",
                    "alpha",
                    [Some(0.95), Some(0.9), Some(0.88)],
                ),
                run(
                    "alpha/ablations/raw",
                    "alpha",
                    [Some(0.5), Some(0.4), Some(0.3)],
                ),
                run("beta/cluster", "beta", [None, None, None]),
            ],
        };
        check(
            &chart,
            &[
                "runs under data/runs",
                "alpha/ablations/raw",
                "beta/cluster (no labels)",
                "NMI",
                "0.950",
                "score (1 is a perfect clustering)",
            ],
        );
    }
}
