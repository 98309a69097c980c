//! The samples to assign: prepare's two files in a folder (its standalone mode's output,
//! or a pipeline's own prepare folder), read a block of rows at a time from the mapped
//! tensor file, and checked against what the trained encoder reads.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ebsc_io::TensorFile;
use ebsc_io::artifacts::prepare::{FEATURES_TENSOR, IMAGES_TENSOR, INPUTS, SAMPLES};
use ebsc_nn::encoders::InputSpec;
use tch::{Device, Kind, Tensor};

/// The input does not have the shape the pipeline was trained on.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: holds {} {}, but the pipeline was trained on {} {}; prepare the data to that shape",
    file.display(), kind, shape(found), trained_kind, shape(trained)
)]
pub struct InputMismatch {
    pub file: PathBuf,
    pub kind: &'static str,
    /// One sample's shape: `[C, H, W]` or `[D]`.
    pub found: Vec<usize>,
    pub trained_kind: &'static str,
    pub trained: Vec<usize>,
}

fn shape(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[N, {}]", inner.join(", "))
}

/// `inputs.safetensors` of the samples to assign, mapped.
pub struct NewInputs {
    file: TensorFile,
    path: PathBuf,
    tensor: &'static str,
    images: bool,
    /// `[N, …]`.
    shape: Vec<usize>,
}

impl NewInputs {
    /// Opens `<dir>/inputs.safetensors` and checks one sample's shape against `spec`.
    pub fn open(dir: &Path, spec: &InputSpec) -> anyhow::Result<NewInputs> {
        let path = INPUTS.path(dir);
        let file = TensorFile::open(&path)?;
        let names: Vec<String> = file
            .tensors()
            .names()
            .into_iter()
            .map(String::from)
            .collect();
        let images = names.iter().any(|n| n == IMAGES_TENSOR);
        let tensor = if images {
            IMAGES_TENSOR
        } else if names.iter().any(|n| n == FEATURES_TENSOR) {
            FEATURES_TENSOR
        } else {
            anyhow::bail!(
                "{}: holds neither `{IMAGES_TENSOR}` nor `{FEATURES_TENSOR}` (has: {})",
                path.display(),
                names.join(", ")
            );
        };
        let (shape, _) = file.bytes(tensor, !images)?;
        let trained: Vec<usize> = spec.sample_shape().iter().map(|&d| d as usize).collect();
        let trained_kind = match spec {
            InputSpec::Images { .. } => IMAGES_TENSOR,
            InputSpec::Features { .. } => FEATURES_TENSOR,
        };
        if shape.len() < 2 || shape[1..] != trained[..] || tensor != trained_kind {
            return Err(InputMismatch {
                file: path,
                kind: tensor,
                found: shape.get(1..).unwrap_or_default().to_vec(),
                trained_kind,
                trained,
            }
            .into());
        }
        Ok(NewInputs {
            file,
            path,
            tensor,
            images,
            shape,
        })
    }

    pub fn len(&self) -> usize {
        self.shape[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows `rows` as the model reads them (f32; images scaled to [0, 1]) on `device`.
    pub fn batch(&self, rows: Range<usize>, device: Device) -> anyhow::Result<Tensor> {
        let (_, bytes) = self.file.bytes(self.tensor, !self.images)?;
        let row_len: usize = self.shape[1..].iter().product();
        let width = if self.images { 1 } else { 4 };
        let slice = &bytes[rows.start * row_len * width..rows.end * row_len * width];
        let mut dims: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        dims[0] = rows.len() as i64;
        let kind = if self.images {
            Kind::Uint8
        } else {
            Kind::Float
        };
        let x = Tensor::from_data_size(slice, &dims, kind).to_device(device);
        Ok(if self.images {
            x.to_kind(Kind::Float) / 255.0
        } else {
            x
        })
    }
}

/// The labels of `rows` (`None` when no sample of the file has one, so that every shard's
/// part has the same columns) and their sources, from `<dir>/samples.parquet`, which must
/// have one row per input sample.
pub type SampleColumns = (Option<Vec<Option<i32>>>, Vec<String>);

pub fn read_sample_columns(
    dir: &Path,
    n: usize,
    rows: Range<usize>,
) -> anyhow::Result<SampleColumns> {
    let path = SAMPLES.path(dir);
    let read = ebsc_io::samples::read_labels_and_sources(&path, rows)?;
    anyhow::ensure!(
        read.n_rows == n,
        "{}: {} rows, but {} holds {n} samples",
        path.display(),
        read.n_rows,
        INPUTS.path(dir).display()
    );
    Ok((read.any_label.then_some(read.labels), read.sources))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ebsc_io::{TensorData, write_tensors};

    use super::*;

    fn write(dir: &Path, name: &str, shape: Vec<usize>, data: TensorData) {
        let file = std::fs::File::create(INPUTS.path(dir)).unwrap();
        write_tensors(file, &[(name, shape, &data)], &HashMap::new()).unwrap();
    }

    #[test]
    fn images_come_in_blocks_and_a_wrong_shape_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<u8> = (0..3 * 2 * 2).map(|v| v as u8 * 20).collect();
        write(
            dir.path(),
            IMAGES_TENSOR,
            vec![3, 1, 2, 2],
            TensorData::U8(values),
        );
        let spec = InputSpec::Images {
            channels: 1,
            height: 2,
            width: 2,
            mean: vec![0.0],
            std: vec![1.0],
        };
        let inputs = NewInputs::open(dir.path(), &spec).unwrap();
        assert_eq!(inputs.len(), 3);
        let x = inputs.batch(1..3, Device::Cpu).unwrap();
        assert_eq!(x.size(), [2, 1, 2, 2]);
        let first = x.flatten(0, -1).double_value(&[0]);
        assert!((first - 80.0 / 255.0).abs() < 1e-6, "{first}");

        let rgb = InputSpec::Images {
            channels: 3,
            height: 28,
            width: 28,
            mean: vec![0.0; 3],
            std: vec![1.0; 3],
        };
        let err = NewInputs::open(dir.path(), &rgb).err().unwrap();
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.contains("inputs.safetensors: holds images [N, 1, 2, 2], but the pipeline was trained on images [N, 3, 28, 28]"),
            "{text}"
        );
        assert!(err.downcast_ref::<InputMismatch>().is_some());
        let features = InputSpec::Features { dim: 4 };
        let text = NewInputs::open(dir.path(), &features)
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("trained on features [N, 4]"), "{text}");
    }
}
