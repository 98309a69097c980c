//! The `[train]` section (docs/method.md, "Mini-batch training"):
//!
//! ```toml
//! [train]
//! method = "ebsc"              # ebsc | senet (frozen features, β = 0, no SSL term)
//! freeze_encoder = false       # true: backbone and head fixed, only the energy net learns
//! dictionary = "backbone"      # d = normalize(h) | "head": d = z
//! coefficients = "shrink"      # shrink | gibbs
//! gamma = 200.0                # γ, reconstruction weight in L_se
//! lambda = 0.9                 # λ, ℓ1 share of the elastic net in L_se
//! alpha = 1.0                  # α, weight of L_se
//! beta = 1.0                   # β, weight of L_ebm
//! tau = 0.5                    # τ, NT-Xent temperature of L_ssl
//! temperature = 0.1            # T, of the Gibbs map and of L_ebm
//! queue_size = 0               # momentum-encoder queue of extra atoms (0: none)
//! momentum = 0.99              # momentum encoder's EMA rate (with queue_size > 0)
//! geometry = 1.0               # κ: −E = κ·cos(d_i, d_j) + ⟨u_i, v_j⟩ (0: towers only)
//! residual_init = "zero"       # zero: the towers' residual starts at 0 | random
//!                              # (both default to SENet's 0 and random with method = "senet")
//! tcr_weight = 0.0             # η, weight of −R(d), the total coding rate (against collapse)
//! tcr_eps = 0.1                # ε of the coding rate
//! se_warmup_steps = 0          # L_se and L_ebm are off for the first steps (L_ssl + L_tcr)
//! encoder_lr_scale = 1.0       # the encoder's learning rate = this × optimizer.lr
//! encoder_se_grad = 1.0        # share of L_se's and L_ebm's gradient that reaches the encoder
//! min_effective_rank = 10.0    # collapse alarm (0: off); default: [cluster] n_clusters
//! monitor_samples = 5000       # samples scored per epoch, at most every 20 steps (rank, kNN)
//! energy_dim = 64              # m, width of the towers' tanh outputs
//! energy_hidden = [256]        # hidden ReLU layers of each tower
//! threshold_init = 0.0         # b of the shrink map at the start (learned, ≥ 0)
//! epochs = 20
//! min_steps = 0                # optional: more epochs until at least this many steps
//! batch_size = 256
//! samples_per_epoch = 5000     # optional: each epoch visits this many (default: all)
//! warmup_epochs = 0.0
//! final_lr_ratio = 0.0
//! clip_grad_norm = 1.0         # optional
//! checkpoint_every = 100       # steps
//! [train.optimizer]
//! kind = "adam"
//! lr = 1e-3
//! [train.augment]              # the two views (ebsc only); none: both views equal
//! noise = { std = 0.02 }
//! ```

use ebsc_core::{ConfigError, Pipeline};
use ebsc_nn::augment::AugmentConfig;
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};

pub const SECTION: &str = "train";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Ebsc,
    Senet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DictionarySource {
    Backbone,
    Head,
}

/// How the towers' residual on top of the cosine term starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidualInit {
    /// The query tower's last layer at zero: the residual is 0 until training moves it.
    Zero,
    /// PyTorch's default initialisation for every layer.
    Random,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub method: Method,
    pub freeze_encoder: bool,
    pub dictionary: DictionarySource,
    pub coefficients: CoefficientKind,
    pub gamma: f64,
    pub lambda: f64,
    pub alpha: f64,
    pub beta: f64,
    pub tau: f64,
    pub temperature: f64,
    pub queue_size: usize,
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// See [`TrainConfig::geometry`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<f64>,
    /// See [`TrainConfig::residual_init`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_init: Option<ResidualInit>,
    #[serde(default)]
    pub tcr_weight: f64,
    #[serde(default = "default_tcr_eps")]
    pub tcr_eps: f64,
    #[serde(default)]
    pub se_warmup_steps: u64,
    #[serde(default = "default_one")]
    pub encoder_lr_scale: f64,
    #[serde(default = "default_one")]
    pub encoder_se_grad: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effective_rank: Option<f64>,
    #[serde(default = "default_monitor_samples")]
    pub monitor_samples: usize,
    pub energy_dim: i64,
    pub energy_hidden: Vec<i64>,
    #[serde(default)]
    pub threshold_init: f64,
    pub epochs: u64,
    #[serde(default)]
    pub min_steps: u64,
    pub batch_size: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_epoch: Option<usize>,
    #[serde(default)]
    pub warmup_epochs: f64,
    #[serde(default)]
    pub final_lr_ratio: f64,
    #[serde(default)]
    pub clip_grad_norm: Option<f64>,
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub augment: AugmentConfig,
}

fn default_momentum() -> f64 {
    0.99
}
fn default_checkpoint_every() -> u64 {
    100
}
fn default_tcr_eps() -> f64 {
    0.1
}
fn default_one() -> f64 {
    1.0
}
fn default_monitor_samples() -> usize {
    5000
}

impl TrainConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<TrainConfig, ConfigError> {
        let config: TrainConfig = pipeline.section(SECTION)?;
        config
            .validate()
            .map_err(|message| pipeline.invalid(SECTION, message))?;
        Ok(config)
    }

    /// κ, the cosine term's weight: as set, else 1 (0 for the SENet baseline, which has
    /// only the two towers).
    pub fn geometry(&self) -> f64 {
        self.geometry.unwrap_or(match self.method {
            Method::Ebsc => 1.0,
            Method::Senet => 0.0,
        })
    }

    /// How the residual starts: as set, else at zero (random for the SENet baseline).
    pub fn residual_init(&self) -> ResidualInit {
        self.residual_init.unwrap_or(match self.method {
            Method::Ebsc => ResidualInit::Zero,
            Method::Senet => ResidualInit::Random,
        })
    }

    fn validate(&self) -> Result<(), String> {
        let positive = [
            ("gamma", self.gamma),
            ("tau", self.tau),
            ("temperature", self.temperature),
        ];
        for (name, value) in positive {
            if !(value > 0.0 && value.is_finite()) {
                return Err(format!("{name} must be a positive number, got {value}"));
            }
        }
        if !(self.tcr_eps > 0.0 && self.tcr_eps.is_finite()) {
            return Err(format!(
                "tcr_eps must be a positive number, got {}",
                self.tcr_eps
            ));
        }
        if !(self.encoder_lr_scale > 0.0 && self.encoder_lr_scale.is_finite()) {
            return Err(format!(
                "encoder_lr_scale must be a positive number, got {}",
                self.encoder_lr_scale
            ));
        }
        if !(0.0..=1.0).contains(&self.encoder_se_grad) {
            return Err(format!(
                "encoder_se_grad must be in [0, 1] (0: no gradient of L_se into the encoder), got {}",
                self.encoder_se_grad
            ));
        }
        if let Some(rank) = self.min_effective_rank
            && !(rank >= 0.0 && rank.is_finite())
        {
            return Err(format!("min_effective_rank must be ≥ 0, got {rank}"));
        }
        let weights = [
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("geometry", self.geometry()),
            ("tcr_weight", self.tcr_weight),
        ];
        for (name, value) in weights {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(format!("{name} must be ≥ 0, got {value}"));
            }
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(format!("lambda must be in [0, 1], got {}", self.lambda));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.energy_dim < 1 || self.energy_hidden.iter().any(|&h| h < 1) {
            return Err("energy_dim and energy_hidden widths must be at least 1".into());
        }
        if self.threshold_init < 0.0 {
            return Err(format!(
                "threshold_init must be ≥ 0, got {}",
                self.threshold_init
            ));
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size < 3 {
            return Err(format!(
                "batch_size must be at least 3 (a query needs atoms besides itself and its twin), got {}",
                self.batch_size
            ));
        }
        if self.samples_per_epoch == Some(0) {
            return Err("samples_per_epoch must be at least 1".into());
        }
        self.optimizer.validate()?;
        self.augment.validate()?;
        if self.method == Method::Senet {
            // The baseline is defined by these; a pipeline that says otherwise is a mistake.
            if !self.freeze_encoder || self.beta != 0.0 || self.queue_size > 0 {
                return Err("method = \"senet\" is the baseline on frozen features: it needs freeze_encoder = true, beta = 0 and queue_size = 0".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const GOOD: &str = r#"
method = "ebsc"
freeze_encoder = false
dictionary = "backbone"
coefficients = "shrink"
gamma = 200.0
lambda = 0.9
alpha = 1.0
beta = 1.0
tau = 0.5
temperature = 0.1
queue_size = 0
energy_dim = 8
energy_hidden = [16]
epochs = 2
batch_size = 32
[train.optimizer]
kind = "adam"
lr = 1e-3
"#;

    fn load(section: &str) -> Result<TrainConfig, ConfigError> {
        let text = format!("[pipeline]\nseed = 0\n[train]\n{section}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text).unwrap();
        TrainConfig::from_pipeline(&pipeline)
    }

    #[test]
    fn reads_a_full_section() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.method, Method::Ebsc);
        assert_eq!(c.energy_hidden, vec![16]);
        assert_eq!(c.momentum, 0.99);
        // The energy starts from the cosine geometry unless told otherwise ...
        assert_eq!((c.geometry(), c.residual_init()), (1.0, ResidualInit::Zero));
        assert_eq!(
            (c.tcr_weight, c.encoder_se_grad, c.min_steps),
            (0.0, 1.0, 0)
        );
        // ... but the SENet baseline is the plain two-tower energy by default.
        let senet = GOOD
            .replace("method = \"ebsc\"", "method = \"senet\"")
            .replace("freeze_encoder = false", "freeze_encoder = true")
            .replace("beta = 1.0", "beta = 0.0");
        let c = load(&senet).unwrap();
        assert_eq!(
            (c.geometry(), c.residual_init()),
            (0.0, ResidualInit::Random)
        );
        let c = load(&format!("geometry = 2.0\n{senet}")).unwrap();
        assert_eq!(c.geometry(), 2.0);
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = load(&GOOD.replace("lambda = 0.9", "lambda = 1.5"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[train]") && err.contains("lambda must be in [0, 1]"),
            "{err}"
        );
        let err = load(&GOOD.replace("method = \"ebsc\"", "method = \"senet\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("freeze_encoder = true, beta = 0"), "{err}");
        let err = load(&GOOD.replace("gamma", "gama"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gama") && err.contains("pipelines/p.toml"),
            "{err}"
        );
        let err = load(&GOOD.replace("coefficients = \"shrink\"", "coefficients = \"soft\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("soft"), "{err}");
        for (line, message) in [
            ("encoder_se_grad = 1.5", "encoder_se_grad must be in [0, 1]"),
            ("tcr_weight = -0.1", "tcr_weight must be ≥ 0"),
            ("geometry = -1.0", "geometry must be ≥ 0"),
            ("tcr_eps = 0.0", "tcr_eps must be a positive number"),
            (
                "min_effective_rank = -2.0",
                "min_effective_rank must be ≥ 0",
            ),
            ("residual_init = \"ones\"", "ones"),
        ] {
            let err = load(&format!("{line}\n{GOOD}")).unwrap_err().to_string();
            assert!(err.contains(message), "{line}: {err}");
        }
    }
}
