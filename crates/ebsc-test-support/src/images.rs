//! Encoded images as the readers meet them in files and table cells.

use image::DynamicImage;

/// `image` encoded as a PNG file's bytes.
pub fn png(image: &DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("an in-memory PNG encodes");
    bytes
}
