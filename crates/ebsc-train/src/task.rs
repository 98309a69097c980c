//! What the two methods' training tasks share ([`SelfExpressive`]: the model, data,
//! energy network, batch order and diagnostics) and the pieces they use; the tasks for
//! the shared loop are [`crate::joint::JointTask`] (`method = "ebsc"`) and
//! [`crate::senet::SenetTask`] (`method = "senet"`).
//!
//! Besides the loss terms, each step records two diagnostics (never used for training):
//! the mean number of non-zero coefficients per row and the share of coefficient mass on
//! atoms of the query's own label. They are kept per step in the task's checkpointed
//! state, so a resumed run reports them for every step. Once per epoch the
//! [`DictionaryMonitor`] scores the dictionary (effective rank; kNN accuracy with labels)
//! and, when the encoder trains, stops a run whose dictionary collapses.

use ebsc_nn::coding_rate::effective_rank;
use ebsc_nn::coefficients::Threshold;
use ebsc_nn::data::Inputs;
pub use ebsc_nn::dictionary::{dictionary_of, embed_dictionary};
use ebsc_nn::encoders::Model;
use ebsc_nn::energy::EnergyNet;
use ebsc_nn::monitor::knn_accuracy;
use ebsc_nn::seed::EpochOrder;
use ebsc_nn::self_expressive::{SelfExpressiveWeights, mean_nonzeros, same_label_share};
use ebsc_nn::trainer::StepAt;
use tch::{Kind, Tensor};

use crate::config::TrainConfig;

/// The diagnostics' metrics columns.
pub const DIAGNOSTICS: [&str; 2] = ["mean_nonzeros", "same_label_share"];

/// `x` in the forward pass, `share·∂` in the backward pass: how much of a loss's gradient
/// reaches the tensors `x` came from (1: all, 0: none, a stop-gradient).
pub fn scale_gradient(x: &Tensor, share: f64) -> Tensor {
    if share >= 1.0 || !x.requires_grad() {
        x.shallow_clone()
    } else if share <= 0.0 {
        x.detach()
    } else {
        x * share + x.detach() * (1.0 - share)
    }
}

/// The per-epoch look at the dictionary of a fixed set of samples (eval mode, no
/// augmentation): its effective rank and, with labels, its kNN accuracy. With an alarm
/// level, an effective rank below it stops the run.
pub struct DictionaryMonitor {
    /// Evenly spaced samples, at most `monitor_samples`.
    pub indices: Vec<i64>,
    /// Their labels (−1 unknown); the kNN accuracy is reported when two or more are known.
    pub labels: Vec<i64>,
    pub knn_k: i64,
    /// Stop when the effective rank falls below this (only set when the encoder trains).
    pub alarm: Option<f64>,
}

impl DictionaryMonitor {
    /// Up to `max_samples` evenly spaced samples of `labels.len()`, with no alarm yet (its
    /// level depends on the starting dictionary, which the monitor's samples score).
    pub fn new(labels: &[i64], max_samples: usize) -> DictionaryMonitor {
        let n = labels.len();
        let stride = n.div_ceil(max_samples.max(2)).max(1);
        let indices: Vec<i64> = (0..n).step_by(stride).map(|i| i as i64).collect();
        let labels = indices.iter().map(|&i| labels[i as usize]).collect();
        DictionaryMonitor {
            indices,
            labels,
            knn_k: 20,
            alarm: None,
        }
    }

    fn has_labels(&self) -> bool {
        self.labels.iter().filter(|&&l| l >= 0).count() >= 2
    }

    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["effective_rank".to_string()];
        if self.has_labels() {
            names.push("knn_accuracy".into());
        }
        names
    }

    /// The monitor's values for the dictionary `d` of its samples, in [`Self::names`] order.
    pub fn score(&self, d: &Tensor) -> Vec<f64> {
        let mut values = vec![effective_rank(d)];
        if self.has_labels() {
            values.push(knn_accuracy(d, &self.labels, self.knn_k));
        }
        values
    }

    /// Why the run must stop, if the effective rank (first value) is below the alarm.
    pub fn alarm_reason(&self, values: &[f64]) -> Option<String> {
        let (alarm, rank) = (self.alarm?, *values.first()?);
        (rank < alarm).then(|| {
            format!(
                "the dictionary is collapsing: its effective rank fell to {rank:.2}, below \
                 {alarm:.2} (min_effective_rank; see docs/method.md). Raise tcr_weight, \
                 lower encoder_se_grad or encoder_lr_scale, or set freeze_encoder = true"
            )
        })
    }
}

/// What both methods' tasks share.
pub struct SelfExpressive<'a> {
    pub config: &'a TrainConfig,
    pub model: &'a Model,
    pub inputs: &'a Inputs,
    pub energy: &'a EnergyNet,
    pub threshold: Threshold,
    /// Per sample, −1 when unknown (diagnostics only).
    pub labels: &'a [i64],
    pub seed: u64,
    pub batch_size: usize,
    /// `(mean non-zeros, same-label share or NaN)` per global step.
    pub diagnostics: Vec<[f64; 2]>,
    order: EpochOrder,
}

/// The checkpointed state's name for the diagnostics.
const DIAGNOSTICS_STATE: &str = "diagnostics";

impl<'a> SelfExpressive<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &'a TrainConfig,
        model: &'a Model,
        inputs: &'a Inputs,
        energy: &'a EnergyNet,
        threshold: Threshold,
        labels: &'a [i64],
        seed: u64,
        batch_size: usize,
    ) -> Self {
        SelfExpressive {
            config,
            model,
            inputs,
            energy,
            threshold,
            labels,
            seed,
            batch_size,
            diagnostics: Vec::new(),
            order: EpochOrder::default(),
        }
    }

    pub(crate) fn weights(&self) -> SelfExpressiveWeights {
        SelfExpressiveWeights {
            coefficients: self.config.coefficients,
            gamma: self.config.gamma,
            lambda: self.config.lambda,
            // Unset only for the baseline's shrink map on one view, which never reads T.
            temperature: self.config.energy_temperature.unwrap_or(1.0),
        }
    }

    /// A slice of the epoch's permutation (from seed and epoch alone: resumable).
    pub(crate) fn batch_indices(&mut self, at: &StepAt) -> Vec<i64> {
        let n = self.inputs.len();
        self.order
            .batch(self.seed, n, at.epoch, at.step_in_epoch, self.batch_size)
    }

    pub(crate) fn labels_of(&self, indices: &[i64]) -> Vec<i64> {
        indices.iter().map(|&i| self.labels[i as usize]).collect()
    }

    /// The step's diagnostics of the coefficients `c` (rows × atoms, with their labels).
    pub(crate) fn record(&mut self, at: &StepAt, c: &Tensor, rows: &[i64], atoms: &[i64]) {
        let share = same_label_share(c, rows, atoms).unwrap_or(f64::NAN);
        let step = at.global_step as usize;
        if self.diagnostics.len() <= step {
            self.diagnostics.resize(step + 1, [f64::NAN; 2]);
        }
        self.diagnostics[step] = [mean_nonzeros(c), share];
    }

    pub(crate) fn diagnostics_state(&self) -> (String, Tensor) {
        let flat: Vec<f64> = self.diagnostics.iter().flatten().copied().collect();
        (
            DIAGNOSTICS_STATE.to_string(),
            Tensor::from_slice(&flat).view([-1, 2]),
        )
    }

    /// Takes the diagnostics from a checkpoint's state, if `name` is theirs.
    pub(crate) fn load_diagnostics(&mut self, name: &str, t: &Tensor) -> anyhow::Result<bool> {
        if name != DIAGNOSTICS_STATE {
            return Ok(false);
        }
        let flat: Vec<f64> = Vec::try_from(t.to_kind(Kind::Double).reshape([-1]))?;
        self.diagnostics = flat.chunks(2).map(|p| [p[0], p[1]]).collect();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_gradient_keeps_the_value_and_scales_the_gradient() {
        let mut x = Tensor::from_slice(&[2f32, -1.]).set_requires_grad(true);
        for (share, expected) in [(1.0, 3.0), (0.25, 0.75), (0.0, 0.0)] {
            x.zero_grad();
            let y = scale_gradient(&x, share);
            assert_eq!(Vec::<f32>::try_from(y.detach()).unwrap(), vec![2., -1.]);
            // d/dx of Σ 3·y is 3 for the full gradient, 3·share otherwise.
            let loss = (y * 3.0).sum(Kind::Float);
            if loss.requires_grad() {
                loss.backward();
                let g: Vec<f32> = Vec::try_from(x.grad()).unwrap();
                assert_eq!(g, vec![expected as f32; 2], "share {share}");
            } else {
                assert_eq!(share, 0.0, "only a stop-gradient cuts the graph");
            }
        }
    }

    #[test]
    fn monitor_alarm_fires_below_its_level_only() {
        // 10 samples, at most 4 scored: stride ⌈10/4⌉ = 3 → samples 0, 3, 6, 9.
        let labels: Vec<i64> = (0..10).map(|i| i % 2).collect();
        let monitor = DictionaryMonitor {
            alarm: Some(10.0),
            ..DictionaryMonitor::new(&labels, 4)
        };
        assert_eq!(monitor.indices, vec![0, 3, 6, 9]);
        assert_eq!(monitor.names(), vec!["effective_rank", "knn_accuracy"]);
        assert!(monitor.alarm_reason(&[12.0, 0.9]).is_none());
        let reason = monitor.alarm_reason(&[1.12, 0.2]).unwrap();
        assert!(
            reason.contains("effective rank fell to 1.12, below 10.00"),
            "{reason}"
        );
        // Without labels there is no kNN accuracy; without a level, no alarm.
        let unlabelled = DictionaryMonitor::new(&[-1; 10], 4);
        assert_eq!(unlabelled.names(), vec!["effective_rank"]);
        assert!(unlabelled.alarm_reason(&[0.5]).is_none());
    }
}
