//! Encoded images (PNG, JPEG, GIF, BMP, TIFF, PNM), decoded from files or from bytes held
//! in a table, and stacked into one `[N, C, H, W]` u8 array: one gray channel when every
//! image is gray (or holds only grays, R = G = B), three RGB channels when any has colour,
//! unless [`Channels`] asks for one or the other.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits};

use super::{file_error, guard_panic, io_error};

/// Decoded bytes any image may have, whatever its encoded size (a 2048×2048 RGBA image).
const MIN_DECODE_BUDGET: u64 = 16 << 20;
/// Decoded bytes per encoded byte beyond that: deflate expands at most 1032×, and 1-bit
/// pixels widen at most 32× (to 8-bit RGBA), so no honest PNG or PNM comes near it.
const MAX_EXPANSION: u64 = 1032 * 32;

/// The most bytes an image encoded in `encoded_len` bytes may decode to. A header claiming
/// more is forged or corrupt, and is refused before the decoder allocates for it.
pub fn decode_budget(encoded_len: u64) -> u64 {
    encoded_len
        .saturating_mul(MAX_EXPANSION)
        .max(MIN_DECODE_BUDGET)
}

/// Which channels decoded images get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Gray,
    Rgb,
    /// Gray for images without colour (gray, gray + alpha, or only grays), RGB for the rest.
    AsFile,
}

impl Channels {
    /// From a `grayscale` setting: `true` gray, `false` RGB, unset as the images are.
    pub fn from_grayscale(grayscale: Option<bool>) -> Channels {
        match grayscale {
            Some(true) => Channels::Gray,
            Some(false) => Channels::Rgb,
            None => Channels::AsFile,
        }
    }
}

/// Decodes the file at `path` by content (not extension) into 8-bit gray or RGB.
pub fn decode_file(path: &Path, channels: Channels) -> anyhow::Result<DynamicImage> {
    guard_panic(path, "the image decoder", || {
        let file_len = std::fs::metadata(path)
            .map_err(|e| io_error(path, &e))?
            .len();
        let reader = ImageReader::open(path)
            .map_err(|e| io_error(path, &e))?
            .with_guessed_format()
            .map_err(|e| io_error(path, &e))?;
        decode_reader(reader, file_len, channels)
            .map_err(|message| file_error(path, format_args!("{message}")))
    })
}

/// Decodes one image encoded in `bytes` (a table's cell: `what` names it, as "row 3 of
/// column \"image\"") into 8-bit gray or RGB; errors name `path` and `what`.
pub fn decode_bytes(
    path: &Path,
    what: &str,
    bytes: &[u8],
    channels: Channels,
) -> anyhow::Result<DynamicImage> {
    guard_panic(path, "the image decoder", || {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| file_error(path, format_args!("{what}: cannot read: {e}")))?;
        decode_reader(reader, bytes.len() as u64, channels)
            .map_err(|message| file_error(path, format_args!("{what}: {message}")))
    })
}

/// The decoding both sources share; the error is the message without its location.
fn decode_reader<R: BufRead + Seek>(
    mut reader: ImageReader<R>,
    encoded_len: u64,
    channels: Channels,
) -> Result<DynamicImage, String> {
    let cannot_decode = |e: ImageError| format!("cannot decode image: {e}");
    // The size check below replaces the crate's fixed 512 MiB limit with one that follows
    // the encoded size.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(cannot_decode)?;
    let (width, height) = decoder.dimensions();
    let decoded_len = decoder.total_bytes();
    let budget = decode_budget(encoded_len);
    if decoded_len > budget {
        return Err(format!(
            "header says {width}×{height} pixels ({decoded_len} bytes decoded) but {encoded_len} encoded bytes hold at most {budget}; the header is corrupt"
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(budget);
    decoder.set_limits(limits).map_err(cannot_decode)?;
    let image = DynamicImage::from_decoder(decoder).map_err(cannot_decode)?;
    let gray = match channels {
        Channels::Gray => true,
        Channels::Rgb => false,
        Channels::AsFile => !image.color().has_color() || gray_valued(&image),
    };
    Ok(if gray {
        DynamicImage::ImageLuma8(image.to_luma8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    })
}

/// Whether a colour image holds only grays (R = G = B at every pixel), as GIF files and
/// many JPEG files of gray photos are stored: such an image counts as gray.
fn gray_valued(image: &DynamicImage) -> bool {
    image
        .to_rgb8()
        .pixels()
        .all(|pixel| pixel[0] == pixel[1] && pixel[1] == pixel[2])
}

/// Decoded images, one after another as `[C, H, W]` planes: gray images stacked so far are
/// widened to RGB when a colour image follows them.
#[derive(Debug, Default)]
pub struct ImageStack {
    pixels: Vec<u8>,
    /// 1 or 3 once the first image is pushed.
    channels: Option<usize>,
    /// (height, width) of the first image, and what it was (a path, a row).
    first_size: Option<((u32, u32), String)>,
}

impl ImageStack {
    /// Appends an 8-bit gray or RGB image (as the decoders return).
    pub fn push(&mut self, image: DynamicImage) {
        let image_channels = usize::from(image.color().channel_count());
        let image = match self.channels {
            Some(3) if image_channels == 1 => DynamicImage::ImageRgb8(image.to_rgb8()),
            Some(1) if image_channels == 3 => {
                let plane = image.width() as usize * image.height() as usize;
                self.pixels = gray_to_rgb_planes(&self.pixels, plane);
                self.channels = Some(3);
                image
            }
            Some(_) => image,
            None => {
                self.channels = Some(image_channels);
                image
            }
        };
        let channels = usize::from(image.color().channel_count());
        let interleaved = image.as_bytes();
        for channel in 0..channels {
            self.pixels
                .extend(interleaved.iter().skip(channel).step_by(channels));
        }
    }

    /// Records the first image's (height, width) and what it was; a later image of another
    /// size is an error naming both. `resize` is the key that would allow mixed sizes.
    pub fn check_same_size(
        &mut self,
        image: &DynamicImage,
        what: &str,
        resize: &str,
    ) -> Result<(), String> {
        let size = (image.height(), image.width());
        match &self.first_size {
            None => self.first_size = Some((size, what.to_string())),
            Some((expected, first)) if *expected != size => {
                return Err(format!(
                    "image is {}×{} (height×width) but {first} is {}×{}; {resize}",
                    size.0, size.1, expected.0, expected.1
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// The pixels and their channel count; `None` when no image was pushed.
    pub fn finish(self) -> Option<(Vec<u8>, usize)> {
        Some((self.pixels, self.channels?))
    }

    /// (height, width) of the first image checked by [`ImageStack::check_same_size`].
    pub fn size(&self) -> Option<(u32, u32)> {
        self.first_size.as_ref().map(|(size, _)| *size)
    }
}

/// Each `plane`-byte gray image of `gray` (one after another) repeated as R, G and B planes.
fn gray_to_rgb_planes(gray: &[u8], plane: usize) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(gray.len() * 3);
    for image in gray.chunks(plane) {
        for _ in 0..3 {
            rgb.extend_from_slice(image);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use ebsc_test_support::images::png;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    use super::*;

    #[test]
    fn bytes_decode_as_files_do_and_stack_as_planes() {
        let gray =
            DynamicImage::ImageLuma8(GrayImage::from_fn(3, 2, |x, y| Luma([(x + 3 * y) as u8])));
        let colour =
            DynamicImage::ImageRgb8(RgbImage::from_fn(3, 2, |x, _| Rgb([x as u8, 10, 20])));
        let path = Path::new("t.parquet");
        let mut stack = ImageStack::default();
        for (row, image) in [&gray, &colour].into_iter().enumerate() {
            let decoded =
                decode_bytes(path, &format!("row {row}"), &png(image), Channels::AsFile).unwrap();
            stack
                .check_same_size(&decoded, &format!("row {row}"), "")
                .unwrap();
            stack.push(decoded);
        }
        assert_eq!(stack.size(), Some((2, 3)));
        let (pixels, channels) = stack.finish().unwrap();
        assert_eq!(channels, 3);
        // The gray image widened to three equal planes, then the colour image's planes.
        let gray_plane: Vec<u8> = (0..6).collect();
        let expected: Vec<u8> = [gray_plane.clone(), gray_plane.clone(), gray_plane]
            .concat()
            .into_iter()
            .chain([0, 1, 2, 0, 1, 2])
            .chain([10; 6])
            .chain([20; 6])
            .collect();
        assert_eq!(pixels, expected);
    }

    #[test]
    fn bad_bytes_and_other_sizes_are_named() {
        let path = Path::new("t.parquet");
        let error = decode_bytes(
            path,
            "row 4 of column \"image\"",
            b"not an image",
            Channels::AsFile,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("t.parquet: row 4 of column \"image\": "),
            "{error}"
        );
        let mut stack = ImageStack::default();
        let small = DynamicImage::ImageLuma8(GrayImage::new(2, 2));
        let large = DynamicImage::ImageLuma8(GrayImage::new(3, 2));
        stack.check_same_size(&small, "row 0", "").unwrap();
        let error = stack
            .check_same_size(&large, "row 1", "they must agree")
            .unwrap_err();
        assert_eq!(
            error,
            "image is 2×3 (height×width) but row 0 is 2×2; they must agree"
        );
    }
}
