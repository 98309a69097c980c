//! A folder with one subfolder of images per class (torchvision's `ImageFolder` layout).
//!
//! Class names are the subfolder names, sorted; images are PNG, JPEG or PNM files, sorted by
//! name. Every image ends up as `[C, H, W]` u8, all of one size: one gray channel when every
//! file is grayscale, three RGB channels when any file has colour, unless `grayscale` asks
//! for one or the other.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits};

use super::{file_error, guard_panic, io_error, require_exists};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// A folder of class subfolders holding images.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolderConfig {
    /// The folder whose subfolders are the classes.
    pub path: PathBuf,
    /// Resize every image to `[height, width]` (bilinear); without it all images must share
    /// one size.
    pub resize: Option<[u32; 2]>,
    /// `true`: one gray channel; `false`: three RGB channels. Unset (the default): the
    /// files' own channels (gray when every file is gray, RGB when any has colour).
    pub grayscale: Option<bool>,
}

const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "pgm", "ppm", "pbm", "pnm"];

/// Reads every image of every class folder, split `all`; see [`ImageFolderConfig`].
pub fn read(config: &ImageFolderConfig) -> anyhow::Result<Dataset> {
    let root = &config.path;
    if let Some([height, width]) = config.resize
        && (height == 0 || width == 0)
    {
        return Err(file_error(
            root,
            format_args!("resize = [{height}, {width}]; expected [height, width], both positive"),
        ));
    }
    let channels_wanted = match config.grayscale {
        Some(true) => Channels::Gray,
        Some(false) => Channels::Rgb,
        None => Channels::AsFile,
    };
    let class_folders = list_class_folders(root)?;

    let mut pixels = Vec::new();
    let mut samples = Vec::new();
    // (height, width) of the first image, and its path, when not resizing.
    let mut first_size: Option<((u32, u32), PathBuf)> = None;
    let mut class_names = Vec::with_capacity(class_folders.len());
    // 1 or 3 once the first image is read; gray images read so far are widened to RGB when
    // a colour image follows them.
    let mut channels = None;
    for (label, (class_name, class_folder)) in (0i32..).zip(class_folders) {
        for file in list_images(&class_folder)? {
            let mut image = decode(&file, channels_wanted)?;
            match config.resize {
                Some([height, width]) => {
                    image = image.resize_exact(width, height, FilterType::Triangle);
                }
                None => check_same_size(&file, &image, &mut first_size)?,
            }
            let image_channels = usize::from(image.color().channel_count());
            match channels {
                Some(3) if image_channels == 1 => image = DynamicImage::ImageRgb8(image.to_rgb8()),
                Some(1) if image_channels == 3 => {
                    let plane = image.width() as usize * image.height() as usize;
                    pixels = gray_to_rgb_planes(&pixels, plane);
                    channels = Some(3);
                }
                Some(_) => {}
                None => channels = Some(image_channels),
            }
            append_as_chw(&image, &mut pixels);
            samples.push(SampleRecord {
                label: Some(label),
                source: file.display().to_string(),
                split: "all".to_string(),
            });
        }
        class_names.push(class_name);
    }

    let (height, width) = match (config.resize, &first_size) {
        (Some([height, width]), _) => (height, width),
        (None, Some((size, _))) => *size,
        (None, None) => unreachable!("every class folder holds an image, checked above"),
    };
    Ok(Dataset {
        inputs: Inputs::Images {
            data: pixels,
            channels: channels.expect("every class folder holds an image, checked above"),
            height: height as usize,
            width: width as usize,
        },
        samples,
        class_names,
    })
}

/// Records the first image's (height, width); errors when a later image differs.
fn check_same_size(
    file: &Path,
    image: &DynamicImage,
    first_size: &mut Option<((u32, u32), PathBuf)>,
) -> anyhow::Result<()> {
    let size = (image.height(), image.width());
    match first_size {
        None => *first_size = Some((size, file.to_path_buf())),
        Some((expected, first_file)) if *expected != size => {
            return Err(file_error(
                file,
                format_args!(
                    "image is {}×{} (height×width) but {} is {}×{}; set resize = [height, width] to use mixed sizes",
                    size.0,
                    size.1,
                    first_file.display(),
                    expected.0,
                    expected.1
                ),
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

/// The class subfolders (name, path), sorted by name; hidden folders (`.name`) are skipped.
pub(crate) fn list_class_folders(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    require_exists(root)?;
    if !root.is_dir() {
        return Err(file_error(
            root,
            "not a folder; expected a folder of class subfolders",
        ));
    }
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| io_error(root, &e))? {
        let entry = entry.map_err(|e| io_error(root, &e))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(file_error(
                &path,
                "folder name is not UTF-8; class names must be text",
            ));
        };
        if !name.starts_with('.') {
            folders.push((name, path));
        }
    }
    if folders.is_empty() {
        return Err(file_error(
            root,
            "no class subfolders; expected one subfolder of images per class",
        ));
    }
    folders.sort();
    Ok(folders)
}

/// The image files of one class folder, sorted by file name.
pub(crate) fn list_images(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(|e| io_error(folder, &e))? {
        let entry = entry.map_err(|e| io_error(folder, &e))?;
        let path = entry.path();
        if path.is_file() && has_image_extension(&path) {
            files.push((entry.file_name(), path));
        }
    }
    if files.is_empty() {
        return Err(file_error(
            folder,
            format_args!(
                "no images; expected files ending in .{}",
                IMAGE_EXTENSIONS.join(", .")
            ),
        ));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

/// Decoded bytes any image may have, whatever its file size (a 2048×2048 RGBA image).
const MIN_DECODE_BUDGET: u64 = 16 << 20;
/// Decoded bytes per byte of file beyond that: deflate expands at most 1032×, and 1-bit
/// pixels widen at most 32× (to 8-bit RGBA), so no honest PNG or PNM comes near it.
const MAX_EXPANSION: u64 = 1032 * 32;

/// The most bytes an image read from a file of `file_len` bytes may decode to. A header
/// claiming more is forged or corrupt, and is refused before the decoder allocates for it.
pub fn decode_budget(file_len: u64) -> u64 {
    file_len
        .saturating_mul(MAX_EXPANSION)
        .max(MIN_DECODE_BUDGET)
}

/// Which channels decoded images get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channels {
    Gray,
    Rgb,
    /// Gray for files without colour (gray, gray + alpha), RGB for the rest.
    AsFile,
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

/// Decodes by content (not extension) into 8-bit gray or RGB.
fn decode(path: &Path, channels: Channels) -> anyhow::Result<DynamicImage> {
    guard_panic(path, "the image decoder", || {
        let cannot_decode =
            |e: ImageError| file_error(path, format_args!("cannot decode image: {e}"));
        let file_len = std::fs::metadata(path)
            .map_err(|e| io_error(path, &e))?
            .len();
        let mut reader = ImageReader::open(path)
            .map_err(|e| io_error(path, &e))?
            .with_guessed_format()
            .map_err(|e| io_error(path, &e))?;
        // The size check below replaces the crate's fixed 512 MiB limit with one that
        // follows the file's size.
        reader.no_limits();
        let mut decoder = reader.into_decoder().map_err(cannot_decode)?;
        let (width, height) = decoder.dimensions();
        let decoded_len = decoder.total_bytes();
        let budget = decode_budget(file_len);
        if decoded_len > budget {
            return Err(file_error(
                path,
                format_args!(
                    "header says {width}×{height} pixels ({decoded_len} bytes decoded) but a file of {file_len} bytes holds at most {budget}; the header is corrupt"
                ),
            ));
        }
        let mut limits = Limits::default();
        limits.max_alloc = Some(budget);
        decoder.set_limits(limits).map_err(cannot_decode)?;
        let image = DynamicImage::from_decoder(decoder).map_err(cannot_decode)?;
        let gray = match channels {
            Channels::Gray => true,
            Channels::Rgb => false,
            Channels::AsFile => !image.color().has_color(),
        };
        Ok(if gray {
            DynamicImage::ImageLuma8(image.to_luma8())
        } else {
            DynamicImage::ImageRgb8(image.to_rgb8())
        })
    })
}

/// Appends an 8-bit gray or RGB image (as [`decode`] returns) as channel planes.
fn append_as_chw(image: &DynamicImage, out: &mut Vec<u8>) {
    let channels = usize::from(image.color().channel_count());
    let interleaved = image.as_bytes();
    for channel in 0..channels {
        out.extend(interleaved.iter().skip(channel).step_by(channels));
    }
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, Rgb, RgbImage};

    use super::*;

    fn config(path: &Path) -> ImageFolderConfig {
        ImageFolderConfig {
            path: path.to_path_buf(),
            resize: None,
            grayscale: None,
        }
    }

    /// A 2×3 (height×width) RGB image whose pixel (x, y) is (base + x, base + 10y, 200).
    fn rgb_image(base: u8) -> RgbImage {
        RgbImage::from_fn(3, 2, |x, y| Rgb([base + x as u8, base + 10 * y as u8, 200]))
    }

    /// cats/{a.png, b.PPM, notes.txt}, dogs/{c.png}, .cache/ (hidden, ignored).
    fn write_folder(root: &Path) {
        for class in ["dogs", "cats", ".cache"] {
            std::fs::create_dir_all(root.join(class)).unwrap();
        }
        rgb_image(0).save(root.join("cats/a.png")).unwrap();
        rgb_image(50)
            .save_with_format(root.join("cats/b.PPM"), image::ImageFormat::Pnm)
            .unwrap();
        std::fs::write(root.join("cats/notes.txt"), "not an image").unwrap();
        rgb_image(100).save(root.join("dogs/c.png")).unwrap();
        rgb_image(0).save(root.join(".cache/x.png")).unwrap();
    }

    #[test]
    fn reads_rgb_classes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let dataset = read(&config(dir.path())).unwrap();
        assert_eq!(dataset.class_names, vec!["cats", "dogs"]);
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![Some(0), Some(0), Some(1)]);
        assert_eq!(
            dataset.samples[1].source,
            dir.path().join("cats/b.PPM").display().to_string()
        );
        assert!(dataset.samples.iter().all(|s| s.split == "all"));
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (3, 2, 3));
        // First image, planes R, G, B of 2 rows × 3 columns.
        assert_eq!(
            &data[..18],
            &[
                0, 1, 2, 0, 1, 2, 0, 0, 0, 10, 10, 10, 200, 200, 200, 200, 200, 200
            ]
        );
        assert_eq!(data[18], 50);
        assert_eq!(data[36], 100);
        assert_eq!(data.len(), 3 * 18);
    }

    #[test]
    fn grayscale_and_resize() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("only")).unwrap();
        GrayImage::from_pixel(4, 6, Luma([77]))
            .save(dir.path().join("only/a.pgm"))
            .unwrap();
        GrayImage::from_pixel(2, 2, Luma([77]))
            .save(dir.path().join("only/b.png"))
            .unwrap();
        let dataset = read(&ImageFolderConfig {
            path: dir.path().to_path_buf(),
            resize: Some([3, 5]),
            grayscale: Some(true),
        })
        .unwrap();
        let Inputs::Images {
            data,
            channels,
            height,
            width,
        } = &dataset.inputs
        else {
            panic!("expected images");
        };
        assert_eq!((*channels, *height, *width), (1, 3, 5));
        // A constant image stays constant under bilinear resizing.
        assert_eq!(data, &vec![77u8; 2 * 15]);
    }

    fn images_of(dataset: &Dataset) -> (&[u8], usize) {
        match &dataset.inputs {
            Inputs::Images { data, channels, .. } => (data, *channels),
            _ => panic!("expected images"),
        }
    }

    #[test]
    fn gray_files_stay_one_channel_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        GrayImage::from_pixel(3, 2, Luma([9]))
            .save(dir.path().join("a/1.pgm"))
            .unwrap();
        GrayImage::from_pixel(3, 2, Luma([7]))
            .save(dir.path().join("a/2.png"))
            .unwrap();
        let dataset = read(&config(dir.path())).unwrap();
        let (data, channels) = images_of(&dataset);
        assert_eq!(channels, 1);
        assert_eq!(data, [[9u8; 6], [7u8; 6]].concat());
        let rgb = read(&ImageFolderConfig {
            grayscale: Some(false),
            ..config(dir.path())
        })
        .unwrap();
        let (data, channels) = images_of(&rgb);
        assert_eq!((data.len(), channels), (36, 3));
        assert_eq!(&data[..18], &[9u8; 18]);
    }

    #[test]
    fn a_colour_file_after_gray_ones_makes_every_image_rgb() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["a", "b", "c"] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
        }
        GrayImage::from_pixel(3, 2, Luma([5]))
            .save(dir.path().join("a/1.pgm"))
            .unwrap();
        rgb_image(0).save(dir.path().join("b/2.png")).unwrap();
        GrayImage::from_pixel(3, 2, Luma([8]))
            .save(dir.path().join("c/3.pgm"))
            .unwrap();
        let dataset = read(&config(dir.path())).unwrap();
        let (data, channels) = images_of(&dataset);
        assert_eq!((data.len(), channels), (3 * 18, 3));
        assert_eq!(&data[..18], &[5u8; 18]);
        assert_eq!(&data[18..24], &[0, 1, 2, 0, 1, 2]);
        assert_eq!(&data[36..], &[8u8; 18]);
    }

    #[test]
    fn mixed_sizes_without_resize_name_both() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        GrayImage::new(4, 4)
            .save(dir.path().join("a/1.png"))
            .unwrap();
        GrayImage::new(5, 4)
            .save(dir.path().join("a/2.png"))
            .unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        let second = dir.path().join("a/2.png").display().to_string();
        assert!(error.starts_with(&second), "{error}");
        assert!(error.contains("image is 4×5 (height×width)"), "{error}");
        assert!(error.contains("1.png is 4×4"), "{error}");
    }

    #[test]
    fn missing_and_empty_folders_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nowhere");
        assert_eq!(
            read(&config(&missing)).unwrap_err().to_string(),
            format!("{}: not found", missing.display())
        );
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(error.contains("no class subfolders"), "{error}");
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        std::fs::write(dir.path().join("empty/readme.md"), "x").unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(
            error.starts_with(&dir.path().join("empty").display().to_string()),
            "{error}"
        );
        assert!(error.contains("no images"), "{error}");
    }

    #[test]
    fn undecodable_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let broken = dir.path().join("dogs/d.jpg");
        std::fs::write(&broken, b"\xff\xd8\xff\xe0 definitely not a jpeg").unwrap();
        let error = read(&config(dir.path())).unwrap_err().to_string();
        assert!(error.starts_with(&broken.display().to_string()), "{error}");
        assert!(error.contains("cannot decode image"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn zero_resize_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path());
        let error = read(&ImageFolderConfig {
            path: dir.path().to_path_buf(),
            resize: Some([0, 4]),
            grayscale: None,
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("resize = [0, 4]"), "{error}");
    }
}
