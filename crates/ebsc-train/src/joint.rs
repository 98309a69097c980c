//! `method = "ebsc"`, joint training: `L = L_ssl + α·L_se + β·L_ebm − η·R(d)` on two
//! views of each batch (docs/method.md, "Mini-batch training"), with an optional queue of
//! momentum-encoder atoms, and the per-epoch dictionary monitor that stops a collapse.

use ebsc_nn::augment::{AugmentConfig, augment};
use ebsc_nn::coding_rate::total_coding_rate;
use ebsc_nn::encoders::Model;
use ebsc_nn::loss::nt_xent;
use ebsc_nn::seed::step_rng;
use ebsc_nn::self_expressive::{self_expressive_losses, stacked_twins};
use ebsc_nn::trainer::{StepAt, TrainTask};
use tch::{Kind, Tensor};

use crate::config::JointSettings;
use crate::task::{
    DictionaryMonitor, SelfExpressive, dictionary_of, embed_dictionary, scale_gradient,
};

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

pub struct JointTask<'a> {
    pub core: SelfExpressive<'a>,
    pub joint: &'a JointSettings,
    /// The encoder is trained (not frozen, not the identity).
    pub encoder_trains: bool,
    /// L_ssl is on (a trainable encoder with a head, not frozen).
    pub ssl: bool,
    pub monitor: Option<DictionaryMonitor>,
    pub queue: Option<Queue>,
    pub momentum: Option<Momentum>,
    /// The last step's first view and labels, for the queue.
    last_batch: Option<(Tensor, Vec<i64>)>,
}

impl<'a> JointTask<'a> {
    pub fn new(core: SelfExpressive<'a>, joint: &'a JointSettings) -> Self {
        JointTask {
            core,
            joint,
            encoder_trains: false,
            ssl: false,
            monitor: None,
            queue: None,
            momentum: None,
            last_batch: None,
        }
    }

    fn two_views(&self, x: &Tensor, at: &StepAt) -> (Tensor, Tensor) {
        if self.joint.augment == AugmentConfig::default() {
            return (x.shallow_clone(), x.shallow_clone());
        }
        let mut rng = step_rng(self.core.seed, "augment", at.epoch, at.global_step);
        let v1 = augment(x, &self.joint.augment, &mut rng);
        let v2 = augment(x, &self.joint.augment, &mut rng);
        (v1, v2)
    }

    /// The coding-rate term only acts on an encoder that trains.
    fn uses_coding_rate(&self) -> bool {
        self.encoder_trains && self.joint.tcr_weight > 0.0
    }
}

impl TrainTask for JointTask<'_> {
    fn loss_terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = if self.ssl {
            vec!["ssl".into(), "se".into(), "ebm".into()]
        } else {
            vec!["se".into(), "ebm".into()]
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
        // Only runs whose encoder trains monitor per epoch (a frozen dictionary is scored
        // once, after training), so the dictionary is always the encoder's current one.
        let d = embed_dictionary(
            self.core.model,
            self.core.inputs,
            self.core.config.dictionary,
            &monitor.indices,
        );
        Ok(monitor.score(&d))
    }

    fn check_epoch(&self, _epoch: u64, monitor_values: &[f64]) -> Option<String> {
        self.monitor.as_ref()?.alarm_reason(monitor_values)
    }

    fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>> {
        let indices = self.core.batch_indices(at);
        let b = indices.len() as i64;
        let x = self.core.inputs.batch(&indices);
        let (v1, v2) = self.two_views(&x, at);
        let views = Tensor::cat(&[&v1, &v2], 0); // [2B, ...]
        let model = self.core.model;
        let frozen = self.joint.freeze_encoder || !model.is_trainable();
        let (h, z) = if frozen {
            tch::no_grad(|| {
                let h = model.backbone(&views, false);
                let z = model.head(&h, false);
                (h, z)
            })
        } else {
            let h = model.backbone(&views, true);
            let z = model.head(&h, true);
            (h, z)
        };
        let d = dictionary_of(self.core.config.dictionary, &h, &z).to_kind(Kind::Float); // [2B, D]
        let twins = stacked_twins(b);
        let queue = self.queue.as_ref().and_then(|q| q.d.as_ref());
        let out = self_expressive_losses(
            self.core.energy,
            &self.core.threshold.value(),
            &self.core.weights(),
            &scale_gradient(&d, self.joint.encoder_se_grad),
            Some(&twins),
            queue,
        );
        self.core
            .threshold
            .bound_next_projection(out.threshold_ceiling.as_ref());
        let batch_labels = self.core.labels_of(&indices);
        let rows: Vec<i64> = batch_labels.iter().chain(&batch_labels).copied().collect();
        let mut atoms = rows.clone();
        if let Some(q) = &self.queue {
            atoms.extend(&q.labels);
        }
        self.core.record(at, &out.coefficients, &rows, &atoms);

        let mut terms = Vec::with_capacity(4);
        if self.ssl {
            terms.push(nt_xent(
                &z.narrow(0, 0, b),
                &z.narrow(0, b, b),
                self.joint.ssl_temperature,
            ));
        }
        // During the warm-up only L_ssl and the coding rate shape the encoder.
        let on = if at.global_step < self.joint.se_warmup_steps {
            0.0
        } else {
            1.0
        };
        terms.push(out.se_loss * (self.core.config.alpha * on));
        let ebm = out.ebm_loss.expect("two views always have twins");
        terms.push(ebm * (self.joint.beta * on));
        if self.uses_coding_rate() {
            terms.push(total_coding_rate(&d, self.joint.tcr_eps) * -self.joint.tcr_weight);
        }
        if self.queue.is_some() {
            self.last_batch = Some((v1, batch_labels));
        }
        Ok(terms)
    }

    fn after_step(&mut self, _at: &StepAt) -> anyhow::Result<()> {
        self.core.threshold.project();
        if let Some(momentum) = &mut self.momentum {
            momentum.update();
        }
        if let (Some(queue), Some((view, labels))) = (&mut self.queue, self.last_batch.take()) {
            let encoder: &Model = self.momentum.as_ref().map_or(self.core.model, |m| &m.model);
            let source = self.core.config.dictionary;
            let keys = tch::no_grad(|| {
                let h = encoder.backbone(&view, false);
                let z = encoder.head(&h, false);
                dictionary_of(source, &h, &z).to_kind(Kind::Float)
            });
            queue.push(keys, &labels);
        }
        Ok(())
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut state = vec![self.core.diagnostics_state()];
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
        let device = self.core.inputs.device();
        for (name, t) in tensors {
            if self.core.load_diagnostics(name, t)? {
                continue;
            }
            if name == "queue.d" {
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
