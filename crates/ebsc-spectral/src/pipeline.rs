//! Spectral clustering (docs/method.md, stage `cluster`): top eigenvectors of
//! `S = D^{-1/2} W D^{-1/2}`, the cluster count (fixed or from the eigengap), rows
//! L2-normalised, k-means++ with restarts, then, with `ClusterSizes::Equal`, sizes held
//! equal ([`crate::balance`]); of the restarts the one with the lowest normalised cut of
//! the graph among those near the lowest inertia is kept, or the lowest inertia
//! ([`RestartChoice`]). The one clustering path: the cluster stage, its standalone mode and
//! the kNN-graph baselines all call [`spectral_clustering`].

use crate::balance::{BalanceOptions, ClusterSizes, equal_size_kmeans};
use crate::cut::ClusterWeights;
use crate::eigen::{EigenError, EigenMethod, EigenOptions, top_eigenpairs};
use crate::graph::SparseGraph;
use crate::kmeans::{KMeansError, KMeansOptions, KMeansResult, kmeans, kmeans_restarts};
use crate::normalized::NormalizedAffinity;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// How many clusters to form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCount {
    Fixed(usize),
    /// From the largest eigengap among the computed eigenvalues, never a single cluster
    /// ([`eigengap_at_least_two`]); k-means then sees only those `k` eigenvectors.
    Eigengap,
}

/// Which k-means restart [`spectral_clustering`] keeps.
///
/// k-means on the embedding is a stand-in for the objective spectral clustering relaxes,
/// the graph's normalised cut, and the two can disagree: on 10,000 Fashion-MNIST images two
/// restarts of one graph ended at inertia 1,848.0 (normalised cut 0.717, ACC 0.702) and
/// 1,831.5 (cut 0.939, ACC 0.537), and the lower inertia won. The cut alone is no better a
/// judge: it also keeps restarts that k-means left far from a minimum (inertia 6–20 %
/// above the best; on the same graph with free sizes 0.55–0.60 against 0.63, on 400
/// images 0.565 against 0.685). So `NormalizedCut` keeps the lowest cut among the restarts
/// whose inertia is within [`NEAR_BEST_INERTIA`] of the lowest: the cut breaks near-ties of
/// k-means. docs/method.md, "Which restart is kept".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartChoice {
    /// The lowest k-means inertia in the embedding (scikit-learn's rule).
    Inertia,
    /// The lowest normalised cut of the graph among the restarts near the lowest inertia.
    #[default]
    NormalizedCut,
}

/// Restarts whose inertia is at most this share above the lowest are near-ties that the
/// normalised cut decides between (measured gaps: 0.9 % between two partitions the cut told
/// apart correctly, 6–20 % to the partitions where it misled).
pub const NEAR_BEST_INERTIA: f64 = 0.05;

/// Settings of [`spectral_clustering`] beyond the cluster and eigenvector counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralOptions {
    pub eigen: EigenOptions,
    pub kmeans_restarts: usize,
    pub kmeans_max_iterations: usize,
    pub kmeans_tolerance: f64,
    pub kmeans_seed: u64,
    /// Free, or held equal after k-means.
    pub sizes: ClusterSizes,
    /// How the kept restart is chosen.
    pub restart_choice: RestartChoice,
}

impl Default for SpectralOptions {
    fn default() -> Self {
        let kmeans = KMeansOptions::new(1, 0);
        Self {
            eigen: EigenOptions::default(),
            kmeans_restarts: kmeans.restarts,
            kmeans_max_iterations: kmeans.max_iterations,
            kmeans_tolerance: kmeans.tolerance,
            kmeans_seed: kmeans.seed,
            sizes: ClusterSizes::Free,
            restart_choice: RestartChoice::default(),
        }
    }
}

/// Why spectral clustering failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpectralError {
    #[error("{n_clusters} clusters from {n_eigenvectors} eigenvectors of a {n_nodes}-node graph")]
    InvalidCounts {
        n_clusters: usize,
        n_eigenvectors: usize,
        n_nodes: usize,
    },
    #[error(transparent)]
    Eigen(#[from] EigenError),
    #[error(transparent)]
    KMeans(#[from] KMeansError),
}

/// Everything spectral clustering computed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralResult {
    /// Cluster of each node, in `0..n_clusters`.
    pub assignments: Vec<u32>,
    pub n_clusters: usize,
    /// Top eigenvalues of `S`, descending (all that were computed).
    pub eigenvalues: Vec<f64>,
    /// The k the eigengap chose, for [`ClusterCount::Eigengap`].
    pub eigengap_n_clusters: Option<usize>,
    /// `n × embedding_dims` row-major, rows L2-normalised (isolated nodes: zero rows): the
    /// coordinates k-means clustered.
    pub embedding: Vec<f64>,
    pub embedding_dims: usize,
    pub eigen_method: EigenMethod,
    pub eigen_iterations: usize,
    pub eigen_max_residual: f64,
    pub inertia: f64,
    pub kmeans_iterations: usize,
    /// With `ClusterSizes::Equal`: how the sizes were held equal after k-means (the
    /// assignments are those; `inertia` stays k-means').
    pub equal_sizes: Option<EqualSizes>,
    pub eigen_time: Duration,
    pub kmeans_time: Duration,
}

/// The step that held the cluster sizes equal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqualSizes {
    /// Centre updates done.
    pub rounds: usize,
    /// Sum of squared distances to the centres after them.
    pub inertia: f64,
}

/// Clusters the nodes of `graph` from the top `n_eigenvectors` eigenvectors of its
/// normalised affinity.
pub fn spectral_clustering(
    graph: &SparseGraph,
    n_clusters: ClusterCount,
    n_eigenvectors: usize,
    options: &SpectralOptions,
) -> Result<SpectralResult, SpectralError> {
    let n_nodes = graph.n_nodes();
    let invalid = |n_clusters| SpectralError::InvalidCounts {
        n_clusters,
        n_eigenvectors,
        n_nodes,
    };
    if let ClusterCount::Fixed(k) = n_clusters
        && (k == 0 || k > n_nodes)
    {
        return Err(invalid(k));
    }
    if n_eigenvectors == 0 || n_eigenvectors > n_nodes {
        return Err(invalid(0));
    }

    let started = Instant::now();
    let operator = NormalizedAffinity::new(graph);
    let pairs = top_eigenpairs(&operator, n_eigenvectors, &options.eigen)?;
    let eigen_time = started.elapsed();

    let (k, eigengap, dims) = match n_clusters {
        ClusterCount::Fixed(k) => (k, None, n_eigenvectors),
        ClusterCount::Eigengap => {
            let k = eigengap_at_least_two(&pairs.eigenvalues).min(n_eigenvectors);
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
    let kmeans_options = KMeansOptions {
        n_clusters: k,
        restarts: options.kmeans_restarts,
        max_iterations: options.kmeans_max_iterations,
        tolerance: options.kmeans_tolerance,
        seed: options.kmeans_seed,
    };
    // A restart's partition: k-means', with the sizes held equal when they are.
    let finish = |mut r: KMeansResult| {
        let equal_sizes = match options.sizes {
            ClusterSizes::Free => None,
            ClusterSizes::Equal => {
                let balanced =
                    equal_size_kmeans(&embedding, dims, &r.centres, &BalanceOptions::default());
                r.assignments = balanced.assignments;
                Some(EqualSizes {
                    rounds: balanced.rounds,
                    inertia: balanced.inertia,
                })
            }
        };
        (r, equal_sizes)
    };
    let (clustering, equal_sizes) = match options.restart_choice {
        RestartChoice::Inertia => finish(kmeans(&embedding, dims, &kmeans_options)?),
        RestartChoice::NormalizedCut => {
            // Every restart's inertia and cut, then the chosen one run again: a restart
            // is fixed by its seed and stream, and only one partition is held at a time.
            // The lowest inertia only falls, so a restart already outside the window of
            // the lowest so far can never be kept: its sizes are not balanced nor its cut
            // measured.
            let mut lowest = f64::INFINITY;
            let judged = kmeans_restarts(
                &embedding,
                dims,
                &kmeans_options,
                0..kmeans_options.restarts,
                |r| {
                    let inertia = r.inertia;
                    lowest = lowest.min(inertia);
                    if !within_window(inertia, lowest) {
                        return (inertia, f64::INFINITY);
                    }
                    let (r, _) = finish(r);
                    (
                        inertia,
                        ClusterWeights::of(graph, &r.assignments, k).normalized_cut(),
                    )
                },
            )?;
            let chosen = near_best_lowest_cut(&judged);
            let mut again = kmeans_restarts(
                &embedding,
                dims,
                &kmeans_options,
                chosen..chosen + 1,
                finish,
            )?;
            again.pop().ok_or(KMeansError::NothingToDo)?
        }
    };
    let kmeans_time = started.elapsed();

    Ok(SpectralResult {
        assignments: clustering.assignments,
        n_clusters: k,
        eigenvalues: pairs.eigenvalues,
        eigengap_n_clusters: eigengap,
        embedding,
        embedding_dims: dims,
        eigen_method: pairs.method,
        eigen_iterations: pairs.iterations,
        eigen_max_residual: pairs.max_residual,
        inertia: clustering.inertia,
        kmeans_iterations: clustering.iterations,
        equal_sizes,
        eigen_time,
        kmeans_time,
    })
}

/// The restart with the lowest cut among those whose inertia is within
/// [`NEAR_BEST_INERTIA`] of the lowest (the earliest on ties), from each restart's
/// `(inertia, normalised cut)`.
fn near_best_lowest_cut(judged: &[(f64, f64)]) -> usize {
    let lowest = judged
        .iter()
        .map(|&(inertia, _)| inertia)
        .fold(f64::INFINITY, f64::min);
    let mut chosen: Option<(usize, f64)> = None;
    for (restart, &(inertia, cut)) in judged.iter().enumerate() {
        if within_window(inertia, lowest) && chosen.is_none_or(|(_, best)| cut < best) {
            chosen = Some((restart, cut));
        }
    }
    chosen.map_or(0, |(restart, _)| restart)
}

/// Whether a restart's inertia is within [`NEAR_BEST_INERTIA`] of the lowest.
fn within_window(inertia: f64, lowest: f64) -> bool {
    inertia <= lowest + NEAR_BEST_INERTIA * lowest.abs()
}

/// Number of clusters from the largest eigengap: the `i` (1-based) maximising
/// `λ_i − λ_{i+1}` over the given descending eigenvalues of `S` (the first on ties);
/// 1 when fewer than two eigenvalues are given.
pub fn eigengap_n_clusters(eigenvalues: &[f64]) -> usize {
    let mut best = (f64::NEG_INFINITY, 1);
    for (i, pair) in eigenvalues.windows(2).enumerate() {
        let gap = pair[0] - pair[1];
        if gap > best.0 {
            best = (gap, i + 1);
        }
    }
    best.1
}

/// The cluster count from descending eigenvalues: the largest gap `λ_k − λ_{k+1}` with
/// `k ≥ 2` (a single cluster is no clustering); 2 when fewer than three are given.
pub fn eigengap_at_least_two(eigenvalues: &[f64]) -> usize {
    if eigenvalues.len() < 3 {
        return 2;
    }
    1 + eigengap_n_clusters(&eigenvalues[1..])
}

/// Scales each row to unit L2 norm; zero rows stay zero.
pub fn normalize_rows(matrix: &mut [f64], n_cols: usize) {
    matrix.par_chunks_mut(n_cols).for_each(|row| {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Symmetry;
    use crate::metrics::evaluate;
    use crate::synthetic::stochastic_block_model;

    fn sbm(block_sizes: &[usize], p_in: f64, p_out: f64, seed: u64) -> (SparseGraph, Vec<i32>) {
        let (t, labels) = stochastic_block_model(block_sizes, p_in, p_out, seed);
        let (graph, _) = SparseGraph::from_triplets(
            labels.len(),
            &t.rows,
            &t.cols,
            &t.values,
            Symmetry::Require,
        )
        .unwrap();
        (graph, labels)
    }

    #[test]
    fn planted_blocks_recovered_dense_path() {
        let (graph, labels) = sbm(&[200; 5], 0.3, 0.01, 1);
        let result = spectral_clustering(
            &graph,
            ClusterCount::Fixed(5),
            5,
            &SpectralOptions::default(),
        )
        .unwrap();
        assert_eq!(result.eigen_method, EigenMethod::Dense);
        let (scores, _) = evaluate(&labels, &result.assignments).unwrap();
        assert_eq!(scores.accuracy, 1.0);
        assert!((result.eigenvalues[0] - 1.0).abs() < 1e-12);

        // The eigengap sees the 5 blocks among 8 eigenvalues.
        let auto = spectral_clustering(
            &graph,
            ClusterCount::Eigengap,
            8,
            &SpectralOptions::default(),
        )
        .unwrap();
        assert_eq!(auto.n_clusters, 5);
        assert_eq!(auto.eigengap_n_clusters, Some(5));
        // k-means saw only the 5 eigenvectors the eigengap chose; all 8 values are kept.
        assert_eq!((auto.embedding_dims, auto.eigenvalues.len()), (5, 8));
        assert_eq!(auto.embedding.len(), 1000 * 5);
        let (scores, _) = evaluate(&labels, &auto.assignments).unwrap();
        assert_eq!(scores.accuracy, 1.0);
    }

    #[test]
    fn planted_blocks_recovered_iterative_path() {
        // 5,000 nodes, above the dense threshold.
        let (graph, labels) = sbm(&[500; 10], 0.1, 0.005, 2);
        let result = spectral_clustering(
            &graph,
            ClusterCount::Fixed(10),
            10,
            &SpectralOptions::default(),
        )
        .unwrap();
        assert_eq!(result.eigen_method, EigenMethod::Lobpcg);
        assert!(result.eigen_max_residual <= 1e-4);
        let (scores, _) = evaluate(&labels, &result.assignments).unwrap();
        assert_eq!(scores.accuracy, 1.0);
        // Embedding rows have unit norm.
        for row in result.embedding.chunks_exact(10).take(100) {
            let norm: f64 = row.iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn equal_sizes_keep_planted_equal_blocks() {
        let (graph, labels) = sbm(&[100; 4], 0.3, 0.02, 4);
        let options = SpectralOptions {
            sizes: ClusterSizes::Equal,
            ..SpectralOptions::default()
        };
        let result = spectral_clustering(&graph, ClusterCount::Fixed(4), 6, &options).unwrap();
        let equal = result.equal_sizes.expect("sizes were held equal");
        assert!(equal.rounds >= 1 && equal.inertia.is_finite());
        let (scores, _) = evaluate(&labels, &result.assignments).unwrap();
        assert_eq!(scores.accuracy, 1.0);
        let free = spectral_clustering(
            &graph,
            ClusterCount::Fixed(4),
            6,
            &SpectralOptions::default(),
        )
        .unwrap();
        assert_eq!(free.equal_sizes, None);
    }

    #[test]
    fn restarts_are_judged_by_the_graphs_normalized_cut() {
        // Weakly planted blocks with spare eigenvectors, so that restarts end in different
        // partitions: the kept one never cuts more than the lowest-inertia one, and on
        // some seeds strictly less.
        let mut strictly_lower = 0;
        for seed in 0..12 {
            let (graph, _) = sbm(&[60, 60, 60, 60, 60], 0.12, 0.06, seed);
            let cut = |choice| {
                let options = SpectralOptions {
                    restart_choice: choice,
                    kmeans_seed: seed,
                    ..SpectralOptions::default()
                };
                let result =
                    spectral_clustering(&graph, ClusterCount::Fixed(5), 8, &options).unwrap();
                ClusterWeights::of(&graph, &result.assignments, 5).normalized_cut()
            };
            let (by_cut, by_inertia) = (
                cut(RestartChoice::NormalizedCut),
                cut(RestartChoice::Inertia),
            );
            assert!(
                by_cut <= by_inertia + 1e-12,
                "seed {seed}: {by_cut} > {by_inertia}"
            );
            strictly_lower += usize::from(by_cut < by_inertia - 1e-9);
        }
        assert!(strictly_lower > 0, "no seed told the two rules apart");
    }

    #[test]
    fn the_cut_decides_only_among_near_best_inertias() {
        // Restart 1 has the lowest inertia; restart 2 is within 5 % of it with a lower cut
        // and wins; restart 3 cuts least of all but is 10 % worse in the embedding.
        let judged = [(110.0, 0.5), (100.0, 0.9), (104.0, 0.7), (110.0, 0.1)];
        assert_eq!(near_best_lowest_cut(&judged), 2);
        // Ties in the cut go to the earliest restart.
        assert_eq!(near_best_lowest_cut(&[(1.0, 0.3), (1.0, 0.3)]), 0);
    }

    #[test]
    fn invalid_counts_rejected() {
        let (graph, _) = sbm(&[5, 5], 0.9, 0.1, 3);
        let options = SpectralOptions::default();
        assert!(matches!(
            spectral_clustering(&graph, ClusterCount::Fixed(0), 2, &options),
            Err(SpectralError::InvalidCounts { n_clusters: 0, .. })
        ));
        assert!(matches!(
            spectral_clustering(&graph, ClusterCount::Fixed(2), 11, &options),
            Err(SpectralError::InvalidCounts {
                n_eigenvectors: 11,
                ..
            })
        ));
    }

    #[test]
    fn eigengap_picks_largest_drop() {
        // Drops: 0.01, 0.02, 0.5, 0.1 → the largest is after the third value.
        assert_eq!(eigengap_n_clusters(&[1.0, 0.99, 0.97, 0.47, 0.37]), 3);
        // Ties: first.
        assert_eq!(eigengap_n_clusters(&[1.0, 0.5, 0.0]), 1);
        assert_eq!(eigengap_n_clusters(&[1.0]), 1);
        assert_eq!(eigengap_n_clusters(&[]), 1);
    }

    #[test]
    fn eigengap_never_picks_one_cluster() {
        // Gaps 0.5 (k=1), 0.01, 0.3 (k=3), 0.05: k=1 is skipped, 3 is the next largest.
        assert_eq!(eigengap_at_least_two(&[1.0, 0.5, 0.49, 0.19, 0.14]), 3);
        // Four components: four eigenvalues 1, then a drop.
        assert_eq!(eigengap_at_least_two(&[1.0, 1.0, 1.0, 1.0, 0.4, 0.3]), 4);
        assert_eq!(eigengap_at_least_two(&[1.0, 0.2]), 2);
    }

    #[test]
    fn rows_normalised_and_zero_rows_kept() {
        let mut m = vec![3.0, 4.0, 0.0, 0.0];
        normalize_rows(&mut m, 2);
        assert_eq!(m, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
