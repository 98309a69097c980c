//! A gallery of groups of pictures (a clustering's clusters): one row per group, its text
//! on the left (name, size, scores), then its most representative pictures and, after a
//! rule, its least representative ones, each captioned (the sample's index). The pictures
//! are rasters ([`crate::Raster`]): pixels in the PNG, embedded PNGs in the SVG.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::raster::{Pixels, Raster};
use crate::style;
use crate::{Chart, DrawResult};

/// One picture and the text under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub pixels: Pixels,
    pub caption: String,
}

/// One group: its text lines (the first one larger) and two runs of pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryRow {
    pub lines: Vec<String>,
    pub representative: Vec<Thumbnail>,
    pub least: Vec<Thumbnail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gallery {
    pub title: String,
    /// Over the first run of pictures ("most representative …").
    pub representative_heading: String,
    /// Over the second run ("least representative").
    pub least_heading: String,
    pub rows: Vec<GalleryRow>,
    /// A line under the rows (what was left out, how pictures were ranked), if any.
    pub note: Option<String>,
}

/// The side of the square each picture is fitted into, in pixels.
pub const CELL: u32 = 64;
const GAP: u32 = 8;
const LEFT: u32 = 230;
const RULE: u32 = 30;
const TOP: u32 = 70;
const CAPTION: u32 = 16;
const ROW: u32 = CELL + CAPTION + 12;
const BOTTOM: u32 = 40;

impl Gallery {
    fn columns(&self) -> (usize, usize) {
        let most = |f: fn(&GalleryRow) -> usize| self.rows.iter().map(f).max().unwrap_or(0);
        (most(|r| r.representative.len()), most(|r| r.least.len()))
    }

    /// Left edge of the second run of pictures.
    fn least_x(&self) -> u32 {
        LEFT + self.columns().0 as u32 * (CELL + GAP) + RULE
    }

    /// Every picture's box (top left corner) with the picture.
    fn slots(&self) -> Vec<(u32, u32, &Thumbnail)> {
        let mut slots = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            let y = TOP + r as u32 * ROW + 6;
            for (i, thumb) in row.representative.iter().enumerate() {
                slots.push((LEFT + i as u32 * (CELL + GAP), y, thumb));
            }
            for (i, thumb) in row.least.iter().enumerate() {
                slots.push((self.least_x() + i as u32 * (CELL + GAP), y, thumb));
            }
        }
        slots
    }
}

/// The picture fitted into a [`CELL`] box: shrunk when larger, scaled up by a whole
/// factor when smaller, centred.
fn placed(x: u32, y: u32, pixels: &Pixels) -> Raster {
    let fitted = pixels.fit(CELL);
    let scale = (CELL / fitted.width().max(fitted.height())).max(1);
    let (w, h) = (fitted.width() * scale, fitted.height() * scale);
    Raster {
        x: (x + (CELL - w.min(CELL)) / 2) as i32,
        y: (y + (CELL - h.min(CELL)) / 2) as i32,
        scale,
        pixels: fitted,
    }
}

impl Chart for Gallery {
    fn size(&self) -> (u32, u32) {
        let (_, least) = self.columns();
        let width = self.least_x() + least as u32 * (CELL + GAP) + 12;
        let height = TOP + self.rows.len().max(1) as u32 * ROW + BOTTOM;
        (width.max(640), height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (width, height) = self.size();
        root.draw(&centre(&self.title, width / 2, 8, style::title()))?;
        let (representative, least) = self.columns();
        let first_run = representative as u32 * (CELL + GAP);
        root.draw(&centre(
            &self.representative_heading,
            LEFT + first_run / 2,
            TOP - 24,
            style::label(),
        ))?;
        if least > 0 {
            let second_run = least as u32 * (CELL + GAP);
            root.draw(&centre(
                &self.least_heading,
                self.least_x() + second_run / 2,
                TOP - 24,
                style::label(),
            ))?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let y = TOP + r as u32 * ROW;
            // Alternate rows on a faint band, so a row reads as one group.
            if r % 2 == 0 {
                root.draw(&Rectangle::new(
                    [(4, y as i32), (width as i32 - 4, (y + ROW) as i32)],
                    RGBColor(246, 246, 246).filled(),
                ))?;
            }
            for (i, line) in row.lines.iter().enumerate() {
                let font = if i == 0 {
                    style::label()
                } else {
                    style::tick()
                };
                let at = if i == 0 {
                    y + 8
                } else {
                    y + 14 + 16 * i as u32
                };
                root.draw(&Text::new(
                    line.clone(),
                    (12, at as i32),
                    font.pos(Pos::new(HPos::Left, VPos::Top)),
                ))?;
            }
        }
        let rule_x = (self.least_x() - RULE / 2 - GAP / 2) as i32;
        if least > 0 {
            root.draw(&PathElement::new(
                vec![
                    (rule_x, (TOP - 4) as i32),
                    (rule_x, (TOP + self.rows.len() as u32 * ROW) as i32),
                ],
                style::ACCENT.mix(0.6).stroke_width(2),
            ))?;
        }
        for (x, y, thumb) in self.slots() {
            // A frame around the box: a white picture on white still shows its extent.
            root.draw(&Rectangle::new(
                [
                    (x as i32 - 1, y as i32 - 1),
                    ((x + CELL) as i32, (y + CELL) as i32),
                ],
                style::GRID.stroke_width(1),
            ))?;
            root.draw(&centre(
                &thumb.caption,
                x + CELL / 2,
                y + CELL + 3,
                (crate::FONT, 11).into_font().color(&style::TEXT),
            ))?;
        }
        if let Some(note) = &self.note {
            root.draw(&Text::new(
                note.clone(),
                (12, (height - BOTTOM + 12) as i32),
                style::tick().pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
        }
        Ok(())
    }

    fn rasters(&self) -> Vec<Raster> {
        self.slots()
            .into_iter()
            .map(|(x, y, thumb)| placed(x, y, &thumb.pixels))
            .collect()
    }
}

/// Text centred on `x`, its top at `y`.
fn centre(
    text: &str,
    x: u32,
    y: u32,
    font: TextStyle<'static>,
) -> Text<'static, (i32, i32), String> {
    Text::new(
        text.to_string(),
        (x as i32, y as i32),
        font.pos(Pos::new(HPos::Center, VPos::Top)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check;

    /// A `side × side` grey square of one shade, or an RGB one when `rgb` is given.
    fn square(side: u32, grey: u8, rgb: Option<[u8; 3]>) -> Pixels {
        match rgb {
            Some(c) => Pixels::new(side, side, 3, c.repeat((side * side) as usize)).unwrap(),
            None => Pixels::new(side, side, 1, vec![grey; (side * side) as usize]).unwrap(),
        }
    }

    fn gallery() -> Gallery {
        let thumb = |pixels: Pixels, i: usize| Thumbnail {
            pixels,
            caption: format!("#{i}"),
        };
        Gallery {
            title: "demo: clusters".into(),
            representative_heading: "most representative".into(),
            least_heading: "least representative".into(),
            rows: vec![
                GalleryRow {
                    lines: vec!["cluster 0".into(), "12 samples".into()],
                    representative: (0..3).map(|i| thumb(square(28, 0, None), i)).collect(),
                    least: vec![thumb(square(28, 128, None), 3)],
                },
                GalleryRow {
                    lines: vec!["cluster 1".into(), "5 samples".into(), "mostly red".into()],
                    // Bigger than a cell: shrunk to fit.
                    representative: vec![thumb(square(100, 0, Some([200, 0, 0])), 4)],
                    least: vec![thumb(square(8, 0, Some([0, 0, 200])), 5)],
                },
            ],
            note: Some("2 of 2 clusters".into()),
        }
    }

    #[test]
    fn rows_of_pictures_with_their_text() {
        let chart = gallery();
        let figure = check(
            &chart,
            &[
                "demo: clusters",
                "most representative",
                "least representative",
                "cluster 0",
                "12 samples",
                "mostly red",
                "#4",
                "2 of 2 clusters",
            ],
        );
        let image = image::load_from_memory(&figure.png).unwrap().to_rgb8();
        // Each picture is at its slot, scaled: the 28×28 squares twice (56 px, centred in
        // the 64 px cell), the 8×8 one 8 times.
        let at = |x: u32, y: u32| image.get_pixel(x, y).0;
        let slots = chart.slots();
        let (x, y, _) = slots[0];
        assert_eq!(at(x + CELL / 2, y + CELL / 2), [0, 0, 0]);
        assert_eq!(at(x + 5, y + 5), [0, 0, 0]);
        assert_ne!(at(x + 2, y + 2), [0, 0, 0], "the 56 px picture is centred");
        let (x, y, _) = slots[3];
        assert_eq!(at(x + CELL / 2, y + CELL / 2), [128, 128, 128]);
        let (x, y, _) = slots[4];
        assert_eq!(at(x + CELL / 2, y + CELL / 2), [200, 0, 0]);
        let (x, y, _) = slots[5];
        assert_eq!(at(x, y), [0, 0, 200]);
        assert_eq!(at(x + CELL - 1, y + CELL - 1), [0, 0, 200]);
        // The SVG embeds each picture once, at its source size (or shrunk to the cell).
        assert_eq!(figure.svg.matches("<image ").count(), 6);
        assert!(figure.svg.contains("width=\"64\" height=\"64\""));
        assert!(figure.svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn rendering_is_deterministic() {
        let a = crate::render(&gallery()).unwrap();
        let b = crate::render(&gallery()).unwrap();
        assert_eq!(a.png, b.png);
        assert_eq!(a.svg, b.svg);
    }
}
