//! Features from a 2-D float tensor of a `.safetensors` file, labels from a 1-D integer one.

use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::{RawLabels, Table, check_finite};
use crate::sources::{file_error, guard_panic, read_whole_file};

pub(super) fn read(
    path: &Path,
    tensor: Option<&str>,
    label_tensor: Option<&str>,
) -> anyhow::Result<Table> {
    let bytes = read_whole_file(path)?;
    guard_panic(path, "the safetensors reader", || {
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| file_error(path, format_args!("not a readable safetensors file: {e}")))?;
        let (name, view) = feature_tensor(path, &file, tensor)?;
        let (n_rows, dim) = (view.shape()[0], view.shape()[1]);
        if n_rows == 0 || dim == 0 {
            return Err(file_error(
                path,
                format_args!(
                    "tensor {name:?} has shape [{n_rows}, {dim}]; expected rows and columns"
                ),
            ));
        }
        let features = floats(path, &name, &view, n_rows * dim)?;
        check_finite(path, &format!("tensor {name:?}"), &features, dim, 0)?;
        let labels = match label_tensor {
            None => RawLabels::None,
            Some(label_name) => RawLabels::Integers(labels(path, &file, label_name, n_rows)?),
        };
        Ok(Table {
            features,
            dim,
            n_rows,
            labels,
            ids: None,
            images: None,
        })
    })
}

fn describe_tensors(file: &SafeTensors<'_>) -> String {
    let mut tensors: Vec<String> = file
        .iter()
        .map(|(name, view)| format!("{name:?} {:?} {:?}", view.dtype(), view.shape()))
        .collect();
    tensors.sort();
    if tensors.is_empty() {
        "none".to_string()
    } else {
        tensors.join(", ")
    }
}

/// The named tensor, or else the only 2-D one; checked to be a 2-D float tensor.
fn feature_tensor<'data>(
    path: &Path,
    file: &SafeTensors<'data>,
    name: Option<&str>,
) -> anyhow::Result<(String, TensorView<'data>)> {
    let (name, view) = match name {
        Some(name) => {
            let view = file.tensor(name).map_err(|_| {
                file_error(
                    path,
                    format_args!(
                        "no tensor named {name:?}; tensors are {}",
                        describe_tensors(file)
                    ),
                )
            })?;
            (name.to_string(), view)
        }
        None => {
            let mut matrices: Vec<(String, TensorView<'data>)> = file
                .tensors()
                .into_iter()
                .filter(|(_, view)| view.shape().len() == 2)
                .collect();
            matrices.sort_by(|a, b| a.0.cmp(&b.0));
            match matrices.len() {
                1 => matrices.remove(0),
                0 => {
                    return Err(file_error(
                        path,
                        format_args!(
                            "no 2-D tensor to use as features; tensors are {}",
                            describe_tensors(file)
                        ),
                    ));
                }
                _ => {
                    let names: Vec<String> =
                        matrices.iter().map(|(n, _)| format!("{n:?}")).collect();
                    return Err(file_error(
                        path,
                        format_args!(
                            "several 2-D tensors ({}); set tensor = \"name\" to choose one",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    if view.shape().len() != 2 {
        return Err(file_error(
            path,
            format_args!(
                "tensor {name:?} has shape {:?}; expected 2-D [N, D]",
                view.shape()
            ),
        ));
    }
    if !matches!(
        view.dtype(),
        Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16
    ) {
        return Err(file_error(
            path,
            format_args!(
                "tensor {name:?} has dtype {:?}; expected F32, F64, F16 or BF16",
                view.dtype()
            ),
        ));
    }
    Ok((name, view))
}

/// The tensor's little-endian values as f32; `count` is its number of elements.
fn floats(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
    count: usize,
) -> anyhow::Result<Vec<f32>> {
    let data = view.data();
    let width = match view.dtype() {
        Dtype::F64 => 8,
        Dtype::F32 => 4,
        _ => 2,
    };
    if count.checked_mul(width) != Some(data.len()) {
        return Err(file_error(
            path,
            format_args!(
                "tensor {name:?} holds {} bytes; its shape needs {count} values of {width} bytes",
                data.len()
            ),
        ));
    }
    Ok(match view.dtype() {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        _ => data
            .chunks_exact(2)
            .map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
    })
}

/// IEEE 754 half precision to single: exact for every value, NaN and infinity included.
fn f16_to_f32(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Zero and subnormals: mantissa · 2^-24, exact in f32.
        0 => mantissa as f32 * f32::from_bits(0x3380_0000),
        // Infinity and NaN keep their mantissa bits.
        0x1f => f32::from_bits(0x7f80_0000 | (mantissa << 13)),
        // Rebias the exponent from 15 to 127.
        _ => f32::from_bits(((exponent + 112) << 23) | (mantissa << 13)),
    };
    if negative { -magnitude } else { magnitude }
}

/// bfloat16 is the top half of an f32.
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// The named 1-D integer tensor of length `n_rows`, as i64.
fn labels(
    path: &Path,
    file: &SafeTensors<'_>,
    name: &str,
    n_rows: usize,
) -> anyhow::Result<Vec<Option<i64>>> {
    let view = file.tensor(name).map_err(|_| {
        file_error(
            path,
            format_args!(
                "label tensor {name:?} not found; tensors are {}",
                describe_tensors(file)
            ),
        )
    })?;
    if view.shape() != [n_rows] {
        return Err(file_error(
            path,
            format_args!(
                "label tensor {name:?} has shape {:?}; expected [{n_rows}], one label per feature row",
                view.shape()
            ),
        ));
    }
    let data = view.data();
    let width = match view.dtype() {
        Dtype::I8 | Dtype::U8 => 1,
        Dtype::I16 | Dtype::U16 => 2,
        Dtype::I32 | Dtype::U32 => 4,
        Dtype::I64 | Dtype::U64 => 8,
        other => {
            return Err(file_error(
                path,
                format_args!(
                    "label tensor {name:?} has dtype {other:?}; expected an integer dtype"
                ),
            ));
        }
    };
    if data.len() != n_rows * width {
        return Err(file_error(
            path,
            format_args!(
                "label tensor {name:?} holds {} bytes; expected {}",
                data.len(),
                n_rows * width
            ),
        ));
    }
    let signed = matches!(
        view.dtype(),
        Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64
    );
    data.chunks_exact(width)
        .enumerate()
        .map(|(row, chunk)| {
            let mut le = [0u8; 8];
            le[..width].copy_from_slice(chunk);
            if signed && chunk[width - 1] & 0x80 != 0 {
                le[width..].fill(0xff);
            }
            let value = u64::from_le_bytes(le);
            if signed {
                Ok(Some(value as i64))
            } else {
                i64::try_from(value).map(Some).map_err(|_| {
                    file_error(
                        path,
                        format_args!(
                            "label tensor {name:?} row {row} holds {value}; expected at most {}",
                            i64::MAX
                        ),
                    )
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use safetensors::tensor::{TensorView, serialize};

    use super::super::read_arrays;
    use super::*;
    use crate::dataset::{Dataset, Inputs};

    fn write(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
        let views: HashMap<String, TensorView<'_>> = tensors
            .iter()
            .map(|(name, dtype, shape, data)| {
                (
                    name.to_string(),
                    TensorView::new(*dtype, shape.clone(), data).unwrap(),
                )
            })
            .collect();
        std::fs::write(path, serialize(&views, None).unwrap()).unwrap();
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn expect_error(result: anyhow::Result<Dataset>, path: &Path, needle: &str) {
        let error = result.unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(error.contains(needle), "{error} should contain {needle}");
    }

    #[test]
    fn reads_the_only_matrix_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.safetensors");
        let labels: Vec<u8> = [5i64, -1, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        write(
            &path,
            &[
                (
                    "x",
                    Dtype::F32,
                    vec![3, 2],
                    f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
                ),
                ("y", Dtype::I64, vec![3], labels),
            ],
        );
        let dataset = read_arrays(&path, None, Some("y")).unwrap();
        assert_eq!(
            dataset.inputs,
            Inputs::Features {
                data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                dim: 2
            }
        );
        assert_eq!(dataset.class_names, vec!["-1", "5"]);
        let labels: Vec<_> = dataset.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, vec![Some(1), Some(0), Some(1)]);
        assert_eq!(dataset.samples[2].source, format!("{}#2", path.display()));
    }

    #[test]
    fn converts_f64_f16_and_bf16() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.safetensors");
        let f64_data: Vec<u8> = [0.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // f16: 1.0 = 0x3C00, -2.0 = 0xC000; bf16: 1.0 = 0x3F80, -2.0 = 0xC000.
        let f16_data: Vec<u8> = [0x3C00u16, 0xC000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bf16_data: Vec<u8> = [0x3F80u16, 0xC000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        write(
            &path,
            &[
                ("a", Dtype::F64, vec![1, 2], f64_data),
                ("b", Dtype::F16, vec![2, 1], f16_data),
                ("c", Dtype::BF16, vec![1, 2], bf16_data),
            ],
        );
        let values = |tensor| match read_arrays(&path, Some(tensor), None).unwrap().inputs {
            Inputs::Features { data, .. } => data,
            Inputs::Images { .. } => panic!("expected features"),
        };
        assert_eq!(values("a"), vec![0.5, -2.0]);
        assert_eq!(values("b"), vec![1.0, -2.0]);
        assert_eq!(values("c"), vec![1.0, -2.0]);
        expect_error(
            read_arrays(&path, None, None),
            &path,
            "several 2-D tensors (\"a\", \"b\", \"c\")",
        );
    }

    #[test]
    fn f16_special_values() {
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000), -0.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0xFC00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
    }

    #[test]
    fn bad_tensors_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.safetensors");
        write(
            &path,
            &[
                ("ints", Dtype::I32, vec![1, 2], vec![0; 8]),
                ("vec", Dtype::F32, vec![2], f32_bytes(&[1.0, 2.0])),
                ("nan", Dtype::F32, vec![2, 1], f32_bytes(&[1.0, f32::NAN])),
                ("ok", Dtype::F32, vec![2, 1], f32_bytes(&[1.0, 2.0])),
            ],
        );
        expect_error(
            read_arrays(&path, Some("ints"), None),
            &path,
            "dtype I32; expected F32",
        );
        expect_error(
            read_arrays(&path, Some("vec"), None),
            &path,
            "shape [2]; expected 2-D",
        );
        expect_error(
            read_arrays(&path, Some("zzz"), None),
            &path,
            "no tensor named \"zzz\"",
        );
        expect_error(
            read_arrays(&path, Some("nan"), None),
            &path,
            "tensor \"nan\" row 1 holds NaN",
        );
        expect_error(
            read_arrays(&path, Some("ok"), Some("vec")),
            &path,
            "label tensor \"vec\" has dtype F32",
        );
        expect_error(
            read_arrays(&path, Some("ok"), Some("ints")),
            &path,
            "label tensor \"ints\" has shape [1, 2]",
        );
        expect_error(
            read_arrays(&path, Some("ok"), Some("zzz")),
            &path,
            "label tensor \"zzz\" not found",
        );
    }

    #[test]
    fn corrupt_or_truncated_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.safetensors");
        write(
            &path,
            &[("x", Dtype::F32, vec![2, 2], f32_bytes(&[1.0; 4]))],
        );
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        expect_error(
            read_arrays(&path, None, None),
            &path,
            "not a readable safetensors file",
        );
        std::fs::write(&path, [0xffu8; 16]).unwrap();
        expect_error(
            read_arrays(&path, None, None),
            &path,
            "not a readable safetensors file",
        );
    }
}
