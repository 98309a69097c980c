//! A vertical colour bar beside a shaded chart, with ticks and a description.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::DrawResult;
use crate::style;

/// A vertical colour bar from 0 (bottom) to 1 (top) with ticks every 0.25.
pub(crate) fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    description: &str,
    colour: impl Fn(f64) -> RGBColor,
) -> DrawResult<DB> {
    colour_bar_range(area, description, 0.0, 1.0, colour)
}

/// A vertical colour bar from `low` (bottom) to `high` (top); `colour` takes the position
/// in [0, 1].
pub(crate) fn colour_bar_range<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    description: &str,
    low: f64,
    high: f64,
    colour: impl Fn(f64) -> RGBColor,
) -> DrawResult<DB> {
    let (_, height) = area.dim_in_pixel();
    let mut chart = ChartBuilder::on(area)
        .margin_top(60)
        .margin_bottom((height / 5).max(60))
        .margin_right(12)
        .margin_left(10)
        .y_label_area_size(0)
        .right_y_label_area_size(75)
        .build_cartesian_2d(0.0..1.0, low..high)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .set_all_tick_mark_size(4)
        .y_labels(5)
        .y_label_style(style::tick())
        .y_label_formatter(&|v| style::compact(*v))
        .y_desc(description)
        .axis_desc_style(style::tick())
        .draw()?;
    const STEPS: usize = 64;
    let span = high - low;
    chart.draw_series((0..STEPS).map(|i| {
        let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
        Rectangle::new(
            [(0.0, low + a * span), (1.0, low + b * span)],
            colour((a + b) / 2.0).filled(),
        )
    }))?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(0.0, low), (1.0, high)],
        style::TEXT.stroke_width(1),
    )))?;
    Ok(())
}
