//! The stage's settings for `ebsc_spectral::spectral_clustering`, the one clustering path
//! (docs/method.md): the pipeline, standalone and baseline modes all go through [`cluster`].

use ebsc_spectral::{SparseGraph, SpectralError};

use crate::config::ClusterConfig;

/// What spectral clustering computed.
pub type Clustering = ebsc_spectral::SpectralResult;

/// Clusters the graph's nodes; counts have been checked against the graph size.
pub fn cluster(
    graph: &SparseGraph,
    config: &ClusterConfig,
    n_eigenvectors: usize,
    seed: u64,
) -> anyhow::Result<Clustering> {
    let n_clusters = config.n_clusters.to_spectral();
    let options = config.spectral_options(seed);
    ebsc_spectral::spectral_clustering(graph, n_clusters, n_eigenvectors, &options).map_err(|e| {
        match e {
            SpectralError::Eigen(e) => anyhow::anyhow!("eigensolver: {e}"),
            SpectralError::KMeans(e) => anyhow::anyhow!("k-means: {e}"),
            counts @ SpectralError::InvalidCounts { .. } => anyhow::anyhow!("{counts}"),
        }
    })
}
