//! Encoders (backbone `f`) and the projection head (`g`) of docs/method.md, their pipeline
//! config, and the `encoder.safetensors` file that carries them from stage to stage.
//!
//! The file holds the backbone's variables under `encoder.` and the head's under `head.`
//! (PyTorch names: `encoder.layer1.0.conv1.weight`, batch-norm running statistics included)
//! and the architecture as JSON in the safetensors metadata under [`SPEC_KEY`], so
//! [`load`] rebuilds the model from the file alone:
//!
//! ```ignore
//! let (model, vs) = ebsc_nn::encoders::load(&pretrain::ENCODER.path(&pretrain_dir), device)?;
//! let h = model.backbone(&x, train);   // x: images in [0, 1] [B,C,H,W] or features [B,D]
//! let z = model.head(&h, train);       // L2-normalised, [B, 128]
//! ```

pub mod nets;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ebsc_io::{TensorData, TensorFile, write_tensors};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

pub use nets::l2_normalize;
use nets::{ConvNet, Head, Mlp, ResNet18};

use crate::checkpoint::var_tensors;
use crate::seed::step_rng;

/// safetensors metadata key holding the [`EncoderSpec`] as JSON.
pub const SPEC_KEY: &str = "ebsc.encoder";

/// The backbone architecture (`[pretrain.encoder]`, `kind = ...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EncoderConfig {
    /// No learning: the inputs, flattened and L2-normalised, are the representation (for
    /// embeddings computed elsewhere, e.g. CLIP or DINO features).
    Identity,
    /// For feature inputs: hidden layers with batch norm and ReLU, then `out_dim`.
    Mlp {
        #[serde(default = "default_mlp_hidden")]
        hidden: Vec<i64>,
        #[serde(default = "default_mlp_out")]
        out_dim: i64,
    },
    /// The small CNN of [`nets::ConvNet`]; output width `4·width·pool²`.
    Convnet {
        #[serde(default = "default_convnet_width")]
        width: i64,
        /// Side of the grid the last feature map is averaged into: 1 is global average
        /// pooling; 2 keeps where in the image a pattern is (top or bottom half, left or
        /// right), four times the output width.
        #[serde(
            default = "default_convnet_pool",
            skip_serializing_if = "is_default_pool"
        )]
        pool: i64,
    },
    /// ResNet-18, CIFAR stem; output width `8·width`.
    Resnet18 {
        #[serde(default = "default_resnet_width")]
        width: i64,
    },
}

fn default_mlp_hidden() -> Vec<i64> {
    vec![512]
}
fn default_mlp_out() -> i64 {
    256
}
fn default_convnet_width() -> i64 {
    32
}
fn default_convnet_pool() -> i64 {
    1
}
fn is_default_pool(pool: &i64) -> bool {
    *pool == default_convnet_pool()
}
fn default_resnet_width() -> i64 {
    64
}

impl EncoderConfig {
    pub fn name(&self) -> &'static str {
        match self {
            EncoderConfig::Identity => "identity",
            EncoderConfig::Mlp { .. } => "mlp",
            EncoderConfig::Convnet { .. } => "convnet",
            EncoderConfig::Resnet18 { .. } => "resnet18",
        }
    }

    /// Whether this encoder can read `input`; the message says what it expects.
    pub fn check_input(&self, input: &InputSpec) -> Result<(), String> {
        match (self, input) {
            (EncoderConfig::Identity, _) => Ok(()),
            (EncoderConfig::Mlp { hidden, out_dim }, _) => {
                if hidden.iter().chain([out_dim]).any(|&w| w < 1) {
                    return Err("encoder widths must be at least 1".into());
                }
                Ok(())
            }
            (EncoderConfig::Convnet { width, .. } | EncoderConfig::Resnet18 { width }, _)
                if *width < 1 =>
            {
                Err("encoder.width must be at least 1".into())
            }
            (EncoderConfig::Convnet { .. }, InputSpec::Images { height, width, .. })
                if *height < 4 || *width < 4 =>
            {
                Err(format!(
                    "encoder `convnet` needs images of at least 4×4, got {height}×{width}"
                ))
            }
            // Two 2× max-pools leave a (height/4)×(width/4) map; a grid finer than it only
            // repeats cells.
            (EncoderConfig::Convnet { pool, .. }, InputSpec::Images { height, width, .. })
                if !(1..=(*height).min(*width) / 4).contains(pool) =>
            {
                let side = (*height).min(*width) / 4;
                Err(format!(
                    "encoder.pool must be 1 to {side}, got {pool} ({height}×{width} images leave a {}×{} map)",
                    height / 4,
                    width / 4
                ))
            }
            (
                EncoderConfig::Convnet { .. } | EncoderConfig::Resnet18 { .. },
                InputSpec::Images { .. },
            ) => Ok(()),
            (_, InputSpec::Features { .. }) => Err(format!(
                "encoder `{}` needs images, but the inputs are features; use `mlp` or `identity`",
                self.name()
            )),
        }
    }
}

/// The projection head (`[pretrain.head]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    #[serde(default = "default_head_hidden")]
    pub hidden: i64,
    #[serde(default = "default_head_out")]
    pub out_dim: i64,
}

fn default_head_hidden() -> i64 {
    512
}
fn default_head_out() -> i64 {
    128
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            hidden: default_head_hidden(),
            out_dim: default_head_out(),
        }
    }
}

/// What the model reads, with the per-channel normalisation applied to images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InputSpec {
    /// u8 images scaled to [0, 1] before the model; the model subtracts `mean` and divides
    /// by `std` per channel.
    Images {
        channels: i64,
        height: i64,
        width: i64,
        mean: Vec<f64>,
        std: Vec<f64>,
    },
    Features {
        dim: i64,
    },
}

impl InputSpec {
    /// The shape of one sample.
    pub fn sample_shape(&self) -> Vec<i64> {
        match self {
            InputSpec::Images {
                channels,
                height,
                width,
                ..
            } => vec![*channels, *height, *width],
            InputSpec::Features { dim } => vec![*dim],
        }
    }
}

/// Everything needed to rebuild the model; stored in `encoder.safetensors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderSpec {
    pub encoder: EncoderConfig,
    /// `None` for the identity encoder: `z = normalize(h)`.
    pub head: Option<HeadConfig>,
    pub input: InputSpec,
}

enum Backbone {
    Identity,
    Mlp(Mlp),
    ConvNet(ConvNet),
    ResNet18(Box<ResNet18>),
}

/// Backbone and head over the variables of one [`VarStore`] (`encoder.*`, `head.*`).
pub struct Model {
    spec: EncoderSpec,
    backbone: Backbone,
    head: Option<Head>,
    backbone_dim: i64,
    /// Image normalisation, `[1, C, 1, 1]`, on the model's device.
    norm: Option<(Tensor, Tensor)>,
}

impl Model {
    /// Creates the variables in `vs` (default-initialised; see [`init_weights`]).
    pub fn new(vs: &VarStore, spec: &EncoderSpec) -> anyhow::Result<Model> {
        spec.encoder
            .check_input(&spec.input)
            .map_err(anyhow::Error::msg)?;
        let p = vs.root() / "encoder";
        let in_dim: i64 = spec.input.sample_shape().iter().product();
        let channels = spec.input.sample_shape()[0];
        let (backbone, backbone_dim) = match &spec.encoder {
            EncoderConfig::Identity => (Backbone::Identity, in_dim),
            EncoderConfig::Mlp { hidden, out_dim } => (
                Backbone::Mlp(Mlp::new(&p, in_dim, hidden, *out_dim)),
                *out_dim,
            ),
            EncoderConfig::Convnet { width, pool } => (
                Backbone::ConvNet(ConvNet::new(&p, channels, *width, *pool)),
                4 * width * pool * pool,
            ),
            EncoderConfig::Resnet18 { width } => (
                Backbone::ResNet18(Box::new(ResNet18::new(&p, channels, *width))),
                8 * width,
            ),
        };
        let head = match (&spec.encoder, &spec.head) {
            (EncoderConfig::Identity, _) | (_, None) => None,
            (_, Some(h)) => Some(Head::new(
                &(vs.root() / "head"),
                backbone_dim,
                h.hidden,
                h.out_dim,
            )),
        };
        let norm = match &spec.input {
            InputSpec::Images { mean, std, .. } => {
                let shape = [1, mean.len() as i64, 1, 1];
                let to = |v: &[f64]| {
                    Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<_>>())
                        .view(shape)
                        .to_device(vs.device())
                };
                Some((to(mean), to(std)))
            }
            InputSpec::Features { .. } => None,
        };
        Ok(Model {
            spec: spec.clone(),
            backbone,
            head,
            backbone_dim,
            norm,
        })
    }

    pub fn spec(&self) -> &EncoderSpec {
        &self.spec
    }

    /// Width of `h`.
    pub fn backbone_dim(&self) -> i64 {
        self.backbone_dim
    }

    /// Width of `z`.
    pub fn head_dim(&self) -> i64 {
        match (&self.head, &self.spec.head) {
            (Some(_), Some(h)) => h.out_dim,
            _ => self.backbone_dim,
        }
    }

    /// Whether there is anything to train.
    pub fn is_trainable(&self) -> bool {
        !matches!(self.backbone, Backbone::Identity)
    }

    /// `h = f(x)`: `x` is images in [0, 1] `[B,C,H,W]` or features `[B,D]`; `train`
    /// selects batch statistics in batch norm. The identity encoder returns `normalize(x)`.
    pub fn backbone(&self, x: &Tensor, train: bool) -> Tensor {
        let x = match &self.norm {
            Some((mean, std)) if !matches!(self.backbone, Backbone::Identity) => (x - mean) / std,
            _ => x.shallow_clone(),
        };
        match &self.backbone {
            Backbone::Identity => l2_normalize(&x.to_kind(Kind::Float)),
            Backbone::Mlp(m) => m.forward_t(&x, train),
            Backbone::ConvNet(m) => m.forward_t(&x, train),
            Backbone::ResNet18(m) => m.forward_t(&x, train),
        }
    }

    /// `z = normalize(g(h))`, or `normalize(h)` without a head.
    pub fn head(&self, h: &Tensor, train: bool) -> Tensor {
        match &self.head {
            Some(head) => head.forward_t(h, train),
            None => l2_normalize(h),
        }
    }
}

/// PyTorch's default initialisation, drawn from [`step_rng`] per variable name so that it
/// is the same on every device and in every process: weights and biases of convolutions
/// and linear layers uniform in ±1/√fan_in, batch-norm scale 1 and shift 0, running mean 0
/// and variance 1.
pub fn init_weights(vs: &VarStore, seed: u64) {
    let vars = var_tensors(vs);
    let shapes: HashMap<String, Vec<i64>> =
        vars.iter().map(|(n, t)| (n.clone(), t.size())).collect();
    tch::no_grad(|| {
        for (name, var) in &vars {
            let (prefix, leaf) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
            let is_bn = shapes.contains_key(&format!("{prefix}.running_mean"));
            let mut var = var.shallow_clone();
            let value = match (is_bn, leaf) {
                (true, "weight") | (_, "running_var") => {
                    let _ = var.fill_(1.0);
                    continue;
                }
                (true, _) | (_, "running_mean") => {
                    let _ = var.fill_(0.0);
                    continue;
                }
                (false, _) => {
                    let weight_shape = shapes
                        .get(&format!("{prefix}.weight"))
                        .cloned()
                        .unwrap_or_else(|| var.size());
                    let fan_in: i64 = weight_shape.iter().skip(1).product::<i64>().max(1);
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    let mut rng = step_rng(seed, &format!("init:{name}"), 0, 0);
                    let n = var.numel();
                    let values: Vec<f32> = (0..n)
                        .map(|_| rng.random_range(-bound..bound) as f32)
                        .collect();
                    Tensor::from_slice(&values).view(var.size().as_slice())
                }
            };
            var.copy_(&value.to_device(var.device()).to_kind(var.kind()));
        }
    });
}

/// Writes `encoder.safetensors`: every variable (f32) and the spec in the metadata.
pub fn save<W: Write>(writer: W, vs: &VarStore, spec: &EncoderSpec) -> anyhow::Result<()> {
    let vars = var_tensors(vs);
    let mut data = Vec::with_capacity(vars.len());
    for (name, t) in &vars {
        let values = Vec::<f32>::try_from(
            t.detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous()
                .flatten(0, -1),
        )
        .with_context(|| format!("reading variable {name}"))?;
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        data.push((name.as_str(), shape, TensorData::F32(values)));
    }
    let refs: Vec<(&str, Vec<usize>, &TensorData)> =
        data.iter().map(|(n, s, d)| (*n, s.clone(), d)).collect();
    let metadata = HashMap::from([(SPEC_KEY.to_string(), serde_json::to_string(spec)?)]);
    write_tensors(writer, &refs, &metadata)
}

/// Rebuilds backbone and head from an `encoder.safetensors` file, on `device`, in a new
/// store (call `vs.freeze()` to use it as a fixed feature extractor).
pub fn load(path: &Path, device: Device) -> anyhow::Result<(Model, VarStore)> {
    let vs = VarStore::new(device);
    let model = load_into(path, &vs)?;
    Ok((model, vs))
}

/// Rebuilds backbone and head from an `encoder.safetensors` file inside an existing store
/// (as `encoder.*` and `head.*`, beside the caller's own variables, so that one optimizer
/// and one checkpoint cover both). Every tensor of the file must match a variable.
pub fn load_into(path: &Path, vs: &VarStore) -> anyhow::Result<Model> {
    let file = TensorFile::open(path)?;
    let spec_text = file.metadata().remove(SPEC_KEY).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no `{SPEC_KEY}` metadata; not an encoder file",
            path.display()
        )
    })?;
    let spec: EncoderSpec = serde_json::from_str(&spec_text).with_context(|| {
        format!(
            "{}: `{SPEC_KEY}` metadata is not an encoder spec",
            path.display()
        )
    })?;
    let before: std::collections::HashSet<String> = vs.variables().into_keys().collect();
    let model = Model::new(vs, &spec).with_context(|| format!("{}", path.display()))?;
    let tensors = Tensor::read_safetensors(path)
        .with_context(|| format!("{}: reading tensors", path.display()))?;
    let vars = vs.variables();
    let mut loaded = 0;
    tch::no_grad(|| -> anyhow::Result<()> {
        for (name, source) in &tensors {
            let var = vars.get(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: tensor `{name}` does not belong to the model",
                    path.display()
                )
            })?;
            anyhow::ensure!(
                var.size() == source.size(),
                "{}: tensor `{name}` has shape {:?}, the model expects {:?}",
                path.display(),
                source.size(),
                var.size()
            );
            var.shallow_clone()
                .copy_(&source.to_kind(var.kind()).to_device(var.device()));
            loaded += 1;
        }
        Ok(())
    })?;
    let created = vars.len() - before.len();
    anyhow::ensure!(
        loaded == created,
        "{}: holds {loaded} tensors, the model has {created} variables",
        path.display()
    );
    Ok(model)
}

#[cfg(test)]
mod tests;
