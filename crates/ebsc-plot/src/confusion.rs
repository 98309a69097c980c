//! A confusion matrix: true classes in rows (named), clusters in columns (numbered), the
//! count in every cell, shaded by the fraction of the class's samples, with a colour bar.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colour_bar::colour_bar;
use crate::style::{self, blues};
use crate::{Chart, DrawResult};

#[derive(Debug, Clone)]
pub struct ConfusionChart {
    pub title: String,
    /// One name per row (true class), top to bottom.
    pub row_names: Vec<String>,
    /// One name per column (cluster), left to right.
    pub column_names: Vec<String>,
    /// `counts[r][c]`, rows and columns in drawing order.
    pub counts: Vec<Vec<u64>>,
}

const COLOUR_BAR: u32 = 120;
const LEFT: u32 = 150;

impl ConfusionChart {
    fn cell(&self) -> u32 {
        let largest = self.row_names.len().max(self.column_names.len()).max(1) as u32;
        (640 / largest).clamp(10, 60)
    }
}

impl Chart for ConfusionChart {
    fn size(&self) -> (u32, u32) {
        let cell = self.cell();
        let width = LEFT + cell * self.column_names.len().max(1) as u32 + 30 + COLOUR_BAR;
        let height = 70 + cell * self.row_names.len().max(1) as u32 + 70;
        (width.max(520), height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (width, _) = self.size();
        let (main, bar) = root.split_horizontally(width - COLOUR_BAR);
        let (rows, cols) = (self.row_names.len().max(1), self.column_names.len().max(1));
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, style::title())
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(LEFT - 10)
            .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)?;
        let row_names = &self.row_names;
        let column_names = &self.column_names;
        // Row 0 is drawn at the top: y = rows − 1 − r.
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc("cluster (ordered by its matched class)")
            .y_desc("true class")
            .axis_desc_style(style::label())
            .draw()?;
        // The cells' drawn size (the layout may round it).
        let (x0, y0) = chart.backend_coord(&(0.0, 0.0));
        let (x1, y1) = chart.backend_coord(&(1.0, 1.0));
        let (cell_w, cell_h) = ((x1 - x0).max(1), (y0 - y1).max(1));
        let cell_px = cell_w.min(cell_h) as u32;
        let count_font = (crate::FONT, (cell_px as f64 * 0.32).clamp(8.0, 14.0)).into_font();
        for (r, row) in self.counts.iter().enumerate() {
            let total: u64 = row.iter().sum();
            let y = rows - 1 - r;
            for (c, &count) in row.iter().enumerate() {
                let fraction = if total > 0 {
                    count as f64 / total as f64
                } else {
                    0.0
                };
                let (x, y) = (c as f64, y as f64);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    blues(fraction).filled(),
                )))?;
                if cell_px >= 22 && count > 0 {
                    let colour = if fraction > 0.5 { WHITE } else { style::TEXT };
                    let (px, py) = chart.backend_coord(&(x, y));
                    root.draw(&Text::new(
                        count.to_string(),
                        (px + cell_w / 2, py - cell_h / 2),
                        count_font
                            .clone()
                            .color(&colour)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))?;
                }
            }
        }
        // Names beside the rows and under the columns, at the cell centres.
        let every = (14 / cell_px.max(1)).max(1) as usize;
        for (r, name) in row_names.iter().enumerate().step_by(every) {
            let (px, py) = chart.backend_coord(&(0.0, (rows - 1 - r) as f64));
            root.draw(&Text::new(
                name.clone(),
                (px - 6, py - cell_h / 2),
                style::tick().pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        for (c, name) in column_names.iter().enumerate().step_by(every) {
            let (px, py) = chart.backend_coord(&(c as f64, 0.0));
            root.draw(&Text::new(
                name.clone(),
                (px + cell_w / 2, py + 4),
                style::tick().pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        colour_bar(&bar, "fraction of the class", blues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn confusion_names_counts_and_colour_bar() {
        let chart = ConfusionChart {
            title: "demo — ACC 0.9000".into(),
            row_names: vec!["cat".into(), "dog".into(), "bird".into()],
            column_names: vec!["2".into(), "0".into(), "1".into()],
            counts: vec![vec![40, 5, 0], vec![3, 47, 0], vec![0, 2, 43]],
        };
        let figure = check(
            &chart,
            &[
                "demo — ACC 0.9000",
                "true class",
                "cluster (ordered by its matched class)",
                "cat",
                "bird",
                "47",
                "fraction of the class",
            ],
        );
        let image = image::load_from_memory(&figure.png).unwrap().to_rgb8();
        // The darkest blue fills the diagonal cells (40 of 45 … 43 of 45).
        let dark = image
            .pixels()
            .filter(|p| p.0[2] > 90 && p.0[0] < 40 && p.0[1] < 80)
            .count();
        assert!(dark > 3 * 30 * 30, "{dark}");
    }
}
