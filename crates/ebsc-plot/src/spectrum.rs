//! The eigenvalue spectrum: eigenvalues in descending order, the chosen number of clusters
//! marked, and the largest eigengap (where the spectrum says the clusters end) shown.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::style::{self, palette};
use crate::{Chart, DrawResult};

#[derive(Debug, Clone)]
pub struct SpectrumChart {
    pub title: String,
    /// Largest first.
    pub eigenvalues: Vec<f64>,
    /// The number of clusters the run used.
    pub chosen_k: usize,
    /// The `i` (1-based) whose gap `λᵢ − λᵢ₊₁` is the eigengap to mark (the caller's
    /// rule: the largest gap, perhaps over `i ≥ 2` only).
    pub eigengap_at: Option<usize>,
}

impl Chart for SpectrumChart {
    fn size(&self) -> (u32, u32) {
        (760, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let m = self.eigenvalues.len().max(1);
        // Room right of the last eigenvalue for the k line when k is all of them.
        let x_end = m.max(self.chosen_k + 1) as f64 + 0.5;
        // The y axis spans the eigenvalues themselves: near-1 values differ in the third
        // decimal, which a 0-to-1 axis would flatten.
        let low = self
            .eigenvalues
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let high = self
            .eigenvalues
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let (low, high) = if low.is_finite() && high > low {
            (low, high)
        } else if low.is_finite() {
            (low - 0.5, high + 0.5)
        } else {
            (0.0, 1.0)
        };
        // Headroom below for the legend, which sits in the lower left.
        let pad = (high - low) * 0.05;
        let low = low - (high - low) * 0.45;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, style::title())
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..x_end, low - pad..high + pad)?;
        chart
            .configure_mesh()
            .light_line_style(style::GRID.mix(0.0))
            .bold_line_style(style::GRID)
            .x_labels(m.min(20))
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .y_label_formatter(&|v| style::compact(*v))
            .label_style(style::tick())
            .x_desc("eigenvalue index i (largest first)")
            .y_desc("eigenvalue λᵢ of D^-1/2 W D^-1/2")
            .axis_desc_style(style::label())
            .draw()?;

        let points: Vec<(f64, f64)> = self
            .eigenvalues
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64, v))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), style::GRID.stroke_width(2)))?;
        let blue = palette(0);
        let grey = palette(7);
        chart
            .draw_series(
                points
                    .iter()
                    .take(self.chosen_k)
                    .map(|&p| Circle::new(p, 5, blue.filled())),
            )?
            .label(format!("first k = {} (the clusters)", self.chosen_k))
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, blue.filled()));
        chart
            .draw_series(
                points
                    .iter()
                    .skip(self.chosen_k)
                    .map(|&p| Circle::new(p, 4, grey.filled())),
            )?
            .label("the rest")
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, grey.filled()));

        let (y_low, y_high) = (low - pad, high + pad);
        if self.chosen_k > 0 {
            let at = self.chosen_k as f64 + 0.5;
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(at, y_low), (at, y_high)],
                    6,
                    4,
                    style::ACCENT.stroke_width(2),
                ))?
                .label(format!("chosen k = {}", self.chosen_k))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], style::ACCENT.stroke_width(2))
                });
        }
        if let Some(i) = self
            .eigengap_at
            .filter(|&i| i >= 1 && i < self.eigenvalues.len())
        {
            let gap = self.eigenvalues[i - 1] - self.eigenvalues[i];
            let orange = palette(1);
            let x = i as f64 + 0.5;
            let (top, bottom) = (self.eigenvalues[i - 1], self.eigenvalues[i]);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (i as f64, top),
                        (x, top),
                        (x, bottom),
                        (i as f64 + 1.0, bottom),
                    ],
                    orange.stroke_width(3),
                )))?
                .label(format!("largest eigengap: λ{i} − λ{} = {gap:.3}", i + 1))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(style::tick())
            .background_style(WHITE.mix(0.9))
            .border_style(style::GRID)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn spectrum_marks_k_and_the_gap() {
        let chart = SpectrumChart {
            title: "spectrum — demo".into(),
            eigenvalues: vec![1.0, 0.99, 0.97, 0.41, 0.38, 0.2],
            chosen_k: 3,
            eigengap_at: Some(3),
        };
        check(
            &chart,
            &[
                "spectrum — demo",
                "eigenvalue index i (largest first)",
                "chosen k = 3",
                "largest eigengap: λ3 − λ4 = 0.560",
            ],
        );
    }
}
