//! MNIST-style IDX files (LeCun's format), plain or gzip-compressed.
//!
//! Layout: magic `00 00 <type> <ndims>`, then `ndims` big-endian u32 sizes, then the data.
//! Only type 0x08 (unsigned byte) is read: images `[N, H, W]` or `[N, H, W, C]`, labels `[N]`.
//! Sizes in the header are checked against the file (or the gzip trailer) before anything is
//! allocated from them.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

use super::{OneOrMany, file_error, file_len, io_error, open_file};
use crate::dataset::{Dataset, Inputs, SampleRecord};

/// IDX image and label files, paired in order (e.g. train and t10k files for all of MNIST).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdxConfig {
    /// Image file(s): `[N, H, W]` or `[N, H, W, C]` unsigned bytes, plain or gzip.
    pub images: OneOrMany<PathBuf>,
    /// Label file(s), one per image file in the same order: `[N]` unsigned bytes.
    pub labels: OneOrMany<PathBuf>,
}

/// Deflate cannot expand data by more than this factor; a header claiming more is lying.
const MAX_DEFLATE_RATIO: u64 = 1032;

const TYPE_U8: u8 = 0x08;

/// What a file is expected to hold, for dimension checks and messages.
#[derive(Clone, Copy)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn allowed_ndims(self) -> &'static [usize] {
        match self {
            Kind::Images => &[3, 4],
            Kind::Labels => &[1],
        }
    }

    fn describe_dims(self, dims: &[usize]) -> String {
        match self {
            Kind::Labels => format!("{} labels", dims[0]),
            Kind::Images => {
                let shape = dims[1..]
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("×");
                format!("{} images of {shape}", dims[0])
            }
        }
    }
}

/// A decoded IDX file: its sizes and its bytes.
struct IdxArray {
    dims: Vec<usize>,
    data: Vec<u8>,
}

/// Reads every image/label pair; see [`IdxConfig`].
pub fn read(config: &IdxConfig) -> anyhow::Result<Dataset> {
    let image_paths = config.images.to_vec();
    let label_paths = config.labels.to_vec();
    let Some(first_images) = image_paths.first() else {
        anyhow::bail!("idx: `images` is an empty list; expected at least one file");
    };
    if image_paths.len() != label_paths.len() {
        return Err(file_error(
            first_images,
            format_args!(
                "`images` lists {} files but `labels` lists {}; expected one label file per image file",
                image_paths.len(),
                label_paths.len()
            ),
        ));
    }

    let mut pixels = Vec::new();
    let mut raw_labels = Vec::new();
    let mut samples = Vec::new();
    let mut image_shape: Option<([usize; 3], &Path)> = None;
    for (images_path, labels_path) in image_paths.iter().zip(&label_paths) {
        let images = read_idx(images_path, Kind::Images)?;
        let labels = read_idx(labels_path, Kind::Labels)?;
        let n_images = images.dims[0];
        if labels.dims[0] != n_images {
            return Err(file_error(
                labels_path,
                format_args!(
                    "holds {} labels but {} holds {n_images} images; expected one label per image",
                    labels.dims[0],
                    images_path.display()
                ),
            ));
        }
        let shape = chw_shape(&images.dims);
        match image_shape {
            None => image_shape = Some((shape, images_path)),
            Some((first_shape, first_path)) if first_shape != shape => {
                return Err(file_error(
                    images_path,
                    format_args!(
                        "images are {} (C×H×W) but {} has {}; all image files must share one shape",
                        join_dims(&shape),
                        first_path.display(),
                        join_dims(&first_shape)
                    ),
                ));
            }
            Some(_) => {}
        }
        append_as_chw(&images, &mut pixels);
        raw_labels.extend_from_slice(&labels.data);
        let split = split_name(images_path);
        samples.extend((0..n_images).map(|record| SampleRecord {
            label: None,
            source: format!("{}#{record}", images_path.display()),
            split: split.clone(),
        }));
    }

    let mut distinct: Vec<u8> = raw_labels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut label_index = [0i32; 256];
    for (index, &value) in distinct.iter().enumerate() {
        // At most 256 distinct byte values, so the index fits in i32.
        label_index[usize::from(value)] = index as i32;
    }
    for (sample, &value) in samples.iter_mut().zip(&raw_labels) {
        sample.label = Some(label_index[usize::from(value)]);
    }

    let ([channels, height, width], _) =
        image_shape.expect("at least one image file was read above");
    Ok(Dataset {
        inputs: Inputs::Images {
            data: pixels,
            channels,
            height,
            width,
        },
        samples,
        class_names: distinct.iter().map(u8::to_string).collect(),
    })
}

/// `[C, H, W]` of an image file's dims `[N, H, W]` or `[N, H, W, C]`.
fn chw_shape(dims: &[usize]) -> [usize; 3] {
    match dims {
        [_, height, width] => [1, *height, *width],
        [_, height, width, channels] => [*channels, *height, *width],
        _ => unreachable!("image dims were checked to be 3 or 4"),
    }
}

fn join_dims(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// Appends the images as `[N, C, H, W]`, transposing from `[N, H, W, C]` when needed.
fn append_as_chw(images: &IdxArray, out: &mut Vec<u8>) {
    let [channels, height, width] = chw_shape(&images.dims);
    if images.dims.len() == 3 || channels == 1 {
        out.extend_from_slice(&images.data);
        return;
    }
    let image_len = channels * height * width;
    out.reserve(images.data.len());
    for image in images.data.chunks_exact(image_len) {
        for channel in 0..channels {
            out.extend(image.iter().skip(channel).step_by(channels));
        }
    }
}

/// `train…` → train, `t10k…`/`test…` → test, else the file name up to the first `-` or `.`.
fn split_name(images_path: &Path) -> String {
    let name = images_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("train") {
        return "train".to_string();
    }
    if name.starts_with("t10k") || name.starts_with("test") {
        return "test".to_string();
    }
    let stem = name.split(['-', '.']).next().unwrap_or_default();
    if stem.is_empty() {
        "all".to_string()
    } else {
        stem.to_string()
    }
}

/// Reads one IDX file of unsigned bytes, plain or gzip (detected by its magic bytes).
fn read_idx(path: &Path, kind: Kind) -> anyhow::Result<IdxArray> {
    let mut file = open_file(path)?;
    let stored_len = file_len(path, &file)?;
    let mut magic = [0u8; 2];
    let is_gzip = stored_len >= 2 && {
        file.read_exact(&mut magic)
            .map_err(|e| io_error(path, &e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_error(path, &e))?;
        magic == [0x1f, 0x8b]
    };
    if is_gzip {
        read_gzip_idx(path, file, stored_len, kind)
    } else {
        read_plain_idx(path, file, stored_len, kind)
    }
}

fn read_plain_idx(path: &Path, file: File, file_len: u64, kind: Kind) -> anyhow::Result<IdxArray> {
    let mut reader = BufReader::new(file);
    let dims = read_header(path, &mut reader, kind)?;
    let header_len = header_len(&dims);
    let data_len = data_len(path, &dims, kind)?;
    let available = file_len.saturating_sub(header_len);
    check_size(path, &dims, kind, data_len, available, "the file holds")?;
    let mut data = vec![0u8; to_usize(path, data_len)?];
    reader
        .read_exact(&mut data)
        .map_err(|e| io_error(path, &e))?;
    Ok(IdxArray { dims, data })
}

fn read_gzip_idx(
    path: &Path,
    mut file: File,
    compressed_len: u64,
    kind: Kind,
) -> anyhow::Result<IdxArray> {
    let trailer_size = read_gzip_trailer_size(path, &mut file, compressed_len)?;
    // bufread's decoder reads no further than its gzip member, so what is left in the
    // BufReader afterwards is data after the stream.
    let mut decoder = GzDecoder::new(BufReader::new(file));
    let dims = read_header(path, &mut decoder, kind)?;
    let header_len = header_len(&dims);
    let data_len = data_len(path, &dims, kind)?;
    let max_data_len = compressed_len
        .saturating_mul(MAX_DEFLATE_RATIO)
        .saturating_sub(header_len);
    if data_len > max_data_len {
        return Err(file_error(
            path,
            format_args!(
                "truncated: header says {} ({data_len} bytes) but a gzip file of {compressed_len} bytes holds at most {max_data_len}",
                kind.describe_dims(&dims)
            ),
        ));
    }
    let total_len = header_len + data_len;
    if total_len % (1 << 32) != u64::from(trailer_size) {
        // The trailer disagrees: decompress without keeping the data to say which way.
        let available = count_until(path, &mut decoder, data_len.saturating_add(1))?;
        check_size(path, &dims, kind, data_len, available, "the data holds")?;
        check_end_of_gzip(path, decoder)?;
        return Err(file_error(
            path,
            format_args!(
                "corrupt gzip trailer: it records {trailer_size} uncompressed bytes (mod 2^32) but the stream holds {total_len}"
            ),
        ));
    }
    let mut data = vec![0u8; to_usize(path, data_len)?];
    let filled = read_fully(path, &mut decoder, &mut data)?;
    // Reading one byte more also makes the decoder check the CRC-32 and size in the trailer.
    let available = filled as u64 + count_until(path, &mut decoder, 1)?;
    check_size(path, &dims, kind, data_len, available, "the data holds")?;
    check_end_of_gzip(path, decoder)?;
    Ok(IdxArray { dims, data })
}

/// After the gzip member has been read to its end, no bytes may follow it in the file.
fn check_end_of_gzip(path: &Path, decoder: GzDecoder<BufReader<File>>) -> anyhow::Result<()> {
    let mut rest = decoder.into_inner();
    let extra = count_until(path, &mut rest, u64::MAX)?;
    if extra > 0 {
        return Err(file_error(
            path,
            format_args!(
                "trailing bytes: {extra} bytes follow the end of the gzip stream (only single-member gzip files are read)"
            ),
        ));
    }
    Ok(())
}

/// ISIZE: the uncompressed size mod 2^32, little-endian in the last 4 bytes of a gzip file.
fn read_gzip_trailer_size(
    path: &Path,
    file: &mut File,
    compressed_len: u64,
) -> anyhow::Result<u32> {
    // 10-byte header + at least 2 bytes of deflate + 8-byte trailer.
    if compressed_len < 20 {
        return Err(file_error(
            path,
            format_args!(
                "truncated: a gzip file of {compressed_len} bytes cannot hold an IDX header"
            ),
        ));
    }
    let mut trailer = [0u8; 4];
    file.seek(SeekFrom::End(-4))
        .and_then(|_| file.read_exact(&mut trailer))
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| io_error(path, &e))?;
    Ok(u32::from_le_bytes(trailer))
}

/// Reads the magic and the dimension sizes; checks type code and dimension count.
fn read_header(path: &Path, reader: &mut impl Read, kind: Kind) -> anyhow::Result<Vec<usize>> {
    let mut magic = [0u8; 4];
    read_header_bytes(path, reader, &mut magic)?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(file_error(
            path,
            format_args!(
                "not an IDX file: it starts with bytes {:02x} {:02x}, expected 00 00",
                magic[0], magic[1]
            ),
        ));
    }
    let type_code = magic[2];
    if type_code != TYPE_U8 {
        let name = match type_code {
            0x09 => "signed byte",
            0x0B => "i16",
            0x0C => "i32",
            0x0D => "f32",
            0x0E => "f64",
            _ => "unknown",
        };
        return Err(file_error(
            path,
            format_args!(
                "unsupported IDX type code 0x{type_code:02X} ({name}); expected 0x08 (unsigned byte)"
            ),
        ));
    }
    let ndims = usize::from(magic[3]);
    let allowed = kind.allowed_ndims();
    if !allowed.contains(&ndims) {
        let expected = match kind {
            Kind::Images => "3 (N, H, W) or 4 (N, H, W, C) for images",
            Kind::Labels => "1 (N) for labels",
        };
        return Err(file_error(
            path,
            format_args!("IDX header has {ndims} dimensions; expected {expected}"),
        ));
    }
    let mut size_bytes = vec![0u8; 4 * ndims];
    read_header_bytes(path, reader, &mut size_bytes)?;
    let dims: Vec<usize> = size_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    if let Kind::Images = kind
        && dims[1..].contains(&0)
    {
        return Err(file_error(
            path,
            format_args!(
                "header says images of {}; expected non-zero sizes",
                join_dims(&dims[1..])
            ),
        ));
    }
    Ok(dims)
}

fn read_header_bytes(path: &Path, reader: &mut impl Read, buffer: &mut [u8]) -> anyhow::Result<()> {
    let filled = read_fully(path, reader, buffer)?;
    if filled < buffer.len() {
        return Err(file_error(path, "truncated: the IDX header is incomplete"));
    }
    Ok(())
}

fn header_len(dims: &[usize]) -> u64 {
    4 + 4 * dims.len() as u64
}

/// Product of the sizes, in bytes; overflow is an error.
fn data_len(path: &Path, dims: &[usize], kind: Kind) -> anyhow::Result<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| {
            file_error(
                path,
                format_args!(
                    "header says {}: the size overflows",
                    kind.describe_dims(dims)
                ),
            )
        })
}

fn to_usize(path: &Path, len: u64) -> anyhow::Result<usize> {
    usize::try_from(len)
        .map_err(|_| file_error(path, format_args!("{len} bytes do not fit in memory")))
}

/// `truncated` when fewer bytes than the header promises, `trailing bytes` when more.
fn check_size(
    path: &Path,
    dims: &[usize],
    kind: Kind,
    expected: u64,
    available: u64,
    holds: &str,
) -> anyhow::Result<()> {
    let problem = match available.cmp(&expected) {
        std::cmp::Ordering::Equal => return Ok(()),
        std::cmp::Ordering::Less => "truncated",
        std::cmp::Ordering::Greater => "trailing bytes",
    };
    Err(file_error(
        path,
        format_args!(
            "{problem}: header says {} ({expected} bytes) but {holds} {available}",
            kind.describe_dims(dims)
        ),
    ))
}

/// Fills as much of `buffer` as the stream has; a stream cut short is not an error here.
fn read_fully(path: &Path, reader: &mut impl Read, buffer: &mut [u8]) -> anyhow::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(stream_error(path, &e)),
        }
    }
    Ok(filled)
}

/// Counts the remaining bytes of the stream, stopping once `limit` is reached.
fn count_until(path: &Path, reader: &mut impl Read, limit: u64) -> anyhow::Result<u64> {
    let mut buffer = [0u8; 64 * 1024];
    let mut count = 0u64;
    while count < limit {
        let want = (limit - count).min(buffer.len() as u64) as usize;
        let n = read_fully(path, reader, &mut buffer[..want])?;
        if n == 0 {
            break;
        }
        count += n as u64;
    }
    Ok(count)
}

fn stream_error(path: &Path, error: &io::Error) -> anyhow::Error {
    match error.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            file_error(path, format_args!("corrupt gzip data: {error}"))
        }
        _ => io_error(path, error),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, type_code, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn config(images: &[PathBuf], labels: &[PathBuf]) -> IdxConfig {
        IdxConfig {
            images: OneOrMany::Many(images.to_vec()),
            labels: OneOrMany::Many(labels.to_vec()),
        }
    }

    /// Three 2×2 images with pixel values 0..12, labels 7, 3, 7.
    fn write_small_pair(dir: &Path, prefix: &str, compress: bool) -> (PathBuf, PathBuf) {
        let pixels: Vec<u8> = (0..12).collect();
        let mut images = idx_bytes(0x08, &[3, 2, 2], &pixels);
        let mut labels = idx_bytes(0x08, &[3], &[7, 3, 7]);
        let suffix = if compress {
            images = gzip(&images);
            labels = gzip(&labels);
            ".gz"
        } else {
            ""
        };
        (
            write(dir, &format!("{prefix}-images-idx3-ubyte{suffix}"), &images),
            write(dir, &format!("{prefix}-labels-idx1-ubyte{suffix}"), &labels),
        )
    }

    fn read_error(images: &Path, labels: &Path) -> String {
        read(&config(&[images.to_path_buf()], &[labels.to_path_buf()]))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_plain_and_gzip_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let (train_images, train_labels) = write_small_pair(dir.path(), "train", false);
        let (test_images, test_labels) = write_small_pair(dir.path(), "t10k", true);
        let dataset = read(&config(
            &[train_images.clone(), test_images],
            &[train_labels, test_labels],
        ))
        .unwrap();
        let expected: Vec<u8> = (0..12).chain(0..12).collect();
        assert_eq!(
            dataset.inputs,
            Inputs::Images {
                data: expected,
                channels: 1,
                height: 2,
                width: 2
            }
        );
        assert_eq!(dataset.class_names, vec!["3", "7"]);
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Some(1), Some(0), Some(1)].repeat(2));
        let splits: Vec<_> = dataset.samples.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(splits, ["train", "train", "train", "test", "test", "test"]);
        assert_eq!(
            dataset.samples[2].source,
            format!("{}#2", train_images.display())
        );
    }

    #[test]
    fn single_paths_deserialize_and_split_falls_back_to_stem() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = write_small_pair(dir.path(), "extra", false);
        let toml_text = format!(
            "images = {:?}\nlabels = {:?}\n",
            images.display().to_string(),
            labels.display().to_string()
        );
        let config: IdxConfig = toml::from_str(&toml_text).unwrap();
        let dataset = read(&config).unwrap();
        assert!(dataset.samples.iter().all(|s| s.split == "extra"));
        assert_eq!(split_name(Path::new("a/test.idx")), "test");
        assert_eq!(split_name(Path::new("a/valid.idx.gz")), "valid");
    }

    #[test]
    fn four_dim_images_are_transposed_to_chw() {
        let dir = tempfile::tempdir().unwrap();
        // One 1×2 image with 3 channels, HWC: pixel0 = (1,2,3), pixel1 = (4,5,6).
        let images = write(
            dir.path(),
            "rgb-images",
            &idx_bytes(0x08, &[1, 1, 2, 3], &[1, 2, 3, 4, 5, 6]),
        );
        let labels = write(dir.path(), "rgb-labels", &idx_bytes(0x08, &[1], &[0]));
        let dataset = read(&config(&[images], &[labels])).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Images {
                data: vec![1, 4, 2, 5, 3, 6],
                channels: 3,
                height: 1,
                width: 2
            }
        );
    }

    #[test]
    fn plain_truncated_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images",
            &idx_bytes(0x08, &[3, 2, 2], &[0; 11]),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert_eq!(
            error,
            format!(
                "{}: truncated: header says 3 images of 2×2 (12 bytes) but the file holds 11",
                images.display()
            )
        );
    }

    #[test]
    fn plain_trailing_bytes_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images",
            &idx_bytes(0x08, &[3, 2, 2], &[0; 12]),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 4]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&labels.display().to_string()), "{error}");
        assert!(
            error.contains("trailing bytes: header says 3 labels (3 bytes)"),
            "{error}"
        );
    }

    #[test]
    fn gzip_truncated_data_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images.gz",
            &gzip(&idx_bytes(0x08, &[3, 2, 2], &[0; 10])),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(
            error.contains(
                "truncated: header says 3 images of 2×2 (12 bytes) but the data holds 10"
            ),
            "{error}"
        );
    }

    #[test]
    fn gzip_trailing_data_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images.gz",
            &gzip(&idx_bytes(0x08, &[3, 2, 2], &[0; 20])),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.contains("trailing bytes"), "{error}");
        assert!(error.starts_with(&images.display().to_string()), "{error}");
    }

    #[test]
    fn bytes_after_the_gzip_stream_are_trailing() {
        let dir = tempfile::tempdir().unwrap();
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let member = gzip(&idx_bytes(0x08, &[3, 2, 2], &[0; 12]));
        // Junk after the stream: the last 4 bytes are no longer the trailer's size.
        let images = write(
            dir.path(),
            "junk-images.gz",
            &[member.as_slice(), b"junk"].concat(),
        );
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(
            error.contains("trailing bytes: 4 bytes follow the end of the gzip stream"),
            "{error}"
        );
        // A second gzip member: the last 4 bytes are a valid size, of the wrong member.
        let images = write(dir.path(), "twice-images.gz", &member.repeat(2));
        let error = read_error(&images, &labels);
        assert!(
            error.contains(&format!("trailing bytes: {} bytes follow", member.len())),
            "{error}"
        );
    }

    #[test]
    fn gzip_cut_short_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..=255).cycle().take(3 * 100 * 100).collect();
        let full = gzip(&idx_bytes(0x08, &[3, 100, 100], &pixels));
        let images = write(dir.path(), "train-images.gz", &full[..full.len() / 2]);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(error.contains("truncated"), "{error}");
    }

    #[test]
    fn gzip_header_claiming_more_than_deflate_can_hold_is_rejected_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        // Claims 4e9 bytes of pixels in a file of a few dozen bytes.
        let images = write(
            dir.path(),
            "train-images.gz",
            &gzip(&idx_bytes(0x08, &[1000, 2000, 2000], &[])),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(
            error.contains("truncated: header says 1000 images of 2000×2000 (4000000000 bytes)"),
            "{error}"
        );
    }

    #[test]
    fn gzip_with_wrong_trailer_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gzip(&idx_bytes(0x08, &[3, 2, 2], &[0; 12]));
        let n = bytes.len();
        bytes[n - 4] ^= 0xff;
        let images = write(dir.path(), "train-images.gz", &bytes);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(error.contains("gzip"), "{error}");
    }

    #[test]
    fn overflowing_dims_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let dims = [u32::MAX, u32::MAX, u32::MAX, u32::MAX];
        let images = write(dir.path(), "train-images", &idx_bytes(0x08, &dims, &[]));
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(error.contains("overflows"), "{error}");
    }

    #[test]
    fn wrong_magic_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = idx_bytes(0x08, &[3, 2, 2], &[0; 12]);
        bytes[0] = 0x50;
        let images = write(dir.path(), "train-images", &bytes);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(
            error.contains("not an IDX file: it starts with bytes 50 00, expected 00 00"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_type_code_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images",
            &idx_bytes(0x0D, &[3, 2, 2], &[0; 48]),
        );
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&images.display().to_string()), "{error}");
        assert!(error.contains("type code 0x0D"), "{error}");
    }

    #[test]
    fn wrong_dimension_count_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "train-images",
            &idx_bytes(0x08, &[3, 4], &[0; 12]),
        );
        let labels = write(
            dir.path(),
            "train-labels",
            &idx_bytes(0x08, &[3, 1], &[0; 3]),
        );
        let error = read_error(&images, &labels);
        assert!(
            error.contains("has 2 dimensions; expected 3 (N, H, W) or 4"),
            "{error}"
        );
        let (good_images, _) = write_small_pair(dir.path(), "train", false);
        let error = read_error(&good_images, &labels);
        assert!(error.starts_with(&labels.display().to_string()), "{error}");
        assert!(
            error.contains("has 2 dimensions; expected 1 (N) for labels"),
            "{error}"
        );
    }

    #[test]
    fn incomplete_header_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(dir.path(), "train-images", &[0, 0, 8, 3, 0, 0]);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        assert!(read_error(&images, &labels).contains("truncated: the IDX header is incomplete"));
        let empty = write(dir.path(), "empty", &[]);
        assert!(read_error(&empty, &labels).contains("truncated"));
    }

    #[test]
    fn count_mismatch_names_both_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (images, _) = write_small_pair(dir.path(), "train", false);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[2], &[0; 2]));
        let error = read_error(&images, &labels);
        assert!(error.starts_with(&labels.display().to_string()), "{error}");
        assert!(error.contains("holds 2 labels but"), "{error}");
        assert!(error.contains("holds 3 images"), "{error}");
    }

    #[test]
    fn mismatched_image_shapes_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (images_a, labels_a) = write_small_pair(dir.path(), "train", false);
        let images_b = write(
            dir.path(),
            "test-images",
            &idx_bytes(0x08, &[1, 3, 3], &[0; 9]),
        );
        let labels_b = write(dir.path(), "test-labels", &idx_bytes(0x08, &[1], &[0]));
        let error = read(&config(
            &[images_a, images_b.clone()],
            &[labels_a, labels_b],
        ))
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with(&images_b.display().to_string()),
            "{error}"
        );
        assert!(error.contains("images are 1×3×3 (C×H×W)"), "{error}");
    }

    #[test]
    fn missing_file_and_unpaired_lists_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = write_small_pair(dir.path(), "train", false);
        let missing = dir.path().join("missing-labels");
        assert_eq!(
            read_error(&images, &missing),
            format!("{}: not found", missing.display())
        );
        let error = read(&config(&[images.clone(), images], &[labels]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`images` lists 2 files but `labels` lists 1"),
            "{error}"
        );
    }

    #[test]
    fn corrupt_gzip_checksum_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gzip(&idx_bytes(0x08, &[3, 2, 2], &[0; 12]));
        // Flip a bit of the CRC-32 (the 8 bytes before the end).
        let crc = bytes.len() - 8;
        bytes[crc] ^= 0x01;
        let images = write(dir.path(), "train-images.gz", &bytes);
        let labels = write(dir.path(), "train-labels", &idx_bytes(0x08, &[3], &[0; 3]));
        let error = read(&config(std::slice::from_ref(&images), &[labels])).unwrap_err();
        let text = format!("{error:#}");
        assert!(!text.contains('\n'), "{text}");
        assert!(text.starts_with(&images.display().to_string()), "{text}");
        assert!(text.contains("corrupt gzip data"), "{text}");
    }
}
