//! Spectral clustering of the affinity graph (docs/method.md): the top eigenvectors of
//! `S = D^{-1/2} W D^{-1/2}`, the cluster count (fixed or from the eigengap), rows
//! L2-normalised, k-means++ with restarts. Built from `ebsc-spectral`'s pieces rather
//! than its `spectral_clustering`, so that "auto" never picks a single cluster and the
//! embedding holds only the `k` eigenvectors k-means sees.

use std::time::{Duration, Instant};

use ebsc_spectral::{
    EigenMethod, NormalizedAffinity, SparseGraph, eigengap_n_clusters, kmeans, normalize_rows,
    top_eigenpairs,
};

use crate::config::{ClusterConfig, ClusterCountSetting};

/// What spectral clustering computed.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of each sample, in `0..n_clusters`.
    pub assignments: Vec<u32>,
    pub n_clusters: usize,
    /// Top eigenvalues of `S`, descending.
    pub eigenvalues: Vec<f64>,
    /// The k chosen by the eigengap, when `n_clusters = "auto"`.
    pub eigengap_n_clusters: Option<usize>,
    /// `n × embedding_dims`, row-major, rows of unit norm (isolated nodes: zero rows).
    pub embedding: Vec<f64>,
    pub embedding_dims: usize,
    pub eigen_method: EigenMethod,
    pub eigen_iterations: usize,
    pub eigen_max_residual: f64,
    pub inertia: f64,
    pub kmeans_iterations: usize,
    pub eigen_time: Duration,
    pub kmeans_time: Duration,
}

/// The cluster count from descending eigenvalues: the largest gap `λ_k − λ_{k+1}` with
/// `k ≥ 2` (a single cluster is no clustering).
pub fn eigengap_at_least_two(eigenvalues: &[f64]) -> usize {
    if eigenvalues.len() < 3 {
        return 2;
    }
    1 + eigengap_n_clusters(&eigenvalues[1..])
}

/// Clusters the graph's nodes; counts have been checked against the graph size.
pub fn cluster(
    graph: &SparseGraph,
    config: &ClusterConfig,
    n_eigenvectors: usize,
    seed: u64,
) -> anyhow::Result<Clustering> {
    let n = graph.n_nodes();
    let started = Instant::now();
    let operator = NormalizedAffinity::new(graph);
    let pairs = top_eigenpairs(&operator, n_eigenvectors, &config.eigen_options(seed))
        .map_err(|e| anyhow::anyhow!("eigensolver: {e}"))?;
    let eigen_time = started.elapsed();

    let (n_clusters, eigengap, dims) = match config.n_clusters {
        ClusterCountSetting::Fixed(k) => (k, None, n_eigenvectors),
        ClusterCountSetting::Auto => {
            let k = eigengap_at_least_two(&pairs.eigenvalues);
            (k, Some(k), k)
        }
    };
    let mut embedding: Vec<f64> = if dims == n_eigenvectors {
        pairs.eigenvectors
    } else {
        pairs
            .eigenvectors
            .chunks_exact(n_eigenvectors)
            .flat_map(|row| row[..dims].iter().copied())
            .collect()
    };
    normalize_rows(&mut embedding, dims);

    let started = Instant::now();
    // f32 coordinates, as ebsc-spectral's own pipeline: unit rows, far finer than any
    // cluster separation.
    let coordinates: Vec<f32> = embedding.iter().map(|&v| v as f32).collect();
    let result = kmeans(&coordinates, dims, &config.kmeans_options(n_clusters, seed))
        .map_err(|e| anyhow::anyhow!("k-means: {e}"))?;
    let kmeans_time = started.elapsed();
    debug_assert_eq!(result.assignments.len(), n);

    Ok(Clustering {
        assignments: result.assignments,
        n_clusters,
        eigenvalues: pairs.eigenvalues,
        eigengap_n_clusters: eigengap,
        embedding,
        embedding_dims: dims,
        eigen_method: pairs.method,
        eigen_iterations: pairs.iterations,
        eigen_max_residual: pairs.max_residual,
        inertia: result.inertia,
        kmeans_iterations: result.iterations,
        eigen_time,
        kmeans_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigengap_never_picks_one_cluster() {
        // Gaps 0.5 (k=1), 0.01, 0.3 (k=3), 0.05: k=1 is skipped, 3 is the next largest.
        assert_eq!(eigengap_at_least_two(&[1.0, 0.5, 0.49, 0.19, 0.14]), 3);
        // Four components: four eigenvalues 1, then a drop.
        assert_eq!(eigengap_at_least_two(&[1.0, 1.0, 1.0, 1.0, 0.4, 0.3]), 4);
        assert_eq!(eigengap_at_least_two(&[1.0, 0.2]), 2);
    }
}
