//! `ebsc-pretrain`: self-supervised dictionary learning (SimCLR) on a deep encoder
//! (docs/method.md, docs/caching.md). Reads prepare's `inputs.safetensors` (and
//! `samples.parquet`'s labels for the kNN monitor only), trains backbone + projection head
//! with NT-Xent on two augmented views, and writes `encoder.safetensors`, `features.safetensors` (`backbone`,
//! `head`: eval mode, no augmentation) and `metrics.parquet` (one row per step).

pub mod config;
pub mod embed;
pub mod task;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use ebsc_core::cli::StageArgs;
use ebsc_core::member::{MemberArgs, run_members};
use ebsc_core::{Outcome, Pipeline, ProgressMode, StageRun, StageRunner};
use ebsc_io::artifacts::{prepare, pretrain};
use ebsc_io::labels::read_sample_labels;
use ebsc_io::{MetricKind, MetricsLog, TensorData, write_tensors};
use ebsc_nn::DeviceArgs;
use ebsc_nn::data::Inputs;
use ebsc_nn::encoders::{self, EncoderConfig, EncoderSpec, Model};
use ebsc_nn::optim::Optimizer;
use ebsc_nn::seed::{EpochOrder, derive_seed};
use ebsc_nn::trainer::Trainer;
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::config::{PretrainConfig, SECTION};
use crate::embed::embed;
use crate::task::{KnnSet, Simclr};

pub const STAGE: &str = pretrain::STAGE;
/// Bump when the outputs for a given config change meaning.
pub const STAGE_VERSION: u32 = 1;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-pretrain",
    version,
    about = "Self-supervised pretraining of the encoder: encoder.safetensors, features.safetensors, metrics.parquet"
)]
pub struct Args {
    #[command(flatten)]
    pub stage: StageArgs,
    #[command(flatten)]
    pub member: MemberArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Pretrains every member in turn (`--member`: one).
pub fn run(args: &Args) -> anyhow::Result<Vec<(usize, Outcome)>> {
    let pipeline = Pipeline::load(&args.stage.pipeline)?;
    let config = PretrainConfig::from_pipeline(&pipeline)?;
    let device = args.device.apply()?;
    run_members(&pipeline, args.member.member, |member| {
        run_member(args, &pipeline, &config, device, member)
    })
}

fn run_member(
    args: &Args,
    pipeline: &Pipeline,
    config: &PretrainConfig,
    device: Device,
    member: usize,
) -> anyhow::Result<Outcome> {
    let runner = StageRunner::new(pipeline, &args.stage.runs_dir, STAGE, STAGE_VERSION)
        .member(member)
        .config(config)
        .upstream(prepare::STAGE)
        // A deleted or edited figure is drawn again from metrics.parquet, not retrained.
        .redraw_reports(&pretrain::METRICS, |run| {
            ebsc_nn::report::redraw_training_report(run, STAGE)
        })
        .progress(args.stage.progress);
    let prepare_dir = runner.upstream_dir(prepare::STAGE);
    runner.run(args.stage.force, |run| {
        pretrain(
            run,
            pipeline,
            config,
            &prepare_dir,
            device,
            args.stage.progress,
        )
    })
}

fn pretrain(
    run: &mut StageRun,
    pipeline: &Pipeline,
    config: &PretrainConfig,
    prepare_dir: &Path,
    device: Device,
    progress: ProgressMode,
) -> anyhow::Result<()> {
    run.set_device(format!("{device:?}").to_lowercase());
    let inputs = Inputs::load(&prepare::INPUTS.path(prepare_dir), device)?;
    let n = inputs.len();
    let spec = EncoderSpec {
        encoder: config.encoder.clone(),
        head: (config.encoder != EncoderConfig::Identity).then(|| config.head.clone()),
        input: inputs.spec(),
    };
    spec.encoder
        .check_input(&spec.input)
        .map_err(|m| pipeline.invalid(SECTION, m))?;
    let vs = VarStore::new(device);
    let model = Model::new(&vs, &spec)?;
    encoders::init_weights(&vs, derive_seed(run.seed(), "init", 0, 0));
    run.log(format!(
        "{n} samples, encoder {} ({} parameters) on {device:?}",
        spec.encoder.name(),
        vs.trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum::<usize>()
    ));

    let metrics = if model.is_trainable() {
        train(
            run,
            config,
            &vs,
            &model,
            &inputs,
            prepare_dir,
            device,
            progress,
        )?
    } else {
        run.log("identity encoder: nothing to train");
        MetricsLog::new(&[
            ("epoch", MetricKind::U64),
            ("step", MetricKind::U64),
            ("loss", MetricKind::F64),
            ("lr", MetricKind::F64),
            ("samples_per_s", MetricKind::F64),
        ])
    };

    let mut file = run.create_output(pretrain::ENCODER.file)?;
    encoders::save(&mut file, &vs, &spec).context(pretrain::ENCODER.file)?;
    file.commit()?;

    let all: Vec<i64> = (0..n as i64).collect();
    let (h, z) = embed(&model, &inputs, &all, 512);
    let (hd, zd) = (h.size()[1] as usize, z.size()[1] as usize);
    let h = TensorData::F32(to_vec(&h)?);
    let z = TensorData::F32(to_vec(&z)?);
    let mut file = run.create_output(pretrain::FEATURES.file)?;
    write_tensors(
        &mut file,
        &[
            (pretrain::BACKBONE_TENSOR, vec![n, hd], &h),
            (pretrain::HEAD_TENSOR, vec![n, zd], &z),
        ],
        &HashMap::new(),
    )
    .context(pretrain::FEATURES.file)?;
    file.commit()?;

    let mut file = run.create_output(pretrain::METRICS.file)?;
    metrics.write(&mut file).context(pretrain::METRICS.file)?;
    file.commit()?;
    ebsc_nn::report::write_training_report(run, STAGE, &metrics)?;

    run.stat("n_samples", n);
    run.stat("encoder", spec.encoder.name());
    run.stat("backbone_dim", hd);
    run.stat("head_dim", zd);
    run.stat("steps", metrics.len());
    if let Some(Some(last)) = metrics.f64_column("loss").and_then(|l| l.last()) {
        run.stat("final_loss", last);
    }
    if let Some(knn) = metrics.f64_column("knn_accuracy") {
        let values: Vec<f64> = knn.iter().flatten().copied().collect();
        if let Some(last) = values.last() {
            run.stat("knn_accuracy", last);
            run.log(format!("kNN accuracy {last:.4}"));
        }
    }
    if let Some(rates) = metrics.f64_column("samples_per_s") {
        let rates: Vec<f64> = rates.iter().flatten().copied().collect();
        if !rates.is_empty() {
            let mut sorted = rates.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            run.stat("median_samples_per_s", sorted[sorted.len() / 2]);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn train(
    run: &mut StageRun,
    config: &PretrainConfig,
    vs: &VarStore,
    model: &Model,
    inputs: &Inputs,
    prepare_dir: &Path,
    device: Device,
    progress: ProgressMode,
) -> anyhow::Result<MetricsLog> {
    let n = inputs.len();
    let plan = config.schedule.plan(n, 2, 0)?;
    let (epochs, steps_per_epoch) = (plan.config.epochs, plan.config.steps_per_epoch);
    let batch_size = plan.batch_size;
    let knn = if config.knn_monitor {
        knn_samples(&prepare::SAMPLES.path(prepare_dir), n, config)?
    } else {
        None
    };
    let mut task = Simclr {
        model,
        inputs,
        augment: &config.augment,
        temperature: config.ssl_temperature,
        batch_size,
        seed: run.seed(),
        mixed_precision: config.mixed_precision && device.is_cuda(),
        knn,
        order: EpochOrder::default(),
    };
    run.log(format!(
        "{epochs} epochs × {steps_per_epoch} steps of {batch_size} samples"
    ));
    plan.notes.iter().for_each(|note| run.log(note));
    let mut optimizer = Optimizer::new(&config.schedule.optimizer, vs);
    let outcome = Trainer::new(&plan.config, vs, &mut optimizer, run.work_dir())
        .progress(progress, STAGE)
        .run(&mut task)?;
    if let Some(loss) = outcome.last_epoch_loss {
        run.log(format!("last epoch: mean loss {loss:.4}"));
    }
    Ok(outcome.metrics)
}

/// Evenly spaced labelled samples for the kNN monitor; `None` without labels.
fn knn_samples(
    samples_path: &Path,
    n: usize,
    config: &PretrainConfig,
) -> anyhow::Result<Option<KnnSet>> {
    let labels = read_sample_labels(samples_path, n)?;
    let labelled: Vec<(i64, i64)> = labels
        .iter()
        .enumerate()
        .filter_map(|(i, label)| label.map(|l| (i as i64, i64::from(l))))
        .collect();
    if labelled.len() < 2 {
        return Ok(None);
    }
    let stride = labelled.len().div_ceil(config.knn_max_samples.max(2));
    let picked: Vec<(i64, i64)> = labelled.into_iter().step_by(stride).collect();
    Ok(Some(KnnSet {
        indices: picked.iter().map(|p| p.0).collect(),
        labels: picked.iter().map(|p| p.1).collect(),
        k: config.knn_k,
    }))
}

fn to_vec(t: &Tensor) -> anyhow::Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.to_device(Device::Cpu).contiguous().flatten(0, -1),
    )?)
}
