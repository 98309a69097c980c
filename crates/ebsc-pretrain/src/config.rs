//! The `[pretrain]` section.
//!
//! ```toml
//! [pretrain]
//! epochs = 3
//! min_steps = 0                # optional: more epochs until at least this many steps
//! batch_size = 256
//! temperature = 0.5            # NT-Xent τ
//! warmup_epochs = 0.5          # linear warm-up, then cosine decay to final_lr_ratio·lr
//! checkpoint_every = 50        # steps
//! knn_monitor = true           # kNN accuracy per epoch, at most every 20 steps (diagnostic)
//! [pretrain.encoder]
//! kind = "convnet"             # identity | mlp | convnet | resnet18
//! width = 32
//! [pretrain.head]              # projection head: hidden, out_dim (128)
//! [pretrain.optimizer]
//! kind = "adamw"               # adam | adamw | sgd
//! lr = 2e-3
//! weight_decay = 1e-4
//! [pretrain.augment]           # see ebsc_nn::augment
//! crop = { p = 1.0, scale = [0.5, 1.0] }
//! ```

use ebsc_core::{ConfigError, Pipeline};
use ebsc_nn::augment::AugmentConfig;
use ebsc_nn::encoders::{EncoderConfig, HeadConfig};
use ebsc_nn::optim::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};

pub const SECTION: &str = "pretrain";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    pub encoder: EncoderConfig,
    #[serde(default)]
    pub head: HeadConfig,
    #[serde(default = "default_epochs")]
    pub epochs: u64,
    /// Not in the canonical config when 0, so that stage keys from before it existed hold.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_steps: u64,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub warmup_epochs: f64,
    #[serde(default)]
    pub final_lr_ratio: f64,
    #[serde(default)]
    pub clip_grad_norm: Option<f64>,
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    #[serde(default)]
    pub augment: AugmentConfig,
    #[serde(default = "default_true")]
    pub knn_monitor: bool,
    #[serde(default = "default_knn_k")]
    pub knn_k: i64,
    /// The monitor scores at most this many samples (evenly spaced), to bound its cost.
    #[serde(default = "default_knn_samples")]
    pub knn_max_samples: usize,
    /// Autocast for the training forward pass on CUDA (ignored on the CPU). Off by
    /// default: tch 0.24's autocast takes libtorch's CUDA default, fp16, with no way to
    /// choose bf16 and no gradient scaler, so it is an opt-in until measured on a GPU.
    #[serde(default)]
    pub mixed_precision: bool,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}
fn default_epochs() -> u64 {
    10
}
fn default_batch_size() -> usize {
    256
}
fn default_temperature() -> f64 {
    0.5
}
fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig {
        kind: OptimizerKind::AdamW,
        weight_decay: 1e-4,
        ..OptimizerConfig::adam(1e-3)
    }
}
fn default_checkpoint_every() -> u64 {
    100
}
fn default_true() -> bool {
    true
}
fn default_knn_k() -> i64 {
    20
}
fn default_knn_samples() -> usize {
    10_000
}

impl PretrainConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<PretrainConfig, ConfigError> {
        let raw = pipeline.raw_section(SECTION)?.clone();
        if !raw.contains_key("encoder") {
            return Err(pipeline.invalid(
                SECTION,
                "missing table `encoder`; e.g. encoder = { kind = \"convnet\" } (kinds: identity, mlp, convnet, resnet18)",
            ));
        }
        let config: PretrainConfig = pipeline.deserialize(SECTION, raw)?;
        config
            .validate()
            .map_err(|message| pipeline.invalid(SECTION, &message))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size < 2 {
            return Err(format!(
                "batch_size must be at least 2 (NT-Xent needs negatives), got {}",
                self.batch_size
            ));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(format!("temperature must be > 0, got {}", self.temperature));
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs <= self.epochs as f64) {
            return Err(format!(
                "warmup_epochs must lie in [0, epochs = {}], got {}",
                self.epochs, self.warmup_epochs
            ));
        }
        if !(0.0..=1.0).contains(&self.final_lr_ratio) {
            return Err(format!(
                "final_lr_ratio must lie in [0, 1], got {}",
                self.final_lr_ratio
            ));
        }
        if let Some(c) = self.clip_grad_norm
            && (c.is_nan() || c <= 0.0)
        {
            return Err(format!("clip_grad_norm must be > 0, got {c}"));
        }
        if self.head.hidden < 1 || self.head.out_dim < 1 {
            return Err("head.hidden and head.out_dim must be at least 1".into());
        }
        if self.knn_k < 1 {
            return Err("knn_k must be at least 1".into());
        }
        self.optimizer.validate()?;
        self.augment.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(body: &str) -> Result<PretrainConfig, ConfigError> {
        let text = format!("[pipeline]\nseed = 1\n[pretrain]\n{body}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text)?;
        PretrainConfig::from_pipeline(&pipeline)
    }

    #[test]
    fn minimal_and_full_sections() {
        let c = load("encoder = { kind = \"identity\" }\n").unwrap();
        assert_eq!(c.encoder, EncoderConfig::Identity);
        assert_eq!(c.optimizer.kind, OptimizerKind::AdamW);
        let c = load(
            "epochs = 2\nbatch_size = 64\n[pretrain.encoder]\nkind = \"resnet18\"\nwidth = 32\n\
             [pretrain.optimizer]\nkind = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n\
             [pretrain.augment]\nflip = { p = 0.5 }\n",
        )
        .unwrap();
        assert_eq!(c.encoder, EncoderConfig::Resnet18 { width: 32 });
        assert_eq!(c.optimizer.kind, OptimizerKind::Sgd);
        assert!(c.augment.flip.is_some() && c.augment.crop.is_none());
    }

    #[test]
    fn errors_name_file_section_and_field() {
        let err = load("epochs = 1\n").unwrap_err().to_string();
        assert!(
            err.starts_with("pipelines/p.toml: [pretrain]: missing table `encoder`"),
            "{err}"
        );
        let err = load("encoder = { kind = \"vit\" }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `vit`"), "{err}");
        let err = load("encoder = { kind = \"mlp\" }\nepoch = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `epoch`"), "{err}");
        let err = load("encoder = { kind = \"mlp\" }\nbatch_size = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[pretrain]: batch_size must be at least 2"),
            "{err}"
        );
        let err = load("encoder = { kind = \"mlp\" }\n[pretrain.augment]\nblur = { p = 2.0 }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("augment.blur.p"), "{err}");
        let err =
            load("encoder = { kind = \"mlp\" }\noptimizer = { kind = \"adam\", lr = -1.0 }\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("optimizer.lr must be > 0"), "{err}");
    }
}
