//! One training step of docs/method.md as a [`TrainTask`] for the shared loop:
//! `L = L_ssl + α·L_se + β·L_ebm − η·R(d)` on two views of a batch (`method = "ebsc"`), or
//! `α·L_se` on fixed features of one view (`method = "senet"`).
//!
//! Besides the loss terms, each step records two diagnostics (never used for training):
//! the mean number of non-zero coefficients per row and the share of coefficient mass on
//! atoms of the query's own label. They are kept per step in the task's checkpointed
//! state, so a resumed run reports them for every step. Once per epoch the
//! [`DictionaryMonitor`] scores the dictionary (effective rank; kNN accuracy with labels)
//! and, when the encoder trains, stops a run whose dictionary collapses.

use ebsc_nn::augment::{AugmentConfig, augment};
use ebsc_nn::coding_rate::{effective_rank, total_coding_rate};
use ebsc_nn::coefficients::Threshold;
use ebsc_nn::data::Inputs;
use ebsc_nn::encoders::{Model, l2_normalize};
use ebsc_nn::energy::EnergyNet;
use ebsc_nn::loss::nt_xent;
use ebsc_nn::monitor::knn_accuracy;
use ebsc_nn::seed::{epoch_permutation, step_rng};
use ebsc_nn::self_expressive::{
    SelfExpressiveWeights, mean_nonzeros, same_label_share, self_expressive_losses, stacked_twins,
};
use ebsc_nn::trainer::{StepAt, TrainTask};
use tch::{Kind, Tensor};

use crate::config::{DictionarySource, Method, TrainConfig};

/// The diagnostics' metrics columns.
pub const DIAGNOSTICS: [&str; 2] = ["mean_nonzeros", "same_label_share"];

/// The dictionary representation `d` from backbone output `h` and head output `z`.
pub fn dictionary_of(source: DictionarySource, h: &Tensor, z: &Tensor) -> Tensor {
    match source {
        DictionarySource::Backbone => l2_normalize(h),
        DictionarySource::Head => z.shallow_clone(),
    }
}

/// `d` for the samples at `indices`, eval mode, no augmentation, in blocks.
pub fn embed_dictionary(
    model: &Model,
    inputs: &Inputs,
    source: DictionarySource,
    indices: &[i64],
) -> Tensor {
    let _guard = tch::no_grad_guard();
    let blocks: Vec<Tensor> = indices
        .chunks(512)
        .map(|chunk| {
            let h = model.backbone(&inputs.batch(chunk), false);
            let z = model.head(&h, false);
            dictionary_of(source, &h, &z).to_kind(Kind::Float)
        })
        .collect();
    Tensor::cat(&blocks, 0)
}

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

/// A FIFO of momentum-encoder representations (and their labels, for the diagnostic).
pub struct Queue {
    pub capacity: usize,
    pub d: Option<Tensor>,
    pub labels: Vec<i64>,
}

impl Queue {
    fn push(&mut self, d: Tensor, labels: &[i64]) {
        let all = match &self.d {
            Some(q) => Tensor::cat(&[q, &d], 0),
            None => d,
        };
        self.labels.extend_from_slice(labels);
        let n = all.size()[0] as usize;
        let keep = n.min(self.capacity);
        self.d = Some(all.narrow(0, (n - keep) as i64, keep as i64));
        self.labels.drain(..self.labels.len() - keep);
    }
}

/// A momentum copy of backbone and head: `θ_m ← μ·θ_m + (1 − μ)·θ` after every step.
pub struct Momentum {
    pub model: Model,
    /// Owns the copy's variables.
    pub _vs: tch::nn::VarStore,
    /// `(momentum variable, online variable)` pairs, matched by name.
    pub pairs: Vec<(String, Tensor, Tensor)>,
    pub rate: f64,
}

impl Momentum {
    fn update(&mut self) {
        tch::no_grad(|| {
            for (_, target, online) in &mut self.pairs {
                let next = &*target * self.rate + online.detach() * (1.0 - self.rate);
                target.copy_(&next);
            }
        });
    }
}

pub struct SelfExpressiveTask<'a> {
    pub config: &'a TrainConfig,
    pub model: &'a Model,
    pub inputs: &'a Inputs,
    pub energy: &'a EnergyNet,
    pub threshold: Threshold,
    /// Per sample, −1 when unknown (diagnostics only).
    pub labels: &'a [i64],
    pub seed: u64,
    pub batch_size: usize,
    /// The encoder is trained (not frozen, not the identity).
    pub encoder_trains: bool,
    /// L_ssl is on (a trainable encoder with a head, not frozen).
    pub ssl: bool,
    pub monitor: Option<DictionaryMonitor>,
    /// `senet`: the fixed dictionary of every sample.
    pub fixed_dictionary: Option<Tensor>,
    pub queue: Option<Queue>,
    pub momentum: Option<Momentum>,
    /// `(mean non-zeros, same-label share or NaN)` per global step.
    pub diagnostics: Vec<[f64; 2]>,
    order: Option<(u64, Vec<usize>)>,
    /// The last step's first view and labels, for the queue.
    last_batch: Option<(Tensor, Vec<i64>)>,
}

impl<'a> SelfExpressiveTask<'a> {
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
        SelfExpressiveTask {
            config,
            model,
            inputs,
            energy,
            threshold,
            labels,
            seed,
            batch_size,
            encoder_trains: false,
            ssl: false,
            monitor: None,
            fixed_dictionary: None,
            queue: None,
            momentum: None,
            diagnostics: Vec::new(),
            order: None,
            last_batch: None,
        }
    }

    fn weights(&self) -> SelfExpressiveWeights {
        SelfExpressiveWeights {
            coefficients: self.config.coefficients,
            gamma: self.config.gamma,
            lambda: self.config.lambda,
            temperature: self.config.temperature,
        }
    }

    /// A slice of the epoch's permutation (from seed and epoch alone: resumable).
    fn batch_indices(&mut self, at: &StepAt) -> Vec<i64> {
        let n = self.inputs.len();
        if self.order.as_ref().map(|(e, _)| *e) != Some(at.epoch) {
            self.order = Some((at.epoch, epoch_permutation(self.seed, at.epoch, n)));
        }
        let order = &self.order.as_ref().expect("set above").1;
        let start = at.step_in_epoch as usize * self.batch_size;
        order[start..start + self.batch_size]
            .iter()
            .map(|&i| i as i64)
            .collect()
    }

    fn two_views(&self, x: &Tensor, at: &StepAt) -> (Tensor, Tensor) {
        if self.config.augment == AugmentConfig::default() {
            return (x.shallow_clone(), x.shallow_clone());
        }
        let mut rng = step_rng(self.seed, "augment", at.epoch, at.global_step);
        let v1 = augment(x, &self.config.augment, &mut rng);
        let v2 = augment(x, &self.config.augment, &mut rng);
        (v1, v2)
    }

    fn record(&mut self, at: &StepAt, c: &Tensor, rows: &[i64], atoms: &[i64]) {
        let share = same_label_share(c, rows, atoms).unwrap_or(f64::NAN);
        let step = at.global_step as usize;
        if self.diagnostics.len() <= step {
            self.diagnostics.resize(step + 1, [f64::NAN; 2]);
        }
        self.diagnostics[step] = [mean_nonzeros(c), share];
    }

    fn senet_step(&mut self, at: &StepAt, indices: &[i64]) -> Vec<Tensor> {
        let fixed = self
            .fixed_dictionary
            .as_ref()
            .expect("senet tasks are built with a fixed dictionary");
        let index = Tensor::from_slice(indices).to_device(fixed.device());
        let d = fixed.index_select(0, &index); // [B, D]
        let out = self_expressive_losses(
            self.energy,
            &self.threshold.value(),
            &self.weights(),
            &d,
            None,
            None,
        );
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i as usize]).collect();
        self.record(at, &out.coefficients, &labels, &labels);
        vec![out.se_loss * self.config.alpha]
    }

    fn ebsc_step(&mut self, at: &StepAt, indices: &[i64]) -> Vec<Tensor> {
        let b = indices.len() as i64;
        let x = self.inputs.batch(indices);
        let (v1, v2) = self.two_views(&x, at);
        let views = Tensor::cat(&[&v1, &v2], 0); // [2B, ...]
        let frozen = self.config.freeze_encoder || !self.model.is_trainable();
        let (h, z) = if frozen {
            tch::no_grad(|| {
                let h = self.model.backbone(&views, false);
                let z = self.model.head(&h, false);
                (h, z)
            })
        } else {
            let h = self.model.backbone(&views, true);
            let z = self.model.head(&h, true);
            (h, z)
        };
        let d = dictionary_of(self.config.dictionary, &h, &z).to_kind(Kind::Float); // [2B, D]
        let twins = stacked_twins(b);
        let queue = self.queue.as_ref().and_then(|q| q.d.as_ref());
        let out = self_expressive_losses(
            self.energy,
            &self.threshold.value(),
            &self.weights(),
            &scale_gradient(&d, self.config.encoder_se_grad),
            Some(&twins),
            queue,
        );
        let batch_labels: Vec<i64> = indices.iter().map(|&i| self.labels[i as usize]).collect();
        let rows: Vec<i64> = batch_labels.iter().chain(&batch_labels).copied().collect();
        let mut atoms = rows.clone();
        if let Some(q) = &self.queue {
            atoms.extend(&q.labels);
        }
        self.record(at, &out.coefficients, &rows, &atoms);

        let mut terms = Vec::with_capacity(4);
        if self.ssl {
            terms.push(nt_xent(
                &z.narrow(0, 0, b),
                &z.narrow(0, b, b),
                self.config.tau,
            ));
        }
        // During the warm-up only L_ssl and the coding rate shape the encoder.
        let on = if at.global_step < self.config.se_warmup_steps {
            0.0
        } else {
            1.0
        };
        terms.push(out.se_loss * (self.config.alpha * on));
        let ebm = out.ebm_loss.expect("two views always have twins");
        terms.push(ebm * (self.config.beta * on));
        if self.uses_coding_rate() {
            terms.push(total_coding_rate(&d, self.config.tcr_eps) * -self.config.tcr_weight);
        }
        if self.queue.is_some() {
            self.last_batch = Some((v1, batch_labels));
        }
        terms
    }
}

impl SelfExpressiveTask<'_> {
    /// The coding-rate term only acts on an encoder that trains (so only with `ebsc`).
    fn uses_coding_rate(&self) -> bool {
        self.encoder_trains && self.config.tcr_weight > 0.0
    }
}

impl TrainTask for SelfExpressiveTask<'_> {
    fn loss_terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = match self.config.method {
            Method::Senet => vec!["se".into()],
            Method::Ebsc if self.ssl => vec!["ssl".into(), "se".into(), "ebm".into()],
            Method::Ebsc => vec!["se".into(), "ebm".into()],
        };
        if self.uses_coding_rate() {
            terms.push("tcr".into());
        }
        terms
    }

    fn monitors(&self) -> Vec<String> {
        self.monitor.as_ref().map_or_else(Vec::new, |m| m.names())
    }

    fn end_epoch(&mut self, _epoch: u64) -> anyhow::Result<Vec<f64>> {
        let Some(monitor) = &self.monitor else {
            return Ok(Vec::new());
        };
        // Only joint runs monitor per epoch (a frozen dictionary is scored once, after
        // training), so the dictionary is always the encoder's current one.
        let d = embed_dictionary(
            self.model,
            self.inputs,
            self.config.dictionary,
            &monitor.indices,
        );
        Ok(monitor.score(&d))
    }

    fn check_epoch(&self, _epoch: u64, monitor_values: &[f64]) -> Option<String> {
        self.monitor.as_ref()?.alarm_reason(monitor_values)
    }

    fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>> {
        let indices = self.batch_indices(at);
        Ok(match self.config.method {
            Method::Senet => self.senet_step(at, &indices),
            Method::Ebsc => self.ebsc_step(at, &indices),
        })
    }

    fn after_step(&mut self, _at: &StepAt) -> anyhow::Result<()> {
        self.threshold.project();
        if let Some(momentum) = &mut self.momentum {
            momentum.update();
        }
        if let (Some(queue), Some((view, labels))) = (&mut self.queue, self.last_batch.take()) {
            let encoder = self.momentum.as_ref().map_or(self.model, |m| &m.model);
            let keys = tch::no_grad(|| {
                let h = encoder.backbone(&view, false);
                let z = encoder.head(&h, false);
                dictionary_of(self.config.dictionary, &h, &z).to_kind(Kind::Float)
            });
            queue.push(keys, &labels);
        }
        Ok(())
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let flat: Vec<f64> = self.diagnostics.iter().flatten().copied().collect();
        let mut state = vec![(
            "diagnostics".to_string(),
            Tensor::from_slice(&flat).view([-1, 2]),
        )];
        if let Some(q) = &self.queue
            && let Some(d) = &q.d
        {
            state.push(("queue.d".into(), d.to_device(tch::Device::Cpu)));
            state.push(("queue.labels".into(), Tensor::from_slice(&q.labels)));
        }
        if let Some(m) = &self.momentum {
            for (name, t, _) in &m.pairs {
                state.push((format!("momentum.{name}"), t.to_device(tch::Device::Cpu)));
            }
        }
        state
    }

    fn load_state_tensors(&mut self, tensors: &[(String, Tensor)]) -> anyhow::Result<()> {
        let device = self.inputs.device();
        for (name, t) in tensors {
            if name == "diagnostics" {
                let flat: Vec<f64> = Vec::try_from(t.to_kind(Kind::Double).reshape([-1]))?;
                self.diagnostics = flat.chunks(2).map(|p| [p[0], p[1]]).collect();
            } else if name == "queue.d" {
                let queue = self.queue.as_mut().ok_or_else(|| {
                    anyhow::anyhow!("checkpoint has a queue, the config has none")
                })?;
                queue.d = Some(t.to_device(device));
            } else if name == "queue.labels" {
                if let Some(queue) = self.queue.as_mut() {
                    queue.labels = Vec::try_from(t.to_kind(Kind::Int64))?;
                }
            } else if let Some(var) = name.strip_prefix("momentum.") {
                let momentum = self.momentum.as_mut().ok_or_else(|| {
                    anyhow::anyhow!("checkpoint has a momentum encoder, the config has none")
                })?;
                let (_, target, _) = momentum
                    .pairs
                    .iter_mut()
                    .find(|(n, _, _)| n == var)
                    .ok_or_else(|| anyhow::anyhow!("checkpoint: unknown momentum tensor {var}"))?;
                tch::no_grad(|| target.copy_(&t.to_device(device)));
            }
        }
        Ok(())
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

    #[test]
    fn queue_keeps_the_newest_rows_and_their_labels() {
        // Capacity 3: push rows [0, 1], then [2, 3] → rows [1, 2, 3], labels [11, 12, 13].
        let mut q = Queue {
            capacity: 3,
            d: None,
            labels: Vec::new(),
        };
        q.push(Tensor::from_slice(&[0f32, 1.]).view([2, 1]), &[10, 11]);
        q.push(Tensor::from_slice(&[2f32, 3.]).view([2, 1]), &[12, 13]);
        let rows: Vec<f32> = Vec::try_from(q.d.unwrap().reshape([-1])).unwrap();
        assert_eq!(rows, vec![1., 2., 3.]);
        assert_eq!(q.labels, vec![11, 12, 13]);
    }
}
