//! Throughput of one pretraining step (two augmented views, forward, NT-Xent, backward,
//! AdamW) on synthetic images, exactly the stage's code path; `scripts/bench/pretrain.sh`
//! runs it beside the same step in plain PyTorch (`scripts/bench/pretrain_torch.py`).
//!
//! `bench_step <convnet|resnet18> <side> <channels> <batch> <steps> [device]`
//! prints one line: `samples_per_s=… augment_share=… optimizer_share=… step_ms=…`.

use std::time::Instant;

use ebsc_nn::augment::AugmentConfig;
use ebsc_nn::data::Inputs;
use ebsc_nn::encoders::{self, EncoderConfig, EncoderSpec, HeadConfig, InputSpec, Model};
use ebsc_nn::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use ebsc_nn::seed::EpochOrder;
use ebsc_nn::trainer::StepAt;
use ebsc_pretrain::task::Simclr;
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// The augmentations of the benchmark; pretrain_torch.py implements the same ones.
fn augment_config(channels: i64) -> AugmentConfig {
    let text = if channels == 1 {
        "crop = { p = 1.0, scale = [0.4, 1.0] }\n\
         affine = { p = 0.5, degrees = 15, shear = 10 }\n\
         jitter = { p = 0.8, brightness = 0.4, contrast = 0.4 }\n\
         blur = { p = 0.3, sigma = [0.1, 1.5] }\n\
         noise = { p = 0.5, std = 0.05 }\n"
    } else {
        "crop = { p = 1.0, scale = [0.2, 1.0] }\n\
         flip = { p = 0.5 }\n\
         jitter = { p = 0.8, brightness = 0.4, contrast = 0.4, saturation = 0.4 }\n\
         grayscale = { p = 0.2 }\n"
    };
    toml::from_str(text).expect("benchmark augment config")
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 6,
        "usage: bench_step <convnet|resnet18> <side> <channels> <batch> <steps> [cpu|cuda]"
    );
    let (kind, side, channels) = (
        args[1].as_str(),
        args[2].parse::<i64>()?,
        args[3].parse::<i64>()?,
    );
    let (batch, steps) = (args[4].parse::<usize>()?, args[5].parse::<u64>()?);
    // As the stage does in `DeviceArgs::apply`.
    ebsc_nn::allocator::reuse_freed_tensor_memory();
    let device = match args.get(6).map(String::as_str) {
        Some("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    let encoder = match kind {
        "convnet" => EncoderConfig::Convnet { width: 32, pool: 1 },
        "resnet18" => EncoderConfig::Resnet18 { width: 64 },
        other => anyhow::bail!("unknown encoder {other}"),
    };
    let n = (batch * 4) as i64;
    let pixels: Vec<u8> = (0..n * channels * side * side)
        .map(|i| ((i * 2654435761) >> 7) as u8)
        .collect();
    let inputs = Inputs::from_tensor(
        Tensor::from_slice(&pixels)
            .view([n, channels, side, side])
            .to_device(device),
        true,
    );
    let spec = EncoderSpec {
        encoder,
        head: Some(HeadConfig::default()),
        input: InputSpec::Images {
            channels,
            height: side,
            width: side,
            mean: vec![0.5; channels as usize],
            std: vec![0.25; channels as usize],
        },
    };
    let vs = VarStore::new(device);
    let model = Model::new(&vs, &spec)?;
    encoders::init_weights(&vs, 0);
    let augment = augment_config(channels);
    let mut task = Simclr {
        model: &model,
        inputs: &inputs,
        augment: &augment,
        temperature: 0.5,
        batch_size: batch,
        seed: 0,
        // fp32 on every device, as the PyTorch side (see config.rs on autocast).
        mixed_precision: false,
        knn: None,
        order: EpochOrder::default(),
    };
    let mut optimizer = Optimizer::new(
        &OptimizerConfig {
            kind: OptimizerKind::AdamW,
            weight_decay: 1e-4,
            ..OptimizerConfig::adam(1e-3)
        },
        &vs,
    );
    let sync = || {
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
    };
    let warmup = 2;
    let (mut total, mut in_augment, mut in_optimizer) = (0.0, 0.0, 0.0);
    for step in 0..warmup + steps {
        let at = StepAt {
            epoch: 0,
            step_in_epoch: step % 4,
            global_step: step,
            lr: 1e-3,
        };
        let t0 = Instant::now();
        let views = task.views(&at);
        sync();
        let t1 = Instant::now();
        optimizer.zero_grad();
        let loss = task.loss_on(&views);
        let _ = loss.double_value(&[]); // the stage reads the loss every step (NaN check)
        loss.backward();
        sync();
        let t2 = Instant::now();
        optimizer.step(1e-3);
        sync();
        if step >= warmup {
            total += t0.elapsed().as_secs_f64();
            in_augment += (t1 - t0).as_secs_f64();
            in_optimizer += t2.elapsed().as_secs_f64();
        }
    }
    println!(
        "samples_per_s={:.1} augment_share={:.3} optimizer_share={:.3} step_ms={:.1}",
        (batch as f64 * steps as f64) / total,
        in_augment / total,
        in_optimizer / total,
        1000.0 * total / steps as f64
    );
    Ok(())
}
