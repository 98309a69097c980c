//! safetensors files: named tensors plus string metadata, readable by Python's
//! `safetensors` and `torch`. Reading is memory-mapped.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use memmap2::Mmap;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// A tensor to write: shape and little-endian data of one of the types we use.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    U8(Vec<u8>),
    I32(Vec<i32>),
    F32(Vec<f32>),
}

impl TensorData {
    fn dtype(&self) -> Dtype {
        match self {
            TensorData::U8(_) => Dtype::U8,
            TensorData::I32(_) => Dtype::I32,
            TensorData::F32(_) => Dtype::F32,
        }
    }

    fn len(&self) -> usize {
        match self {
            TensorData::U8(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::F32(v) => v.len(),
        }
    }

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::U8(v) => v.clone(),
            TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Writes `tensors` (name, shape, data) with `metadata` to `writer`.
pub fn write_tensors<W: Write>(
    mut writer: W,
    tensors: &[(&str, Vec<usize>, &TensorData)],
    metadata: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let mut bytes = Vec::with_capacity(tensors.len());
    for (name, shape, data) in tensors {
        let elements: usize = shape.iter().product();
        anyhow::ensure!(
            elements == data.len(),
            "tensor {name}: shape {shape:?} holds {elements} values, data has {}",
            data.len()
        );
        bytes.push(data.to_le_bytes());
    }
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, data), raw) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(data.dtype(), shape.clone(), raw)
            .with_context(|| format!("tensor {name}"))?;
        views.push((name.to_string(), view));
    }
    let metadata = (!metadata.is_empty()).then(|| metadata.clone());
    let serialized = safetensors::serialize(views, metadata).context("serialising safetensors")?;
    writer
        .write_all(&serialized)
        .context("writing safetensors")?;
    Ok(())
}

/// A memory-mapped safetensors file.
pub struct TensorFile {
    path: std::path::PathBuf,
    mmap: Mmap,
}

impl TensorFile {
    pub fn open(path: &Path) -> anyhow::Result<TensorFile> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;

        let mmap = map(&file).with_context(|| format!("{}: cannot map", path.display()))?;
        SafeTensors::deserialize(&mmap)
            .with_context(|| format!("{}: not a safetensors file", path.display()))?;
        Ok(TensorFile {
            path: path.to_path_buf(),
            mmap,
        })
    }

    pub fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.mmap).expect("validated in open")
    }

    pub fn metadata(&self) -> HashMap<String, String> {
        SafeTensors::read_metadata(&self.mmap)
            .ok()
            .and_then(|(_, m)| m.metadata().clone())
            .unwrap_or_default()
    }

    /// Shape and values of an f32 tensor.
    pub fn f32(&self, name: &str) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
        let view = self.view(name, Dtype::F32)?;
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok((view.shape().to_vec(), data))
    }

    /// Shape and raw little-endian bytes of a u8 or f32 tensor (`f32`: which), borrowed
    /// from the mapped file: rows can be read a block at a time.
    pub fn bytes(&self, name: &str, f32: bool) -> anyhow::Result<(Vec<usize>, &[u8])> {
        let view = self.view(name, if f32 { Dtype::F32 } else { Dtype::U8 })?;
        let shape = view.shape().to_vec();
        let (start, len) = {
            let data = view.data();
            (
                data.as_ptr() as usize - self.mmap.as_ptr() as usize,
                data.len(),
            )
        };
        Ok((shape, &self.mmap[start..start + len]))
    }

    /// Shape and values of a u8 tensor.
    pub fn u8(&self, name: &str) -> anyhow::Result<(Vec<usize>, Vec<u8>)> {
        let view = self.view(name, Dtype::U8)?;
        Ok((view.shape().to_vec(), view.data().to_vec()))
    }

    fn view(&self, name: &str, dtype: Dtype) -> anyhow::Result<TensorView<'_>> {
        let tensors = self.tensors();
        let view = tensors.tensor(name).map_err(|_| {
            anyhow::anyhow!(
                "{}: no tensor `{name}` (has: {})",
                self.path.display(),
                tensors.names().join(", ")
            )
        })?;
        anyhow::ensure!(
            view.dtype() == dtype,
            "{}: tensor `{name}` is {:?}, expected {dtype:?}",
            self.path.display(),
            view.dtype()
        );
        Ok(view)
    }
}

#[allow(unsafe_code)]
fn map(file: &std::fs::File) -> std::io::Result<Mmap> {
    // SAFETY: artifacts are only ever replaced by rename, never modified in place, so the
    // mapped file does not change under us while the stage holds it.
    unsafe { Mmap::map(file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_u8_and_f32_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.safetensors");
        let images = TensorData::U8((0..24).collect());
        let features = TensorData::F32(vec![0.5, -1.0, 2.25]);
        let metadata = HashMap::from([("class_names".to_string(), "[\"a\"]".to_string())]);
        write_tensors(
            std::fs::File::create(&path).unwrap(),
            &[
                ("images", vec![2, 1, 3, 4], &images),
                ("features", vec![3, 1], &features),
            ],
            &metadata,
        )
        .unwrap();
        let file = TensorFile::open(&path).unwrap();
        assert_eq!(
            file.u8("images").unwrap(),
            (vec![2, 1, 3, 4], (0..24).collect())
        );
        assert_eq!(
            file.f32("features").unwrap(),
            (vec![3, 1], vec![0.5, -1.0, 2.25])
        );
        assert_eq!(file.metadata(), metadata);
        let err = file.f32("images").unwrap_err().to_string();
        assert!(err.contains("tensor `images` is U8, expected F32"), "{err}");
        let err = file.u8("labels").unwrap_err().to_string();
        assert!(err.contains("no tensor `labels`"), "{err}");
    }
}
