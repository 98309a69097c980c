//! `metrics.json`, the stage's scores and diagnostics (docs/artifacts.md);
//! `assignments.parquet` is written by `ebsc_io::assignments`.

use std::collections::BTreeMap;

use anyhow::Context;
use ebsc_spectral::{ClusteringScores, ContingencyTable};
use serde::{Deserialize, Serialize};

/// The confusion matrix with the ids of its rows (classes) and columns (clusters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub classes: Vec<i32>,
    pub clusters: Vec<u32>,
    /// `counts[r][c]`: samples of class `classes[r]` in cluster `clusters[c]`.
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    pub fn from_table(table: &ContingencyTable) -> Confusion {
        let width = table.clusters().len().max(1);
        Confusion {
            classes: table.classes().to_vec(),
            clusters: table.clusters().to_vec(),
            counts: table.counts().chunks(width).map(<[u64]>::to_vec).collect(),
        }
    }
}

/// The score fields of `metrics.json`, shared by the spectral and the k-means paths;
/// absent (not zero) when there are no labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Samples with a known label, the ones scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_labelled: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc: Option<f64>,
    /// NMI normalised by the arithmetic mean of the entropies (scikit-learn's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nmi: Option<f64>,
    /// NMI normalised by the geometric mean (SENet's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nmi_geometric: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ari: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Confusion>,
}

impl Scores {
    pub fn new(scores: &ClusteringScores, table: &ContingencyTable) -> Scores {
        Scores {
            n_labelled: Some(table.n_samples() as usize),
            acc: Some(scores.accuracy),
            nmi: Some(scores.nmi_arithmetic),
            nmi_geometric: Some(scores.nmi_geometric),
            ari: Some(scores.ari),
            confusion: Some(Confusion::from_table(table)),
        }
    }
}

/// `metrics.json` of the spectral path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n_samples: usize,
    pub n_clusters: usize,
    /// As configured: an integer or "auto".
    pub n_clusters_requested: String,
    /// The k the largest eigengap chose, with "auto".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigengap_n_clusters: Option<usize>,
    pub n_eigenvectors: usize,
    #[serde(flatten)]
    pub scores: Scores,
    /// Samples per cluster, by cluster id.
    pub cluster_sizes: Vec<usize>,
    /// Top eigenvalues of `D^{-1/2} W D^{-1/2}`, descending.
    pub eigenvalues: Vec<f64>,
    pub eigen_method: String,
    pub eigen_iterations: usize,
    pub eigen_max_residual: f64,
    pub kmeans_inertia: f64,
    pub kmeans_iterations: usize,
    /// With `sizes = "equal"`: the centre updates that held the sizes equal after k-means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equal_size_rounds: Option<usize>,
    /// Stored entries of the symmetric graph (each undirected edge twice).
    pub graph_entries: usize,
    pub self_loops_dropped: usize,
    pub duplicates_summed: usize,
    pub symmetrized: bool,
    pub isolated_nodes: usize,
    pub connected_components: usize,
    /// Measures that need no labels, and each cluster's representatives
    /// ([`crate::quality`]); absent from files written before they existed.
    #[serde(default)]
    pub quality: crate::quality::Quality,
    /// With `eigenvector_referee`: each count's agreement with the referee and the count
    /// kept ([`crate::referee`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigenvector_referee: Option<crate::referee::RefereeRecord>,
    /// With `eigenvector_cut`: each count's normalised cut and the count kept
    /// ([`crate::lowest_cut`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigenvector_cut: Option<crate::lowest_cut::CutRecord>,
    /// Seconds per phase.
    pub timings: BTreeMap<String, f64>,
}

impl Metrics {
    pub fn to_json(&self) -> anyhow::Result<String> {
        let mut text = serde_json::to_string_pretty(self).context("serialising metrics")?;
        text.push('\n');
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_without_labels_have_no_score_fields() {
        let metrics = Metrics {
            n_samples: 3,
            n_clusters: 2,
            n_clusters_requested: "2".into(),
            eigengap_n_clusters: None,
            n_eigenvectors: 2,
            scores: Scores::default(),
            cluster_sizes: vec![2, 1],
            eigenvalues: vec![1.0, 0.5],
            eigen_method: "dense".into(),
            eigen_iterations: 0,
            eigen_max_residual: 0.0,
            kmeans_inertia: 0.0,
            kmeans_iterations: 1,
            equal_size_rounds: None,
            graph_entries: 4,
            self_loops_dropped: 0,
            duplicates_summed: 0,
            symmetrized: false,
            isolated_nodes: 0,
            connected_components: 1,
            quality: Default::default(),
            eigenvector_referee: None,
            eigenvector_cut: None,
            timings: BTreeMap::new(),
        };
        let json: serde_json::Value = serde_json::from_str(&metrics.to_json().unwrap()).unwrap();
        for field in [
            "acc",
            "nmi",
            "nmi_geometric",
            "ari",
            "confusion",
            "eigenvector_referee",
            "eigenvector_cut",
        ] {
            assert!(json.get(field).is_none(), "{field} present");
        }
        let mut scored = metrics.clone();
        let (scores, table) = ebsc_spectral::evaluate(&[0, 0, 1], &[1, 1, 0]).unwrap();
        scored.scores = Scores::new(&scores, &table);
        let json: serde_json::Value = serde_json::from_str(&scored.to_json().unwrap()).unwrap();
        assert_eq!(json["acc"], 1.0);
        assert_eq!(
            json["confusion"]["counts"],
            serde_json::json!([[0, 2], [1, 0]])
        );
        assert_eq!(json["confusion"]["classes"], serde_json::json!([0, 1]));
    }
}
