//! The `[train]` section (docs/method.md, "Mini-batch training"): the loop's keys (shared
//! with `[pretrain]`, see `ebsc_nn::loop_settings`), the self-expressive model's, and —
//! with `method = "ebsc"` only — the joint training's.
//!
//! ```toml
//! [train]
//! method = "ebsc"              # ebsc | senet (frozen features, one view, L_se only)
//! dictionary = "backbone"      # d = normalize(h) | "head": d = z
//! coefficients = "shrink"      # shrink | gibbs
//! gamma = 200.0                # γ, reconstruction weight in L_se
//! lambda = 0.9                 # λ, ℓ1 share of the elastic net in L_se
//! alpha = 1.0                  # α, weight of L_se
//! energy_temperature = 0.1     # T, of the Gibbs map and of L_ebm (senet: only with gibbs)
//! geometry = 1.0               # κ: −E = κ·cos(d_i, d_j) + ⟨u_i, v_j⟩ (0: towers only)
//! residual_init = "zero"       # zero: the towers' residual starts at 0 | random
//!                              # (both default to SENet's 0 and random with method = "senet")
//! min_effective_rank = 10.0    # collapse alarm (0: off); default: [cluster] n_clusters
//! monitor_samples = 5000       # samples scored per epoch, at most every 20 steps (rank, kNN)
//! energy_dim = 64              # m, width of the towers' tanh outputs
//! energy_hidden = [256]        # hidden ReLU layers of each tower
//! threshold_init = 0.0         # b of the shrink map at the start (learned, ≥ 0)
//! epochs = 20                  # the loop: epochs, min_steps, batch_size, samples_per_epoch,
//! batch_size = 256             # warmup_epochs, final_lr_ratio, clip_grad_norm,
//! checkpoint_every = 100       # checkpoint_every and [train.optimizer]
//! [train.optimizer]
//! kind = "adam"
//! lr = 1e-3
//! # method = "ebsc" only (a "senet" pipeline that inherits them from a base drops them):
//! freeze_encoder = false       # true: backbone and head fixed, only the energy net learns
//! beta = 1.0                   # β, weight of L_ebm
//! ssl_temperature = 0.5        # τ, NT-Xent temperature of L_ssl (as in [pretrain])
//! queue_size = 0               # momentum-encoder queue of extra atoms (0: none)
//! momentum = 0.99              # momentum encoder's EMA rate (with queue_size > 0)
//! tcr_weight = 0.0             # η, weight of −R(d), the total coding rate (against collapse)
//! tcr_eps = 0.1                # ε of the coding rate
//! se_warmup_steps = 0          # L_se and L_ebm are off for the first steps (L_ssl + L_tcr)
//! encoder_lr_scale = 1.0       # the encoder's learning rate = this × optimizer.lr
//! encoder_se_grad = 1.0        # share of L_se's and L_ebm's gradient that reaches the encoder
//! [train.augment]              # the two views; none: both views equal
//! noise = { std = 0.02 }
//! ```

use ebsc_core::{ConfigError, Pipeline};
use ebsc_nn::augment::AugmentConfig;
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::loop_settings::{LoopDefaults, LoopSettings};
use serde::{Deserialize, Serialize};

pub const SECTION: &str = "train";

/// Keys that were renamed so that one concept has one name in every section.
pub const RENAMED: [(&str, &str); 2] = [
    ("tau", "ssl_temperature"),
    ("temperature", "energy_temperature"),
];

/// The keys only joint training (`method = "ebsc"`) reads.
pub const JOINT_KEYS: [&str; 11] = [
    "freeze_encoder",
    "beta",
    "ssl_temperature",
    "queue_size",
    "momentum",
    "tcr_weight",
    "tcr_eps",
    "se_warmup_steps",
    "encoder_lr_scale",
    "encoder_se_grad",
    "augment",
];

pub use ebsc_nn::dictionary::DictionarySource;

/// How the towers' residual on top of the cosine term starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidualInit {
    /// The query tower's last layer at zero: the residual is 0 until training moves it.
    Zero,
    /// PyTorch's default initialisation for every layer.
    Random,
}

/// What is trained, with the settings only that method reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Method {
    /// The energy-based model trained with the encoder on two views of each batch.
    Ebsc(Box<JointSettings>),
    /// The SENet baseline: the energy network alone, on the frozen features of one view.
    Senet,
}

/// `method = "ebsc"`: L = L_ssl + α·L_se + β·L_ebm − η·R(d).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointSettings {
    /// Backbone and head fixed: only the energy net learns (still two views, L_ebm).
    pub freeze_encoder: bool,
    pub beta: f64,
    pub ssl_temperature: f64,
    pub queue_size: usize,
    pub momentum: f64,
    pub tcr_weight: f64,
    pub tcr_eps: f64,
    pub se_warmup_steps: u64,
    pub encoder_lr_scale: f64,
    pub encoder_se_grad: f64,
    pub augment: AugmentConfig,
}

/// `[train]` as checked settings; hashed flat, as the section reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    #[serde(flatten)]
    pub method: Method,
    pub dictionary: DictionarySource,
    pub coefficients: CoefficientKind,
    pub gamma: f64,
    pub lambda: f64,
    pub alpha: f64,
    /// T; `None` where nothing reads it (senet with the shrink map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_temperature: Option<f64>,
    /// κ, the cosine term's weight: as set, else 1 (0 for the SENet baseline, which has
    /// only the two towers).
    pub geometry: f64,
    /// As set, else zero (random for the SENet baseline).
    pub residual_init: ResidualInit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_effective_rank: Option<f64>,
    pub monitor_samples: usize,
    pub energy_dim: i64,
    pub energy_hidden: Vec<i64>,
    pub threshold_init: f64,
    /// The loop: epochs, batches, optimiser, schedule, checkpoints.
    #[serde(flatten)]
    pub schedule: LoopSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum MethodKind {
    Ebsc,
    Senet,
}

/// The section's own keys as written (the loop's are split off first). The joint keys
/// are optional here; [`TrainSection::into_config`] says which method needs which.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainSection {
    method: MethodKind,
    dictionary: DictionarySource,
    coefficients: CoefficientKind,
    gamma: f64,
    lambda: f64,
    alpha: f64,
    energy_temperature: Option<f64>,
    geometry: Option<f64>,
    residual_init: Option<ResidualInit>,
    min_effective_rank: Option<f64>,
    #[serde(default = "default_monitor_samples")]
    monitor_samples: usize,
    energy_dim: i64,
    energy_hidden: Vec<i64>,
    #[serde(default)]
    threshold_init: f64,
    freeze_encoder: Option<bool>,
    beta: Option<f64>,
    ssl_temperature: Option<f64>,
    queue_size: Option<usize>,
    momentum: Option<f64>,
    tcr_weight: Option<f64>,
    tcr_eps: Option<f64>,
    se_warmup_steps: Option<u64>,
    encoder_lr_scale: Option<f64>,
    encoder_se_grad: Option<f64>,
    augment: Option<AugmentConfig>,
}

fn default_monitor_samples() -> usize {
    5000
}

/// The loop has no defaults in `[train]` but the checkpoint interval.
fn loop_defaults() -> LoopDefaults {
    LoopDefaults {
        epochs: None,
        batch_size: None,
        optimizer: None,
        min_batch: 3,
        min_batch_reason: "a query needs atoms besides itself and its twin",
    }
}

impl TrainConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<TrainConfig, ConfigError> {
        pipeline.check_renamed(SECTION, &RENAMED)?;
        let (schedule, mut rest) = LoopSettings::split_from(pipeline, SECTION, &loop_defaults())?;
        if rest.get("method").and_then(|m| m.as_str()) == Some("senet") {
            let gibbs = rest.get("coefficients").and_then(|c| c.as_str()) == Some("gibbs");
            let unused = JOINT_KEYS
                .iter()
                .chain((!gibbs).then_some(&"energy_temperature"));
            for key in unused {
                if !rest.contains_key(*key) {
                    continue;
                }
                // A baseline that extends a joint pipeline inherits its joint keys: they
                // are dropped (and so not hashed). Written here, they are a mistake.
                if pipeline.writes(SECTION, key) {
                    return Err(pipeline.invalid(
                        SECTION,
                        format!(
                            "`{key}` is not used by method = \"senet\"{}; remove it",
                            if *key == "energy_temperature" {
                                " with coefficients = \"shrink\""
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                rest.remove(*key);
            }
        }
        let section: TrainSection = pipeline.deserialize(SECTION, rest)?;
        let config = section
            .into_config(schedule)
            .map_err(|message| pipeline.invalid(SECTION, message))?;
        config
            .validate()
            .map_err(|message| pipeline.invalid(SECTION, message))?;
        Ok(config)
    }

    /// The joint settings, `None` for the SENet baseline.
    pub fn joint(&self) -> Option<&JointSettings> {
        match &self.method {
            Method::Ebsc(joint) => Some(joint),
            Method::Senet => None,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let mut positive = vec![("gamma", self.gamma)];
        positive.extend(self.energy_temperature.map(|t| ("energy_temperature", t)));
        if let Some(joint) = self.joint() {
            positive.push(("ssl_temperature", joint.ssl_temperature));
            positive.push(("tcr_eps", joint.tcr_eps));
            positive.push(("encoder_lr_scale", joint.encoder_lr_scale));
        }
        for (name, value) in positive {
            if !(value > 0.0 && value.is_finite()) {
                return Err(format!("{name} must be a positive number, got {value}"));
            }
        }
        let mut weights = vec![("alpha", self.alpha), ("geometry", self.geometry)];
        if let Some(joint) = self.joint() {
            weights.push(("beta", joint.beta));
            weights.push(("tcr_weight", joint.tcr_weight));
        }
        for (name, value) in weights {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(format!("{name} must be ≥ 0, got {value}"));
            }
        }
        if let Some(joint) = self.joint() {
            if !(0.0..=1.0).contains(&joint.encoder_se_grad) {
                return Err(format!(
                    "encoder_se_grad must be in [0, 1] (0: no gradient of L_se into the encoder), got {}",
                    joint.encoder_se_grad
                ));
            }
            if !(0.0..1.0).contains(&joint.momentum) {
                return Err(format!(
                    "momentum must be in [0, 1), got {}",
                    joint.momentum
                ));
            }
            joint.augment.validate()?;
        }
        if let Some(rank) = self.min_effective_rank
            && !(rank >= 0.0 && rank.is_finite())
        {
            return Err(format!("min_effective_rank must be ≥ 0, got {rank}"));
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(format!("lambda must be in [0, 1], got {}", self.lambda));
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
        Ok(())
    }
}

impl TrainSection {
    fn into_config(self, schedule: LoopSettings) -> Result<TrainConfig, String> {
        let needs_temperature =
            self.method == MethodKind::Ebsc || self.coefficients == CoefficientKind::Gibbs;
        if needs_temperature && self.energy_temperature.is_none() {
            return Err(format!(
                "missing field `energy_temperature` (T of {})",
                if self.method == MethodKind::Ebsc {
                    "L_ebm and the Gibbs map"
                } else {
                    "the Gibbs map"
                }
            ));
        }
        let method = match self.method {
            MethodKind::Senet => Method::Senet,
            MethodKind::Ebsc => Method::Ebsc(Box::new(JointSettings {
                freeze_encoder: self.freeze_encoder.unwrap_or(false),
                beta: self.beta.ok_or("missing field `beta` (weight of L_ebm)")?,
                ssl_temperature: self
                    .ssl_temperature
                    .ok_or("missing field `ssl_temperature` (τ of L_ssl)")?,
                queue_size: self.queue_size.unwrap_or(0),
                momentum: self.momentum.unwrap_or(0.99),
                tcr_weight: self.tcr_weight.unwrap_or(0.0),
                tcr_eps: self.tcr_eps.unwrap_or(0.1),
                se_warmup_steps: self.se_warmup_steps.unwrap_or(0),
                encoder_lr_scale: self.encoder_lr_scale.unwrap_or(1.0),
                encoder_se_grad: self.encoder_se_grad.unwrap_or(1.0),
                augment: self.augment.unwrap_or_default(),
            })),
        };
        let senet = matches!(method, Method::Senet);
        Ok(TrainConfig {
            method,
            dictionary: self.dictionary,
            coefficients: self.coefficients,
            gamma: self.gamma,
            lambda: self.lambda,
            alpha: self.alpha,
            energy_temperature: self.energy_temperature,
            geometry: self.geometry.unwrap_or(if senet { 0.0 } else { 1.0 }),
            residual_init: self.residual_init.unwrap_or(if senet {
                ResidualInit::Random
            } else {
                ResidualInit::Zero
            }),
            min_effective_rank: self.min_effective_rank,
            monitor_samples: self.monitor_samples,
            energy_dim: self.energy_dim,
            energy_hidden: self.energy_hidden,
            threshold_init: self.threshold_init,
            schedule,
        })
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
ssl_temperature = 0.5
energy_temperature = 0.1
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

    fn senet(extra: &str) -> String {
        format!(
            "method = \"senet\"\ndictionary = \"head\"\ncoefficients = \"shrink\"\n\
             gamma = 50.0\nlambda = 0.9\nalpha = 1.0\nenergy_dim = 8\nenergy_hidden = [16]\n\
             epochs = 2\nbatch_size = 32\noptimizer = {{ kind = \"adam\", lr = 1e-3 }}\n{extra}"
        )
    }

    #[test]
    fn reads_a_full_section() {
        let c = load(GOOD).unwrap();
        let joint = c.joint().unwrap();
        assert_eq!(c.energy_hidden, vec![16]);
        assert_eq!((joint.momentum, joint.ssl_temperature), (0.99, 0.5));
        assert_eq!(c.schedule.epochs, 2);
        // The energy starts from the cosine geometry unless told otherwise ...
        assert_eq!((c.geometry, c.residual_init), (1.0, ResidualInit::Zero));
        assert_eq!(
            (
                joint.tcr_weight,
                joint.encoder_se_grad,
                c.schedule.min_steps
            ),
            (0.0, 1.0, 0)
        );
        // ... but the SENet baseline is the plain two-tower energy by default.
        let c = load(&senet("")).unwrap();
        assert_eq!(c.method, Method::Senet);
        assert_eq!((c.geometry, c.residual_init), (0.0, ResidualInit::Random));
        assert_eq!(c.energy_temperature, None);
        let c = load(&senet("geometry = 2.0")).unwrap();
        assert_eq!(c.geometry, 2.0);
    }

    #[test]
    fn the_key_holds_only_what_the_method_reads() {
        let json = serde_json::to_value(load(&senet("")).unwrap()).unwrap();
        assert_eq!(json["method"], "senet");
        for key in JOINT_KEYS.iter().chain(&["energy_temperature"]) {
            assert!(json.get(*key).is_none(), "senet hashes {key}");
        }
        let json = serde_json::to_value(load(GOOD).unwrap()).unwrap();
        assert_eq!(json["method"], "ebsc");
        assert_eq!(json["ssl_temperature"], 0.5);
        assert_eq!(
            (json["epochs"].clone(), json["energy_temperature"].clone()),
            (2.into(), 0.1.into())
        );
    }

    #[test]
    fn senet_drops_inherited_joint_keys_and_refuses_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("joint.toml");
        std::fs::write(&base, format!("[pipeline]\nseed = 0\n[train]\n{GOOD}")).unwrap();
        let child = dir.path().join("baseline.toml");
        std::fs::write(
            &child,
            "extends = \"joint.toml\"\n[train]\nmethod = \"senet\"\ngeometry = 0.0\n",
        )
        .unwrap();
        let c = TrainConfig::from_pipeline(&Pipeline::load(&child).unwrap()).unwrap();
        assert_eq!((c.method, c.energy_temperature), (Method::Senet, None));
        std::fs::write(
            &child,
            "extends = \"joint.toml\"\n[train]\nmethod = \"senet\"\nbeta = 0.0\n",
        )
        .unwrap();
        let err = TrainConfig::from_pipeline(&Pipeline::load(&child).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("baseline.toml: [train]: `beta` is not used by method = \"senet\""),
            "{err}"
        );
        // With the Gibbs map the baseline needs T.
        let err = load(&senet("").replace("\"shrink\"", "\"gibbs\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `energy_temperature`"), "{err}");
    }

    #[test]
    fn bad_values_and_old_names_name_the_field() {
        let err = load(&GOOD.replace("lambda = 0.9", "lambda = 1.5"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[train]") && err.contains("lambda must be in [0, 1]"),
            "{err}"
        );
        for (old, new) in RENAMED {
            let err = load(&format!("{old} = 0.5\n{GOOD}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("`{old}` is now called `{new}`")),
                "{err}"
            );
        }
        let err = load(&GOOD.replace("beta = 1.0\n", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `beta`"), "{err}");
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
            ("batch_size = 2", "batch_size must be at least 3"),
        ] {
            let body = match line.strip_prefix("batch_size") {
                Some(_) => GOOD.replace("batch_size = 32\n", ""),
                None => GOOD.to_string(),
            };
            let err = load(&format!("{line}\n{body}")).unwrap_err().to_string();
            assert!(err.contains(message), "{line}: {err}");
        }
    }
}
