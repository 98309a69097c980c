//! The keys both training stages share, with the same names and meaning in `[pretrain]`
//! and `[train]`: how long a run is, in what batches, with which optimiser and
//! learning-rate schedule, and how often it checkpoints.
//!
//! ```toml
//! epochs = 12
//! min_steps = 0                # optional: more epochs until at least this many steps
//! batch_size = 256
//! samples_per_epoch = 5000     # optional: each epoch visits this many (default: all)
//! warmup_epochs = 0.2          # linear warm-up, then cosine decay to final_lr_ratio·lr
//! final_lr_ratio = 0.0
//! clip_grad_norm = 1.0         # optional
//! checkpoint_every = 100       # steps
//! [<stage>.optimizer]
//! kind = "adamw"               # adam | adamw | sgd
//! lr = 2e-3
//! weight_decay = 1e-4
//! ```

use ebsc_core::{ConfigError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::optim::OptimizerConfig;
use crate::schedule::Schedule;
use crate::trainer::{LoopConfig, MONITOR_EVERY_STEPS, fit_batch, run_length, run_length_notes};

/// The keys of this table, split off a stage's section before the rest is read.
pub const KEYS: [&str; 9] = [
    "epochs",
    "min_steps",
    "batch_size",
    "samples_per_epoch",
    "warmup_epochs",
    "final_lr_ratio",
    "clip_grad_norm",
    "checkpoint_every",
    "optimizer",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopSettings {
    pub epochs: u64,
    /// Not in the stage key when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_steps: u64,
    pub batch_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_per_epoch: Option<usize>,
    pub warmup_epochs: f64,
    pub final_lr_ratio: f64,
    pub clip_grad_norm: Option<f64>,
    pub checkpoint_every: u64,
    pub optimizer: OptimizerConfig,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// What a stage fills in for keys its section leaves out (`None`: the key is required),
/// and the smallest batch its loss works with.
pub struct LoopDefaults {
    pub epochs: Option<u64>,
    pub batch_size: Option<usize>,
    pub optimizer: Option<OptimizerConfig>,
    pub min_batch: usize,
    /// Why a batch needs `min_batch` samples, for the error.
    pub min_batch_reason: &'static str,
}

/// The table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoopSection {
    epochs: Option<u64>,
    #[serde(default)]
    min_steps: u64,
    batch_size: Option<usize>,
    samples_per_epoch: Option<usize>,
    #[serde(default)]
    warmup_epochs: f64,
    #[serde(default)]
    final_lr_ratio: f64,
    clip_grad_norm: Option<f64>,
    #[serde(default = "default_checkpoint_every")]
    checkpoint_every: u64,
    optimizer: Option<OptimizerConfig>,
}

fn default_checkpoint_every() -> u64 {
    100
}

/// A run's loop on a given data set, and the log lines about how it was fitted.
#[derive(Debug)]
pub struct LoopPlan {
    pub config: LoopConfig,
    pub batch_size: usize,
    pub notes: Vec<String>,
}

impl LoopSettings {
    /// Reads this table's keys from `section` and returns the settings with the rest of the
    /// section, for the stage's own keys.
    pub fn split_from(
        pipeline: &Pipeline,
        section: &str,
        defaults: &LoopDefaults,
    ) -> Result<(LoopSettings, toml::Table), ConfigError> {
        let mut rest = pipeline.raw_section(section)?.clone();
        let mut own = toml::Table::new();
        for key in KEYS {
            if let Some(value) = rest.remove(key) {
                own.insert(key.to_string(), value);
            }
        }
        let raw: LoopSection = pipeline.deserialize(section, own)?;
        let settings = raw
            .resolve(defaults)
            .map_err(|message| pipeline.invalid(section, message))?;
        Ok((settings, rest))
    }

    /// The loop over `n` samples. `extra_warmup`: steps that a stage keeps some loss terms
    /// off for, said in the notes like the learning-rate warm-up.
    pub fn plan(&self, n: usize, min_batch: usize, extra_warmup: u64) -> anyhow::Result<LoopPlan> {
        // A data set smaller than a batch trains on all of it at once.
        let (batch_size, batch_note) = fit_batch(self.batch_size, n);
        anyhow::ensure!(
            batch_size >= min_batch,
            "a batch needs at least {min_batch} samples, the inputs hold {n}"
        );
        let samples_per_epoch = self.samples_per_epoch.unwrap_or(n).min(n);
        let (epochs, steps_per_epoch) = run_length(
            self.epochs,
            self.min_steps,
            (samples_per_epoch / batch_size) as u64,
        );
        let total_steps = steps_per_epoch * epochs;
        let warmup_steps = (self.warmup_epochs * steps_per_epoch as f64).round() as u64;
        let mut notes: Vec<String> = batch_note.into_iter().collect();
        notes.extend(run_length_notes(
            self.epochs,
            self.min_steps,
            epochs,
            total_steps,
            warmup_steps.max(extra_warmup),
        ));
        Ok(LoopPlan {
            config: LoopConfig {
                epochs,
                steps_per_epoch,
                samples_per_step: batch_size as u64,
                checkpoint_every: self.checkpoint_every,
                clip_grad_norm: self.clip_grad_norm,
                schedule: Schedule {
                    base_lr: self.optimizer.lr,
                    warmup_steps,
                    total_steps,
                    final_lr_ratio: self.final_lr_ratio,
                },
                monitor_every_steps: MONITOR_EVERY_STEPS,
            },
            batch_size,
            notes,
        })
    }
}

impl LoopSection {
    fn resolve(self, defaults: &LoopDefaults) -> Result<LoopSettings, String> {
        let required = |key: &str| format!("missing field `{key}`");
        let settings = LoopSettings {
            epochs: self
                .epochs
                .or(defaults.epochs)
                .ok_or_else(|| required("epochs"))?,
            min_steps: self.min_steps,
            batch_size: self
                .batch_size
                .or(defaults.batch_size)
                .ok_or_else(|| required("batch_size"))?,
            samples_per_epoch: self.samples_per_epoch,
            warmup_epochs: self.warmup_epochs,
            final_lr_ratio: self.final_lr_ratio,
            clip_grad_norm: self.clip_grad_norm,
            checkpoint_every: self.checkpoint_every,
            optimizer: self
                .optimizer
                .or_else(|| defaults.optimizer.clone())
                .ok_or_else(|| required("optimizer"))?,
        };
        settings.validate(defaults)?;
        Ok(settings)
    }
}

impl LoopSettings {
    fn validate(&self, defaults: &LoopDefaults) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size < defaults.min_batch {
            return Err(format!(
                "batch_size must be at least {} ({}), got {}",
                defaults.min_batch, defaults.min_batch_reason, self.batch_size
            ));
        }
        if self.samples_per_epoch == Some(0) {
            return Err("samples_per_epoch must be at least 1".into());
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
        self.optimizer.validate()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::optim::OptimizerKind;

    const DEFAULTS: LoopDefaults = LoopDefaults {
        epochs: None,
        batch_size: Some(64),
        optimizer: None,
        min_batch: 3,
        min_batch_reason: "a query needs atoms",
    };

    fn split(body: &str) -> Result<(LoopSettings, toml::Table), ConfigError> {
        let text = format!("[pipeline]\nseed = 0\n[train]\n{body}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text).unwrap();
        LoopSettings::split_from(&pipeline, "train", &DEFAULTS)
    }

    #[test]
    fn splits_its_keys_from_the_section_and_fills_defaults() {
        let (settings, rest) =
            split("epochs = 3\ngamma = 2.0\n[train.optimizer]\nkind = \"adam\"\nlr = 0.01\n")
                .unwrap();
        assert_eq!(settings.epochs, 3);
        assert_eq!(settings.batch_size, 64);
        assert_eq!(settings.checkpoint_every, 100);
        assert_eq!(settings.optimizer.kind, OptimizerKind::Adam);
        assert_eq!(rest.keys().collect::<Vec<_>>(), ["gamma"]);
        // Hashed flat, beside the stage's own keys; min_steps only when set.
        let json = serde_json::to_value(&settings).unwrap();
        assert!(json.get("min_steps").is_none() && json["epochs"] == 3);
    }

    #[test]
    fn errors_name_the_key() {
        let optimizer = "[train.optimizer]\nkind = \"adam\"\nlr = 0.01\n";
        for (body, message) in [
            (String::from("epochs = 3\n"), "missing field `optimizer`"),
            (
                format!("epochs = 0\n{optimizer}"),
                "epochs must be at least 1",
            ),
            (
                format!("epochs = 2\nbatch_size = 2\n{optimizer}"),
                "batch_size must be at least 3 (a query needs atoms), got 2",
            ),
            (
                format!("epochs = 2\nwarmup_epochs = 3.0\n{optimizer}"),
                "warmup_epochs must lie in [0, epochs = 2]",
            ),
            (
                format!("epochs = 2\nclip_grad_norm = 0.0\n{optimizer}"),
                "clip_grad_norm must be > 0",
            ),
            (
                "epochs = 2\noptimizer = { kind = \"adam\", lr = -1.0 }\n".into(),
                "optimizer.lr must be > 0",
            ),
        ] {
            let err = split(&body).unwrap_err().to_string();
            assert!(
                err.contains("pipelines/p.toml: [train]") && err.contains(message),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn plan_fits_the_batch_and_stretches_short_runs() {
        let (settings, _) = split(
            "epochs = 2\nmin_steps = 10\nbatch_size = 100\nwarmup_epochs = 1.0\n\
             optimizer = { kind = \"adam\", lr = 0.01 }\n",
        )
        .unwrap();
        // 40 samples: one batch of 40 an epoch, 10 epochs to reach 10 steps.
        let plan = settings.plan(40, 3, 0).unwrap();
        assert_eq!(plan.batch_size, 40);
        assert_eq!((plan.config.epochs, plan.config.steps_per_epoch), (10, 1));
        assert_eq!(plan.config.schedule.total_steps, 10);
        assert!(plan.notes[0].contains("batch_size 100 is more than the 40 samples"));
        assert!(plan.notes.iter().any(|n| n.contains("min_steps = 10")));
        let err = settings.plan(2, 3, 0).unwrap_err().to_string();
        assert!(err.contains("a batch needs at least 3 samples, the inputs hold 2"));
    }
}
