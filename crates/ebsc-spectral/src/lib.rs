//! Spectral clustering and evaluation on large sparse graphs (docs/method.md, stage
//! `cluster`): a CSR affinity graph, the normalised operator `D^{-1/2} W D^{-1/2}`,
//! its top eigenpairs (dense for small graphs, LOBPCG above), k-means++ on the
//! row-normalised embedding (sizes free or held equal), and ACC / NMI / ARI against labels.
//!
//! Pure computation: this crate knows nothing of files, tables or tch models.

pub mod balance;
mod block;
pub mod cut;
pub mod eigen;
pub mod graph;
pub mod kmeans;
pub mod knn;
mod lobpcg;
pub mod metrics;
pub mod normalized;
pub mod pipeline;
mod simd;
pub mod synthetic;

pub use balance::{BalanceOptions, Balanced, ClusterSizes, equal_size_kmeans};
pub use cut::ClusterWeights;
pub use eigen::{EigenError, EigenMethod, EigenOptions, Eigenpairs, top_eigenpairs};
pub use graph::{BuildReport, GraphError, SparseGraph, Symmetry};
pub use kmeans::{Coordinate, KMeansError, KMeansOptions, KMeansResult, kmeans, kmeans_restarts};
pub use knn::{KnnError, cosine_knn};
pub use metrics::{
    ClusteringScores, ContingencyTable, MetricsError, NmiNormalization, accuracy,
    adjusted_rand_index, evaluate, matched_classes, normalized_mutual_info,
};
pub use normalized::{NormalizedAffinity, Precision};
pub use pipeline::{
    ClusterCount, EqualSizes, RestartChoice, SpectralError, SpectralOptions, SpectralResult,
    eigengap_at_least_two, eigengap_n_clusters, normalize_rows, spectral_clustering,
};
