//! Writes a stand-in `train` stage for benchmarking the affinity stage at sizes the real
//! training stage would take too long to reach here: the dictionary is prepare's
//! `features` L2-normalised, the energy towers are randomly initialised (the export does
//! the same work whatever the weights are).
//!
//! `cargo run --release -p ebsc-affinity --example synthetic_train -- PIPELINE RUNS_DIR M HIDDEN`

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use ebsc_core::{Pipeline, StageRunner};
use ebsc_io::artifacts::{prepare, train};
use ebsc_io::{TensorData, TensorFile, write_tensors};
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::energy::{ENERGY_METADATA_KEY, EnergyMetadata, EnergyNet, EnergyShape};
use tch::{Device, nn};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() == 4, "usage: PIPELINE RUNS_DIR M HIDDEN");
    let pipeline = Pipeline::load(&PathBuf::from(&args[0]))?;
    let runs = PathBuf::from(&args[1]);
    let m: i64 = args[2].parse().context("M")?;
    let hidden: i64 = args[3].parse().context("HIDDEN")?;
    let prepare = runs.join(&pipeline.name).join(prepare::STAGE);
    let (shape, mut values) =
        TensorFile::open(&prepare::INPUTS.path(&prepare))?.f32(prepare::FEATURES_TENSOR)?;
    let (n, d) = (shape[0], shape[1]);
    for row in values.chunks_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    let config = serde_json::json!({ "synthetic": true, "m": m, "hidden": hidden });
    StageRunner::new(&pipeline, &runs, train::STAGE, 0)
        .config(&config)
        .upstream(prepare::STAGE)
        .run(true, |run| {
            tch::manual_seed(0);
            let shape = EnergyShape {
                input_dim: d as i64,
                hidden: vec![hidden],
                out_dim: m,
            };
            let meta = EnergyMetadata {
                shape: shape.clone(),
                coefficients: CoefficientKind::Shrink,
                temperature: Some(0.1),
                geometry: 0.0,
                encoder: None,
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let _net = EnergyNet::new(&(vs.root() / "energy"), &shape, 0.0);
            let mut named: Vec<(String, Vec<usize>, TensorData)> = Vec::new();
            for (name, t) in vs.variables() {
                let size = t.size().iter().map(|&x| x as usize).collect();
                named.push((name, size, TensorData::F32(Vec::try_from(t.reshape([-1]))?)));
            }
            named.push((
                "energy.threshold".into(),
                vec![1],
                TensorData::F32(vec![0.0]),
            ));
            let tensors: Vec<_> = named
                .iter()
                .map(|(n, s, t)| (n.as_str(), s.clone(), t))
                .collect();
            let meta = HashMap::from([(
                ENERGY_METADATA_KEY.to_string(),
                serde_json::to_string(&meta)?,
            )]);
            let mut file = run.create_output(train::MODEL.file)?;
            write_tensors(file.writer(), &tensors, &meta)?;
            file.commit()?;
            let dictionary = TensorData::F32(values.clone());
            let mut file = run.create_output(train::FEATURES.file)?;
            write_tensors(
                file.writer(),
                &[(train::DICTIONARY_TENSOR, vec![n, d], &dictionary)],
                &HashMap::new(),
            )?;
            file.commit()
        })?;
    Ok(())
}
