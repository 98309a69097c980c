//! Pictures placed over a chart ([`crate::Chart::rasters`]): copied into the PNG's pixels
//! with nearest-neighbour scaling, and embedded in the SVG as one PNG `<image>` each.

use std::io::Cursor;

use anyhow::Context;

/// A picture: `channels` 1 (grey) or 3 (RGB) bytes per pixel, rows top to bottom,
/// channels interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    width: u32,
    height: u32,
    channels: u8,
    data: Vec<u8>,
}

impl Pixels {
    /// `data` holds `width × height × channels` bytes; `channels` is 1 or 3.
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<u8>) -> anyhow::Result<Pixels> {
        anyhow::ensure!(
            channels == 1 || channels == 3,
            "a picture has 1 or 3 channels, not {channels}"
        );
        anyhow::ensure!(width > 0 && height > 0, "a picture of {width}×{height}");
        let expected = width as usize * height as usize * usize::from(channels);
        anyhow::ensure!(
            data.len() == expected,
            "a {width}×{height}×{channels} picture holds {expected} bytes, got {}",
            data.len()
        );
        Ok(Pixels {
            width,
            height,
            channels,
            data,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let at = (y as usize * self.width as usize + x as usize) * usize::from(self.channels);
        match self.channels {
            1 => [self.data[at]; 3],
            _ => [self.data[at], self.data[at + 1], self.data[at + 2]],
        }
    }

    /// The picture shrunk, by averaging the source pixels each output pixel covers, so that
    /// neither side exceeds `side`; itself when it already fits. Integer arithmetic: the
    /// same bytes on every machine.
    pub fn fit(&self, side: u32) -> Pixels {
        let side = side.max(1);
        let largest = self.width.max(self.height);
        if largest <= side {
            return self.clone();
        }
        let scaled =
            |v: u32| ((u64::from(v) * u64::from(side)).div_ceil(u64::from(largest))) as u32;
        let (width, height) = (scaled(self.width).max(1), scaled(self.height).max(1));
        let channels = usize::from(self.channels);
        let mut data = Vec::with_capacity(width as usize * height as usize * channels);
        // Output pixel (x, y) averages source columns [x·W/w, (x+1)·W/w) and the rows alike.
        let span = |i: u32, out: u32, source: u32| {
            let start = (u64::from(i) * u64::from(source) / u64::from(out)) as u32;
            let end = ((u64::from(i + 1) * u64::from(source)).div_ceil(u64::from(out)) as u32)
                .clamp(start + 1, source);
            start..end
        };
        for y in 0..height {
            let rows = span(y, height, self.height);
            for x in 0..width {
                let cols = span(x, width, self.width);
                let count = u64::from(rows.len() as u32) * u64::from(cols.len() as u32);
                for c in 0..channels {
                    let mut sum = 0u64;
                    for sy in rows.clone() {
                        for sx in cols.clone() {
                            let at = (sy as usize * self.width as usize + sx as usize) * channels;
                            sum += u64::from(self.data[at + c]);
                        }
                    }
                    data.push(((sum + count / 2) / count) as u8);
                }
            }
        }
        Pixels {
            width,
            height,
            channels: self.channels,
            data,
        }
    }

    /// The picture as PNG bytes (grey or RGB, as it is).
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        let mut png = Vec::new();
        let colour = match self.channels {
            1 => image::ExtendedColorType::L8,
            _ => image::ExtendedColorType::Rgb8,
        };
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(Cursor::new(&mut png)),
            &self.data,
            self.width,
            self.height,
            colour,
        )
        .context("encoding a picture as PNG")?;
        Ok(png)
    }
}

/// A picture at pixel `(x, y)` of the figure (its top left corner), each of its pixels
/// drawn as a `scale × scale` square.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub x: i32,
    pub y: i32,
    pub scale: u32,
    pub pixels: Pixels,
}

impl Raster {
    /// Copies the picture into an RGB buffer of `width × height`, clipped to it.
    pub(crate) fn blit(&self, buffer: &mut [u8], width: u32, height: u32) {
        let scale = self.scale.max(1) as i64;
        for sy in 0..self.pixels.height {
            for sx in 0..self.pixels.width {
                let colour = self.pixels.rgb(sx, sy);
                for dy in 0..scale {
                    let y = i64::from(self.y) + i64::from(sy) * scale + dy;
                    if !(0..i64::from(height)).contains(&y) {
                        continue;
                    }
                    for dx in 0..scale {
                        let x = i64::from(self.x) + i64::from(sx) * scale + dx;
                        if !(0..i64::from(width)).contains(&x) {
                            continue;
                        }
                        let at = ((y * i64::from(width) + x) * 3) as usize;
                        buffer[at..at + 3].copy_from_slice(&colour);
                    }
                }
            }
        }
    }

    /// An SVG `<image>` element holding the picture as a PNG data URL, scaled without
    /// smoothing (`image-rendering: pixelated`), as the PNG draws it.
    pub(crate) fn svg_element(&self) -> anyhow::Result<String> {
        let scale = self.scale.max(1);
        Ok(format!(
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
             image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\" \
             href=\"data:image/png;base64,{}\"/>\n",
            self.x,
            self.y,
            self.pixels.width * scale,
            self.pixels.height * scale,
            base64(&self.pixels.png()?)
        ))
    }
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        // RFC 4648 section 10's test vectors.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn fit_averages_blocks() {
        // 4×2 grey: left half 0 and 100, right half 200 and 255 → 2×1 at side 2.
        let pixels = Pixels::new(4, 2, 1, vec![0, 100, 200, 255, 0, 100, 200, 255]).unwrap();
        let fitted = pixels.fit(2);
        assert_eq!((fitted.width(), fitted.height()), (2, 1));
        // (0 + 100 + 0 + 100) / 4 = 50; (200 + 255) · 2 / 4 = 227.5 → 228.
        assert_eq!(fitted.data, vec![50, 228]);
        assert_eq!(pixels.fit(8), pixels);
        assert!(Pixels::new(2, 2, 2, vec![0; 8]).is_err());
        assert!(Pixels::new(2, 2, 1, vec![0; 3]).is_err());
    }

    #[test]
    fn blit_scales_and_clips() {
        let pixels = Pixels::new(2, 1, 3, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let raster = Raster {
            x: 1,
            y: -1,
            scale: 2,
            pixels,
        };
        let (width, height) = (4, 2);
        let mut buffer = vec![255u8; 4 * 2 * 3];
        raster.blit(&mut buffer, width, height);
        let at = |x: usize, y: usize| &buffer[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3];
        // Row -1 is clipped; row 0 shows the second row of each 2×2 square.
        assert_eq!(at(0, 0), [255, 255, 255]);
        assert_eq!(at(1, 0), [255, 0, 0]);
        assert_eq!(at(2, 0), [255, 0, 0]);
        assert_eq!(at(3, 0), [0, 0, 255]);
        assert_eq!(at(1, 1), [255, 255, 255]);
        let element = raster.svg_element().unwrap();
        assert!(
            element.starts_with(
                "<image x=\"1\" y=\"-1\" width=\"4\" height=\"2\" preserveAspectRatio=\"none\""
            ),
            "{element}"
        );
        assert!(element.contains("href=\"data:image/png;base64,iVBORw0KGgo"));
    }
}
