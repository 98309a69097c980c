//! MATLAB `.mat` files of level 5 (MATLAB's `save -v7` and `-v6`, `scipy.io.savemat`),
//! compressed or not: the form the subspace-clustering literature hands its data sets
//! around in (Deng Cai's face sets: `fea`, one sample a row, and `gnd`, the labels).
//!
//! The samples are a 2-D numeric matrix (`tensor`, or the only one whose sides both exceed
//! 1), one sample a row; the labels a numeric vector of whole numbers (`label_column`).
//! When the labels' length matches the matrix's columns and not its rows (one sample a
//! column, as SSC's code keeps them), the matrix is read transposed. Version 7.3 files
//! (HDF5) are named as such.
//!
//! Format (MathWorks, "MAT-File Format"): a 128-byte header (text, then version and the
//! endian indicator `IM`), then data elements, each an 8-byte tag (type, byte count; or a
//! 4-byte small tag with the data in the next 4 bytes) and data padded to 8 bytes. A
//! variable is an `miMATRIX` element, or an `miCOMPRESSED` one holding a zlib stream of it;
//! its sub-elements are the array flags (class), the dimensions, the name and the real part,
//! column-major.

use std::io::Read;
use std::path::Path;

use super::{RawLabels, Table, check_finite};
use crate::sources::{file_error, read_whole_file};

const MI_INT8: u32 = 1;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// A variable of the file: its name, dimensions and, for a real numeric array, its values
/// column-major.
pub(super) struct Variable {
    pub name: String,
    pub dims: Vec<usize>,
    /// MATLAB's class name: `double`, `uint8`, `char`, `struct`, ….
    pub class: &'static str,
    values: Option<Vec<f64>>,
}

impl Variable {
    /// A matrix of samples: 2-D, both sides over 1.
    fn is_matrix(&self) -> bool {
        self.values.is_some() && self.dims.len() == 2 && self.dims.iter().all(|&d| d > 1)
    }

    /// Its length when it is a numeric vector (`N×1`, `1×N`).
    pub fn vector_len(&self) -> Option<usize> {
        let long = self.dims.iter().filter(|&&d| d != 1).count();
        (self.values.is_some() && self.dims.len() == 2 && long <= 1)
            .then(|| self.dims.iter().product())
    }

    /// `double 400×1024`.
    fn kind(&self) -> String {
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        format!("{} {}", self.class, dims.join("×"))
    }

    fn describe(&self) -> String {
        format!("{:?} {}", self.name, self.kind())
    }
}

/// The variables of a `.mat` file, in file order.
pub(super) fn variables(path: &Path) -> anyhow::Result<Vec<Variable>> {
    let bytes = read_whole_file(path)?;
    parse(&bytes).map_err(|message| file_error(path, message))
}

pub(super) fn read(
    path: &Path,
    tensor: Option<&str>,
    label: Option<&str>,
) -> anyhow::Result<Table> {
    let variables = variables(path)?;
    let describe = || {
        let listed: Vec<String> = variables.iter().map(Variable::describe).collect();
        if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join(", ")
        }
    };
    let named = |name: &str| {
        variables.iter().find(|v| v.name == name).ok_or_else(|| {
            file_error(
                path,
                format_args!("no variable named {name:?}; variables are {}", describe()),
            )
        })
    };
    let samples = match tensor {
        Some(name) => named(name)?,
        None => {
            let matrices: Vec<&Variable> = variables.iter().filter(|v| v.is_matrix()).collect();
            match matrices.as_slice() {
                [only] => *only,
                _ => {
                    return Err(file_error(
                        path,
                        format_args!(
                            "{} numeric matrices of samples; name one with tensor = NAME (variables are {})",
                            if matrices.is_empty() { "no" } else { "several" },
                            describe()
                        ),
                    ));
                }
            }
        }
    };
    let what = format!("variable {:?}", samples.name);
    let (Some(values), &[rows, columns]) = (&samples.values, samples.dims.as_slice()) else {
        return Err(file_error(
            path,
            format_args!(
                "{what} is {}; expected a 2-D numeric matrix, one sample a row",
                samples.kind()
            ),
        ));
    };
    if rows == 0 || columns == 0 {
        return Err(file_error(path, format_args!("{what} is empty")));
    }
    let labels = match label {
        None => None,
        Some(name) => {
            let variable = named(name)?;
            let what = format!("variable {name:?}");
            let (Some(values), Some(n)) = (&variable.values, variable.vector_len()) else {
                return Err(file_error(
                    path,
                    format_args!(
                        "{what} is {}; expected a numeric vector of labels",
                        variable.kind()
                    ),
                ));
            };
            if n != rows && n != columns {
                return Err(file_error(
                    path,
                    format_args!(
                        "{what} holds {n} labels; expected one a sample of {:?} ({rows}×{columns})",
                        samples.name
                    ),
                ));
            }
            let mut labels = Vec::with_capacity(n);
            for (row, &value) in values.iter().enumerate() {
                if value.fract() != 0.0 || value.abs() > 9.0e15 {
                    return Err(file_error(
                        path,
                        format_args!("{what}: label {row} is {value}; expected whole numbers"),
                    ));
                }
                labels.push(Some(value as i64));
            }
            Some(labels)
        }
    };
    // One sample a row (column-major: sample i's features are values[j * rows + i]), or one
    // a column when only the columns match the labels.
    let by_columns = labels
        .as_ref()
        .is_some_and(|l| l.len() == columns && columns != rows);
    let (n_rows, dim) = if by_columns {
        (columns, rows)
    } else {
        (rows, columns)
    };
    let features: Vec<f32> = if by_columns {
        values.iter().map(|&v| v as f32).collect()
    } else {
        (0..rows)
            .flat_map(|i| (0..columns).map(move |j| values[j * rows + i] as f32))
            .collect()
    };
    check_finite(path, &what, &features, dim, 0)?;
    Ok(Table {
        features,
        dim,
        n_rows,
        labels: labels.map_or(RawLabels::None, RawLabels::Integers),
        ids: None,
        images: None,
    })
}

/// The variables of a whole file.
fn parse(bytes: &[u8]) -> Result<Vec<Variable>, String> {
    if bytes.len() < 128 || !bytes.starts_with(b"MATLAB") {
        return Err(
            "not a MATLAB .mat file: expected the text \"MATLAB 5.0 MAT-file\" at its start".into(),
        );
    }
    let header = String::from_utf8_lossy(&bytes[..116]);
    if header.starts_with("MATLAB 7.3") {
        return Err("a MATLAB 7.3 (HDF5) file, which this reader does not read; save it with save(path, '-v7') in MATLAB, or scipy.io.savemat".into());
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => return Err("a big-endian .mat file, which this reader does not read".into()),
        other => {
            return Err(format!(
                "not a level-5 .mat file: endian indicator {:?}, expected \"IM\"",
                String::from_utf8_lossy(other)
            ));
        }
    }
    let mut variables = Vec::new();
    let mut position = 128;
    while position < bytes.len() {
        let element = Element::at(bytes, position)?;
        match element.kind {
            MI_MATRIX => variables.push(matrix(element.data)?),
            MI_COMPRESSED => {
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(element.data)
                    .read_to_end(&mut inflated)
                    .map_err(|e| format!("a compressed variable does not inflate: {e}"))?;
                let inner = Element::at(&inflated, 0)?;
                if inner.kind == MI_MATRIX {
                    variables.push(matrix(inner.data)?);
                }
            }
            // Other top-level elements (none in files MATLAB or SciPy write) hold no variable.
            _ => {}
        }
        position = element.next;
    }
    Ok(variables)
}

/// One data element: its type, its data and where the next one starts.
struct Element<'a> {
    kind: u32,
    data: &'a [u8],
    next: usize,
}

impl<'a> Element<'a> {
    fn at(bytes: &'a [u8], position: usize) -> Result<Element<'a>, String> {
        let word = |at: usize| -> Result<u32, String> {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| {
                    format!("truncated: a data element at byte {position} ends past the file")
                })
        };
        let first = word(position)?;
        if first >> 16 != 0 {
            // Small data element: byte count in the upper half, data in the next 4 bytes.
            let size = (first >> 16) as usize;
            if size > 4 {
                return Err(format!("malformed small data element at byte {position}"));
            }
            word(position + 4)?;
            return Ok(Element {
                kind: first & 0xFFFF,
                data: &bytes[position + 4..position + 4 + size],
                next: position + 8,
            });
        }
        let size = word(position + 4)? as usize;
        let start = position + 8;
        let data = bytes.get(start..start + size).ok_or_else(|| {
            format!(
                "truncated: a data element at byte {position} says {size} bytes, the file holds {}",
                bytes.len().saturating_sub(start)
            )
        })?;
        // Compressed elements are not padded; the others are, to 8 bytes.
        let next = if first == MI_COMPRESSED {
            start + size
        } else {
            start + size.div_ceil(8) * 8
        };
        Ok(Element {
            kind: first,
            data,
            next: next.min(bytes.len()),
        })
    }
}

/// A variable from the data of its `miMATRIX` element.
fn matrix(body: &[u8]) -> Result<Variable, String> {
    let flags = Element::at(body, 0)?;
    if flags.kind != MI_UINT32 || flags.data.len() < 4 {
        return Err("malformed variable: expected its array flags first".into());
    }
    let flag_word =
        u32::from_le_bytes([flags.data[0], flags.data[1], flags.data[2], flags.data[3]]);
    let class_id = flag_word & 0xFF;
    let complex = flag_word & 0x800 != 0;
    let dims_element = Element::at(body, flags.next)?;
    if dims_element.kind != MI_INT32 {
        return Err("malformed variable: expected its dimensions second".into());
    }
    let dims: Vec<usize> = dims_element
        .data
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]).max(0) as usize)
        .collect();
    let name_element = Element::at(body, dims_element.next)?;
    if name_element.kind != MI_INT8 {
        return Err("malformed variable: expected its name third".into());
    }
    let name = String::from_utf8_lossy(name_element.data).into_owned();
    let class = class_name(class_id);
    let numeric = (6..=15).contains(&class_id) && !complex;
    let expected = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("variable {name:?}: its dimensions overflow"))?;
    let values = if numeric && expected == 0 {
        Some(Vec::new())
    } else if numeric {
        let real = Element::at(body, name_element.next)?;
        let values = numbers(real.kind, real.data)
            .ok_or_else(|| format!("variable {name:?}: data of unknown type {}", real.kind))?;
        if values.len() != expected {
            return Err(format!(
                "variable {name:?}: dimensions {} but {} values",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("×"),
                values.len()
            ));
        }
        Some(values)
    } else {
        None
    };
    Ok(Variable {
        name,
        dims,
        class: if complex { "complex" } else { class },
        values,
    })
}

fn class_name(class_id: u32) -> &'static str {
    match class_id {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

/// A numeric element's values (MATLAB stores a class's values in the smallest type that
/// holds them, so a `double` matrix of bytes arrives as `miUINT8`).
fn numbers(kind: u32, data: &[u8]) -> Option<Vec<f64>> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        data.chunks_exact(N)
            .map(|b| f(b.try_into().expect("chunks of N bytes")))
            .collect()
    }
    Some(match kind {
        1 => each::<1>(data, |b| f64::from(b[0] as i8)),
        2 => each::<1>(data, |b| f64::from(b[0])),
        3 => each::<2>(data, |b| f64::from(i16::from_le_bytes(b))),
        4 => each::<2>(data, |b| f64::from(u16::from_le_bytes(b))),
        5 => each::<4>(data, |b| f64::from(i32::from_le_bytes(b))),
        6 => each::<4>(data, |b| f64::from(u32::from_le_bytes(b))),
        7 => each::<4>(data, |b| f64::from(f32::from_le_bytes(b))),
        9 => each::<8>(data, f64::from_le_bytes),
        12 => each::<8>(data, |b| i64::from_le_bytes(b) as f64),
        13 => each::<8>(data, |b| u64::from_le_bytes(b) as f64),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Inputs;

    /// Written by SciPy 1.17.1's `scipy.io.savemat`: `fea` (4×3 double), `gnd` (4×1
    /// uint8: 1, 2, 2, 1), `note` (char) and `meta` (struct); plain and compressed.
    const CAI: &[u8] = include_bytes!("testdata/cai-v5.mat");
    const CAI_COMPRESSED: &[u8] = include_bytes!("testdata/cai-v5-compressed.mat");
    /// `X` (3×4 single: one sample a column) and `labels` (1×4 int32), compressed.
    const COLUMNS: &[u8] = include_bytes!("testdata/columns.mat");

    const FEATURES: [f32; 12] = [
        0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.25, 9.0, 10.0, 11.0,
    ];

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn read_mat(
        path: &Path,
        tensor: Option<&str>,
        label: Option<&str>,
    ) -> anyhow::Result<crate::dataset::Dataset> {
        super::super::read_arrays(path, tensor, label)
    }

    #[test]
    fn scipy_files_read_plain_and_compressed() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("a.mat", CAI), ("b.mat", CAI_COMPRESSED)] {
            let path = write(dir.path(), name, bytes);
            let shapes: Vec<(String, Vec<usize>)> = variables(&path)
                .unwrap()
                .into_iter()
                .map(|v| (v.name, v.dims))
                .collect();
            assert_eq!(
                shapes,
                [
                    ("fea".to_string(), vec![4, 3]),
                    ("gnd".to_string(), vec![4, 1]),
                    ("note".to_string(), vec![1, 12]),
                    ("meta".to_string(), vec![1, 1]),
                ]
            );
            let dataset = read_mat(&path, None, Some("gnd")).unwrap();
            assert_eq!(
                dataset.inputs,
                Inputs::Features {
                    data: FEATURES.to_vec(),
                    dim: 3
                }
            );
            let labels: Vec<Option<i32>> = dataset.samples.iter().map(|s| s.label).collect();
            assert_eq!(labels, [Some(0), Some(1), Some(1), Some(0)]);
            assert_eq!(dataset.class_names, ["1", "2"]);
        }
    }

    #[test]
    fn samples_as_columns_follow_the_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.mat", COLUMNS);
        let dataset = read_mat(&path, None, Some("labels")).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: FEATURES.to_vec(),
                dim: 3
            }
        );
        assert_eq!(dataset.len(), 4);
        // Without labels a matrix is one sample a row.
        let dataset = read_mat(&path, None, None).unwrap();
        assert_eq!(dataset.len(), 3);
    }

    #[test]
    fn errors_name_the_file_and_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.mat", CAI);
        let error = |tensor: Option<&str>, label: Option<&str>| {
            read_mat(&path, tensor, label).unwrap_err().to_string()
        };
        let p = path.display();
        assert_eq!(
            error(Some("x"), None),
            format!(
                "{p}: no variable named \"x\"; variables are \"fea\" double 4×3, \"gnd\" uint8 4×1, \"note\" char 1×12, \"meta\" struct 1×1"
            )
        );
        assert_eq!(
            error(Some("meta"), None),
            format!(
                "{p}: variable \"meta\" is struct 1×1; expected a 2-D numeric matrix, one sample a row"
            )
        );
        assert_eq!(
            error(None, Some("note")),
            format!("{p}: variable \"note\" is char 1×12; expected a numeric vector of labels")
        );
        assert_eq!(
            error(Some("gnd"), Some("fea")),
            format!("{p}: variable \"fea\" is double 4×3; expected a numeric vector of labels")
        );
        // Broken files.
        let short = write(dir.path(), "short.mat", &CAI[..200]);
        assert!(
            read_mat(&short, None, None)
                .unwrap_err()
                .to_string()
                .contains("truncated"),
        );
        let mut hdf5 = CAI.to_vec();
        hdf5[..10].copy_from_slice(b"MATLAB 7.3");
        let hdf5 = write(dir.path(), "v73.mat", &hdf5);
        assert!(
            read_mat(&hdf5, None, None)
                .unwrap_err()
                .to_string()
                .contains("a MATLAB 7.3 (HDF5) file"),
        );
        let text = write(dir.path(), "text.mat", b"% not a MAT-file\n1 2 3\n");
        assert_eq!(
            read_mat(&text, None, None).unwrap_err().to_string(),
            format!(
                "{}: not a MATLAB .mat file: expected the text \"MATLAB 5.0 MAT-file\" at its start",
                text.display()
            )
        );
    }
}
