//! The eigenvector count a second view of the trained model agrees with (docs/method.md,
//! "The eigenvector count the trained dictionary agrees with").
//!
//! Spectral clustering with `n_clusters + 2` eigenvectors is the recipe; on some data a
//! few more eigenvectors give a markedly better partition of the same graph, on other data
//! markedly worse, and the normalised cut does not tell them apart. The referee is k-means
//! on the rows of the train stage's dictionary (L2-normalised): another view of the same
//! model, with no labels. When the recipe's partition already agrees with it (NMI at least
//! `min_agreement`), the count from `n_clusters` to `n_clusters + max_extra` whose
//! partition agrees with it best is kept; otherwise the recipe's count stays. The clusters
//! still come from the coefficient graph: the referee only picks among its partitions.

use std::path::Path;

use anyhow::Context;
use ebsc_spectral::{ContingencyTable, NmiNormalization, kmeans};
use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;
use crate::features::read_feature_rows;

/// `[cluster] eigenvector_referee = { max_extra = 6, min_agreement = 0.75 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefereeSetting {
    /// Counts tried: `n_clusters` to `n_clusters + max_extra` eigenvectors.
    pub max_extra: usize,
    /// The recipe's partition is kept when its NMI with the referee is below this.
    pub min_agreement: f64,
}

impl RefereeSetting {
    pub fn check(&self) -> Result<(), String> {
        if self.max_extra == 0 {
            return Err("eigenvector_referee.max_extra must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.min_agreement) {
            return Err(format!(
                "eigenvector_referee.min_agreement must lie in [0, 1] (an NMI), got {}",
                self.min_agreement
            ));
        }
        Ok(())
    }
}

/// What the referee said, for the log and `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefereeRecord {
    /// NMI of the recipe's partition with the referee.
    pub recipe_agreement: f64,
    /// `(eigenvectors, NMI with the referee)` for each count tried, in order; only the
    /// recipe's count when its agreement is below the threshold.
    pub agreements: Vec<(usize, f64)>,
    /// The count whose partition was kept.
    pub chosen: usize,
}

/// The referee's partition: k-means on the L2-normalised rows of `tensor` in `path`,
/// with the stage's k-means settings and seed.
pub fn referee_partition(
    path: &Path,
    tensor: &str,
    n_samples: usize,
    n_clusters: usize,
    config: &ClusterConfig,
    seed: u64,
) -> anyhow::Result<Vec<u32>> {
    let mut rows = read_feature_rows(path, tensor)?;
    anyhow::ensure!(
        rows.n_rows == n_samples,
        "{}: tensor `{tensor}` has {} rows but the graph has {n_samples} samples: the \
         referee must describe the same samples",
        path.display(),
        rows.n_rows
    );
    rows.normalize();
    let result = kmeans(
        &rows.values,
        rows.n_dims,
        &config.kmeans_options(n_clusters, seed),
    )
    .map_err(|e| anyhow::anyhow!("k-means: {e}"))
    .with_context(|| format!("referee: `{tensor}` of {}", path.display()))?;
    Ok(result.assignments)
}

/// NMI (arithmetic mean of the entropies, scikit-learn's default) of two partitions of
/// the same samples.
pub fn agreement(referee: &[u32], partition: &[u32]) -> f64 {
    let as_labels: Vec<i32> = referee.iter().map(|&c| c as i32).collect();
    let table = ContingencyTable::new(&as_labels, partition)
        .expect("partitions of the same samples have the same length");
    ebsc_spectral::normalized_mutual_info(&table, NmiNormalization::Arithmetic)
}

/// The count to keep: the recipe's when it agrees less than `min_agreement` with the
/// referee, else the count of highest agreement (the first, in the order given, on a tie).
pub fn choose(recipe: (usize, f64), tried: &[(usize, f64)], min_agreement: f64) -> usize {
    if recipe.1 < min_agreement {
        return recipe.0;
    }
    tried
        .iter()
        .fold(recipe, |best, &candidate| {
            if candidate.1 > best.1 {
                candidate
            } else {
                best
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_one_for_a_relabelling_and_zero_for_independent_partitions() {
        assert!((agreement(&[0, 0, 1, 1, 2, 2], &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        // Each referee cluster is split evenly across the partition's two clusters.
        assert!(agreement(&[0, 0, 1, 1], &[0, 1, 0, 1]).abs() < 1e-12);
    }

    #[test]
    fn agreement_matches_a_hand_worked_case() {
        // U = {0,0,0,1}, V = {0,0,1,1}: H(U) = H(0.75, 0.25) = 0.562335, H(V) = ln 2,
        // MI = Σ p log(p / (pu pv)) = 0.5 ln(0.5/(0.75·0.5)) + 0.25 ln(0.25/(0.75·0.5))
        //    + 0.25 ln(0.25/(0.25·0.5)) = 0.215761; NMI = MI / ((H(U) + H(V)) / 2).
        let expected = 0.215_761 / ((0.562_335 + std::f64::consts::LN_2) / 2.0);
        assert!((agreement(&[0, 0, 0, 1], &[0, 0, 1, 1]) - expected).abs() < 1e-5);
    }

    #[test]
    fn the_recipe_stays_when_it_agrees_too_little() {
        let tried = [(10, 0.9), (12, 0.7), (14, 0.95)];
        assert_eq!(choose((12, 0.7), &tried, 0.75), 12);
    }

    #[test]
    fn the_best_agreement_wins_and_ties_keep_the_recipe() {
        let tried = [(10, 0.80), (11, 0.86), (12, 0.80), (13, 0.86)];
        assert_eq!(choose((12, 0.80), &tried, 0.75), 11);
        let level = [(10, 0.80), (12, 0.80), (14, 0.80)];
        assert_eq!(choose((12, 0.80), &level, 0.75), 12);
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let ok = RefereeSetting {
            max_extra: 6,
            min_agreement: 0.75,
        };
        assert!(ok.check().is_ok());
        let none_tried = RefereeSetting { max_extra: 0, ..ok };
        assert!(none_tried.check().unwrap_err().contains("max_extra"));
        let not_nmi = RefereeSetting {
            min_agreement: 1.5,
            ..ok
        };
        assert!(not_nmi.check().unwrap_err().contains("min_agreement"));
    }
}
