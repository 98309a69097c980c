//! What a later stage reads of train's `model.safetensors`: the energy towers (shape,
//! coefficient map and cosine weight κ from its `energy` metadata, weights
//! `energy.query.*`, `energy.key.*`, `energy.threshold`) and the encoder with its head
//! (`encoder.*`, `head.*`, the spec nested in the same metadata).

use std::ops::Range;
use std::path::Path;

use anyhow::Context;
use ebsc_io::TensorFile;
use ebsc_io::artifacts::train::DICTIONARY_TENSOR;
use tch::{Device, Kind, Tensor, nn};

use crate::coefficients::CoefficientKind;
use crate::encoders::{EncoderSpec, Model};
use crate::energy::{ENERGY_METADATA_KEY, EnergyMetadata, EnergyNet};
use crate::topk::CoefficientMap;

/// Rows per forward pass when computing tower outputs: bounded activation memory.
const TOWER_CHUNK: usize = 8192;

pub struct EnergyModel {
    _vs: nn::VarStore,
    pub net: EnergyNet,
    pub map: CoefficientMap,
}

/// The `energy` metadata of a model file.
fn energy_metadata(file: &TensorFile, path: &Path) -> anyhow::Result<EnergyMetadata> {
    let text = file
        .metadata()
        .remove(ENERGY_METADATA_KEY)
        .with_context(|| {
            format!(
                "{}: no `{ENERGY_METADATA_KEY}` metadata (not a model written by ebsc-train)",
                path.display()
            )
        })?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: metadata `{ENERGY_METADATA_KEY}` is not valid",
            path.display()
        )
    })
}

/// The trained encoder and head of a model file, in eval use on `device` (the returned
/// store holds their variables). Every `encoder.*` and `head.*` tensor of the file must
/// match a variable of the spec's model.
pub fn load_encoder(path: &Path, device: Device) -> anyhow::Result<(Model, nn::VarStore)> {
    let file = TensorFile::open(path)?;
    let meta = energy_metadata(&file, path)?;
    let spec_value = meta.encoder.with_context(|| {
        format!(
            "{}: the `{ENERGY_METADATA_KEY}` metadata holds no encoder spec",
            path.display()
        )
    })?;
    let spec: EncoderSpec = serde_json::from_value(spec_value)
        .with_context(|| format!("{}: the encoder spec is not valid", path.display()))?;
    let mut vs = nn::VarStore::new(device);
    let model = Model::new(&vs, &spec).with_context(|| format!("{}", path.display()))?;
    copy_variables(&file, path, &vs, "the encoder spec")?;
    vs.freeze();
    Ok((model, vs))
}

/// Every variable of `vs` from the file's f32 tensor of the same name and shape (the
/// shape `source` implies, as the error says).
fn copy_variables(
    file: &TensorFile,
    path: &Path,
    vs: &nn::VarStore,
    source: &str,
) -> anyhow::Result<()> {
    for (name, mut var) in vs.variables() {
        let (shape, values) = file.f32(&name)?;
        let expected: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
        anyhow::ensure!(
            shape == expected,
            "{}: tensor `{name}` has shape {shape:?}, {source} implies {expected:?}",
            path.display()
        );
        tch::no_grad(|| {
            var.copy_(
                &Tensor::from_slice(&values)
                    .view(var.size().as_slice())
                    .to_kind(var.kind()),
            )
        });
    }
    Ok(())
}

/// Train's dictionary (`features.safetensors`, `dictionary` `[N, width]`) on `device`,
/// with its values on the host (row-major) for callers that need them.
pub fn load_dictionary(
    path: &Path,
    width: i64,
    device: Device,
) -> anyhow::Result<(Tensor, Vec<f32>)> {
    let (shape, values) = TensorFile::open(path)?.f32(DICTIONARY_TENSOR)?;
    anyhow::ensure!(
        shape.len() == 2 && shape[1] as i64 == width,
        "{}: `{DICTIONARY_TENSOR}` has shape {shape:?}, the model expects [N, {width}]",
        path.display(),
    );
    let dictionary = Tensor::from_slice(&values)
        .view([shape[0] as i64, shape[1] as i64])
        .to_device(device);
    Ok((dictionary, values))
}

impl EnergyModel {
    pub fn load(path: &Path, device: Device) -> anyhow::Result<EnergyModel> {
        let file = TensorFile::open(path)?;
        let meta = energy_metadata(&file, path)?;
        let vs = nn::VarStore::new(device);
        anyhow::ensure!(
            meta.geometry >= 0.0 && meta.geometry.is_finite(),
            "{}: energy metadata `geometry` must be ≥ 0, got {}",
            path.display(),
            meta.geometry
        );
        let net = EnergyNet::new(&(vs.root() / "energy"), &meta.shape, meta.geometry);
        copy_variables(&file, path, &vs, "the energy metadata")?;
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

    /// Scores pairs by the energy's cosine term alone from here on
    /// ([`EnergyNet::score_cosine_only`]: `[affinity] residual = false`); an error naming
    /// the model file `path` when the energy has no cosine term.
    pub fn score_cosine_only(&mut self, path: &Path) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.net.geometry > 0.0,
            "[affinity] residual = false scores pairs by the energy's cosine term alone, \
             but {} has none (its energy metadata says geometry = 0): remove `residual`, \
             or train with `[train] geometry` > 0",
            path.display()
        );
        self.net.score_cosine_only();
        Ok(())
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
