//! Finding every `metrics.json` under the runs folder and reading, for each, its scores and
//! (for a pipeline's cluster stage) the wall time of each of the pipeline's stages.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ebsc_core::manifest::MANIFEST_FILE;
use ebsc_io::artifacts;

use crate::json::JsonFile;

/// What every cluster run writes, in a pipeline or standalone (ablations, baselines).
pub const METRICS_FILE: &str = artifacts::cluster::METRICS.file;

/// The pipeline's stages in run order (scripts/stages.sh).
pub const STAGES: [&str; 5] = artifacts::STAGES;

/// One `metrics.json`: what the report shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its folder relative to the runs folder, `/`-separated: `mnist-demo/cluster`.
    pub name: String,
    pub n_samples: u64,
    pub n_clusters: u64,
    pub acc: Option<f64>,
    pub nmi: Option<f64>,
    pub nmi_geometric: Option<f64>,
    pub ari: Option<f64>,
    pub quality: Quality,
    /// Present when the run is a pipeline's stage folder, `<runs>/<pipeline>/<stage>/`.
    pub pipeline: Option<StageTimes>,
}

/// The spectral path's label-free measures (`quality` in `metrics.json`, docs/quality.md);
/// absent in files written before them and in k-means baselines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quality {
    /// Share of the affinity weight inside clusters.
    pub cohesion: Option<f64>,
    /// `Σ_c cut(c) / vol(c)`.
    pub normalized_cut: Option<f64>,
    /// `λ_k − λ_{k+1}` at the k used.
    pub eigengap: Option<f64>,
    /// The k the largest eigengap suggests.
    pub eigengap_k: Option<u64>,
    /// Mean silhouette on the spectral embedding.
    pub silhouette: Option<f64>,
}

/// What the pipeline's stage manifests say; a stage without a manifest has no time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageTimes {
    /// Wall seconds per stage, in [`STAGES`] order.
    pub seconds: [Option<f64>; STAGES.len()],
    /// The distinct devices the stages ran on, in stage order.
    pub devices: Vec<String>,
}

impl StageTimes {
    /// The sum over the stages that have a manifest; `None` when none has.
    pub fn total(&self) -> Option<f64> {
        self.seconds.iter().flatten().copied().reduce(|a, b| a + b)
    }
}

/// Every run under `runs_dir`, in no particular order. No `metrics.json` at all is an
/// error: an empty report would hide a wrong `--runs-dir`.
pub fn collect(runs_dir: &Path) -> anyhow::Result<Vec<Run>> {
    if !runs_dir.is_dir() {
        bail!(
            "{}: no such folder; `just run` writes the runs there (or pass --runs-dir)",
            runs_dir.display()
        );
    }
    let mut files = Vec::new();
    find_metrics(runs_dir, &mut files)?;
    if files.is_empty() {
        bail!(
            "{}: no {METRICS_FILE} in this folder or below it; `just run` produces them",
            runs_dir.display()
        );
    }
    files.iter().map(|file| read_run(runs_dir, file)).collect()
}

/// Depth-first walk. Hidden entries (`.work/` checkpoints, temp files) are skipped, and so
/// are symlinked folders, which could form cycles.
fn find_metrics(folder: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("{}: cannot list", folder.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", folder.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("{}: cannot stat", path.display()))?;
        if file_type.is_dir() {
            find_metrics(&path, found)?;
        } else if name == METRICS_FILE && path.is_file() {
            found.push(path);
        }
    }
    Ok(())
}

fn read_run(runs_dir: &Path, file: &Path) -> anyhow::Result<Run> {
    let folder = file.parent().unwrap_or(runs_dir);
    let parts: Vec<String> = folder
        .strip_prefix(runs_dir)
        .unwrap_or(folder)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let metrics = JsonFile::read(file)?;
    // `<pipeline>/<stage>` is a stage folder of the pipeline run; anything else (ablations,
    // standalone `ebsc-cluster --out`) has no manifests of its own to sum.
    let pipeline = match parts.as_slice() {
        [_, stage] if STAGES.contains(&stage.as_str()) => Some(stage_times(
            folder.parent().expect("a stage folder has a parent"),
        )?),
        _ => None,
    };
    Ok(Run {
        name: if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        },
        n_samples: metrics.count("n_samples")?,
        n_clusters: metrics.count("n_clusters")?,
        acc: metrics.optional_number("acc")?,
        nmi: metrics.optional_number("nmi")?,
        nmi_geometric: metrics.optional_number("nmi_geometric")?,
        ari: metrics.optional_number("ari")?,
        quality: Quality {
            cohesion: metrics.optional_number("quality.cohesion")?,
            normalized_cut: metrics.optional_number("quality.normalized_cut")?,
            eigengap: metrics.optional_number("quality.eigengap")?,
            eigengap_k: metrics.optional_count("quality.eigengap_n_clusters")?,
            silhouette: metrics.optional_number("quality.silhouette")?,
        },
        pipeline,
    })
}

/// Each stage's time summed over the pipeline's members (`member-<m>/<stage>` beside the
/// first member's `<stage>`), so that the total is what the whole pipeline took.
fn stage_times(pipeline_dir: &Path) -> anyhow::Result<StageTimes> {
    let mut times = StageTimes::default();
    let members = member_folders(pipeline_dir)?;
    for (slot, stage) in times.seconds.iter_mut().zip(STAGES) {
        let folders = std::iter::once(pipeline_dir.join(stage))
            .chain(members.iter().map(|member| member.join(stage)));
        for folder in folders {
            let path = folder.join(MANIFEST_FILE);
            if !path.is_file() {
                continue;
            }
            let manifest = JsonFile::read(&path)?;
            *slot = Some(slot.unwrap_or(0.0) + manifest.seconds("provenance.wall_seconds")?);
            let device = manifest.string("provenance.device")?;
            if !times.devices.iter().any(|d| d == device) {
                times.devices.push(device.to_string());
            }
        }
    }
    Ok(times)
}

/// The `member-<m>` folders of a pipeline's run folder (members after the first), in order.
fn member_folders(pipeline_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(pipeline_dir)
        .with_context(|| format!("{}: cannot list", pipeline_dir.display()))?;
    let mut members = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", pipeline_dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let number = name
            .strip_prefix("member-")
            .and_then(|m| m.parse::<usize>().ok());
        if let Some(number) = number
            && entry.path().is_dir()
        {
            members.push((number, entry.path()));
        }
    }
    members.sort();
    Ok(members.into_iter().map(|(_, path)| path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_scores_and_the_stage_manifests_beside_a_cluster_stage() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "p/cluster/metrics.json",
            r#"{"n_samples": 10, "n_clusters": 2, "acc": 0.9, "nmi": 0.8, "future": [1],
                "quality": {"cohesion": 0.95, "normalized_cut": 0.1, "eigengap_n_clusters": 2,
                            "silhouette": -0.25, "clusters": []}}"#,
        );
        let manifest = |s: f64, d: &str| {
            format!(r#"{{"provenance": {{"wall_seconds": {s}, "device": "{d}"}}}}"#)
        };
        write(root, "p/prepare/manifest.json", &manifest(1.5, "cpu"));
        write(root, "p/train/manifest.json", &manifest(10.0, "cuda(0)"));
        write(root, "p/cluster/manifest.json", &manifest(2.0, "cpu"));
        // Checkpoints and hidden files are not runs.
        write(root, "p/train/.work/k/metrics.json", "not json");
        let runs = collect(root).unwrap();
        assert_eq!(
            runs,
            vec![Run {
                name: "p/cluster".into(),
                n_samples: 10,
                n_clusters: 2,
                acc: Some(0.9),
                nmi: Some(0.8),
                nmi_geometric: None,
                ari: None,
                quality: Quality {
                    cohesion: Some(0.95),
                    normalized_cut: Some(0.1),
                    eigengap: None,
                    eigengap_k: Some(2),
                    silhouette: Some(-0.25),
                },
                pipeline: Some(StageTimes {
                    seconds: [Some(1.5), None, Some(10.0), None, Some(2.0)],
                    devices: vec!["cpu".into(), "cuda(0)".into()],
                }),
            }]
        );
        // 1.5 + 10 + 2 over the three stages with a manifest.
        assert_eq!(runs[0].pipeline.as_ref().unwrap().total(), Some(13.5));
        assert_eq!(StageTimes::default().total(), None);
    }

    #[test]
    fn a_pipeline_s_members_add_their_stage_times() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "p/cluster/metrics.json",
            r#"{"n_samples": 10, "n_clusters": 2}"#,
        );
        let manifest =
            |s: f64| format!(r#"{{"provenance": {{"wall_seconds": {s}, "device": "cpu"}}}}"#);
        write(root, "p/prepare/manifest.json", &manifest(1.0));
        write(root, "p/train/manifest.json", &manifest(10.0));
        write(root, "p/member-1/train/manifest.json", &manifest(12.0));
        write(root, "p/member-2/train/manifest.json", &manifest(11.0));
        write(root, "p/member-1/affinity/manifest.json", &manifest(3.0));
        write(root, "p/cluster/manifest.json", &manifest(2.0));
        let runs = collect(root).unwrap();
        let times = runs[0].pipeline.as_ref().unwrap();
        assert_eq!(
            times.seconds,
            [Some(1.0), None, Some(33.0), Some(3.0), Some(2.0)]
        );
        assert_eq!(times.total(), Some(39.0));
    }

    #[test]
    fn a_folder_deeper_than_a_stage_is_standalone() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p/ablations/raw/metrics.json",
            r#"{"n_samples": 4, "n_clusters": 3}"#,
        );
        write(
            dir.path(),
            "p/cluster/manifest.json",
            r#"{"provenance": {"wall_seconds": 1, "device": "cpu"}}"#,
        );
        let runs = collect(dir.path()).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].name, "p/ablations/raw");
        assert_eq!(runs[0].pipeline, None);
    }

    #[test]
    fn no_metrics_is_an_error_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p/prepare/manifest.json", "{}");
        let e = format!("{:#}", collect(dir.path()).unwrap_err());
        assert!(e.starts_with(&dir.path().display().to_string()), "{e}");
        assert!(
            e.contains("no metrics.json") && e.contains("just run"),
            "{e}"
        );
        let e = format!("{:#}", collect(&dir.path().join("absent")).unwrap_err());
        assert!(e.contains("absent: no such folder"), "{e}");
    }

    #[test]
    fn a_bad_manifest_names_its_field() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p/cluster/metrics.json",
            r#"{"n_samples": 4, "n_clusters": 3}"#,
        );
        write(
            dir.path(),
            "p/pretrain/manifest.json",
            r#"{"provenance": {"device": "cpu"}}"#,
        );
        let e = format!("{:#}", collect(dir.path()).unwrap_err());
        assert!(
            e.ends_with("pretrain/manifest.json: missing field `provenance.wall_seconds`"),
            "{e}"
        );
    }
}
