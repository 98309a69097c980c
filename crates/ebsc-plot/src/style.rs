//! Colours and text sizes shared by the charts.

use plotters::prelude::*;
use plotters::style::TextStyle;

use crate::FONT;

/// matplotlib's `tab20`, dark shades first: series or cluster `c` gets `PALETTE[c % 20]`.
pub const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub const TEXT: RGBColor = RGBColor(30, 30, 30);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
pub const ACCENT: RGBColor = RGBColor(214, 39, 40);

pub fn title() -> TextStyle<'static> {
    (FONT, 20).into_font().color(&TEXT)
}

pub fn label() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&TEXT)
}

pub fn tick() -> TextStyle<'static> {
    (FONT, 12).into_font().color(&TEXT)
}

/// matplotlib's `Blues` at `t` in [0, 1]: near white to dark blue.
pub fn blues(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [
        (247, 251, 255),
        (198, 219, 239),
        (107, 174, 214),
        (33, 113, 181),
        (8, 48, 107),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A number for a tick or a cell: three significant digits, no trailing zeros.
pub fn compact(value: f64) -> String {
    let magnitude = value.abs();
    // Tick positions computed in floating point land a hair off zero.
    if magnitude < 1e-10 {
        return "0".into();
    }
    if !(1e-4..1e5).contains(&magnitude) {
        return format!("{value:.1e}");
    }
    let decimals = (2 - magnitude.log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blues_runs_light_to_dark() {
        assert_eq!(blues(0.0), RGBColor(247, 251, 255));
        assert_eq!(blues(1.0), RGBColor(8, 48, 107));
        assert_eq!(blues(0.5), RGBColor(107, 174, 214));
        assert_eq!(blues(-1.0), blues(0.0));
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(1e-17), "0");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(0.0015), "0.0015");
        assert_eq!(compact(0.0005), "0.0005");
        assert_eq!(compact(0.975), "0.975");
        assert_eq!(compact(1.5), "1.5");
        assert_eq!(compact(-6.5), "-6.5");
        assert_eq!(compact(1234.0), "1234");
        assert_eq!(compact(2.0e-5), "2.0e-5");
    }
}
