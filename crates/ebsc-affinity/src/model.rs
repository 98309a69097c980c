//! The trained energy towers from train's `model.safetensors`: shape, coefficient map and
//! cosine weight κ from its `energy` metadata, weights `energy.query.*`, `energy.key.*`,
//! `energy.threshold`.

use std::ops::Range;
use std::path::Path;

use anyhow::Context;
use ebsc_io::TensorFile;
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::energy::{ENERGY_METADATA_KEY, EnergyMetadata, EnergyNet};
use tch::{Device, Kind, Tensor, nn};

use crate::topk::CoefficientMap;

/// Rows per forward pass when computing tower outputs: bounded activation memory.
const TOWER_CHUNK: usize = 8192;

pub struct EnergyModel {
    _vs: nn::VarStore,
    pub net: EnergyNet,
    pub map: CoefficientMap,
}

impl EnergyModel {
    pub fn load(path: &Path, device: Device) -> anyhow::Result<EnergyModel> {
        let file = TensorFile::open(path)?;
        let text = file
            .metadata()
            .remove(ENERGY_METADATA_KEY)
            .with_context(|| {
                format!(
                    "{}: no `{ENERGY_METADATA_KEY}` metadata (not a model written by ebsc-train)",
                    path.display()
                )
            })?;
        let meta: EnergyMetadata = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: metadata `{ENERGY_METADATA_KEY}` is not valid",
                path.display()
            )
        })?;
        let vs = nn::VarStore::new(device);
        anyhow::ensure!(
            meta.geometry >= 0.0 && meta.geometry.is_finite(),
            "{}: energy metadata `geometry` must be ≥ 0, got {}",
            path.display(),
            meta.geometry
        );
        let net = EnergyNet::new(&(vs.root() / "energy"), &meta.shape, meta.geometry);
        for (name, mut var) in vs.variables() {
            let (shape, values) = file.f32(&name)?;
            let expected: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
            anyhow::ensure!(
                shape == expected,
                "{}: tensor `{name}` has shape {shape:?}, the energy metadata implies {expected:?}",
                path.display()
            );
            tch::no_grad(|| var.copy_(&Tensor::from_slice(&values).view(var.size().as_slice())));
        }
        let (shape, threshold) = file.f32("energy.threshold")?;
        anyhow::ensure!(
            threshold.len() == 1 && threshold[0] >= 0.0,
            "{}: `energy.threshold` must be one value ≥ 0, got shape {shape:?}",
            path.display()
        );
        let temperature = match (meta.coefficients, meta.temperature) {
            (CoefficientKind::Gibbs, None) => anyhow::bail!(
                "{}: the `{ENERGY_METADATA_KEY}` metadata has no `temperature`, which the Gibbs map needs",
                path.display()
            ),
            // The shrink map never divides by T.
            (_, temperature) => temperature.unwrap_or(1.0),
        };
        let map = CoefficientMap {
            kind: meta.coefficients,
            threshold: threshold[0],
            out_dim: meta.shape.out_dim,
            temperature,
        };
        Ok(EnergyModel { _vs: vs, net, map })
    }

    pub fn input_dim(&self) -> i64 {
        self.net.shape.input_dim
    }

    /// `(u', v')` of `d` `[N, D]`, with `u'_i·v'_j = −E(d_i, d_j)`: the towers' outputs,
    /// with `√κ·d` appended when the energy has a cosine term ([`EnergyNet::scoring_rows`]);
    /// on `d`'s device. `u'` holds only `rows` (a shard scores no other rows), `v'` every row.
    ///
    /// Each chunk's outputs are copied into tensors allocated once: collecting the chunks
    /// and concatenating them held every output twice (4.6 GB at 1M samples, m = 256).
    /// The chunk grid is the same whatever `rows` is, so a shard's rows get the bits a
    /// whole export computes.
    pub fn towers(&self, d: &Tensor, rows: Range<usize>) -> (Tensor, Tensor) {
        tch::no_grad(|| {
            let n = d.size()[0] as usize;
            let mut outputs: Option<(Tensor, Tensor)> = None;
            // One (empty) chunk when n = 0, so the outputs still have the scoring width.
            for start in (0..n.max(1)).step_by(TOWER_CHUNK) {
                let len = TOWER_CHUNK.min(n - start);
                let chunk = d.narrow(0, start as i64, len as i64);
                let (chunk_u, chunk_v) = self.net.scoring_rows(&chunk);
                let (u, v) = outputs.get_or_insert_with(|| {
                    let width = chunk_v.size()[1];
                    let options = (Kind::Float, d.device());
                    (
                        Tensor::empty([rows.len() as i64, width], options),
                        Tensor::empty([n as i64, width], options),
                    )
                });
                v.narrow(0, start as i64, len as i64).copy_(&chunk_v);
                let (first, last) = (start.max(rows.start), (start + len).min(rows.end));
                if first < last {
                    u.narrow(0, (first - rows.start) as i64, (last - first) as i64)
                        .copy_(&chunk_u.narrow(0, (first - start) as i64, (last - first) as i64));
                }
            }
            outputs.expect("at least one chunk ran")
        })
    }
}
