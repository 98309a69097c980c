//! A square matrix binned over samples sorted by group (the affinity `W` sorted by class):
//! each non-empty bin shaded by the log of its summed weight, the group boundaries drawn
//! and named, a colour bar in log10 units.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colour_bar::colour_bar_range;
use crate::style::{self, blues};
use crate::{Chart, DrawResult};

/// A run of consecutive samples (in sorted order) that share a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// First sample rank of the group and one past its last.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub struct BlockMatrix {
    pub title: String,
    /// What the samples are sorted by, for the axis text ("true class", "cluster").
    pub sorted_by: String,
    pub n_samples: usize,
    /// `sums[row * bins + col]`, bin 0 holding the first samples (top left).
    pub bins: usize,
    pub sums: Vec<f64>,
    pub groups: Vec<Group>,
}

const SIDE: u32 = 640;
const COLOUR_BAR: u32 = 120;
/// More group names than this along an axis are thinned to every k-th.
const MAX_NAMES: usize = 40;

impl Chart for BlockMatrix {
    fn size(&self) -> (u32, u32) {
        (90 + SIDE + 110 + COLOUR_BAR, 70 + SIDE + 70)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (width, _) = self.size();
        let (main, bar) = root.split_horizontally(width - COLOUR_BAR);
        let n = self.n_samples.max(1) as f64;
        // The title drawn on its own so that the group names fit between it and the plot.
        let plot = main.titled(&self.title, style::title())?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_top(28)
            .margin_right(110)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..n, 0.0..n)?;
        let ticks = |v: &f64| format!("{}", (n - *v).round() as u64);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{}", v.round() as u64))
            .y_label_formatter(&ticks)
            .label_style(style::tick())
            .x_desc(format!("sample, sorted by {}", self.sorted_by))
            .y_desc(format!("sample, sorted by {}", self.sorted_by))
            .axis_desc_style(style::label())
            .draw()?;

        let positive = self.sums.iter().copied().filter(|&v| v > 0.0);
        let low = positive.clone().fold(f64::INFINITY, f64::min).log10();
        let high = positive.fold(f64::MIN_POSITIVE, f64::max).log10();
        let span = (high - low).max(1e-12);
        let bins = self.bins.max(1);
        let edge = |i: usize| i as f64 * n / bins as f64;
        // Flip y so that the first samples are at the top, as in a printed matrix.
        chart.draw_series(self.sums.iter().enumerate().filter(|(_, v)| **v > 0.0).map(
            |(i, &v)| {
                let (row, col) = (i / bins, i % bins);
                let t = if high > low {
                    (v.log10() - low) / span
                } else {
                    1.0
                };
                Rectangle::new(
                    [
                        (edge(col), n - edge(row)),
                        (edge(col + 1), n - edge(row + 1)),
                    ],
                    shade(t).filled(),
                )
            },
        ))?;

        let boundary = style::ACCENT.mix(0.7).stroke_width(1);
        for group in self.groups.iter().skip(1) {
            let at = group.start as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(at, 0.0), (at, n)],
                boundary,
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, n - at), (n, n - at)],
                boundary,
            )))?;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, 0.0), (n, n)],
            style::TEXT.stroke_width(1),
        )))?;
        // Group names along the top and the right, at the middle of each group's span.
        let every = self.groups.len().div_ceil(MAX_NAMES).max(1);
        for group in self.groups.iter().step_by(every) {
            let middle = (group.start + group.end) as f64 / 2.0;
            let (x, top) = chart.backend_coord(&(middle, n));
            root.draw(&Text::new(
                group.name.clone(),
                (x, top - 4),
                style::tick().pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))?;
            let (right, y) = chart.backend_coord(&(n, n - middle));
            root.draw(&Text::new(
                group.name.clone(),
                (right + 6, y),
                style::tick().pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        let (low, high) = if low.is_finite() && high > low {
            (low, high)
        } else {
            (0.0, 1.0)
        };
        colour_bar_range(&bar, "log10 summed weight per bin", low, high, shade)
    }
}

/// The lightest non-empty bin still shows against white.
fn shade(t: f64) -> RGBColor {
    blues(0.15 + 0.85 * t.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    #[test]
    fn blocks_boundaries_and_names() {
        // Two groups of 50 samples in 4 bins: weight only inside the diagonal blocks.
        let mut sums = vec![0.0; 16];
        for (r, c) in [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (2, 2),
            (2, 3),
            (3, 2),
            (3, 3),
        ] {
            sums[r * 4 + c] = 10.0 + r as f64;
        }
        let chart = BlockMatrix {
            title: "affinity W — demo".into(),
            sorted_by: "true class".into(),
            n_samples: 100,
            bins: 4,
            sums,
            groups: vec![
                Group {
                    name: "zero".into(),
                    start: 0,
                    end: 50,
                },
                Group {
                    name: "one".into(),
                    start: 50,
                    end: 100,
                },
            ],
        };
        let figure = check(
            &chart,
            &[
                "affinity W — demo",
                "sample, sorted by true class",
                "zero",
                "one",
                "log10 summed weight per bin",
            ],
        );
        let image = image::load_from_memory(&figure.png).unwrap().to_rgb8();
        // Half the bins are filled: two blocks of about 280 × 280 px of blue.
        let blue = image
            .pixels()
            .filter(|p| i32::from(p.0[2]) > i32::from(p.0[0]) + 40)
            .count();
        assert!(blue > 2 * 200 * 200, "{blue} blue pixels");
        // The off-diagonal blocks stay white (a point in the top-right one).
        let white = image.pixels().filter(|p| p.0 == [255, 255, 255]).count();
        assert!(white > 2 * 200 * 200, "{white} white pixels");
    }
}
