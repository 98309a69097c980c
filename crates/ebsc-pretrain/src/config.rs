//! The `[pretrain]` section: the loop's keys (`epochs`, `batch_size`, `[pretrain.optimizer]`
//! … shared with `[train]`, see `ebsc_nn::loop_settings`; defaults here: 10 epochs of 256,
//! AdamW at 1e-3) and the pretraining's own.
//!
//! ```toml
//! [pretrain]
//! epochs = 3
//! batch_size = 256
//! warmup_epochs = 0.5
//! checkpoint_every = 50
//! ssl_temperature = 0.5        # NT-Xent τ (as in [train])
//! knn_monitor = true           # kNN accuracy per epoch, at most every 20 steps (diagnostic)
//! [pretrain.encoder]
//! kind = "convnet"             # identity | mlp | convnet | resnet18
//! width = 32
//! pool = 1                     # convnet: last map averaged into pool×pool cells (1: global)
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
use ebsc_nn::loop_settings::{LoopDefaults, LoopSettings};
use ebsc_nn::optim::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};

pub const SECTION: &str = "pretrain";

/// Keys that were renamed so that one concept has one name in every section.
pub const RENAMED: [(&str, &str); 1] = [("temperature", "ssl_temperature")];

/// `[pretrain]` as checked settings; hashed flat, as the section reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainConfig {
    pub encoder: EncoderConfig,
    pub head: HeadConfig,
    /// τ of NT-Xent (`ssl_temperature` in `[train]` too).
    pub ssl_temperature: f64,
    pub augment: AugmentConfig,
    pub knn_monitor: bool,
    pub knn_k: i64,
    /// The monitor scores at most this many samples (evenly spaced), to bound its cost.
    pub knn_max_samples: usize,
    /// Autocast for the training forward pass on CUDA (ignored on the CPU). Off by
    /// default: tch 0.24's autocast takes libtorch's CUDA default, fp16, with no way to
    /// choose bf16 and no gradient scaler, so it is an opt-in until measured on a GPU.
    pub mixed_precision: bool,
    /// The loop: epochs, batches, optimiser, schedule, checkpoints.
    #[serde(flatten)]
    pub schedule: LoopSettings,
}

/// The section's own keys, as written (the loop's are split off first).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PretrainSection {
    encoder: EncoderConfig,
    #[serde(default)]
    head: HeadConfig,
    #[serde(default = "default_ssl_temperature")]
    ssl_temperature: f64,
    #[serde(default)]
    augment: AugmentConfig,
    #[serde(default = "default_true")]
    knn_monitor: bool,
    #[serde(default = "default_knn_k")]
    knn_k: i64,
    #[serde(default = "default_knn_samples")]
    knn_max_samples: usize,
    #[serde(default)]
    mixed_precision: bool,
}

fn default_ssl_temperature() -> f64 {
    0.5
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

/// Pretraining runs without a loop table: ten epochs of 256 with AdamW.
fn loop_defaults() -> LoopDefaults {
    LoopDefaults {
        epochs: Some(10),
        batch_size: Some(256),
        optimizer: Some(OptimizerConfig {
            kind: OptimizerKind::AdamW,
            weight_decay: 1e-4,
            ..OptimizerConfig::adam(1e-3)
        }),
        min_batch: 2,
        min_batch_reason: "NT-Xent needs negatives",
    }
}

impl PretrainConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<PretrainConfig, ConfigError> {
        pipeline.check_renamed(SECTION, &RENAMED)?;
        let (schedule, rest) = LoopSettings::split_from(pipeline, SECTION, &loop_defaults())?;
        if !rest.contains_key("encoder") {
            return Err(pipeline.invalid(
                SECTION,
                "missing table `encoder`; e.g. encoder = { kind = \"convnet\" } (kinds: identity, mlp, convnet, resnet18)",
            ));
        }
        let section: PretrainSection = pipeline.deserialize(SECTION, rest)?;
        let config = PretrainConfig {
            encoder: section.encoder,
            head: section.head,
            ssl_temperature: section.ssl_temperature,
            augment: section.augment,
            knn_monitor: section.knn_monitor,
            knn_k: section.knn_k,
            knn_max_samples: section.knn_max_samples,
            mixed_precision: section.mixed_precision,
            schedule,
        };
        config
            .validate()
            .map_err(|message| pipeline.invalid(SECTION, &message))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.ssl_temperature > 0.0 && self.ssl_temperature.is_finite()) {
            return Err(format!(
                "ssl_temperature must be > 0, got {}",
                self.ssl_temperature
            ));
        }
        if self.head.hidden < 1 || self.head.out_dim < 1 {
            return Err("head.hidden and head.out_dim must be at least 1".into());
        }
        if self.knn_k < 1 {
            return Err("knn_k must be at least 1".into());
        }
        self.augment.validate()
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
        assert_eq!(c.schedule.optimizer.kind, OptimizerKind::AdamW);
        let c = load(
            "epochs = 2\nbatch_size = 64\n[pretrain.encoder]\nkind = \"resnet18\"\nwidth = 32\n\
             [pretrain.optimizer]\nkind = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n\
             [pretrain.augment]\nflip = { p = 0.5 }\n",
        )
        .unwrap();
        assert_eq!(c.encoder, EncoderConfig::Resnet18 { width: 32 });
        assert_eq!(c.schedule.optimizer.kind, OptimizerKind::Sgd);
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
        let err = load("encoder = { kind = \"mlp\" }\ntemperature = 0.2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`temperature` is now called `ssl_temperature`"),
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
