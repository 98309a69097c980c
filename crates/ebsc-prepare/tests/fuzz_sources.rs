//! Bounded fuzzing of the raw-data readers: IDX (plain and gzip), CIFAR binary
//! batches, image folders, Parquet columns of encoded images and MATLAB `.mat` files.
//!
//! Properties, for random bytes, mutated valid files and forged headers:
//! - nothing panics: every read returns `Ok` or a one-line error that starts with the path of
//!   the offending file (or folder);
//! - nothing allocates far beyond what the files can hold: a header claiming 2^31 images in a
//!   100-byte file is refused before the allocator sees the claim (a counting allocator
//!   measures the largest single allocation; nothing is timed).
//!
//! A few hundred cases from a fixed seed, files of at most a few KiB; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` explore further.

#[path = "../../../tests/shared/allocation_probe.rs"]
mod allocation_probe;

use std::io::Write;
use std::path::{Path, PathBuf};

use allocation_probe::largest_allocation;
use ebsc_prepare::dataset::Dataset;
use ebsc_prepare::sources::OneOrMany;
use ebsc_prepare::sources::cifar::{self, CifarConfig};
use ebsc_prepare::sources::idx::{self, IdxConfig};
use ebsc_prepare::sources::image_folder::{self, ImageFolderConfig};
use ebsc_test_support::fuzz::{config, mutate, mutation};
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;

/// Decoder state and read buffers (gzip's window, BufReaders, the image decoders' rows):
/// what any read may allocate regardless of the claims in the file.
const BASE_ALLOCATION: usize = 1 << 20;

/// The property every read must have; `max_expansion` bounds bytes allocated per byte of
/// input (1032 for deflate, the most it can expand; 1 for raw formats) beyond `allowance`.
fn check_read(
    paths: &[&Path],
    allowance: usize,
    input_bytes: usize,
    max_expansion: usize,
    read: impl FnOnce() -> anyhow::Result<Dataset>,
) {
    let (result, largest) = largest_allocation(read);
    if let Err(error) = result {
        let message = format!("{error:#}");
        assert!(
            paths
                .iter()
                .any(|p| message.starts_with(&p.display().to_string())),
            "error does not start with one of {paths:?}: {message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
    let bound = allowance + input_bytes * max_expansion;
    assert!(
        largest <= bound,
        "{largest} bytes allocated at once for {input_bytes} bytes of input (bound {bound})"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------------------------------
// IDX

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// Writes an image and a label file and reads them as one IDX pair.
fn read_idx_pair(dir: &Path, images: &[u8], labels: &[u8]) {
    let images_path = dir.join("train-images-idx3-ubyte");
    let labels_path = dir.join("train-labels-idx1-ubyte");
    std::fs::write(&images_path, images).unwrap();
    std::fs::write(&labels_path, labels).unwrap();
    let config = IdxConfig {
        images: OneOrMany::One(images_path.clone()),
        labels: OneOrMany::One(labels_path.clone()),
    };
    check_read(
        &[&images_path, &labels_path],
        BASE_ALLOCATION,
        images.len() + labels.len(),
        1032,
        || idx::read(&config),
    );
}

/// Three 4×4 images with their labels: a valid pair to mutate.
fn valid_idx_pair() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..48).collect();
    (idx_bytes(&[3, 4, 4], &pixels), idx_bytes(&[3], &[1, 0, 1]))
}

proptest! {
    #![proptest_config(config(11))]

    #[test]
    fn idx_random_bytes(images in prop::collection::vec(any::<u8>(), 0..128),
                        labels in prop::collection::vec(any::<u8>(), 0..32)) {
        let dir = tempfile::tempdir().unwrap();
        read_idx_pair(dir.path(), &images, &labels);
    }

    /// A well-formed header with any sizes (any dimension count, any u32 sizes) in front
    /// of a little data, plain or gzip.
    #[test]
    fn idx_forged_headers(
        dims in prop::collection::vec(prop_oneof![0u32..5, Just(u32::MAX), Just(1 << 31), any::<u32>()], 0..6),
        data in prop::collection::vec(any::<u8>(), 0..64),
        compress in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut images = idx_bytes(&dims, &data);
        if compress {
            images = gzip(&images);
        }
        read_idx_pair(dir.path(), &images, &idx_bytes(&[3], &[0, 1, 2]));
    }

    #[test]
    fn idx_mutated_pairs(image_edits in prop::collection::vec(mutation(8), 0..3),
                         label_edits in prop::collection::vec(mutation(8), 0..2),
                         compress in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (mut images, mut labels) = valid_idx_pair();
        if compress {
            images = gzip(&images);
            labels = gzip(&labels);
        }
        read_idx_pair(dir.path(), &mutate(&images, &image_edits), &mutate(&labels, &label_edits));
    }
}

#[test]
fn idx_header_claiming_2_pow_31_images_in_100_bytes_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let images = idx_bytes(&[1 << 31, 28, 28], &[0; 84]);
    assert_eq!(images.len(), 100);
    let (_, labels) = valid_idx_pair();
    let images_path = dir.path().join("train-images-idx3-ubyte");
    let labels_path = dir.path().join("train-labels-idx1-ubyte");
    std::fs::write(&images_path, &images).unwrap();
    std::fs::write(&labels_path, &labels).unwrap();
    let config = IdxConfig {
        images: OneOrMany::One(images_path.clone()),
        labels: OneOrMany::One(labels_path),
    };
    let (result, largest) = largest_allocation(|| idx::read(&config));
    let error = result.unwrap_err().to_string();
    // 2^31 · 28 · 28 = 1,683,627,180,032 bytes claimed; 100 − 16 header bytes = 84 held.
    assert_eq!(
        error,
        format!(
            "{}: truncated: header says 2147483648 images of 28×28 (1683627180032 bytes) but the file holds 84",
            images_path.display()
        )
    );
    assert!(largest < BASE_ALLOCATION);
    // The same claim gzip-compressed: at most 1032 bytes out per byte in.
    std::fs::write(&images_path, gzip(&images)).unwrap();
    let (result, largest) = largest_allocation(|| idx::read(&config));
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("truncated: header says 2147483648 images of 28×28"),
        "{error}"
    );
    assert!(largest < BASE_ALLOCATION);
}

// ---------------------------------------------------------------------------------------
// CIFAR

const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;
const CIFAR10_FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// How one CIFAR file is built: whole records with chosen label bytes, then stray bytes.
#[derive(Debug, Clone)]
struct CifarFile {
    labels: Vec<u8>,
    extra: Vec<u8>,
    present: bool,
}

fn cifar_file() -> impl Strategy<Value = CifarFile> {
    (
        prop::collection::vec(prop_oneof![0u8..10, any::<u8>()], 0..3),
        prop_oneof![Just(Vec::new()), prop::collection::vec(any::<u8>(), 1..40)],
        prop::bool::weighted(0.95),
    )
        .prop_map(|(labels, extra, present)| CifarFile {
            labels,
            extra,
            present,
        })
}

proptest! {
    #![proptest_config(config(11))]

    /// CIFAR-10 and CIFAR-100 folders with missing files, partial records, labels out of
    /// range and a names file of random bytes.
    #[test]
    fn cifar_folders(
        files in prop::collection::vec(cifar_file(), 6),
        cifar100 in any::<bool>(),
        coarse in any::<bool>(),
        names in prop_oneof![Just(None), prop::collection::vec(any::<u8>(), 0..64).prop_map(Some)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("cifar");
        std::fs::create_dir(&folder).unwrap();
        let (names_file, label_bytes): (&[&str], usize) = if cifar100 {
            (&["train.bin", "test.bin"], 2)
        } else {
            (&CIFAR10_FILES, 1)
        };
        let mut total = 0;
        for (name, file) in names_file.iter().zip(&files) {
            if !file.present {
                continue;
            }
            let mut bytes = Vec::new();
            for &label in &file.labels {
                bytes.extend(std::iter::repeat_n(label, label_bytes));
                bytes.extend(std::iter::repeat_n(label, CIFAR_RECORD - 1));
            }
            bytes.extend(&file.extra);
            total += bytes.len();
            std::fs::write(folder.join(name), bytes).unwrap();
        }
        if let Some(names) = names {
            let names_path = if cifar100 { "fine_label_names.txt" } else { "batches.meta.txt" };
            std::fs::write(folder.join(names_path), &names).unwrap();
            std::fs::write(folder.join("coarse_label_names.txt"), &names).unwrap();
        }
        let config = CifarConfig {
            path: folder.clone(),
            label_kind: coarse.then_some(cifar::CifarLabelKind::Coarse),
        };
        // Every path a CIFAR error may name lies inside the folder.
        check_read(&[&folder], BASE_ALLOCATION, total, 1, || {
            cifar::read(&config)
        });
    }
}

// ---------------------------------------------------------------------------------------
// Image folders

/// A valid 3×2 gray PNG and PGM, to mutate.
fn valid_images() -> (Vec<u8>, Vec<u8>) {
    let image = image::GrayImage::from_fn(3, 2, |x, y| image::Luma([(10 * x + 50 * y) as u8]));
    let png = ebsc_test_support::images::png(&image::DynamicImage::ImageLuma8(image.clone()));
    let pgm = [b"P5\n3 2\n255\n".as_slice(), image.as_raw()].concat();
    (png, pgm)
}

/// A PNG whose IHDR (with a correct CRC) claims `width` × `height` RGBA pixels, followed by
/// a tiny IDAT and IEND: a forged header that a decoder believes.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, adaptive filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&[0u8; 16]).unwrap();
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Writes `files` (class folder, file name, bytes) under a root and reads it.
fn read_image_folder(files: &[(&str, String, Vec<u8>)], grayscale: bool, resize: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    let mut paths: Vec<PathBuf> = vec![root.clone()];
    let mut total = 0;
    for (class, name, bytes) in files {
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, bytes).unwrap();
        total += bytes.len();
        paths.push(folder);
        paths.push(path);
    }
    std::fs::create_dir_all(&root).unwrap();
    let config = ImageFolderConfig {
        path: root,
        resize: resize.then_some([4, 4]),
        grayscale: Some(grayscale),
        labels: None,
        labels_file: None,
    };
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    // The reader's policy (`decoded::decode_budget`): any image may decode to 16 MiB,
    // and beyond that to 1032 × 32 bytes per byte of file (deflate, then 1-bit pixels
    // widened to RGBA); then widening to RGB (3×) or resizing to 4×4.
    check_read(
        &paths,
        BASE_ALLOCATION + 3 * (16 << 20),
        total,
        3 * 1032 * 32,
        || image_folder::read(&config),
    );
}

fn image_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a.png".to_string()),
        Just("b.pgm".to_string()),
        Just("c.ppm".to_string()),
        Just("d.jpg".to_string()),
        Just("e.PNG".to_string()),
        Just("f.webp".to_string()),
    ]
}

proptest! {
    #![proptest_config(config(11))]

    #[test]
    fn image_folders_of_random_bytes(
        files in prop::collection::vec(
            (prop_oneof![Just("cats"), Just("dogs")], image_name(), prop::collection::vec(any::<u8>(), 0..96)),
            1..4,
        ),
        grayscale in any::<bool>(),
        resize in any::<bool>(),
    ) {
        read_image_folder(&files, grayscale, resize);
    }

    #[test]
    fn image_folders_of_mutated_images(
        png_edits in prop::collection::vec(mutation(8), 0..3),
        pgm_edits in prop::collection::vec(mutation(8), 0..3),
        grayscale in any::<bool>(),
        resize in any::<bool>(),
    ) {
        let (png, pgm) = valid_images();
        let files = vec![
            ("cats", "a.png".to_string(), mutate(&png, &png_edits)),
            ("dogs", "b.pgm".to_string(), mutate(&pgm, &pgm_edits)),
        ];
        read_image_folder(&files, grayscale, resize);
    }

    /// A valid lossless WebP, mutated: the WebP decoder on broken input.
    #[test]
    fn image_folders_of_mutated_webp(edits in prop::collection::vec(mutation(8), 1..4)) {
        let image = image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([(40 * x) as u8, (80 * y) as u8, 7]));
        let mut webp = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut webp), image::ImageFormat::WebP)
            .unwrap();
        read_image_folder(&[("cats", "a.webp".to_string(), mutate(&webp, &edits))], false, false);
    }

    /// PGM and PNG headers claiming any size, in front of a few bytes.
    #[test]
    fn image_headers_claiming_any_size(
        width in prop_oneof![1u32..8, Just(1 << 14), Just(1 << 16), any::<u32>()],
        height in prop_oneof![1u32..8, Just(1 << 14), Just(1 << 16), any::<u32>()],
        png in any::<bool>(),
    ) {
        let (name, bytes) = if png {
            ("a.png", png_claiming(width, height))
        } else {
            ("a.pgm", format!("P5\n{width} {height}\n255\n").into_bytes().into_iter().chain([0u8; 16]).collect())
        };
        read_image_folder(&[("cats", name.to_string(), bytes)], false, false);
    }
}

/// Writes `images` as a Parquet column of encoded images (Hugging Face's `{bytes, path}`
/// structs) beside a label column, and reads it as a table.
fn read_image_parquet(images: &[Vec<u8>]) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StructArray};
    use arrow_schema::{DataType, Field};
    use ebsc_prepare::sources::table::{self, TableConfig};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.parquet");
    let column = StructArray::from(vec![(
        Arc::new(Field::new("bytes", DataType::Binary, true)),
        Arc::new(BinaryArray::from_iter_values(images)) as ArrayRef,
    )]);
    let labels = Int64Array::from_iter_values((0..images.len() as i64).map(|i| i % 2));
    let batch = RecordBatch::try_from_iter([
        ("image", Arc::new(column) as ArrayRef),
        ("label", Arc::new(labels) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let config = TableConfig {
        label_column: Some("label".into()),
        ..TableConfig::at(&path)
    };
    let total = images.iter().map(Vec::len).sum();
    // The image folders' policy, per image, plus the Parquet reader's buffers.
    check_read(
        &[&path],
        BASE_ALLOCATION + 3 * (16 << 20),
        total,
        3 * 1032 * 32,
        || table::read(&config),
    );
}

proptest! {
    #![proptest_config(config(12))]

    /// A table's column of images holding random bytes, mutated images, or headers claiming
    /// any size: an error naming the file (and the row), never a panic or a huge allocation.
    #[test]
    fn parquet_columns_of_broken_images(
        random in prop::collection::vec(any::<u8>(), 0..96),
        png_edits in prop::collection::vec(mutation(8), 0..3),
        width in prop_oneof![1u32..8, Just(1 << 14), any::<u32>()],
        height in prop_oneof![1u32..8, Just(1 << 14), any::<u32>()],
        which in 0..3usize,
    ) {
        let (png, _) = valid_images();
        let odd = match which {
            0 => random,
            1 => mutate(&png, &png_edits),
            _ => png_claiming(width, height),
        };
        read_image_parquet(&[png, odd]);
    }
}

#[test]
fn forged_image_headers_are_refused_before_allocating() {
    // 16384 × 16384 pixels (256 MiB gray, 1 GiB RGBA) claimed by files of a few dozen
    // bytes: under the image crate's own 512 MiB default limit for the PGM, so before the
    // fix its decoder reserved 256 MiB for it.
    let pgm = [b"P5\n16384 16384\n255\n".as_slice(), &[0u8; 16]].concat();
    let png = png_claiming(1 << 14, 1 << 14);
    for (name, bytes) in [("a.pgm", pgm), ("a.png", png)] {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("cats");
        std::fs::create_dir(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let config = ImageFolderConfig {
            path: dir.path().to_path_buf(),
            resize: None,
            grayscale: None,
            labels: None,
            labels_file: None,
        };
        let (result, largest) = largest_allocation(|| image_folder::read(&config));
        let error = result.unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "{}: header says 16384×16384 pixels",
                path.display()
            )),
            "{error}"
        );
        assert!(largest < BASE_ALLOCATION, "{name}");
    }
}

/// `.mat` files SciPy wrote (see the table reader's tests): plain and compressed.
const MAT_FILES: [&[u8]; 2] = [
    include_bytes!("../src/sources/table/testdata/cai-v5.mat"),
    include_bytes!("../src/sources/table/testdata/cai-v5-compressed.mat"),
];

fn read_mat(dir: &Path, bytes: &[u8]) {
    use ebsc_prepare::sources::table::{self, TableConfig};
    let path = dir.join("data.mat");
    std::fs::write(&path, bytes).unwrap();
    let config = TableConfig {
        label_column: Some("gnd".into()),
        ..TableConfig::at(path.clone())
    };
    // A compressed variable inflates up to 1032 times; its bytes widen to 8-byte values.
    check_read(&[&path], BASE_ALLOCATION, bytes.len(), 8 * 1032, || {
        table::read(&config)
    });
}

proptest! {
    #![proptest_config(config(17))]

    #[test]
    fn mat_random_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = MAT_FILES[0][..128].to_vec();
        bytes.extend_from_slice(&body);
        read_mat(dir.path(), &bytes);
    }

    #[test]
    fn mat_mutated_files(edits in prop::collection::vec(mutation(8), 0..3), which in 0..2usize) {
        let dir = tempfile::tempdir().unwrap();
        read_mat(dir.path(), &mutate(MAT_FILES[which], &edits));
    }
}

// ---------------------------------------------------------------------------------------
// Labels saved apart as text

fn read_text_labels(dir: &Path, labels: &[u8]) {
    use ebsc_prepare::sources::table::{self, TableConfig};
    let samples = dir.join("X.csv");
    std::fs::write(&samples, "1,2\n3,4\n5,6\n").unwrap();
    let labels_path = dir.join("y.txt");
    std::fs::write(&labels_path, labels).unwrap();
    let config = TableConfig {
        header: Some(false),
        labels_path: Some(labels_path.clone()),
        ..TableConfig::at(samples.clone())
    };
    check_read(
        &[&samples, &labels_path],
        BASE_ALLOCATION,
        labels.len(),
        64,
        || table::read(&config),
    );
}

proptest! {
    #![proptest_config(config(19))]

    #[test]
    fn text_labels_random_lines(
        lines in prop::collection::vec(
            prop_oneof![
                Just("1".to_string()),
                Just("2.000000000000000000e+00".to_string()),
                Just("label".to_string()),
                Just("Ankle boot".to_string()),
                Just(String::new()),
                Just("# y".to_string()),
                Just("nan".to_string()),
                Just("1,2".to_string()),
                Just("\"x\"".to_string()),
                "[ -~]{0,8}",
            ],
            0..6,
        ),
        ending in prop_oneof![Just("\n"), Just("\r\n")],
    ) {
        let dir = tempfile::tempdir().unwrap();
        read_text_labels(dir.path(), lines.join(ending).as_bytes());
    }

    #[test]
    fn text_labels_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().unwrap();
        read_text_labels(dir.path(), &bytes);
    }
}
