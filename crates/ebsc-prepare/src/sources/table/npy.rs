//! NumPy `.npy` files holding a 2-D little-endian `f4` or `f8` array in C order.
//!
//! Format (numpy.lib.format): magic `\x93NUMPY`, version bytes, a little-endian header length
//! (u16 for version 1, u32 for 2 and 3), then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, then the raw data.

use std::path::Path;

use super::{RawLabels, Table, check_finite};
use crate::sources::{file_error, read_whole_file};

const MAGIC: &[u8] = b"\x93NUMPY";

pub(super) fn read(path: &Path) -> anyhow::Result<Table> {
    let bytes = read_whole_file(path)?;
    let (header, data_start) = split_header(path, &bytes)?;
    let header = parse_header(path, header)?;
    let [n_rows, dim] = header.shape;
    let expected = n_rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(header.item_size))
        .ok_or_else(|| file_error(path, format_args!("shape ({n_rows}, {dim}) overflows")))?;
    let data = &bytes[data_start..];
    if data.len() != expected {
        let problem = if data.len() < expected {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(file_error(
            path,
            format_args!(
                "{problem}: header says shape ({n_rows}, {dim}) of {} ({expected} bytes) but the data holds {}",
                header.descr,
                data.len()
            ),
        ));
    }
    if n_rows == 0 || dim == 0 {
        return Err(file_error(
            path,
            format_args!("shape ({n_rows}, {dim}) is empty; expected rows and columns"),
        ));
    }
    let features: Vec<f32> = if header.item_size == 8 {
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect()
    } else {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    check_finite(path, "array", &features, dim, 0)?;
    Ok(Table {
        features,
        dim,
        n_rows,
        labels: RawLabels::None,
        ids: None,
    })
}

/// The header text and where the data starts.
fn split_header<'a>(path: &Path, bytes: &'a [u8]) -> anyhow::Result<(&'a str, usize)> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(file_error(
            path,
            "not a .npy file: expected the magic \\x93NUMPY",
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        2 | 3 => return Err(file_error(path, "truncated: the .npy header is incomplete")),
        _ => {
            return Err(file_error(
                path,
                format_args!("unsupported .npy version {major}.{minor}; expected 1.0, 2.0 or 3.0"),
            ));
        }
    };
    let data_start = header_start + header_len;
    if data_start > bytes.len() {
        return Err(file_error(
            path,
            format_args!(
                "truncated: the .npy header says it is {header_len} bytes but the file holds {}",
                bytes.len() - header_start
            ),
        ));
    }
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| file_error(path, "malformed .npy header: not text"))?;
    Ok((header, data_start))
}

/// What the header dict says, checked for what this reader supports.
struct NpyHeader {
    descr: String,
    item_size: usize,
    shape: [usize; 2],
}

fn parse_header(path: &Path, text: &str) -> anyhow::Result<NpyHeader> {
    let malformed = || {
        let shown: String = text.trim().chars().take(120).collect();
        file_error(path, format_args!("malformed .npy header {shown:?}"))
    };
    let entries = Parser::new(text).dict().ok_or_else(malformed)?;
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let Some(PyValue::Str(descr)) = get("descr") else {
        return Err(malformed());
    };
    let item_size = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(file_error(
                path,
                format_args!(
                    "dtype {other:?} is not supported; expected '<f4' or '<f8' (little-endian float)"
                ),
            ));
        }
    };
    match get("fortran_order") {
        Some(PyValue::Bool(false)) => {}
        Some(PyValue::Bool(true)) => {
            return Err(file_error(
                path,
                "array is in Fortran order; expected C order (save np.ascontiguousarray(x))",
            ));
        }
        _ => return Err(malformed()),
    }
    let Some(PyValue::Tuple(shape)) = get("shape") else {
        return Err(malformed());
    };
    let shape = match shape.as_slice() {
        [PyValue::Int(rows), PyValue::Int(cols)] => [*rows, *cols],
        _ => {
            return Err(file_error(
                path,
                format_args!(
                    "array has {} dimensions; expected 2 (rows, features)",
                    shape.len()
                ),
            ));
        }
    };
    Ok(NpyHeader {
        descr: descr.clone(),
        item_size,
        shape,
    })
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
    use super::super::{TableConfig, read as read_table};
    use super::*;
    use crate::dataset::{Dataset, Inputs};

    /// A version-1 `.npy` file as numpy writes it: header padded with spaces to a multiple of 64.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let fortran = if fortran { "True" } else { "False" };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn read_npy(path: &Path, bytes: &[u8]) -> anyhow::Result<Dataset> {
        std::fs::write(path, bytes).unwrap();
        read_table(&TableConfig {
            path: path.to_path_buf(),
            label_column: None,
            id_column: None,
            tensor: None,
            header: None,
        })
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
            read_npy(&path, &npy("<i8", false, "(1, 1)", &[0; 8])),
            &path,
            "dtype \"<i8\"",
        );
        expect_error(
            read_npy(&path, &npy("<f4", true, "(1, 1)", &[0; 4])),
            &path,
            "Fortran order",
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
            path: path.clone(),
            label_column: Some("y".to_string()),
            id_column: None,
            tensor: None,
            header: None,
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
