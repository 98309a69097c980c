//! Training curves: a grid of panels (one per logged quantity), each value against the
//! optimisation step, the raw values faint behind an exponentially smoothed line.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::style::{self, palette};
use crate::{Chart, DrawResult};

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Curve {
    pub name: String,
    /// `(step, value)` in step order; steps where nothing was logged are simply absent.
    pub points: Vec<(f64, f64)>,
    /// Noisy per-step values get a smoothed line over the faint raw ones; exact ones (a
    /// learning-rate schedule) are drawn as they are.
    pub smooth: bool,
}

#[derive(Debug, Clone)]
pub struct CurvePanel {
    pub title: String,
    pub y_label: String,
    pub curves: Vec<Curve>,
}

#[derive(Debug, Clone)]
pub struct TrainingCurves {
    pub title: String,
    pub x_label: String,
    pub panels: Vec<CurvePanel>,
}

const PANEL: (u32, u32) = (460, 300);
const COLUMNS: usize = 3;
const HEADER: u32 = 44;
/// Curves with more points than this are smoothed; shorter ones (per-epoch values) are
/// drawn as they are, with a marker at each point.
pub const SMOOTH_ABOVE: usize = 30;

/// Centred moving average over `window` points (shrinking at the ends), so that the
/// smoothed line does not lag the raw values as an exponential average would.
pub fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    let half = window / 2;
    let mut prefix = Vec::with_capacity(values.len() + 1);
    prefix.push(0.0);
    for &v in values {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
    }
    (0..values.len())
        .map(|i| {
            let (start, end) = (i.saturating_sub(half), (i + half + 1).min(values.len()));
            (prefix[end] - prefix[start]) / (end - start) as f64
        })
        .collect()
}

/// The smoothing window for a curve of `n` points: about 5 % of it, odd.
fn window_for(n: usize) -> usize {
    ((n as f64 * 0.05) as usize) | 1
}

impl Chart for TrainingCurves {
    fn size(&self) -> (u32, u32) {
        let columns = self.panels.len().clamp(1, COLUMNS) as u32;
        let rows = self.panels.len().div_ceil(COLUMNS).max(1) as u32;
        (columns * PANEL.0, HEADER + rows * PANEL.1)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, style::title())?;
        let columns = self.panels.len().clamp(1, COLUMNS);
        let rows = self.panels.len().div_ceil(COLUMNS).max(1);
        let areas = body.split_evenly((rows, columns));
        for (panel, area) in self.panels.iter().zip(&areas) {
            draw_panel(panel, &self.x_label, area)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    panel: &CurvePanel,
    x_label: &str,
    area: &DrawingArea<DB, Shift>,
) -> DrawResult<DB> {
    let all = panel.curves.iter().flat_map(|c| c.points.iter());
    let finite: Vec<(f64, f64)> = all
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = finite.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if finite.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    // A constant series still gets an axis with distinct ticks around its value.
    let pad = if y1 > y0 {
        (y1 - y0) * 0.08
    } else {
        (y1.abs() * 0.05).max(0.5)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, style::label())
        .margin(8)
        .margin_right(16)
        .x_label_area_size(40)
        .y_label_area_size(62)
        .build_cartesian_2d(x0..x1, y0 - pad..y1 + pad)?;
    chart
        .configure_mesh()
        .light_line_style(style::GRID.mix(0.0))
        .bold_line_style(style::GRID)
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| style::compact(*v))
        .y_label_formatter(&|v| style::compact(*v))
        .label_style(style::tick())
        .x_desc(x_label)
        .y_desc(&panel.y_label)
        .axis_desc_style(style::tick())
        .draw()?;
    for (i, curve) in panel.curves.iter().enumerate() {
        let colour = palette(i);
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let series = if points.len() <= SMOOTH_ABOVE {
            // Few points (per-epoch values): a line with a marker on each.
            chart.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?
        } else if curve.smooth {
            chart.draw_series(LineSeries::new(
                points.clone(),
                colour.mix(0.25).stroke_width(1),
            ))?;
            let values: Vec<f64> = points.iter().map(|p| p.1).collect();
            let smoothed = smooth(&values, window_for(values.len()));
            chart.draw_series(LineSeries::new(
                points.iter().zip(smoothed).map(|(p, s)| (p.0, s)),
                colour.stroke_width(2),
            ))?
        } else {
            chart.draw_series(LineSeries::new(points, colour.stroke_width(2)))?
        };
        if panel.curves.len() > 1 {
            series.label(curve.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        }
    }
    if panel.curves.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(style::tick())
            .background_style(WHITE.mix(0.85))
            .border_style(style::GRID)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn smoothing_is_centred_and_shrinks_at_the_ends() {
        assert_eq!(smooth(&[4.0, 4.0, 4.0], 3), vec![4.0, 4.0, 4.0]);
        // Window 3: the ends average two values, the middle three.
        assert_eq!(smooth(&[0.0, 3.0, 6.0, 9.0], 3), vec![1.5, 3.0, 6.0, 7.5]);
        // A straight line is left where it is: no lag.
        let line: Vec<f64> = (0..50).map(f64::from).collect();
        assert_eq!(smooth(&line, 5)[10..40], line[10..40]);
        assert_eq!(window_for(200), 11);
        assert_eq!(window_for(10), 1);
    }

    #[test]
    fn curves_draw_every_panel() {
        let loss: Vec<(f64, f64)> = (0..200)
            .map(|s| {
                (
                    s as f64,
                    2.0 * (-(s as f64) / 50.0).exp() + 0.1 * ((s * 7) % 5) as f64,
                )
            })
            .collect();
        let knn: Vec<(f64, f64)> = (1..=5)
            .map(|e| (e as f64 * 40.0, 0.5 + 0.08 * e as f64))
            .collect();
        let chart = TrainingCurves {
            title: "train — demo".into(),
            x_label: "step".into(),
            panels: vec![
                CurvePanel {
                    title: "loss".into(),
                    y_label: "loss".into(),
                    curves: vec![Curve {
                        name: "loss".into(),
                        points: loss,
                        smooth: true,
                    }],
                },
                CurvePanel {
                    title: "kNN accuracy (per epoch)".into(),
                    y_label: "accuracy".into(),
                    curves: vec![Curve {
                        name: "knn_accuracy".into(),
                        points: knn,
                        smooth: true,
                    }],
                },
            ],
        };
        assert_eq!(chart.size(), (2 * PANEL.0, HEADER + PANEL.1));
        check(
            &chart,
            &[
                "train — demo",
                "kNN accuracy (per epoch)",
                "step",
                "accuracy",
            ],
        );
    }
}
