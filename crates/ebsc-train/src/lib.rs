//! `ebsc-train`: the energy-based self-expressive model trained on mini-batches, jointly with
//! the encoder (docs/method.md, "Mini-batch training"), or the SENet baseline on frozen
//! features (`method = "senet"`). Reads prepare's inputs and labels and pretrain's
//! `encoder.safetensors`; writes `model.safetensors` (encoder, head, energy towers,
//! threshold), `features.safetensors` (`dictionary` of every sample) and `metrics.parquet`.
//! Checkpoints and resume go through the shared loop in `ebsc_nn::trainer`.

pub mod config;
pub mod joint;
pub mod outputs;
pub mod senet;
pub mod task;

use std::path::Path;

use ebsc_core::cli::StageArgs;
use ebsc_core::member::{MemberArgs, run_members};
use ebsc_core::{Outcome, Pipeline, ProgressMode, StageRun, StageRunner};
use ebsc_io::artifacts::{prepare, pretrain, train};
use ebsc_io::labels::read_sample_labels;
use ebsc_nn::DeviceArgs;
use ebsc_nn::coefficients::Threshold;
use ebsc_nn::data::Inputs;
use ebsc_nn::encoders;
use ebsc_nn::energy::{EnergyMetadata, EnergyNet, EnergyShape};
use ebsc_nn::optim::Optimizer;
use ebsc_nn::seed::derive_seed;
use ebsc_nn::trainer::{TrainTask, Trainer};
use tch::Device;

use crate::config::{Method, ResidualInit, TrainConfig};
use crate::joint::{JointTask, Momentum, Queue};
use crate::senet::SenetTask;
use crate::task::{DictionaryMonitor, SelfExpressive, embed_dictionary};

pub const STAGE: &str = train::STAGE;
/// Bump when the outputs for a given config change meaning.
pub const STAGE_VERSION: u32 = 3;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-train",
    version,
    about = "Train the energy-based self-expressive model: model.safetensors, features.safetensors, metrics.parquet"
)]
pub struct Args {
    #[command(flatten)]
    pub stage: StageArgs,
    #[command(flatten)]
    pub member: MemberArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Trains every member in turn (`--member`: one).
pub fn run(args: &Args) -> anyhow::Result<Vec<(usize, Outcome)>> {
    let pipeline = Pipeline::load(&args.stage.pipeline)?;
    let config = TrainConfig::from_pipeline(&pipeline)?;
    let device = args.device.apply()?;
    run_members(&pipeline, args.member.member, |member| {
        run_member(args, &pipeline, &config, device, member)
    })
}

fn run_member(
    args: &Args,
    pipeline: &Pipeline,
    config: &TrainConfig,
    device: Device,
    member: usize,
) -> anyhow::Result<Outcome> {
    let runner = StageRunner::new(pipeline, &args.stage.runs_dir, STAGE, STAGE_VERSION)
        .member(member)
        .config(config)
        .upstream(prepare::STAGE)
        // Not pretrain's metrics.parquet: its timings differ on every rebuild.
        .upstream_reading(&[pretrain::ENCODER])
        // A deleted or edited figure is drawn again from metrics.parquet, not retrained.
        .redraw_reports(&train::METRICS, |run| {
            ebsc_nn::report::redraw_training_report(run, STAGE)
        })
        .progress(args.stage.progress);
    let prepare_dir = runner.upstream_dir(prepare::STAGE);
    let pretrain_dir = runner.upstream_dir(pretrain::STAGE);
    let n_clusters = pipeline.cluster_count().map(|k| k as f64);
    runner.run(args.stage.force, |run| {
        train(
            run,
            config,
            n_clusters,
            &prepare_dir,
            &pretrain_dir,
            device,
            args.stage.progress,
        )
    })
}

/// The effective rank below which a joint run stops: `min_effective_rank` when the
/// pipeline sets it (0: no alarm), else `[cluster] n_clusters` — or, when the pretrained
/// dictionary starts below that already (many classes, a narrow head), half its starting
/// rank, so that the alarm marks a fall rather than where training began.
pub fn alarm_level(explicit: Option<f64>, n_clusters: Option<f64>, start: f64) -> Option<f64> {
    match explicit {
        Some(level) => (level > 0.0).then_some(level),
        None => n_clusters.map(|k| if start < k { start / 2.0 } else { k }),
    }
}

#[allow(clippy::too_many_arguments)]
fn train(
    run: &mut StageRun,
    config: &TrainConfig,
    n_clusters: Option<f64>,
    prepare_dir: &Path,
    pretrain_dir: &Path,
    device: Device,
    progress: ProgressMode,
) -> anyhow::Result<()> {
    run.set_device(format!("{device:?}").to_lowercase());
    let inputs = Inputs::load(&prepare::INPUTS.path(prepare_dir), device)?;
    let n = inputs.len();
    // −1 where unknown, for the diagnostics.
    let labels: Vec<i64> = read_sample_labels(&prepare::SAMPLES.path(prepare_dir), n)?
        .iter()
        .map(|label| label.map_or(-1, i64::from))
        .collect();
    let (model, vs) = encoders::load(&pretrain::ENCODER.path(pretrain_dir), device)?;
    let input_dim = match config.dictionary {
        config::DictionarySource::Backbone => model.backbone_dim(),
        config::DictionarySource::Head => model.head_dim(),
    };
    let shape = EnergyShape {
        input_dim,
        hidden: config.energy_hidden.clone(),
        out_dim: config.energy_dim,
    };
    let energy_path = vs.root() / "energy";
    let energy = EnergyNet::new(&energy_path, &shape, config.geometry);
    let threshold = Threshold::new(&energy_path, config.threshold_init);
    init_energy(&vs, derive_seed(run.seed(), "energy-init", 0, 0));
    if config.residual_init == ResidualInit::Zero {
        energy.zero_residual();
    }

    let joint = config.joint();
    let encoder_trains = joint.is_some_and(|j| !j.freeze_encoder) && model.is_trainable();
    let ssl = encoder_trains && model.spec().head.is_some();
    let plan = config
        .schedule
        .plan(n, 3, joint.map_or(0, |j| j.se_warmup_steps))?;
    let (epochs, steps_per_epoch, batch_size) = (
        plan.config.epochs,
        plan.config.steps_per_epoch,
        plan.batch_size,
    );
    run.log(format!(
        "{n} samples, {} encoder ({}), dictionary {input_dim}-d, {epochs} epochs × {steps_per_epoch} steps of {batch_size}",
        model.spec().encoder.name(),
        if encoder_trains { "trained jointly" } else { "frozen" },
    ));
    plan.notes.iter().for_each(|note| run.log(note));
    if !ssl && joint.is_some() {
        run.log("no L_ssl term: the encoder is frozen or has no head");
    }
    let mut monitor = DictionaryMonitor::new(&labels, config.monitor_samples);
    if encoder_trains {
        // The pretrained dictionary, before any step: how spread out training starts.
        let d = embed_dictionary(&model, &inputs, config.dictionary, &monitor.indices);
        let start = monitor.score(&d)[0];
        monitor.alarm = alarm_level(config.min_effective_rank, n_clusters, start);
        run.log(format!(
            "pretrained dictionary: effective rank {start:.2}{}",
            monitor
                .alarm
                .map_or(String::new(), |a| format!(" (collapse alarm below {a:.2})"))
        ));
    }

    let core = SelfExpressive::new(
        config,
        &model,
        &inputs,
        &energy,
        threshold,
        &labels,
        run.seed(),
        batch_size,
    );
    // A frozen dictionary does not change: it is scored once, after training.
    let (mut task, final_monitor) = match &config.method {
        Method::Senet => {
            let all: Vec<i64> = (0..n as i64).collect();
            let fixed = embed_dictionary(&model, &inputs, config.dictionary, &all);
            (Task::Senet(SenetTask::new(core, fixed)), Some(monitor))
        }
        Method::Ebsc(joint) => {
            let mut task = JointTask::new(core, joint);
            task.ssl = ssl;
            task.encoder_trains = encoder_trains;
            let final_monitor = if encoder_trains {
                task.monitor = Some(monitor);
                None
            } else {
                Some(monitor)
            };
            if joint.queue_size > 0 {
                task.queue = Some(Queue {
                    capacity: joint.queue_size,
                    d: None,
                    labels: Vec::new(),
                });
                if encoder_trains {
                    task.momentum = Some(momentum_copy(pretrain_dir, &vs, device, joint.momentum)?);
                }
            }
            (Task::Joint(Box::new(task)), final_monitor)
        }
    };

    // Only what learns is optimised: the energy net always, the encoder when it trains.
    let mut named: Vec<(String, tch::Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(name, t)| t.requires_grad() && (encoder_trains || name.starts_with("energy.")))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut optimizer = Optimizer::from_named(&config.schedule.optimizer, named);
    if let Some(joint) = joint {
        optimizer.scale_lr(|name| !name.starts_with("energy."), joint.encoder_lr_scale);
    }
    let outcome = Trainer::new(&plan.config, &vs, &mut optimizer, run.work_dir())
        .progress(progress, STAGE)
        .run(task.as_train_task())?;
    if let Some(step) = outcome.resumed_from {
        run.stat("resumed_from_step", step);
    }
    let metrics = outputs::with_diagnostics(&outcome.metrics, &task.core().diagnostics)?;

    let all: Vec<i64> = (0..n as i64).collect();
    let dictionary = embed_dictionary(&model, &inputs, config.dictionary, &all);
    let meta = EnergyMetadata {
        shape,
        coefficients: config.coefficients,
        temperature: config.energy_temperature,
        geometry: config.geometry,
        encoder: None,
    };
    outputs::write_model(run, &vs, model.spec(), &meta)?;
    outputs::write_dictionary(run, &dictionary)?;
    let mut file = run.create_output(train::METRICS.file)?;
    metrics.write(file.writer())?;
    file.commit()?;
    ebsc_nn::report::write_training_report(run, STAGE, &metrics)?;
    outputs::record_stats(run, &metrics, n);
    if let Some(monitor) = final_monitor {
        let index = tch::Tensor::from_slice(&monitor.indices).to_device(dictionary.device());
        let values = monitor.score(&dictionary.index_select(0, &index));
        for (name, value) in monitor.names().iter().zip(values) {
            run.log(format!("{name} {value:.4} (dictionary)"));
            run.stat(&format!("final_{name}"), value);
        }
    }
    Ok(())
}

/// The method's task for the shared loop.
enum Task<'a> {
    Senet(SenetTask<'a>),
    Joint(Box<JointTask<'a>>),
}

impl<'a> Task<'a> {
    fn as_train_task(&mut self) -> &mut dyn TrainTask {
        match self {
            Task::Senet(task) => task,
            Task::Joint(task) => task.as_mut(),
        }
    }

    fn core(&self) -> &SelfExpressive<'a> {
        match self {
            Task::Senet(task) => &task.core,
            Task::Joint(task) => &task.core,
        }
    }
}

/// PyTorch's default initialisation for the energy towers, from the run's seed (the
/// encoder's weights come from pretrain and are left alone).
fn init_energy(vs: &tch::nn::VarStore, seed: u64) {
    use ebsc_nn::seed::step_rng;
    use rand::Rng;
    let vars = ebsc_nn::checkpoint::var_tensors(vs);
    let weight_shapes: std::collections::HashMap<String, Vec<i64>> =
        vars.iter().map(|(n, t)| (n.clone(), t.size())).collect();
    tch::no_grad(|| {
        for (name, var) in &vars {
            if !name.starts_with("energy.") || name == "energy.threshold" {
                continue;
            }
            let prefix = name.rsplit_once('.').map_or("", |(p, _)| p);
            let fan_in = weight_shapes
                .get(&format!("{prefix}.weight"))
                .map_or(1, |s| s.get(1).copied().unwrap_or(1))
                .max(1);
            let bound = 1.0 / (fan_in as f64).sqrt();
            let mut rng = step_rng(seed, &format!("init:{name}"), 0, 0);
            let values: Vec<f32> = (0..var.numel())
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect();
            let mut var = var.shallow_clone();
            var.copy_(
                &tch::Tensor::from_slice(&values)
                    .view(var.size().as_slice())
                    .to_device(var.device()),
            );
        }
    });
}

/// A second copy of pretrain's encoder and head, EMA-tracking the online ones.
fn momentum_copy(
    pretrain_dir: &Path,
    online: &tch::nn::VarStore,
    device: Device,
    rate: f64,
) -> anyhow::Result<Momentum> {
    let (model, mut mvs) = encoders::load(&pretrain::ENCODER.path(pretrain_dir), device)?;
    mvs.freeze();
    let online_vars = online.variables();
    let mut pairs = Vec::new();
    for (name, target) in ebsc_nn::checkpoint::var_tensors(&mvs) {
        let source = online_vars
            .get(&name)
            .ok_or_else(|| anyhow::anyhow!("momentum encoder: no online variable {name}"))?;
        pairs.push((name, target, source.shallow_clone()));
    }
    Ok(Momentum {
        model,
        _vs: mvs,
        pairs,
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_level_follows_the_config_then_the_cluster_count() {
        assert_eq!(alarm_level(Some(5.0), Some(10.0), 60.0), Some(5.0));
        assert_eq!(alarm_level(Some(0.0), Some(10.0), 60.0), None);
        assert_eq!(alarm_level(None, Some(10.0), 60.0), Some(10.0));
        // 40 classes, a dictionary that starts at rank 30: the alarm is at 15.
        assert_eq!(alarm_level(None, Some(40.0), 30.0), Some(15.0));
        assert_eq!(alarm_level(None, None, 30.0), None);
    }
}
