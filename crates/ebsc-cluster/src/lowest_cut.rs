//! The eigenvector count whose partition cuts the graph least (docs/method.md, "The
//! eigenvector count on samples near subspaces").
//!
//! On samples near linear subspaces the self-expressive graph is close to block-diagonal,
//! one block a subspace, and the normalised cut of the partition into those blocks is what
//! spectral clustering relaxes. Spare eigenvectors beyond `n_clusters` do harm there when
//! the classes differ in size or dimension: k-means spends one on splitting a large class
//! whose block is loosely linked inside (the points of a low-dimensional subspace link to
//! their neighbours on it) while two small classes merge. The graph itself tells the
//! partitions apart: of those with `n_clusters` to `n_clusters + max_extra` eigenvectors,
//! the one of lowest normalised cut is kept (the recipe's on a tie). It is no rule for
//! curved classes: there the cut prefers merged partitions (RESULTS.md, "Partition rules
//! and a second graph on the suite's runs").

use ebsc_spectral::{ClusterWeights, SparseGraph};
use serde::{Deserialize, Serialize};

use crate::referee::{self, FailedCounts};
use crate::spectral::Clustering;

/// `[cluster] eigenvector_cut = { max_extra = 6 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutSetting {
    /// Counts tried: `n_clusters` to `n_clusters + max_extra` eigenvectors.
    pub max_extra: usize,
}

impl CutSetting {
    pub fn check(&self) -> Result<(), String> {
        if self.max_extra == 0 {
            return Err("eigenvector_cut.max_extra must be at least 1".into());
        }
        Ok(())
    }
}

/// What the cut said, for the log and `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutRecord {
    /// `(eigenvectors, normalised cut of the graph)` for each count tried, in order.
    pub cuts: Vec<(usize, f64)>,
    /// The count whose partition was kept.
    pub chosen: usize,
    /// `(eigenvectors, error)` for each count whose spectral clustering failed: left out of
    /// the choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_counts: FailedCounts,
}

/// Cuts closer than this share of the larger one are a tie: the same partition under other
/// cluster ids sums its clusters in another order.
const TIE: f64 = 1e-9;

/// The normalised cut of the graph by the clustering's partition.
pub fn normalized_cut(graph: &SparseGraph, clustering: &Clustering) -> f64 {
    ClusterWeights::of(graph, &clustering.assignments, clustering.n_clusters).normalized_cut()
}

/// The count of lowest cut among the recipe's and those tried: the recipe's on a tie, else
/// the first in the order given.
pub fn choose(recipe: (usize, f64), tried: &[(usize, f64)]) -> usize {
    referee::choose_by(recipe, tried, |cut, best| {
        cut < best - TIE * best.abs().max(cut.abs())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_cut_is_kept_and_the_recipe_wins_a_tie() {
        assert_eq!(
            choose((12, 0.30), &[(10, 0.20), (11, 0.25), (13, 0.20)]),
            10
        );
        assert_eq!(choose((12, 0.20), &[(10, 0.20), (11, 0.25)]), 12);
        // The same partition under other ids: a difference in the last bits is a tie.
        assert_eq!(choose((12, 0.2), &[(10, 0.2 - 1e-14)]), 12);
        assert_eq!(choose((12, 0.5), &[]), 12);
    }

    #[test]
    fn max_extra_must_try_another_count() {
        assert!(CutSetting { max_extra: 0 }.check().is_err());
        assert!(CutSetting { max_extra: 6 }.check().is_ok());
    }
}
