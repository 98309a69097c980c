//! Checkpoints of a training run in a folder (the stage's `.work/<key>/`).
//!
//! A checkpoint is a folder `ckpt-<step>/` holding `tensors.safetensors` (model variables,
//! optimizer state and anything else the caller names), `state.json` (position in the run
//! and free-form fields) and optionally `metrics.parquet` (the per-step log so far). It is
//! written as `ckpt-<step>.tmp/` and renamed into place, so a kill at any moment leaves
//! either the previous checkpoint or the new one, never half of one; older checkpoints are
//! removed only after the new one is in place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_io::{MetricKind, MetricsLog};
use tch::Tensor;
use tch::nn::VarStore;

const PREFIX: &str = "ckpt-";
const TMP_SUFFIX: &str = ".tmp";
const TENSORS: &str = "tensors.safetensors";
const STATE: &str = "state.json";
const METRICS: &str = "metrics.parquet";

/// What a checkpoint holds.
pub struct Checkpoint {
    /// Completed optimisation steps (the run resumes at this global step).
    pub step: u64,
    /// Named tensors, on the CPU once loaded.
    pub tensors: Vec<(String, Tensor)>,
    /// Free-form JSON state (epoch, schedule position, caller's fields).
    pub state: serde_json::Value,
    pub metrics: Option<MetricsLog>,
}

impl Checkpoint {
    /// Tensors whose names start with `prefix`, with the prefix removed.
    pub fn group(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tensors
            .iter()
            .filter_map(|(name, t)| {
                name.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), t.shallow_clone()))
            })
            .collect()
    }
}

/// A folder of checkpoints; only the newest complete one is kept.
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    pub fn new(dir: &Path) -> CheckpointDir {
        CheckpointDir {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a checkpoint atomically, then removes older ones.
    pub fn save(&self, checkpoint: &Checkpoint) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create", self.dir.display()))?;
        let name = format!("{PREFIX}{:010}", checkpoint.step);
        let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
        let done = self.dir.join(&name);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("{}: cannot remove", tmp.display()))?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        let cpu: Vec<(String, Tensor)> = checkpoint
            .tensors
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    t.detach().to_device(tch::Device::Cpu).contiguous(),
                )
            })
            .collect();
        let written = (|| -> anyhow::Result<()> {
            let path = tmp.join(TENSORS);
            Tensor::write_safetensors(&cpu, &path)
                .with_context(|| format!("{}: writing checkpoint tensors", path.display()))?;
            let state = serde_json::json!({ "step": checkpoint.step, "state": checkpoint.state });
            let path = tmp.join(STATE);
            std::fs::write(&path, serde_json::to_vec_pretty(&state)?)
                .with_context(|| format!("{}: writing checkpoint state", path.display()))?;
            if let Some(metrics) = &checkpoint.metrics {
                let path = tmp.join(METRICS);
                std::fs::File::create(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|file| metrics.write(file))
                    .with_context(|| format!("{}: writing checkpoint metrics", path.display()))?;
            }
            Ok(())
        })();
        if let Err(error) = written {
            // A failed write (a full disk) leaves no half-written checkpoint behind.
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(error);
        }
        if done.exists() {
            std::fs::remove_dir_all(&done)
                .with_context(|| format!("{}: cannot remove", done.display()))?;
        }
        std::fs::rename(&tmp, &done)
            .with_context(|| format!("{}: cannot rename into place", done.display()))?;
        for (step, path) in self.list()? {
            if step != checkpoint.step {
                let _ = std::fs::remove_dir_all(path);
            }
        }
        Ok(done)
    }

    /// Complete checkpoints, oldest first.
    fn list(&self) -> anyhow::Result<Vec<(u64, PathBuf)>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(step) = name
                .strip_prefix(PREFIX)
                .and_then(|s| s.parse::<u64>().ok())
            {
                found.push((step, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The step of the newest complete checkpoint, if any.
    pub fn latest_step(&self) -> anyhow::Result<Option<u64>> {
        Ok(self.list()?.last().map(|(s, _)| *s))
    }

    /// Loads the newest complete checkpoint; `metrics_columns` says what its log holds.
    pub fn load_latest(
        &self,
        metrics_columns: &[(&str, MetricKind)],
    ) -> anyhow::Result<Option<Checkpoint>> {
        let Some((step, path)) = self.list()?.pop() else {
            return Ok(None);
        };
        let tensors = Tensor::read_safetensors(path.join(TENSORS))
            .with_context(|| format!("{}: reading checkpoint tensors", path.display()))?;
        let text = std::fs::read(path.join(STATE))
            .with_context(|| format!("{}: reading checkpoint state", path.display()))?;
        let mut state: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{}: checkpoint state is not JSON", path.display()))?;
        let metrics_path = path.join(METRICS);
        let metrics = if metrics_path.exists() {
            Some(MetricsLog::read(&metrics_path, metrics_columns)?)
        } else {
            None
        };
        Ok(Some(Checkpoint {
            step,
            tensors,
            state: state["state"].take(),
            metrics,
        }))
    }
}

/// The store's variables (trainable or not, e.g. batch-norm running statistics), by name.
pub fn var_tensors(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Copies named tensors into the store's variables; each variable must be present with
/// its shape (extra tensors are an error too: they mean a different model).
pub fn load_var_tensors(vs: &VarStore, tensors: &[(String, Tensor)]) -> anyhow::Result<()> {
    let given: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let vars = vs.variables();
    for name in given.keys() {
        anyhow::ensure!(
            vars.contains_key(*name),
            "tensor `{name}` does not belong to this model"
        );
    }
    tch::no_grad(|| {
        for (name, var) in &vars {
            let source = given
                .get(name.as_str())
                .ok_or_else(|| anyhow::anyhow!("missing tensor `{name}`"))?;
            anyhow::ensure!(
                source.size() == var.size(),
                "tensor `{name}` has shape {:?}, the model expects {:?}",
                source.size(),
                var.size()
            );
            var.shallow_clone()
                .copy_(&source.to_kind(var.kind()).to_device(var.device()));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, nn};

    use super::*;
    use ebsc_io::MetricValue;

    #[test]
    fn save_load_keeps_only_the_newest_and_ignores_partial_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = CheckpointDir::new(dir.path());
        assert!(ckpts.load_latest(&[]).unwrap().is_none());
        let columns = [("step", MetricKind::U64)];
        for step in [5u64, 10] {
            let mut metrics = MetricsLog::new(&columns);
            metrics.push(&[MetricValue::U64(step)]).unwrap();
            ckpts
                .save(&Checkpoint {
                    step,
                    tensors: vec![("model.w".into(), Tensor::from_slice(&[step as f32, 2.0]))],
                    state: serde_json::json!({ "epoch": step / 5 }),
                    metrics: Some(metrics),
                })
                .unwrap();
        }
        // A checkpoint killed half-way is a .tmp folder: never loaded.
        std::fs::create_dir(dir.path().join("ckpt-0000000020.tmp")).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".tmp"))
            .collect();
        assert_eq!(names, vec!["ckpt-0000000010"]);
        let latest = ckpts.load_latest(&columns).unwrap().unwrap();
        assert_eq!(latest.step, 10);
        assert_eq!(latest.state["epoch"], 2);
        let w = &latest.group("model.")[0];
        assert_eq!(w.0, "w");
        assert_eq!(Vec::<f32>::try_from(&w.1).unwrap(), vec![10.0, 2.0]);
        assert_eq!(latest.metrics.unwrap().u64_column("step").unwrap(), &[10]);
    }

    #[test]
    fn var_tensors_round_trip_and_mismatches_are_named() {
        let vs = VarStore::new(Device::Cpu);
        let _lin = nn::linear(vs.root() / "fc", 2, 3, Default::default());
        let saved = var_tensors(&vs);
        assert_eq!(
            saved.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["fc.bias", "fc.weight"]
        );
        let other = VarStore::new(Device::Cpu);
        let _lin = nn::linear(other.root() / "fc", 2, 3, Default::default());
        load_var_tensors(&other, &saved).unwrap();
        let a = vs.variables()["fc.weight"].copy();
        let b = other.variables()["fc.weight"].copy();
        assert!(a.equal(&b));
        let bad = vec![(
            "fc.weight".to_string(),
            Tensor::zeros([3, 3], (Kind::Float, Device::Cpu)),
        )];
        let err = load_var_tensors(&other, &bad).unwrap_err().to_string();
        assert!(
            err.contains("missing tensor `fc.bias`") || err.contains("shape"),
            "{err}"
        );
    }
}
