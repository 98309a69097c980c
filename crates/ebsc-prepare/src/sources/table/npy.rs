//! NumPy `.npy` files holding a 2-D little-endian array of floats, integers or booleans in C
//! order (or `uint8` images), and the arrays of an `.npz` archive (`npz`).
//!
//! Format (numpy.lib.format): magic `\x93NUMPY`, version bytes, a little-endian header length
//! (u16 for version 1, u32 for 2 and 3), then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, then the raw data.

use std::path::Path;

use super::{ArrayImages, RawLabels, Table, check_finite};
use crate::sources::{file_error, read_whole_file};

const MAGIC: &[u8] = b"\x93NUMPY";

pub(super) fn read(path: &Path) -> anyhow::Result<Table> {
    let bytes = read_whole_file(path)?;
    let array = NpyArray::parse(path, "", &bytes)?;
    array.table(path, "", RawLabels::None)
}

/// The labels of a `.npy` file that holds nothing else (`np.save("y.npy", y)`): `n_rows`
/// integers, booleans or whole-number floats, `(N,)` or `(N, 1)`.
pub(super) fn read_labels(path: &Path, n_rows: usize) -> anyhow::Result<Vec<Option<i64>>> {
    let bytes = read_whole_file(path)?;
    NpyArray::parse(path, "", &bytes)?.labels(path, "", n_rows)
}

/// The shape a `.npy` file's header gives, when it parses.
/// Only the header is read: `new` asks it of samples files of any size.
pub(super) fn shape(path: &Path) -> Option<Vec<usize>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    // Magic, version and a length of at most 4 bytes, then a header numpy keeps short.
    let mut head = vec![0u8; 12];
    file.read_exact(&mut head).ok()?;
    let length = match head[6] {
        1 => usize::from(u16::from_le_bytes([head[8], head[9]])) + 10,
        _ => u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize + 12,
    };
    if length > 1 << 20 {
        return None;
    }
    head.resize(length.max(12), 0);
    file.read_exact(&mut head[12..]).ok()?;
    let (header, _) = split_header(&head).ok()?;
    parse_header(header).ok().map(|(_, shape, _)| shape)
}

/// What an array's elements are, as its dtype says (`<f4`, `<i8`, `|u1`, `|b1`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    UInt,
    Bool,
}

/// The kind and byte size of a little-endian (or one-byte) dtype this reader supports.
fn dtype(descr: &str) -> Option<(Kind, usize)> {
    let (order, rest) = descr.split_at_checked(1)?;
    let (kind, size) = rest.split_at_checked(1)?;
    let size: usize = size.parse().ok()?;
    let kind = match kind {
        "f" if size == 4 || size == 8 => Kind::Float,
        "i" if [1, 2, 4, 8].contains(&size) => Kind::Int,
        "u" if [1, 2, 4, 8].contains(&size) => Kind::UInt,
        "b" if size == 1 => Kind::Bool,
        _ => return None,
    };
    let ordered = order == "<" || (order == "|" && size == 1);
    ordered.then_some((kind, size))
}

/// One array of a `.npy` file or of an `.npz` member: its dtype, shape and data, checked
/// against each other.
pub(super) struct NpyArray<'a> {
    pub descr: String,
    pub shape: Vec<usize>,
    kind: Option<(Kind, usize)>,
    /// C order: as stored, or a Fortran-order matrix's items transposed.
    data: std::borrow::Cow<'a, [u8]>,
}

impl<'a> NpyArray<'a> {
    /// `what` names the array in messages (`array "X": …`); empty for a `.npy` file.
    pub fn parse(path: &Path, what: &str, bytes: &'a [u8]) -> anyhow::Result<NpyArray<'a>> {
        let error =
            |message: std::fmt::Arguments| file_error(path, format_args!("{what}{message}"));
        let (header, data_start) = split_header(bytes).map_err(|m| error(format_args!("{m}")))?;
        let (descr, shape, fortran) =
            parse_header(header).map_err(|m| error(format_args!("{m}")))?;
        let kind = dtype(&descr);
        let data = &bytes[data_start..];
        if let Some((_, item_size)) = kind {
            let expected = shape
                .iter()
                .try_fold(item_size, |n, &d| n.checked_mul(d))
                .ok_or_else(|| error(format_args!("shape {} overflows", show_shape(&shape))))?;
            if data.len() != expected {
                let problem = if data.len() < expected {
                    "truncated"
                } else {
                    "trailing bytes"
                };
                return Err(error(format_args!(
                    "{problem}: header says shape {} of {descr} ({expected} bytes) but the data holds {}",
                    show_shape(&shape),
                    data.len()
                )));
            }
        }
        let data = match (fortran && shape.len() > 1, kind, shape.as_slice()) {
            (false, ..) => std::borrow::Cow::Borrowed(data),
            // np.save of a transposed matrix (`X.T`, `np.asfortranarray`): columns stored
            // one after another; read as rows.
            (true, Some((_, item_size)), &[rows, columns]) => {
                let mut c_order = vec![0u8; data.len()];
                for (index, item) in data.chunks_exact(item_size).enumerate() {
                    let (column, row) = (index / rows, index % rows);
                    let at = (row * columns + column) * item_size;
                    c_order[at..at + item_size].copy_from_slice(item);
                }
                std::borrow::Cow::Owned(c_order)
            }
            (true, ..) => {
                return Err(error(format_args!(
                    "array of shape {} is in Fortran order; expected C order (save np.ascontiguousarray(x))",
                    show_shape(&shape)
                )));
            }
        };
        Ok(NpyArray {
            descr,
            shape,
            kind,
            data,
        })
    }

    /// The table this array holds: images for a `uint8` array of 3 or 4 dimensions
    /// ([`NpyArray::images`]), else rows of features ([`NpyArray::features`]).
    pub fn table(&self, path: &Path, what: &str, labels: RawLabels) -> anyhow::Result<Table> {
        if let Some(images) = self.images(path, what)? {
            return Ok(Table {
                features: Vec::new(),
                dim: 0,
                n_rows: self.shape[0],
                labels,
                ids: None,
                images: Some(images),
            });
        }
        let (features, dim) = self.features(path, what)?;
        Ok(Table {
            n_rows: features.len() / dim,
            features,
            dim,
            labels,
            ids: None,
            images: None,
        })
    }

    /// Rows of a 3- or 4-dimensional array as images: `(N, H, W)` gray, `(N, H, W, C)` with
    /// C 1 or 3 (channels last, as NumPy and TensorFlow keep them), or `(N, C, H, W)` (channels
    /// first). `uint8` as it is; floats and other integers as pixels when every value lies in
    /// [0, 1] (times 255, rounded: scikit-learn's Olivetti faces, `x / 255`) or is a whole
    /// number 0–255 ([`super::gray_pixels`]). `None` for arrays of other dimensions.
    pub fn images(&self, path: &Path, what: &str) -> anyhow::Result<Option<ArrayImages>> {
        let error =
            |message: std::fmt::Arguments| file_error(path, format_args!("{what}{message}"));
        if !matches!(self.shape.len(), 3 | 4) {
            return Ok(None);
        }
        let bytes: std::borrow::Cow<'_, [u8]> = match self.kind {
            Some((Kind::UInt, 1)) => std::borrow::Cow::Borrowed(&self.data),
            Some((kind, item_size)) => {
                let pixels = super::gray_pixels(&self.f32_values(kind, item_size)).map_err(|bad| {
                    error(format_args!(
                        "value {} at index {} of an array of images of shape {} (dtype {:?}); expected every value in [0, 1] or in [-1, 1], or whole numbers 0–255",
                        bad.value,
                        bad.position,
                        show_shape(&self.shape),
                        self.descr
                    ))
                })?;
                std::borrow::Cow::Owned(pixels)
            }
            None => {
                return Err(error(format_args!(
                    "dtype {:?} for images of shape {}; expected uint8 ('|u1'), or floats or integers of pixel values",
                    self.descr,
                    show_shape(&self.shape)
                )));
            }
        };
        let (n, channels, height, width, channels_last) = match *self.shape.as_slice() {
            [n, h, w] => (n, 1, h, w, false),
            [n, h, w, c] if c == 1 || c == 3 => (n, c, h, w, true),
            [n, c, h, w] if c == 1 || c == 3 => (n, c, h, w, false),
            _ => {
                return Err(error(format_args!(
                    "shape {} for images; expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3",
                    show_shape(&self.shape)
                )));
            }
        };
        if n == 0 || height == 0 || width == 0 {
            return Err(error(format_args!(
                "shape {} holds no images",
                show_shape(&self.shape)
            )));
        }
        let data = if channels_last && channels > 1 {
            // [N, H, W, C] → [N, C, H, W], the layout of every image source.
            let plane = height * width;
            let mut planar = vec![0u8; bytes.len()];
            for (image, out) in bytes
                .chunks_exact(plane * channels)
                .zip(planar.chunks_exact_mut(plane * channels))
            {
                for (pixel, values) in image.chunks_exact(channels).enumerate() {
                    for (channel, &value) in values.iter().enumerate() {
                        out[channel * plane + pixel] = value;
                    }
                }
            }
            planar
        } else {
            bytes.into_owned()
        };
        Ok(Some(ArrayImages {
            data,
            channels,
            height,
            width,
        }))
    }

    /// A 2-D array of numbers as rows of `f32` features and its width.
    pub fn features(&self, path: &Path, what: &str) -> anyhow::Result<(Vec<f32>, usize)> {
        let error =
            |message: std::fmt::Arguments| file_error(path, format_args!("{what}{message}"));
        let Some((kind, item_size)) = self.kind else {
            return Err(error(format_args!(
                "dtype {:?} is not supported; expected little-endian floats ('<f4', '<f8'), integers ('<i8', '|u1', …) or booleans",
                self.descr
            )));
        };
        let &[n_rows, dim] = self.shape.as_slice() else {
            return Err(error(format_args!(
                "array has {} dimensions; expected 2 (rows, features)",
                self.shape.len()
            )));
        };
        if n_rows == 0 || dim == 0 {
            return Err(error(format_args!(
                "shape ({n_rows}, {dim}) is empty; expected rows and columns"
            )));
        }
        // Integers too: pixels flattened to rows (`x.reshape(len(x), -1)` of uint8 images).
        let features = self.f32_values(kind, item_size);
        let name = if what.is_empty() {
            "array"
        } else {
            what.trim_end_matches(": ")
        };
        check_finite(path, name, &features, dim, 0)?;
        Ok((features, dim))
    }

    /// An array of `n_rows` integers, booleans or whole numbers, `(N,)` or `(N, 1)`, as labels.
    pub fn labels(
        &self,
        path: &Path,
        what: &str,
        n_rows: usize,
    ) -> anyhow::Result<Vec<Option<i64>>> {
        let error =
            |message: std::fmt::Arguments| file_error(path, format_args!("{what}{message}"));
        let Some((kind, item_size)) = self.kind else {
            return Err(error(format_args!(
                "dtype {:?} is not supported for labels; expected integers, booleans or whole-number floats",
                self.descr
            )));
        };
        // One-hot rows, as Keras' `to_categorical` writes labels: the index of each row's 1.
        if let [rows, classes] = self.shape[..]
            && rows == n_rows
            && classes >= 2
        {
            return self.one_hot_labels(kind, item_size, classes).map_err(|row| {
                error(format_args!(
                    "shape {} for labels, but row {row} is not one-hot (a single 1 among 0s); expected ({n_rows},) or ({n_rows}, 1), one label a row of the features, or one-hot rows",
                    show_shape(&self.shape)
                ))
            });
        }
        // (N, 1) too: MedMNIST keeps its labels as a column.
        if self.shape != [n_rows] && self.shape != [n_rows, 1] {
            return Err(error(format_args!(
                "shape {} for labels; expected ({n_rows},) or ({n_rows}, 1), one label a row of the features, or ({n_rows}, K) one-hot rows",
                show_shape(&self.shape)
            )));
        }
        let chunks = self.data.chunks_exact(item_size);
        let labels: Vec<i64> = match kind {
            Kind::Int => chunks.map(int).collect(),
            Kind::UInt | Kind::Bool => {
                let mut labels = Vec::with_capacity(n_rows);
                for (row, b) in chunks.enumerate() {
                    let value = uint(b);
                    labels.push(i64::try_from(value).map_err(|_| {
                        error(format_args!(
                            "row {row} holds {value}, too large for a label"
                        ))
                    })?);
                }
                labels
            }
            Kind::Float => {
                let mut labels = Vec::with_capacity(n_rows);
                for (row, value) in self.values(item_size).enumerate() {
                    if value.fract() != 0.0 || value.abs() > 9.0e15 {
                        return Err(error(format_args!(
                            "row {row} holds {value}; expected integers, booleans or whole-number floats"
                        )));
                    }
                    labels.push(value as i64);
                }
                labels
            }
        };
        Ok(labels.into_iter().map(Some).collect())
    }

    /// The labels of one-hot rows of `classes` values: each row's index of its one 1; the
    /// first row that is not one-hot as the error.
    fn one_hot_labels(
        &self,
        kind: Kind,
        item_size: usize,
        classes: usize,
    ) -> Result<Vec<Option<i64>>, usize> {
        let values = self.f32_values(kind, item_size);
        values
            .chunks_exact(classes)
            .enumerate()
            .map(|(row, values)| {
                let ones: Vec<usize> = (0..classes).filter(|&c| values[c] == 1.0).collect();
                match ones[..] {
                    [one] if values.iter().all(|&v| v == 0.0 || v == 1.0) => Ok(Some(one as i64)),
                    _ => Err(row),
                }
            })
            .collect()
    }

    /// Every element as an `f32`, whatever its dtype.
    fn f32_values(&self, kind: Kind, item_size: usize) -> Vec<f32> {
        let chunks = self.data.chunks_exact(item_size);
        match kind {
            Kind::Float => self.values(item_size).map(|v| v as f32).collect(),
            Kind::Int => chunks.map(|b| int(b) as f32).collect(),
            Kind::UInt | Kind::Bool => chunks.map(|b| uint(b) as f32).collect(),
        }
    }

    fn values(&self, item_size: usize) -> impl Iterator<Item = f64> + '_ {
        self.data.chunks_exact(item_size).map(move |b| {
            if item_size == 8 {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            } else {
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
        })
    }
}

fn int(bytes: &[u8]) -> i64 {
    match bytes.len() {
        1 => i64::from(bytes[0] as i8),
        2 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
        4 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        _ => i64::from_le_bytes(bytes.try_into().expect("an 8-byte integer")),
    }
}

fn uint(bytes: &[u8]) -> u64 {
    match bytes.len() {
        1 => u64::from(bytes[0]),
        2 => u64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        4 => u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        _ => u64::from_le_bytes(bytes.try_into().expect("an 8-byte integer")),
    }
}

/// A shape as Python writes it: `(2, 3)`, `(4,)`.
fn show_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The header text and where the data starts.
fn split_header(bytes: &[u8]) -> Result<(&str, usize), String> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err("not a .npy file: expected the magic \\x93NUMPY".to_string());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        2 | 3 => return Err("truncated: the .npy header is incomplete".to_string()),
        _ => {
            return Err(format!(
                "unsupported .npy version {major}.{minor}; expected 1.0, 2.0 or 3.0"
            ));
        }
    };
    let data_start = header_start + header_len;
    if data_start > bytes.len() {
        return Err(format!(
            "truncated: the .npy header says it is {header_len} bytes but the file holds {}",
            bytes.len() - header_start
        ));
    }
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| "malformed .npy header: not text".to_string())?;
    Ok((header, data_start))
}

/// The header dict's dtype, shape and whether it is in Fortran order.
fn parse_header(text: &str) -> Result<(String, Vec<usize>, bool), String> {
    let malformed = || {
        let shown: String = text.trim().chars().take(120).collect();
        format!("malformed .npy header {shown:?}")
    };
    let entries = Parser::new(text).dict().ok_or_else(malformed)?;
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let Some(PyValue::Str(descr)) = get("descr") else {
        return Err(malformed());
    };
    let Some(PyValue::Bool(fortran)) = get("fortran_order") else {
        return Err(malformed());
    };
    let Some(PyValue::Tuple(shape)) = get("shape") else {
        return Err(malformed());
    };
    let shape = shape
        .iter()
        .map(|d| match d {
            PyValue::Int(n) => Some(*n),
            _ => None,
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(malformed)?;
    Ok((descr.clone(), shape, *fortran))
}

/// The subset of Python literals that `.npy` headers use.
#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Int(usize),
    Tuple(Vec<PyValue>),
}

/// A recursive-descent parser over the header text; every method returns `None` on bad input.
struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { rest: text }
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: char) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// `{ 'key': value, ... }` with an optional trailing comma, then only whitespace.
    fn dict(mut self) -> Option<Vec<(String, PyValue)>> {
        if !self.eat('{') {
            return None;
        }
        let mut entries = Vec::new();
        loop {
            if self.eat('}') {
                break;
            }
            let PyValue::Str(key) = self.value()? else {
                return None;
            };
            if !self.eat(':') {
                return None;
            }
            entries.push((key, self.value()?));
            if !self.eat(',') {
                if !self.eat('}') {
                    return None;
                }
                break;
            }
        }
        self.skip_space();
        self.rest.is_empty().then_some(entries)
    }

    fn value(&mut self) -> Option<PyValue> {
        self.skip_space();
        let first = self.rest.chars().next()?;
        match first {
            '\'' | '"' => {
                let body = &self.rest[1..];
                let end = body.find(first)?;
                let text = body[..end].to_string();
                self.rest = &body[end + 1..];
                Some(PyValue::Str(text))
            }
            '(' => {
                self.rest = &self.rest[1..];
                let mut items = Vec::new();
                loop {
                    if self.eat(')') {
                        break;
                    }
                    items.push(self.value()?);
                    if !self.eat(',') {
                        if !self.eat(')') {
                            return None;
                        }
                        break;
                    }
                }
                Some(PyValue::Tuple(items))
            }
            '0'..='9' => {
                let end = self
                    .rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(self.rest.len());
                let number = self.rest[..end].parse().ok()?;
                self.rest = &self.rest[end..];
                // Python 2 wrote long integers with an `L` suffix.
                self.rest = self.rest.strip_prefix('L').unwrap_or(self.rest);
                Some(PyValue::Int(number))
            }
            _ => {
                for (word, value) in [("True", true), ("False", false)] {
                    if let Some(rest) = self.rest.strip_prefix(word) {
                        self.rest = rest;
                        return Some(PyValue::Bool(value));
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ebsc_test_support::numpy::npy;

    use super::super::{TableConfig, read as read_table};
    use super::*;
    use crate::dataset::{Dataset, Inputs};

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn read_npy(path: &Path, bytes: &[u8]) -> anyhow::Result<Dataset> {
        std::fs::write(path, bytes).unwrap();
        read_table(&TableConfig::at(path))
    }

    fn expect_error(result: anyhow::Result<Dataset>, path: &Path, needle: &str) {
        let error = result.unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(!error.contains('\n'), "{error}");
        assert!(error.contains(needle), "{error} should contain {needle}");
    }

    #[test]
    fn reads_f4_and_f8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let dataset = read_npy(
            &path,
            &npy(
                "<f4",
                false,
                "(2, 3)",
                &f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ),
        )
        .unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                dim: 3
            }
        );
        assert_eq!(dataset.samples[1].source, format!("{}#1", path.display()));
        assert_eq!(dataset.samples[1].label, None);
        assert!(dataset.class_names.is_empty());
        let f8: Vec<u8> = [0.25f64, -8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let dataset = read_npy(&path, &npy("<f8", false, "(1, 2)", &f8)).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![0.25, -8.0],
                dim: 2
            }
        );
    }

    #[test]
    fn truncated_and_trailing_data_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let result = read_npy(&path, &npy("<f4", false, "(2, 3)", &f32_bytes(&[1.0; 5])));
        expect_error(
            result,
            &path,
            "truncated: header says shape (2, 3) of <f4 (24 bytes) but the data holds 20",
        );
        let result = read_npy(&path, &npy("<f4", false, "(2, 3)", &f32_bytes(&[1.0; 7])));
        expect_error(result, &path, "trailing bytes");
        let mut cut = npy("<f4", false, "(2, 3)", &[]);
        cut.truncate(30);
        expect_error(
            read_npy(&path, &cut),
            &path,
            "truncated: the .npy header says it is",
        );
    }

    #[test]
    fn huge_shape_is_rejected_without_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let result = read_npy(&path, &npy("<f8", false, "(4000000000, 4000000000)", &[]));
        expect_error(result, &path, "overflows");
        let result = read_npy(&path, &npy("<f8", false, "(100000000, 1000)", &[]));
        expect_error(result, &path, "truncated");
    }

    #[test]
    fn unsupported_headers_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        expect_error(
            read_npy(&path, &npy(">f4", false, "(1, 1)", &[0; 4])),
            &path,
            "dtype \">f4\" is not supported",
        );
        expect_error(
            read_npy(&path, &npy("<c8", false, "(1, 1)", &[0; 8])),
            &path,
            "dtype \"<c8\" is not supported; expected little-endian floats",
        );
        expect_error(
            read_npy(&path, &npy("|u1", true, "(1, 1, 1)", &[0; 1])),
            &path,
            "array of shape (1, 1, 1) is in Fortran order",
        );
        // A Fortran-order matrix (np.save of x.T) is read as rows.
        let columns = f32_bytes(&[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(
            read_npy(&path, &npy("<f4", true, "(3, 2)", &columns))
                .unwrap()
                .inputs,
            Inputs::Features {
                data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                dim: 2
            }
        );
        expect_error(
            read_npy(&path, &npy("<f4", false, "(4,)", &[0; 16])),
            &path,
            "1 dimensions; expected 2",
        );
        expect_error(
            read_npy(&path, &npy("<f4", false, "[1, 2]", &[0; 8])),
            &path,
            "malformed .npy header",
        );
        expect_error(
            read_npy(&path, b"PK\x03\x04 not npy at all"),
            &path,
            "not a .npy file",
        );
        let mut future = npy("<f4", false, "(1, 1)", &[0; 4]);
        future[6] = 9;
        expect_error(
            read_npy(&path, &future),
            &path,
            "unsupported .npy version 9.0",
        );
    }

    #[test]
    fn uint8_arrays_of_three_or_four_dimensions_are_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let images = |descr: &str, shape: &str, data: &[u8]| {
            read_npy(&path, &npy(descr, false, shape, data)).map(|d| d.inputs)
        };
        let gray: Vec<u8> = (0..12).collect();
        assert_eq!(
            images("|u1", "(3, 2, 2)", &gray).unwrap(),
            Inputs::Images {
                data: gray.clone(),
                channels: 1,
                height: 2,
                width: 2
            }
        );
        // Channels last (N, H, W, C) become planes; channels first stay as they are.
        let rgb = [0, 100, 200, 1, 101, 201, 2, 102, 202, 3, 103, 203];
        assert_eq!(
            images("|u1", "(1, 2, 2, 3)", &rgb).unwrap(),
            Inputs::Images {
                data: vec![0, 1, 2, 3, 100, 101, 102, 103, 200, 201, 202, 203],
                channels: 3,
                height: 2,
                width: 2
            }
        );
        assert_eq!(
            images("|u1", "(1, 3, 2, 2)", &gray).unwrap(),
            Inputs::Images {
                data: gray.clone(),
                channels: 3,
                height: 2,
                width: 2
            }
        );
        // Floats in [0, 1] (Olivetti's faces, x / 255) and whole numbers 0–255 of any
        // dtype are pixels; anything else is named.
        let floats =
            |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        assert_eq!(
            images("<f4", "(1, 2, 2)", &floats(&[0.0, 1.0, 0.5, 2.0 / 255.0])).unwrap(),
            Inputs::Images {
                data: vec![0, 255, 128, 2],
                channels: 1,
                height: 2,
                width: 2
            }
        );
        let wide: Vec<u8> = [0i16, 255, 7, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            images("<i2", "(1, 2, 2)", &wide).unwrap(),
            Inputs::Images {
                data: vec![0, 255, 7, 1],
                channels: 1,
                height: 2,
                width: 2
            }
        );
        expect_error(
            images("<f4", "(1, 2, 2)", &floats(&[0.0, 1.0, 2.5, 0.0])).map(|_| unreachable!()),
            &path,
            "value 2.5 at index 2 of an array of images of shape (1, 2, 2) (dtype \"<f4\"); expected every value in [0, 1] or in [-1, 1], or whole numbers 0–255",
        );
        expect_error(
            images("<c8", "(1, 2, 2)", &[0; 32]).map(|_| unreachable!()),
            &path,
            "dtype \"<c8\" for images of shape (1, 2, 2); expected uint8",
        );
        expect_error(
            images("|u1", "(1, 2, 2, 5)", &[0; 20]).map(|_| unreachable!()),
            &path,
            "shape (1, 2, 2, 5) for images; expected (N, H, W)",
        );
        // image_shape is for rows of features, not for arrays of images.
        std::fs::write(&path, npy("|u1", false, "(3, 2, 2)", &gray)).unwrap();
        expect_error(
            read_table(&TableConfig {
                image_shape: Some([2, 2]),
                ..TableConfig::at(&path)
            }),
            &path,
            "image_shape = [2, 2], but the array already holds images; remove it",
        );
    }

    #[test]
    fn integer_arrays_of_two_dimensions_are_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        // uint8 pixels flattened to rows, and signed integers.
        let features = |descr: &str, data: &[u8]| {
            read_npy(&path, &npy(descr, false, "(2, 2)", data)).map(|d| d.inputs)
        };
        assert_eq!(
            features("|u1", &[0, 7, 255, 3]).unwrap(),
            Inputs::Features {
                data: vec![0.0, 7.0, 255.0, 3.0],
                dim: 2
            }
        );
        let signed: Vec<u8> = [-2i16, 5, 0, 300]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            features("<i2", &signed).unwrap(),
            Inputs::Features {
                data: vec![-2.0, 5.0, 0.0, 300.0],
                dim: 2
            }
        );
    }

    #[test]
    fn non_finite_value_names_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let result = read_npy(
            &path,
            &npy(
                "<f4",
                false,
                "(3, 2)",
                &f32_bytes(&[0.0, 1.0, 2.0, 3.0, f32::INFINITY, 5.0]),
            ),
        );
        expect_error(result, &path, "array row 2 holds inf");
    }

    #[test]
    fn labels_are_refused_for_npy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        std::fs::write(&path, npy("<f4", false, "(1, 1)", &[0; 4])).unwrap();
        let result = read_table(&TableConfig {
            label_column: Some("y".to_string()),
            ..TableConfig::at(&path)
        });
        expect_error(result, &path, ".npy files hold no labels");
    }

    #[test]
    fn parser_reads_python_literals() {
        let entries = Parser::new("{\"a\": (1, 2L,), 'b': True}  \n")
            .dict()
            .unwrap();
        assert_eq!(
            entries,
            vec![
                (
                    "a".to_string(),
                    PyValue::Tuple(vec![PyValue::Int(1), PyValue::Int(2)])
                ),
                ("b".to_string(), PyValue::Bool(true)),
            ]
        );
        assert!(Parser::new("{'a': 1} extra").dict().is_none());
        assert!(Parser::new("{'a': 1").dict().is_none());
        assert!(Parser::new("{'a': 'unterminated}").dict().is_none());
    }
}
