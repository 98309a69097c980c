//! The training loop shared by the training stages: epochs × steps, learning-rate schedule,
//! gradient clipping, checkpoints every N steps with resume, a progress bar per epoch, one
//! metrics row per step, and a stop with an error on a NaN/Inf loss.
//!
//! A stage plugs in its own step through [`TrainTask`]: it draws its batch for the given
//! [`StepAt`] (randomness from [`crate::seed::step_rng`] at that epoch and step, never from
//! carried state) and returns its loss terms, already weighted; the loop sums them,
//! back-propagates and updates. Resuming restores the model variables, the optimizer
//! state, the task's own state and the metrics rows, so the resumed run goes on exactly as
//! an uninterrupted one.
//!
//! ```ignore
//! let outcome = Trainer::new(&config, &vs, &mut optimizer, run.work_dir())
//!     .progress(mode, "pretrain")
//!     .run(&mut task)?;
//! ```

use std::path::Path;
use std::time::Instant;

use ebsc_core::{Progress, ProgressMode};
use ebsc_io::{MetricKind, MetricValue, MetricsLog};
use tch::Tensor;
use tch::nn::VarStore;

use crate::checkpoint::{Checkpoint, CheckpointDir, load_var_tensors, var_tensors};
use crate::optim::{Optimizer, clip_grad_norm};
use crate::schedule::Schedule;

/// The shape of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopConfig {
    pub epochs: u64,
    pub steps_per_epoch: u64,
    /// Samples one step consumes (for samples/s).
    pub samples_per_step: u64,
    /// Save a checkpoint every this many steps (and always after the last step); 0 = only
    /// after the last step.
    pub checkpoint_every: u64,
    /// Clip the global gradient norm to this value.
    pub clip_grad_norm: Option<f64>,
    pub schedule: Schedule,
    /// Run the epoch monitors at most once per this many steps, and after the last epoch;
    /// 1 = every epoch. The stages use [`MONITOR_EVERY_STEPS`].
    pub monitor_every_steps: u64,
}

impl LoopConfig {
    pub fn total_steps(&self) -> u64 {
        self.epochs * self.steps_per_epoch
    }
}

/// A run shorter than its warm-up plus this many steps gets a warning: too few updates for
/// a model to move far from where it started.
pub const FEW_STEPS: u64 = 200;

/// `(epochs, steps per epoch)` of a run asked for `epochs` and at least `min_steps` steps:
/// more epochs when `min_steps` needs them, and at least one step per epoch (a data set
/// smaller than a batch). Sizing in steps lets one recipe serve 400 samples and 70,000.
pub fn run_length(epochs: u64, min_steps: u64, steps_per_epoch: u64) -> (u64, u64) {
    let steps_per_epoch = steps_per_epoch.max(1);
    (
        epochs.max(min_steps.div_ceil(steps_per_epoch)),
        steps_per_epoch,
    )
}

/// The stages' [`LoopConfig::monitor_every_steps`]: a run stretched by `min_steps` over a
/// small data set has epochs of one step, and scoring the model after each would cost more
/// than training it (400 images: 468 scorings in a 7-minute train stage).
pub const MONITOR_EVERY_STEPS: u64 = 20;

/// Every how many epochs the monitors run: the fewest epochs that span `every_steps` steps.
pub fn monitor_interval(every_steps: u64, steps_per_epoch: u64) -> u64 {
    every_steps.div_ceil(steps_per_epoch.max(1)).max(1)
}

/// The batch a data set of `n` samples allows: `asked`, or all `n` samples at once when
/// there are fewer, with a line for the log saying so.
pub fn fit_batch(asked: usize, n: usize) -> (usize, Option<String>) {
    let batch = asked.min(n);
    let note = (batch < asked)
        .then(|| format!("batch_size {asked} is more than the {n} samples: batches of {batch}"));
    (batch, note)
}

/// The log lines about a run of `epochs` (`asked_epochs` in the config, more when
/// `min_steps` needed them) and `total` steps with a `warmup` of that many.
pub fn run_length_notes(
    asked_epochs: u64,
    min_steps: u64,
    epochs: u64,
    total: u64,
    warmup: u64,
) -> Vec<String> {
    let mut notes = Vec::new();
    if epochs > asked_epochs {
        notes.push(format!(
            "min_steps = {min_steps}: {epochs} epochs instead of {asked_epochs}"
        ));
    }
    notes.extend(few_steps_warning(total, warmup));
    notes
}

/// The warning for a run of `total` steps with a `warmup` of that many, if it is short.
pub fn few_steps_warning(total: u64, warmup: u64) -> Option<String> {
    (total < warmup + FEW_STEPS).then(|| {
        format!(
            "warning: {total} optimiser steps, fewer than the warm-up ({warmup}) + {FEW_STEPS}; \
             the model may stay close to where it started (set min_steps)"
        )
    })
}

/// Where in the run a step is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepAt {
    pub epoch: u64,
    /// 0-based step within the epoch.
    pub step_in_epoch: u64,
    /// 0-based step over the whole run.
    pub global_step: u64,
    pub lr: f64,
}

/// What a training stage supplies to the loop.
pub trait TrainTask {
    /// Names of the loss terms [`TrainTask::step`] returns, in order (e.g. `["ssl"]`, or
    /// `["ssl", "se", "ebm"]`). Each gets a `loss_<name>` metrics column when there are
    /// several.
    fn loss_terms(&self) -> Vec<String>;

    /// Runs the forward pass of one step and returns the weighted loss terms (scalars,
    /// with gradients); their sum is minimised.
    fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>>;

    /// After the optimizer update (e.g. a momentum-encoder update or a queue push).
    fn after_step(&mut self, _at: &StepAt) -> anyhow::Result<()> {
        Ok(())
    }

    /// Names of the values [`TrainTask::end_epoch`] returns (metrics columns, null on
    /// steps other than an epoch's last).
    fn monitors(&self) -> Vec<String> {
        Vec::new()
    }

    /// After an epoch's last step, at most once per `monitor_every_steps` steps and after
    /// the last epoch: diagnostics such as a kNN accuracy. Must not change the model.
    fn end_epoch(&mut self, _epoch: u64) -> anyhow::Result<Vec<f64>> {
        Ok(Vec::new())
    }

    /// After [`TrainTask::end_epoch`], with its values: `Some(reason)` stops the run as a
    /// NaN loss does (e.g. a collapsed representation), keeping the last checkpoint saved
    /// before this epoch ended.
    fn check_epoch(&self, _epoch: u64, _monitor_values: &[f64]) -> Option<String> {
        None
    }

    /// Extra state to checkpoint (a memory queue, a momentum encoder's weights).
    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn load_state_tensors(&mut self, _tensors: &[(String, Tensor)]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// What a finished loop reports.
pub struct TrainOutcome {
    /// One row per step of the whole run (including the steps before a resume).
    pub metrics: MetricsLog,
    /// The step the run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Mean loss of the last epoch.
    pub last_epoch_loss: Option<f64>,
}

pub struct Trainer<'a> {
    config: LoopConfig,
    vs: &'a VarStore,
    optimizer: &'a mut Optimizer,
    checkpoints: CheckpointDir,
    progress: ProgressMode,
    label: String,
}

impl<'a> Trainer<'a> {
    /// `work_dir` holds the checkpoints (the stage's `.work/<key>/`).
    pub fn new(
        config: &LoopConfig,
        vs: &'a VarStore,
        optimizer: &'a mut Optimizer,
        work_dir: &Path,
    ) -> Trainer<'a> {
        Trainer {
            config: config.clone(),
            vs,
            optimizer,
            checkpoints: CheckpointDir::new(work_dir),
            progress: ProgressMode::None,
            label: "train".into(),
        }
    }

    /// Progress display and the label that prefixes its lines (the stage name).
    pub fn progress(mut self, mode: ProgressMode, label: &str) -> Self {
        self.progress = mode;
        self.label = label.to_string();
        self
    }

    fn columns(task: &dyn TrainTask) -> Vec<(String, MetricKind)> {
        let mut columns: Vec<(String, MetricKind)> = vec![
            ("epoch".into(), MetricKind::U64),
            ("step".into(), MetricKind::U64),
            ("loss".into(), MetricKind::F64),
            ("lr".into(), MetricKind::F64),
            ("samples_per_s".into(), MetricKind::F64),
        ];
        let terms = task.loss_terms();
        if terms.len() > 1 {
            for term in terms {
                columns.push((format!("loss_{term}"), MetricKind::F64));
            }
        }
        for monitor in task.monitors() {
            columns.push((monitor, MetricKind::F64));
        }
        columns
    }

    /// Runs (or resumes) the loop to its end.
    pub fn run(self, task: &mut dyn TrainTask) -> anyhow::Result<TrainOutcome> {
        let owned = Self::columns(task);
        let columns: Vec<(&str, MetricKind)> =
            owned.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        let terms = task.loss_terms();
        let monitors = task.monitors();
        let total = self.config.total_steps();
        let mut metrics = MetricsLog::new(&columns);
        let mut done = 0u64;
        let mut resumed_from = None;

        if let Some(ckpt) = self.checkpoints.load_latest(&columns)? {
            load_var_tensors(self.vs, &ckpt.group("model."))
                .map_err(|e| anyhow::anyhow!("checkpoint {}: {e:#}", ckpt.step))?;
            self.optimizer.load_state_tensors(&ckpt.group("optim."))?;
            task.load_state_tensors(&ckpt.group("task."))?;
            if let Some(mut log) = ckpt.metrics {
                log.truncate(ckpt.step as usize);
                metrics = log;
            }
            done = ckpt.step.min(total);
            resumed_from = Some(done);
            eprintln!(
                "{}: resuming from the checkpoint at step {done} of {total}",
                self.label
            );
        }

        let steps_per_epoch = self.config.steps_per_epoch.max(1);
        let monitor_every = monitor_interval(self.config.monitor_every_steps, steps_per_epoch);
        let mut last_epoch_loss = None;
        while done < total {
            let epoch = done / steps_per_epoch;
            let first = done % steps_per_epoch;
            let bar = Progress::new(
                self.progress,
                &format!("{}: epoch {}/{}", self.label, epoch + 1, self.config.epochs),
                steps_per_epoch * self.config.samples_per_step,
                "samples",
            );
            bar.inc(first * self.config.samples_per_step);
            let mut loss_sum = 0.0;
            for step_in_epoch in first..steps_per_epoch {
                let at = StepAt {
                    epoch,
                    step_in_epoch,
                    global_step: done,
                    lr: self.config.schedule.lr_at(done),
                };
                let started = Instant::now();
                self.optimizer.zero_grad();
                let values = task.step(&at)?;
                anyhow::ensure!(
                    values.len() == terms.len(),
                    "the step returned {} loss terms for {} names",
                    values.len(),
                    terms.len()
                );
                let mut term_values = Vec::with_capacity(values.len());
                for (name, value) in terms.iter().zip(&values) {
                    let v = value.double_value(&[]);
                    if !v.is_finite() {
                        let kept = self.kept_checkpoint()?;
                        anyhow::bail!(
                            "step {} (epoch {}): loss term `{name}` is {v}; training stopped, {kept}",
                            // Counted from 1, as the checkpoint's "after step N".
                            at.global_step + 1,
                            epoch + 1
                        );
                    }
                    term_values.push(v);
                }
                let loss = values
                    .into_iter()
                    .reduce(|a, b| a + b)
                    .ok_or_else(|| anyhow::anyhow!("the step returned no loss terms"))?;
                loss.backward();
                if let Some(max) = self.config.clip_grad_norm {
                    clip_grad_norm(&self.optimizer.params(), max);
                }
                self.optimizer.step(at.lr);
                task.after_step(&at)?;
                let loss_value: f64 = term_values.iter().sum();
                loss_sum += loss_value;
                done += 1;
                // Throughput of the step itself, before any end-of-epoch monitor.
                let seconds = started.elapsed().as_secs_f64();
                let rate = self.config.samples_per_step as f64 / seconds.max(1e-9);
                let last_in_epoch = step_in_epoch + 1 == steps_per_epoch;
                let monitored =
                    last_in_epoch && ((epoch + 1).is_multiple_of(monitor_every) || done == total);
                let monitor_values = if monitored {
                    let values = task.end_epoch(epoch)?;
                    anyhow::ensure!(
                        values.len() == monitors.len(),
                        "end_epoch returned {} values for {} monitors",
                        values.len(),
                        monitors.len()
                    );
                    for (name, value) in monitors.iter().zip(&values) {
                        eprintln!("{}: epoch {}: {name} {value:.4}", self.label, epoch + 1);
                    }
                    if let Some(reason) = task.check_epoch(epoch, &values) {
                        let kept = self.kept_checkpoint()?;
                        anyhow::bail!(
                            "epoch {} (step {}): {reason}; training stopped, {kept}",
                            epoch + 1,
                            at.global_step + 1
                        );
                    }
                    values.into_iter().map(Some).collect()
                } else {
                    vec![None; monitors.len()]
                };
                let mut row = vec![
                    MetricValue::U64(epoch),
                    MetricValue::U64(at.global_step),
                    MetricValue::F64(Some(loss_value)),
                    MetricValue::F64(Some(at.lr)),
                    MetricValue::F64(Some(rate)),
                ];
                if terms.len() > 1 {
                    row.extend(term_values.iter().map(|v| MetricValue::F64(Some(*v))));
                }
                row.extend(monitor_values.into_iter().map(MetricValue::F64));
                metrics.push(&row)?;
                bar.set_message(format!(
                    "loss {loss_value:.4} lr {:.2e} {rate:.0} samples/s",
                    at.lr
                ));
                bar.inc(self.config.samples_per_step);
                let every = self.config.checkpoint_every;
                if done == total || (every > 0 && done.is_multiple_of(every)) {
                    self.save(task, done, epoch, &metrics)?;
                }
            }
            bar.finish();
            last_epoch_loss = Some(loss_sum / (steps_per_epoch - first) as f64);
        }
        Ok(TrainOutcome {
            metrics,
            resumed_from,
            last_epoch_loss,
        })
    }

    /// "the last good checkpoint (after step N) is kept in DIR", for a stop's message.
    fn kept_checkpoint(&self) -> anyhow::Result<String> {
        Ok(match self.checkpoints.latest_step()? {
            Some(s) => format!(
                "the last good checkpoint (after step {s}) is kept in {}",
                self.checkpoints.path().display()
            ),
            None => "no checkpoint was saved yet".to_string(),
        })
    }

    fn save(
        &self,
        task: &dyn TrainTask,
        done: u64,
        epoch: u64,
        metrics: &MetricsLog,
    ) -> anyhow::Result<()> {
        let mut tensors = Vec::new();
        for (name, t) in var_tensors(self.vs) {
            tensors.push((format!("model.{name}"), t));
        }
        for (name, t) in self.optimizer.state_tensors() {
            tensors.push((format!("optim.{name}"), t));
        }
        for (name, t) in task.state_tensors() {
            tensors.push((format!("task.{name}"), t));
        }
        self.checkpoints.save(&Checkpoint {
            step: done,
            tensors,
            state: serde_json::json!({ "epoch": epoch, "completed_steps": done }),
            metrics: Some(metrics.clone()),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, nn};

    use super::*;
    use crate::optim::OptimizerConfig;
    use crate::seed::step_rng;

    /// Fits y = 3x on random x with a 1×1 linear layer; optionally poisons one step.
    struct Fit {
        lin: nn::Linear,
        nan_at: Option<u64>,
        /// The epoch whose end the guard refuses.
        stop_after_epoch: Option<u64>,
    }

    impl TrainTask for Fit {
        fn loss_terms(&self) -> Vec<String> {
            vec!["mse".into()]
        }
        fn step(&mut self, at: &StepAt) -> anyhow::Result<Vec<Tensor>> {
            use rand::Rng;
            let mut rng = step_rng(1, "fit", at.epoch, at.global_step);
            let xs: Vec<f32> = (0..8).map(|_| rng.random_range(-1.0..1.0)).collect();
            let x = Tensor::from_slice(&xs).view([8, 1]);
            let y = &x * 3.0;
            let mut loss = (x.apply(&self.lin) - y).square().mean(Kind::Float);
            if self.nan_at == Some(at.global_step) {
                loss *= f64::NAN;
            }
            Ok(vec![loss])
        }
        fn monitors(&self) -> Vec<String> {
            vec!["weight".into()]
        }
        fn end_epoch(&mut self, _epoch: u64) -> anyhow::Result<Vec<f64>> {
            Ok(vec![self.lin.ws.double_value(&[0, 0])])
        }
        fn check_epoch(&self, epoch: u64, values: &[f64]) -> Option<String> {
            (self.stop_after_epoch == Some(epoch)).then(|| format!("weight {:.1}", values[0]))
        }
    }

    fn config() -> LoopConfig {
        LoopConfig {
            epochs: 3,
            steps_per_epoch: 4,
            samples_per_step: 8,
            checkpoint_every: 5,
            clip_grad_norm: Some(10.0),
            schedule: Schedule {
                base_lr: 0.1,
                warmup_steps: 2,
                total_steps: 12,
                final_lr_ratio: 0.0,
            },
            monitor_every_steps: 1,
        }
    }

    fn model(vs: &VarStore) -> nn::Linear {
        let lin = nn::linear(vs.root() / "fc", 1, 1, Default::default());
        tch::no_grad(|| {
            let _ = lin.ws.shallow_clone().fill_(0.5);
            let _ = lin.bs.as_ref().unwrap().shallow_clone().fill_(0.0);
        });
        lin
    }

    /// The task (a NaN at step `nan_at`, a guard that refuses `stop_after_epoch`) and its
    /// optimizer.
    fn fit(vs: &VarStore, nan_at: Option<u64>, stop_after_epoch: Option<u64>) -> (Optimizer, Fit) {
        let task = Fit {
            lin: model(vs),
            nan_at,
            stop_after_epoch,
        };
        (Optimizer::new(&OptimizerConfig::adam(0.1), vs), task)
    }

    fn train(dir: &Path, nan_at: Option<u64>) -> anyhow::Result<(TrainOutcome, Vec<f32>)> {
        let vs = VarStore::new(Device::Cpu);
        let (mut opt, mut task) = fit(&vs, nan_at, None);
        let outcome = Trainer::new(&config(), &vs, &mut opt, dir).run(&mut task)?;
        let w = Vec::<f32>::try_from(task.lin.ws.detach().flatten(0, -1))?;
        Ok((outcome, w))
    }

    #[test]
    fn loss_falls_and_a_resume_ends_where_an_uninterrupted_run_does() {
        let whole = tempfile::tempdir().unwrap();
        let (outcome, w_whole) = train(whole.path(), None).unwrap();
        let losses = outcome.metrics.f64_column("loss").unwrap();
        assert_eq!(losses.len(), 12);
        assert!(losses[11].unwrap() < losses[0].unwrap());
        assert_eq!(outcome.metrics.u64_column("epoch").unwrap()[11], 2);

        // A NaN at step index 7 (the 8th step) stops the run; the checkpoint after the
        // 5th step is kept ...
        let split = tempfile::tempdir().unwrap();
        let err = train(split.path(), Some(7)).err().unwrap().to_string();
        assert!(
            err.starts_with("step 8 (epoch 2): loss term `mse` is NaN")
                && err.contains("checkpoint (after step 5)"),
            "{err}"
        );
        // ... and the rerun resumes there and ends with the same weights, bit for bit.
        let (resumed, w_resumed) = train(split.path(), None).unwrap();
        assert_eq!(resumed.resumed_from, Some(5));
        assert_eq!(w_resumed, w_whole);
        assert_eq!(
            resumed.metrics.f64_column("loss").unwrap(),
            outcome.metrics.f64_column("loss").unwrap()
        );
    }

    #[test]
    fn monitors_run_at_most_once_per_interval_and_after_the_last_epoch() {
        assert_eq!(monitor_interval(20, 39), 1);
        assert_eq!(monitor_interval(20, 4), 5);
        assert_eq!(monitor_interval(20, 1), 20);
        assert_eq!(monitor_interval(1, 0), 1);
        // 3 epochs of 4 steps, monitors every 8 steps: after epochs 2 and 3 (the last).
        let dir = tempfile::tempdir().unwrap();
        let vs = VarStore::new(Device::Cpu);
        let (mut opt, mut task) = fit(&vs, None, None);
        let config = LoopConfig {
            monitor_every_steps: 8,
            ..config()
        };
        let outcome = Trainer::new(&config, &vs, &mut opt, dir.path())
            .run(&mut task)
            .unwrap();
        let weight = outcome.metrics.f64_column("weight").unwrap();
        let monitored: Vec<usize> = (0..weight.len()).filter(|&i| weight[i].is_some()).collect();
        assert_eq!(monitored, vec![7, 11]);
    }

    #[test]
    fn min_steps_adds_epochs_only_when_needed() {
        // 3 steps per epoch: 10 epochs give 30 steps; min_steps 100 needs ⌈100/3⌉ = 34.
        assert_eq!(run_length(10, 0, 3), (10, 3));
        assert_eq!(run_length(10, 100, 3), (34, 3));
        assert_eq!(run_length(10, 30, 3), (10, 3));
        // A data set smaller than a batch still takes one step per epoch.
        assert_eq!(run_length(2, 5, 0), (5, 1));
        assert!(few_steps_warning(230, 30).is_none());
        let warning = few_steps_warning(10, 0).unwrap();
        assert!(warning.contains("10 optimiser steps"), "{warning}");
    }

    #[test]
    fn a_refused_epoch_stops_the_run_and_names_the_kept_checkpoint() {
        // 4 steps per epoch, checkpoints every 5: the guard refuses epoch 2 (steps 5–8),
        // after the checkpoint at step 5 was written.
        let dir = tempfile::tempdir().unwrap();
        let vs = VarStore::new(Device::Cpu);
        let (mut opt, mut task) = fit(&vs, None, Some(1));
        let err = Trainer::new(&config(), &vs, &mut opt, dir.path())
            .run(&mut task)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("epoch 2 (step 8): weight ")
                && err.contains("training stopped, the last good checkpoint (after step 5)"),
            "{err}"
        );
    }
}
