//! Standalone feature mode, the baselines the method is measured against (the ablations of
//! `just bench`), on the same metrics code as every pipeline run:
//!
//! - `--features F.safetensors --tensor T`: k-means++ on the rows of `T` (the classic
//!   "k-means on raw pixels / on pretrained features" baseline);
//! - with `--knn K`: spectral clustering of the cosine K-nearest-neighbour graph of the
//!   rows (connectivity 1, `(A + Aᵀ)/2`, as the affinity stage's `knn`), with no
//!   self-expression. The graph is written to `OUT/affinity.parquet` and then clustered
//!   exactly as a user's own affinity file, so the outputs are the usual ones.
//!
//! A u8 tensor (prepare's `images`) is scaled to [0, 1]; any shape `[N, ...]` is
//! flattened to N rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ebsc_core::AtomicFile;
use ebsc_io::artifacts::{affinity, cluster};
use ebsc_io::assignments::write_assignments;
use ebsc_io::labels::read_labels_file;
use ebsc_io::{TensorFile, Triplets, write_triplets};
use ebsc_spectral::{cosine_knn, kmeans, normalize_rows};
use safetensors::Dtype;
use serde::Serialize;

use crate::config::{ClusterConfig, ClusterCountSetting};
use crate::input::Mode;
use crate::outputs::Scores;
use crate::stage::{self, Sink};
use crate::{Inputs, STAGE, Standalone, cluster_stage, score_known, score_summary};

/// What to do with the feature rows.
#[derive(Debug, Clone)]
pub struct FeatureRun {
    pub features: PathBuf,
    pub tensor: String,
    pub labels: Option<PathBuf>,
    pub out: PathBuf,
    /// Spectral clustering of the cosine kNN graph with this many neighbours; k-means on
    /// the rows when `None`.
    pub knn: Option<usize>,
    /// L2-normalise the rows before k-means (cosine geometry).
    pub normalize_rows: bool,
    pub seed: u64,
}

/// Rows of a feature tensor as f32.
pub struct FeatureRows {
    pub values: Vec<f32>,
    pub n_rows: usize,
    pub n_dims: usize,
}

impl FeatureRows {
    /// Scales every row to unit L2 norm (in f64, as the spectral embedding's rows are), for
    /// k-means in cosine geometry.
    pub fn normalize(&mut self) {
        self.values = self.normalized().values;
    }

    /// The rows scaled to unit L2 norm, as [`Self::normalize`] does, leaving these as
    /// they are.
    pub fn normalized(&self) -> FeatureRows {
        let mut wide: Vec<f64> = self.values.iter().map(|&v| f64::from(v)).collect();
        normalize_rows(&mut wide, self.n_dims);
        FeatureRows {
            values: wide.into_iter().map(|v| v as f32).collect(),
            n_rows: self.n_rows,
            n_dims: self.n_dims,
        }
    }
}

/// Reads tensor `name` of a safetensors file as `N` rows (u8 scaled by 1/255).
pub fn read_feature_rows(path: &Path, name: &str) -> anyhow::Result<FeatureRows> {
    let file = TensorFile::open(path)?;
    let dtype = file
        .tensors()
        .tensor(name)
        .map(|view| view.dtype())
        .map_err(|_| {
            anyhow::anyhow!(
                "{}: no tensor `{name}` (has: {})",
                path.display(),
                file.tensors().names().join(", ")
            )
        })?;
    let (shape, values) = match dtype {
        Dtype::F32 => file.f32(name)?,
        Dtype::U8 => {
            let (shape, bytes) = file.u8(name)?;
            (shape, bytes.iter().map(|&b| f32::from(b) / 255.0).collect())
        }
        other => anyhow::bail!(
            "{}: tensor `{name}` is {other:?}; expected F32 features or U8 images",
            path.display()
        ),
    };
    let n_rows = shape.first().copied().unwrap_or(0);
    let n_dims: usize = shape.iter().skip(1).product();
    anyhow::ensure!(
        shape.len() >= 2 && n_rows > 0 && n_dims > 0,
        "{}: tensor `{name}` has shape {shape:?}; expected [N, ...] with N ≥ 1 rows",
        path.display()
    );
    if let Some(row) = values
        .chunks_exact(n_dims)
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        anyhow::bail!(
            "{}: tensor `{name}`, row {row}: a value is NaN or infinite",
            path.display()
        );
    }
    Ok(FeatureRows {
        values,
        n_rows,
        n_dims,
    })
}

/// `metrics.json` of a k-means baseline. Scores are absent without labels.
#[derive(Debug, Clone, Serialize)]
pub struct KmeansMetrics {
    /// "kmeans": no graph, no eigenvectors.
    pub method: &'static str,
    pub features: String,
    pub tensor: String,
    pub normalized_rows: bool,
    pub n_samples: usize,
    pub n_dims: usize,
    pub n_clusters: usize,
    #[serde(flatten)]
    pub scores: Scores,
    pub cluster_sizes: Vec<usize>,
    pub kmeans_inertia: f64,
    pub kmeans_iterations: usize,
    pub timings: BTreeMap<String, f64>,
}

/// Runs one baseline into `run.out`.
pub fn run(run: &FeatureRun, config: &ClusterConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut rows = read_feature_rows(&run.features, &run.tensor)?;
    let labels_file = run.labels.as_deref().map(read_labels_file).transpose()?;
    let sources = labels_file.as_ref().and_then(|f| f.sources.clone());
    let labels = labels_file.map(|f| f.labels);
    if let (Some(labels), Some(path)) = (&labels, &run.labels) {
        anyhow::ensure!(
            labels.len() == rows.n_rows,
            "{} has {} rows but tensor `{}` of {} has {}: they must describe the same samples",
            path.display(),
            labels.len(),
            run.tensor,
            run.features.display(),
            rows.n_rows
        );
    }
    // Counts first, so that a run that cannot work leaves no output folder.
    match config.n_clusters {
        ClusterCountSetting::Fixed(k) => anyhow::ensure!(
            k <= rows.n_rows,
            "--n-clusters {k} is more than the {} rows of `{}` in {}",
            rows.n_rows,
            run.tensor,
            run.features.display()
        ),
        ClusterCountSetting::Auto => anyhow::ensure!(
            run.knn.is_some(),
            "--n-clusters auto needs a graph's eigengap: add --knn K, or give a number"
        ),
    }
    if let Some(k) = run.knn {
        anyhow::ensure!(
            k < rows.n_rows,
            "--knn {k} needs more than {k} rows; `{}` has {}",
            run.tensor,
            rows.n_rows
        );
    }
    std::fs::create_dir_all(&run.out)
        .with_context(|| format!("{}: cannot create", run.out.display()))?;
    log(&format!(
        "read: {} rows of {} values from `{}` in {:.1}s",
        rows.n_rows,
        rows.n_dims,
        run.tensor,
        started.elapsed().as_secs_f64()
    ));

    if let Some(k) = run.knn {
        let started = Instant::now();
        let graph = knn_graph(&rows, k).with_context(|| {
            format!(
                "kNN graph of `{}` in {}",
                run.tensor,
                run.features.display()
            )
        })?;
        drop(rows);
        let path = affinity::AFFINITY.path(&run.out);
        let mut file = AtomicFile::create(&path)?;
        write_triplets(&mut file, &graph).with_context(|| path.display().to_string())?;
        file.commit()?;
        log(&format!(
            "knn: {k} neighbours per row, {} entries, in {:.1}s → {}",
            graph.len(),
            started.elapsed().as_secs_f64(),
            path.display()
        ));
        let inputs = Inputs {
            affinity: vec![path],
            labels: run.labels.clone(),
            images: None,
            referee: Vec::new(),
            referee_apart: false,
            mode: Mode::Standalone,
            name: crate::folder_name(&run.out),
        };
        let mut sink = Standalone {
            dir: run.out.clone(),
        };
        return cluster_stage(&mut sink, &inputs, config, run.seed);
    }

    let ClusterCountSetting::Fixed(n_clusters) = config.n_clusters else {
        unreachable!("auto without --knn was refused above");
    };
    if run.normalize_rows {
        rows.normalize();
    }
    let mut timings = BTreeMap::new();
    let started = Instant::now();
    let result = kmeans(
        &rows.values,
        rows.n_dims,
        &config.kmeans_options(n_clusters, run.seed),
    )
    .map_err(|e| anyhow::anyhow!("k-means: {e}"))?;
    timings.insert("kmeans".to_string(), started.elapsed().as_secs_f64());
    log(&format!(
        "kmeans: {n_clusters} clusters, {} restarts, inertia {:.4} in {:.1}s",
        config.kmeans_restarts,
        result.inertia,
        started.elapsed().as_secs_f64()
    ));

    let mut cluster_sizes = vec![0usize; n_clusters];
    for &c in &result.assignments {
        cluster_sizes[c as usize] += 1;
    }
    let mut metrics = KmeansMetrics {
        method: "kmeans",
        features: run.features.display().to_string(),
        tensor: run.tensor.clone(),
        normalized_rows: run.normalize_rows,
        n_samples: rows.n_rows,
        n_dims: rows.n_dims,
        n_clusters,
        scores: Scores::default(),
        cluster_sizes,
        kmeans_inertia: result.inertia,
        kmeans_iterations: result.iterations,
        timings,
    };
    let labels = labels.filter(|l| l.iter().any(Option::is_some));
    if let Some(labels) = &labels {
        let (scores, table) = score_known(labels, &result.assignments)?;
        metrics.scores = Scores::new(&scores, &table);
        log(&format!("metrics: {}", score_summary(&scores, &table)));
    } else {
        log("no labels: assignments only, no scores");
    }

    let mut sink = stage::Standalone {
        dir: run.out.clone(),
    };
    let mut file = sink.create_output(cluster::ASSIGNMENTS.file)?;
    write_assignments(
        &mut file,
        &result.assignments,
        labels.as_deref().unwrap_or(&[]),
        sources.as_deref().unwrap_or(&[]),
    )
    .context(cluster::ASSIGNMENTS.file)?;
    file.commit()?;
    let mut text = serde_json::to_string_pretty(&metrics).context("serialising metrics")?;
    text.push('\n');
    sink.write_output(cluster::METRICS.file, text.as_bytes())
}

/// The cosine kNN graph, connectivity 1, symmetrised as `(A + Aᵀ)/2`, sorted by
/// (row, col) with duplicates summed (an edge found from both ends weighs 1).
pub fn knn_graph(rows: &FeatureRows, k: usize) -> anyhow::Result<Triplets> {
    let neighbours = cosine_knn(&rows.values, rows.n_dims, k)?;
    let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(2 * rows.n_rows * k);
    for (i, list) in neighbours.iter().enumerate() {
        for &j in list {
            entries.push((i as u32, j, 0.5));
            entries.push((j, i as u32, 0.5));
        }
    }
    entries.sort_unstable_by_key(|&(r, c, _)| (r, c));
    Ok(Triplets::from_sorted_entries(entries))
}

fn log(message: &str) {
    eprintln!("{STAGE}: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_graph_is_symmetric_with_mutual_edges_weighing_one() {
        // Four points on a line at angles 0°, 1°, 50°, 52°, k = 1: 0↔1 and 2↔3 are
        // mutual nearest neighbours, so each edge is found twice: 0.5 + 0.5 = 1.
        let deg = |d: f32| [d.to_radians().cos(), d.to_radians().sin()];
        let values = [deg(0.0), deg(1.0), deg(50.0), deg(52.0)].concat();
        let rows = FeatureRows {
            values,
            n_rows: 4,
            n_dims: 2,
        };
        let graph = knn_graph(&rows, 1).unwrap();
        assert_eq!(graph.rows, vec![0, 1, 2, 3]);
        assert_eq!(graph.cols, vec![1, 0, 3, 2]);
        assert_eq!(graph.values, vec![1.0; 4]);
        // k = 2: row 1's second neighbour is 2 (49°), row 0's is 2 (50°), row 2's and
        // row 3's is 1 (49°, 51°); one-sided edges weigh 0.5.
        let graph = knn_graph(&rows, 2).unwrap();
        let edges: Vec<(u32, u32, f32)> = (0..graph.len())
            .map(|i| (graph.rows[i], graph.cols[i], graph.values[i]))
            .collect();
        assert_eq!(
            edges,
            vec![
                (0, 1, 1.0),
                (0, 2, 0.5),
                (1, 0, 1.0),
                (1, 2, 1.0),
                (1, 3, 0.5),
                (2, 0, 0.5),
                (2, 1, 1.0),
                (2, 3, 1.0),
                (3, 1, 0.5),
                (3, 2, 1.0),
            ]
        );
    }
}
