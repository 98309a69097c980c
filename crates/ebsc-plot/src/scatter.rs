//! A 2-D scatter coloured by group, with a legend naming each group.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::style::{self, palette};
use crate::{Chart, DrawResult};

#[derive(Debug, Clone)]
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `(x, y, group)`, drawn in this order (later points on top).
    pub points: Vec<(f64, f64, usize)>,
    /// One legend entry per group; group `g` is drawn in `palette(g)`.
    pub group_names: Vec<String>,
}

/// Legend entries past this many are summarised in one line.
const MAX_LEGEND: usize = 20;

impl Chart for Scatter {
    fn size(&self) -> (u32, u32) {
        (1000, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (x_range, y_range) = bounds(&self.points);
        // Titled on the whole width: the legend column is part of the figure.
        let body = root.titled(&self.title, style::title())?;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .margin_right(200)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, y_range)?;
        chart
            .configure_mesh()
            .light_line_style(style::GRID.mix(0.0))
            .bold_line_style(style::GRID)
            .x_label_formatter(&|v| style::compact(*v))
            .y_label_formatter(&|v| style::compact(*v))
            .label_style(style::tick())
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .axis_desc_style(style::label())
            .draw()?;
        let radius = if self.points.len() > 5000 { 2 } else { 3 };
        chart.draw_series(
            self.points
                .iter()
                .map(|&(x, y, g)| Circle::new((x, y), radius, palette(g).mix(0.75).filled())),
        )?;
        // The legend to the right of the plot, one line per group.
        let (width, _) = self.size();
        let (x0, mut y) = (width as i32 - 185, 80);
        let shown = self.group_names.len().min(MAX_LEGEND);
        for (g, name) in self.group_names.iter().enumerate().take(shown) {
            root.draw(&Circle::new((x0, y), 5, palette(g).filled()))?;
            root.draw(&Text::new(name.clone(), (x0 + 12, y - 7), style::tick()))?;
            y += 22;
        }
        if self.group_names.len() > shown {
            let more = format!("… {} more (colours repeat)", self.group_names.len() - shown);
            root.draw(&Text::new(more, (x0 - 5, y - 7), style::tick()))?;
        }
        Ok(())
    }
}

/// The points' extent with 5 % padding (a unit square around the origin when empty).
fn bounds(points: &[(f64, f64, usize)]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = (f64::INFINITY, f64::NEG_INFINITY);
    for &(px, py, _) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        x = (x.0.min(px), x.1.max(px));
        y = (y.0.min(py), y.1.max(py));
    }
    let pad = |(low, high): (f64, f64)| {
        if low > high {
            return -1.0..1.0;
        }
        let margin = ((high - low) * 0.05).max(1e-6);
        low - margin..high + margin
    };
    (pad(x), pad(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn scatter_has_axes_and_a_legend() {
        let points = (0..300)
            .map(|i| {
                let g = i % 3;
                let angle = g as f64 * 2.1 + (i as f64 * 0.01);
                (angle.cos(), angle.sin(), g)
            })
            .collect();
        let chart = Scatter {
            title: "embedding — demo".into(),
            x_label: "projection 1".into(),
            y_label: "projection 2".into(),
            points,
            group_names: vec!["cluster 0".into(), "cluster 1".into(), "cluster 2".into()],
        };
        let figure = check(
            &chart,
            &[
                "embedding — demo",
                "projection 1",
                "projection 2",
                "cluster 2",
            ],
        );
        let image = image::load_from_memory(&figure.png).unwrap().to_rgb8();
        // Each group's colour appears (blended over white at 0.75).
        for g in 0..3 {
            let c = palette(g);
            let blended = |v: u8| (f64::from(v) * 0.75 + 255.0 * 0.25).round() as i32;
            let target = [blended(c.0), blended(c.1), blended(c.2)];
            let found = image.pixels().any(|p| {
                p.0.iter()
                    .zip(target)
                    .all(|(&a, b)| (i32::from(a) - b).abs() <= 2)
            });
            assert!(found, "group {g}");
        }
    }

    #[test]
    fn bounds_pad_and_handle_empty() {
        let (x, y) = bounds(&[(0.0, 1.0, 0), (10.0, 3.0, 0)]);
        assert_eq!((x.start, x.end), (-0.5, 10.5));
        assert!((y.start - 0.9).abs() < 1e-12 && (y.end - 3.1).abs() < 1e-12);
        assert_eq!(bounds(&[]), (-1.0..1.0, -1.0..1.0));
    }
}
