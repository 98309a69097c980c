//! `ebsc-plot`: the figures of the stage reports, each drawn once and written as PNG (for a
//! glance) and SVG (for a paper). Every chart has a title, labelled axes with ticks, and a
//! legend or colour bar. Text comes from DejaVu Sans embedded in this crate
//! (`fonts/`, Bitstream Vera licence), so a figure renders the same on any machine.
//!
//! A chart is a value implementing [`Chart`]; [`render`] draws it on both back ends.

pub mod bars;
mod colour_bar;
pub mod confusion;
pub mod curves;
pub mod gallery;
pub mod matrix;
mod raster;
pub mod scatter;
pub mod spectrum;
pub mod style;

use std::io::Cursor;
use std::sync::Once;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

pub use bars::{RunScores, ScoreBars};
pub use confusion::ConfusionChart;
pub use curves::{Curve, CurvePanel, TrainingCurves};
pub use gallery::{Gallery, GalleryRow, Thumbnail};
pub use matrix::{BlockMatrix, Group};
pub use raster::{Pixels, Raster};
pub use scatter::Scatter;
pub use spectrum::SpectrumChart;

/// The font every chart asks for; registered from the embedded file on first use.
pub const FONT: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// What a chart's `draw` returns: plotters' error for the back end it draws on.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any plotters back end.
pub trait Chart {
    /// Width and height in pixels (SVG user units).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
    /// Pictures placed over the drawing (a gallery's thumbnails): copied pixel for pixel
    /// into the PNG and embedded as PNG `<image>` elements in the SVG, where drawing them
    /// through plotters would write one SVG rectangle per pixel. None by default.
    fn rasters(&self) -> Vec<Raster> {
        Vec::new()
    }
}

/// One rendered figure: the same drawing as PNG bytes and as SVG text.
#[derive(Debug, Clone)]
pub struct Figure {
    pub png: Vec<u8>,
    pub svg: String,
}

impl Figure {
    /// `(stem.png, bytes)` and `(stem.svg, bytes)`, for writing beside each other.
    pub fn files(&self, stem: &str) -> [(String, &[u8]); 2] {
        [
            (format!("{stem}.png"), self.png.as_slice()),
            (format!("{stem}.svg"), self.svg.as_bytes()),
        ]
    }
}

/// Draws `chart` as PNG and as SVG. The two back ends draw independently, so the SVG is
/// drawn on a second thread: a figure costs the slower of the two, not their sum.
pub fn render(chart: &(impl Chart + Sync)) -> anyhow::Result<Figure> {
    register_font();
    let (png, svg) = std::thread::scope(|scope| {
        let svg = scope.spawn(|| render_svg(chart));
        let png = render_png(chart);
        // A panic on the SVG thread goes on as the caller's own.
        let svg = svg
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        (png, svg)
    });
    Ok(Figure {
        png: png?,
        svg: svg?,
    })
}

fn render_png(chart: &impl Chart) -> anyhow::Result<Vec<u8>> {
    let (width, height) = chart.size();
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        chart
            .draw(&root)
            .map_err(|e| anyhow::anyhow!("drawing the PNG: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the PNG: {e}"))?;
    }
    for raster in chart.rasters() {
        raster.blit(&mut pixels, width, height);
    }
    let image = image::RgbImage::from_raw(width, height, pixels)
        .context("PNG buffer does not match the figure size")?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .context("encoding PNG")?;
    Ok(png)
}

fn render_svg(chart: &impl Chart) -> anyhow::Result<String> {
    let (width, height) = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        chart
            .draw(&root)
            .map_err(|e| anyhow::anyhow!("drawing the SVG: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the SVG: {e}"))?;
    }
    let rasters = chart.rasters();
    if !rasters.is_empty() {
        let end = svg.rfind("</svg>").context("the SVG has no closing tag")?;
        let mut images = String::new();
        for raster in &rasters {
            images.push_str(&raster.svg_element()?);
        }
        svg.insert_str(end, &images);
    }
    Ok(svg)
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType file compiled in; failing here is a build defect.
        if plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
            panic!("the embedded DejaVu Sans does not parse");
        }
    });
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Renders `chart` and checks what every figure must be: a PNG of the chart's size
    /// that is not blank, with a title, and an SVG holding each of `texts` as a text
    /// element of its own.
    pub fn check(chart: &(impl Chart + Sync), texts: &[&str]) -> Figure {
        let figure = render(chart).unwrap();
        let image = image::load_from_memory(&figure.png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), chart.size());
        let first = *image.get_pixel(0, 0);
        let differing = image.pixels().filter(|&&p| p != first).count();
        assert!(
            differing > image.len() / 3 / 100,
            "blank PNG: {differing} pixels differ from the corner"
        );
        // The title is rendered text: dark pixels in the band at the top.
        let title_band = (0..image.width())
            .flat_map(|x| (0..28).map(move |y| (x, y)))
            .filter(|&(x, y)| image.get_pixel(x, y).0.iter().all(|&c| c < 110))
            .count();
        assert!(title_band > 50, "no title text: {title_band} dark pixels");
        assert!(figure.svg.starts_with("<svg"), "{}", &figure.svg[..40]);
        for text in texts {
            assert!(
                figure.svg.lines().any(|line| line == *text),
                "SVG lacks {text:?}: {}",
                &figure.svg[..figure.svg.len().min(2000)]
            );
        }
        if let Ok(dir) = std::env::var("EBSC_PLOT_SAMPLES") {
            let name = std::any::type_name_of_val(chart)
                .rsplit("::")
                .next()
                .unwrap();
            std::fs::write(format!("{dir}/{name}.png"), &figure.png).unwrap();
            std::fs::write(format!("{dir}/{name}.svg"), &figure.svg).unwrap();
        }
        figure
    }
}
