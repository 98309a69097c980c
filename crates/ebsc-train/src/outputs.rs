//! The stage's files: `model.safetensors` (every variable, PyTorch names, with the encoder
//! spec nested in the energy metadata), `features.safetensors` (`dictionary` `[N, D]`) and the
//! per-step metrics with the diagnostics joined in.

use std::collections::HashMap;

use anyhow::Context;
use ebsc_core::StageRun;
use ebsc_io::artifacts::train;
use ebsc_io::{MetricKind, MetricValue, MetricsLog, TensorData, write_tensors};
use ebsc_nn::checkpoint::var_tensors;
use ebsc_nn::encoders::EncoderSpec;
use ebsc_nn::energy::{ENERGY_METADATA_KEY, EnergyMetadata};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::task::DIAGNOSTICS;

fn to_vec(t: &Tensor) -> anyhow::Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.detach()
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .flatten(0, -1),
    )?)
}

/// `encoder.*`, `head.*`, `energy.*` (towers and `energy.threshold`); the metadata key
/// `energy` holds the energy network's shape and map and the encoder's spec.
pub fn write_model(
    run: &mut StageRun,
    vs: &VarStore,
    spec: &EncoderSpec,
    energy: &EnergyMetadata,
) -> anyhow::Result<()> {
    let vars = var_tensors(vs);
    let mut data = Vec::with_capacity(vars.len());
    for (var, t) in &vars {
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        data.push((var.as_str(), shape, TensorData::F32(to_vec(t)?)));
    }
    let refs: Vec<(&str, Vec<usize>, &TensorData)> =
        data.iter().map(|(n, s, d)| (*n, s.clone(), d)).collect();
    // One metadata key (see EnergyMetadata::encoder): the file's bytes are reproducible.
    let energy = EnergyMetadata {
        encoder: Some(serde_json::to_value(spec)?),
        ..energy.clone()
    };
    let metadata = HashMap::from([(
        ENERGY_METADATA_KEY.to_string(),
        serde_json::to_string(&energy)?,
    )]);
    let mut file = run.create_output(train::MODEL.file)?;
    write_tensors(file.writer(), &refs, &metadata).context(train::MODEL.file)?;
    file.commit()
}

pub fn write_dictionary(run: &mut StageRun, dictionary: &Tensor) -> anyhow::Result<()> {
    let size = dictionary.size();
    let data = TensorData::F32(to_vec(dictionary)?);
    let mut file = run.create_output(train::FEATURES.file)?;
    write_tensors(
        file.writer(),
        &[(
            train::DICTIONARY_TENSOR,
            vec![size[0] as usize, size[1] as usize],
            &data,
        )],
        &HashMap::new(),
    )
    .context(train::FEATURES.file)?;
    file.commit()
}

/// The loop's metrics with the two diagnostic columns appended (NaN → null).
pub fn with_diagnostics(
    metrics: &MetricsLog,
    diagnostics: &[[f64; 2]],
) -> anyhow::Result<MetricsLog> {
    let mut columns: Vec<(String, MetricKind)> = metrics.columns().to_vec();
    columns.extend(DIAGNOSTICS.iter().map(|n| (n.to_string(), MetricKind::F64)));
    let names: Vec<(&str, MetricKind)> = columns.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    let mut out = MetricsLog::new(&names);
    for row in 0..metrics.len() {
        let mut values = Vec::with_capacity(columns.len());
        for (name, kind) in metrics.columns() {
            values.push(match kind {
                MetricKind::U64 => {
                    MetricValue::U64(metrics.u64_column(name).expect("listed column")[row])
                }
                MetricKind::F64 => {
                    MetricValue::F64(metrics.f64_column(name).expect("listed column")[row])
                }
            });
        }
        let step = metrics.u64_column("step").map_or(row, |s| s[row] as usize);
        let pair = diagnostics.get(step).copied().unwrap_or([f64::NAN; 2]);
        values.extend(
            pair.iter()
                .map(|v| MetricValue::F64(v.is_finite().then_some(*v))),
        );
        out.push(&values)?;
    }
    Ok(out)
}

/// Final values of the loss terms and diagnostics (mean of the last 10 steps) in the manifest.
pub fn record_stats(run: &mut StageRun, metrics: &MetricsLog, n_samples: usize) {
    run.stat("n_samples", n_samples);
    run.stat("steps", metrics.len());
    let names: Vec<String> = metrics
        .columns()
        .iter()
        .filter(|(n, k)| {
            *k == MetricKind::F64 && (n.starts_with("loss") || DIAGNOSTICS.contains(&n.as_str()))
        })
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        let values: Vec<f64> = metrics
            .f64_column(&name)
            .unwrap_or_default()
            .iter()
            .rev()
            .take(10)
            .flatten()
            .copied()
            .collect();
        if !values.is_empty() {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            run.log(format!("{name} {mean:.4} (mean of the last steps)"));
            run.stat(&format!("final_{name}"), mean);
            if name == "mean_nonzeros" && mean == 0.0 {
                run.log(
                    "every coefficient ended at 0: no score passed the shrink threshold; the \
                     affinity stage takes the elastic-net solve's candidates from the energy's \
                     scores instead"
                        .to_string(),
                );
            }
        }
    }
    // The per-epoch monitors: their last value.
    for name in ["effective_rank", "knn_accuracy"] {
        let last = metrics
            .f64_column(name)
            .and_then(|values| values.iter().rev().flatten().next().copied());
        if let Some(value) = last {
            run.log(format!("{name} {value:.4} (dictionary, last epoch)"));
            run.stat(&format!("final_{name}"), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_join_the_metrics_by_step() {
        let mut log = MetricsLog::new(&[("step", MetricKind::U64), ("loss", MetricKind::F64)]);
        log.push(&[MetricValue::U64(0), MetricValue::F64(Some(1.0))])
            .unwrap();
        log.push(&[MetricValue::U64(1), MetricValue::F64(Some(0.5))])
            .unwrap();
        let joined = with_diagnostics(&log, &[[3.0, 0.9], [2.0, f64::NAN]]).unwrap();
        assert_eq!(
            joined.f64_column("mean_nonzeros").unwrap(),
            &[Some(3.0), Some(2.0)]
        );
        assert_eq!(
            joined.f64_column("same_label_share").unwrap(),
            &[Some(0.9), None]
        );
        assert_eq!(joined.f64_column("loss").unwrap(), &[Some(1.0), Some(0.5)]);
    }
}
