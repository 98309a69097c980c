//! The prepare stage's `inputs.safetensors` on the device, served in batches.

use std::path::Path;

use ebsc_io::TensorFile;
use ebsc_io::artifacts::prepare::{FEATURES_TENSOR, IMAGES_TENSOR};
use tch::{Device, Kind, Tensor};

use crate::encoders::InputSpec;

/// All inputs on one device: `images` u8 `[N,C,H,W]` (batches come out as f32 in [0, 1])
/// or `features` f32 `[N,D]`.
pub struct Inputs {
    data: Tensor,
    images: bool,
}

impl Inputs {
    /// Reads `inputs.safetensors` (whichever of `images` / `features` it holds).
    pub fn load(path: &Path, device: Device) -> anyhow::Result<Inputs> {
        let file = TensorFile::open(path)?;
        let names = file
            .tensors()
            .names()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        let (data, images) = if names.iter().any(|n| n == IMAGES_TENSOR) {
            let (shape, values) = file.u8(IMAGES_TENSOR)?;
            anyhow::ensure!(
                shape.len() == 4,
                "{}: `{IMAGES_TENSOR}` has shape {shape:?}, expected [N, C, H, W]",
                path.display()
            );
            (
                Tensor::from_slice(&values).view(to_i64(&shape).as_slice()),
                true,
            )
        } else if names.iter().any(|n| n == FEATURES_TENSOR) {
            let (shape, values) = file.f32(FEATURES_TENSOR)?;
            anyhow::ensure!(
                shape.len() == 2,
                "{}: `{FEATURES_TENSOR}` has shape {shape:?}, expected [N, D]",
                path.display()
            );
            (
                Tensor::from_slice(&values).view(to_i64(&shape).as_slice()),
                false,
            )
        } else {
            anyhow::bail!(
                "{}: holds neither `{IMAGES_TENSOR}` nor `{FEATURES_TENSOR}` (has: {})",
                path.display(),
                names.join(", ")
            );
        };
        anyhow::ensure!(data.size()[0] > 0, "{}: holds no samples", path.display());
        Ok(Inputs::from_tensor(data.to_device(device), images))
    }

    /// From a tensor already in memory: u8 images or f32 features.
    pub fn from_tensor(data: Tensor, images: bool) -> Inputs {
        Inputs { data, images }
    }

    pub fn len(&self) -> usize {
        self.data.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_images(&self) -> bool {
        self.images
    }

    pub fn device(&self) -> Device {
        self.data.device()
    }

    /// The samples at `indices`, as f32 (images scaled to [0, 1]).
    pub fn batch(&self, indices: &[i64]) -> Tensor {
        let index = Tensor::from_slice(indices).to_device(self.data.device());
        let rows = self.data.index_select(0, &index);
        if self.images {
            rows.to_kind(Kind::Float) / 255.0
        } else {
            rows.to_kind(Kind::Float)
        }
    }

    /// The input spec, with per-channel mean and standard deviation of the images (the
    /// model's normalisation) measured on the data.
    pub fn spec(&self) -> InputSpec {
        let size = self.data.size();
        if !self.images {
            return InputSpec::Features { dim: size[1] };
        }
        let x = self.data.to_kind(Kind::Float) / 255.0;
        let dims = [0i64, 2, 3];
        let mean = x.mean_dim(dims.as_slice(), false, Kind::Float);
        let std = x.std_dim(dims.as_slice(), false, false).clamp_min(1e-3);
        let to_vec = |t: Tensor| {
            Vec::<f64>::try_from(t.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or_default()
        };
        InputSpec::Images {
            channels: size[1],
            height: size[2],
            width: size[3],
            mean: to_vec(mean),
            std: to_vec(std),
        }
    }
}

fn to_i64(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_scale_images_and_spec_measures_channels() {
        // Two 1×1 RGB images: channel 0 = 0 and 255 → mean 0.5, std 0.5 (population).
        let data = Tensor::from_slice(&[0u8, 51, 102, 255, 51, 102]).view([2, 3, 1, 1]);
        let inputs = Inputs::from_tensor(data, true);
        let b = inputs.batch(&[1]);
        assert_eq!(
            Vec::<f32>::try_from(b.flatten(0, -1)).unwrap(),
            vec![1.0, 0.2, 0.4]
        );
        match inputs.spec() {
            InputSpec::Images {
                mean,
                std,
                channels,
                ..
            } => {
                assert_eq!(channels, 3);
                assert!((mean[0] - 0.5).abs() < 1e-6 && (std[0] - 0.5).abs() < 1e-6);
                assert!((mean[1] - 0.2).abs() < 1e-6 && std[1] == 1e-3f32 as f64);
            }
            other => panic!("{other:?}"),
        }
    }
}
