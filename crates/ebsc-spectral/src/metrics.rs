//! Clustering scores against class labels (docs/method.md): ACC by Hungarian
//! matching, NMI with arithmetic (scikit-learn's default) and geometric (SENet's)
//! normalisation, ARI (Hubert & Arabie, as scikit-learn), all from one contingency
//! table, which is also the confusion matrix (classes × clusters).
//!
//! Samples without a label are the caller's to skip.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// Why scores could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("{labels} labels but {clusters} cluster assignments")]
    LengthMismatch { labels: usize, clusters: usize },
    #[error("no samples to score")]
    Empty,
}

/// Counts of samples per (class, cluster); classes and clusters sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContingencyTable {
    classes: Vec<i32>,
    clusters: Vec<u32>,
    /// `classes.len() × clusters.len()`, row-major.
    counts: Vec<u64>,
    n_samples: u64,
}

impl ContingencyTable {
    pub fn new(labels: &[i32], clusters: &[u32]) -> Result<Self, MetricsError> {
        if labels.len() != clusters.len() {
            return Err(MetricsError::LengthMismatch {
                labels: labels.len(),
                clusters: clusters.len(),
            });
        }
        if labels.is_empty() {
            return Err(MetricsError::Empty);
        }
        let class_ids = sorted_unique(labels);
        let cluster_ids = sorted_unique(clusters);
        let mut counts = vec![0u64; class_ids.len() * cluster_ids.len()];
        for (label, cluster) in labels.iter().zip(clusters) {
            // Both ids come from the sorted unique lists just built, so they are found.
            let row = class_ids.binary_search(label).unwrap_or_default();
            let col = cluster_ids.binary_search(cluster).unwrap_or_default();
            counts[row * cluster_ids.len() + col] += 1;
        }
        Ok(Self {
            classes: class_ids,
            clusters: cluster_ids,
            counts,
            n_samples: labels.len() as u64,
        })
    }

    pub fn classes(&self) -> &[i32] {
        &self.classes
    }

    pub fn clusters(&self) -> &[u32] {
        &self.clusters
    }

    /// The confusion matrix: `classes().len() × clusters().len()`, row-major.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    pub fn count(&self, class_index: usize, cluster_index: usize) -> u64 {
        self.counts[class_index * self.clusters.len() + cluster_index]
    }

    pub fn n_samples(&self) -> u64 {
        self.n_samples
    }

    fn class_totals(&self) -> Vec<u64> {
        self.counts
            .chunks_exact(self.clusters.len())
            .map(|row| row.iter().sum())
            .collect()
    }

    fn cluster_totals(&self) -> Vec<u64> {
        (0..self.clusters.len())
            .map(|c| (0..self.classes.len()).map(|r| self.count(r, c)).sum())
            .collect()
    }
}

/// All scores for one clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteringScores {
    pub accuracy: f64,
    pub nmi_arithmetic: f64,
    pub nmi_geometric: f64,
    pub ari: f64,
}

/// Scores and the contingency table (confusion matrix) they came from.
pub fn evaluate(
    labels: &[i32],
    clusters: &[u32],
) -> Result<(ClusteringScores, ContingencyTable), MetricsError> {
    let table = ContingencyTable::new(labels, clusters)?;
    let scores = ClusteringScores {
        accuracy: accuracy(&table),
        nmi_arithmetic: normalized_mutual_info(&table, NmiNormalization::Arithmetic),
        nmi_geometric: normalized_mutual_info(&table, NmiNormalization::Geometric),
        ari: adjusted_rand_index(&table),
    };
    Ok((scores, table))
}

/// The class each cluster is matched to by the Hungarian algorithm (maximum total
/// agreement, one cluster per class); `None` for clusters left over when there are
/// more clusters than classes. Indexed like [`ContingencyTable::clusters`].
pub fn matched_classes(table: &ContingencyTable) -> Vec<Option<i32>> {
    let (n_classes, n_clusters) = (table.classes.len(), table.clusters.len());
    let size = n_classes.max(n_clusters);
    // Rows are clusters, columns classes; zero padding makes it square.
    let weights = Matrix::from_fn(size, size, |(cluster, class)| {
        if cluster < n_clusters && class < n_classes {
            table.count(class, cluster) as i64
        } else {
            0
        }
    });
    let (_, class_of_row) = kuhn_munkres(&weights);
    (0..n_clusters)
        .map(|cluster| {
            let class = class_of_row[cluster];
            (class < n_classes).then(|| table.classes[class])
        })
        .collect()
}

/// Fraction of samples whose cluster is matched to their class (best one-to-one
/// matching of clusters to classes).
pub fn accuracy(table: &ContingencyTable) -> f64 {
    let matched: u64 = matched_classes(table)
        .iter()
        .enumerate()
        .filter_map(|(cluster, class)| {
            let class_index = table.classes.binary_search(&(*class)?).ok()?;
            Some(table.count(class_index, cluster))
        })
        .sum();
    matched as f64 / table.n_samples as f64
}

/// How mutual information is normalised by the two entropies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmiNormalization {
    /// `MI / ((H(U) + H(V)) / 2)`, scikit-learn's default.
    Arithmetic,
    /// `MI / √(H(U) H(V))`, as reported by SENet.
    Geometric,
}

/// Normalised mutual information, following scikit-learn's
/// `normalized_mutual_info_score` including its limit cases (both labelings a single
/// group → 1; zero mutual information → 0).
pub fn normalized_mutual_info(table: &ContingencyTable, normalization: NmiNormalization) -> f64 {
    if table.classes.len() == 1 && table.clusters.len() == 1 {
        return 1.0;
    }
    let n = table.n_samples as f64;
    let class_totals = table.class_totals();
    let cluster_totals = table.cluster_totals();
    let mut mutual_info = 0.0;
    for (r, &a) in class_totals.iter().enumerate() {
        for (c, &b) in cluster_totals.iter().enumerate() {
            let n_rc = table.count(r, c);
            if n_rc > 0 {
                let n_rc = n_rc as f64;
                mutual_info += n_rc / n * (n * n_rc / (a as f64 * b as f64)).ln();
            }
        }
    }
    let mutual_info = mutual_info.max(0.0);
    if mutual_info < f64::EPSILON {
        return 0.0;
    }
    let (h_classes, h_clusters) = (entropy(&class_totals, n), entropy(&cluster_totals, n));
    let normalizer = match normalization {
        NmiNormalization::Arithmetic => 0.5 * (h_classes + h_clusters),
        NmiNormalization::Geometric => (h_classes * h_clusters).sqrt(),
    };
    mutual_info / normalizer.max(f64::EPSILON)
}

/// Adjusted Rand index from pair counts, as scikit-learn's `adjusted_rand_score`
/// (exact integer pair counts; 1 when no pair disagrees).
pub fn adjusted_rand_index(table: &ContingencyTable) -> f64 {
    let n = i128::from(table.n_samples);
    let square_sum = |values: &mut dyn Iterator<Item = u64>| -> i128 {
        values.map(|v| i128::from(v) * i128::from(v)).sum()
    };
    let sum_squares = square_sum(&mut table.counts.iter().copied());
    let class_squares = square_sum(&mut table.class_totals().into_iter());
    let cluster_squares = square_sum(&mut table.cluster_totals().into_iter());
    // Ordered pairs: same in both (tp), same cluster only (fp), same class only (fn_).
    let tp = sum_squares - n;
    let fp = cluster_squares - sum_squares;
    let fn_ = class_squares - sum_squares;
    let tn = n * n - fp - fn_ - sum_squares;
    if fp == 0 && fn_ == 0 {
        return 1.0;
    }
    let numerator = 2 * (tp * tn - fn_ * fp);
    let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    numerator as f64 / denominator as f64
}

fn entropy(totals: &[u64], n: f64) -> f64 {
    totals
        .iter()
        .filter(|&&t| t > 0)
        .map(|&t| {
            let p = t as f64 / n;
            -p * p.ln()
        })
        .sum()
}

fn sorted_unique<T: Ord + Copy>(values: &[T]) -> Vec<T> {
    let mut unique = values.to_vec();
    unique.sort_unstable();
    unique.dedup();
    unique
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn two_by_two_by_hand() {
        // Table (classes × clusters): class 0 → [2, 1], class 1 → [0, 3]; N = 6,
        // class totals a = (3, 3), cluster totals b = (2, 4).
        let labels = [0, 0, 0, 1, 1, 1];
        let clusters = [0, 0, 1, 1, 1, 1];
        let (scores, table) = evaluate(&labels, &clusters).unwrap();
        assert_eq!(table.counts(), &[2, 1, 0, 3]);
        // ACC: cluster 0 ↔ class 0 (2), cluster 1 ↔ class 1 (3): 5/6.
        assert!(close(scores.accuracy, 5.0 / 6.0));
        assert_eq!(matched_classes(&table), vec![Some(0), Some(1)]);
        // MI = (2/6)ln(6·2/(3·2)) + (1/6)ln(6·1/(3·4)) + (3/6)ln(6·3/(3·4))
        //    = (1/6)ln 2 + (1/2)ln 1.5 = 0.115525 + 0.202733 = 0.318257
        // H(U) = ln 2 = 0.693147; H(V) = −(1/3)ln(1/3) − (2/3)ln(2/3) = 0.636514
        // arithmetic: 0.318257 / ((0.693147 + 0.636514)/2) = 0.478704
        // geometric:  0.318257 / √(0.693147 · 0.636514) = 0.479139
        let mi = (2f64.ln()) / 6.0 + 1.5f64.ln() / 2.0;
        let (h_u, h_v) = (
            2f64.ln(),
            -(1.0 / 3.0f64) * (1.0 / 3.0f64).ln() - (2.0 / 3.0f64) * (2.0 / 3.0f64).ln(),
        );
        assert!(close(scores.nmi_arithmetic, mi / ((h_u + h_v) / 2.0)));
        assert!(close(scores.nmi_arithmetic, 0.478703971386));
        assert!(close(scores.nmi_geometric, mi / (h_u * h_v).sqrt()));
        assert!(close(scores.nmi_geometric, 0.479138767492));
        // ARI: Σ C(n_ij, 2) = 1 + 0 + 0 + 3 = 4; Σ C(a_i, 2) = 3 + 3 = 6;
        // Σ C(b_j, 2) = 1 + 6 = 7; expected = 6·7/C(6,2) = 42/15 = 2.8;
        // max = (6 + 7)/2 = 6.5; ARI = (4 − 2.8)/(6.5 − 2.8) = 12/37.
        assert!(close(scores.ari, 12.0 / 37.0));
    }

    #[test]
    fn more_clusters_than_classes_by_hand() {
        // class 0 → [2, 1, 0, 0], class 1 → [0, 3, 0, 0], class 2 → [0, 0, 2, 1];
        // N = 9, a = (3, 3, 3), b = (2, 4, 2, 1).
        let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let clusters = [0, 0, 1, 1, 1, 1, 2, 2, 3];
        let (scores, table) = evaluate(&labels, &clusters).unwrap();
        assert_eq!(table.counts(), &[2, 1, 0, 0, 0, 3, 0, 0, 0, 0, 2, 1]);
        // ACC: 0↔0 (2), 1↔1 (3), 2↔2 (2), cluster 3 left over: 7/9.
        assert!(close(scores.accuracy, 7.0 / 9.0));
        assert_eq!(
            matched_classes(&table),
            vec![Some(0), Some(1), Some(2), None]
        );
        // MI = (2/9)ln(9·2/(3·2)) + (1/9)ln(9/(3·4)) + (3/9)ln(27/(3·4))
        //    + (2/9)ln(18/(3·2)) + (1/9)ln(9/(3·1))
        //    = (5/9)ln 3 + (1/9)ln(3/4) + (1/3)ln(9/4) = 0.848686
        // H(U) = ln 3 = 1.098612; H(V) = −Σ (b/9)ln(b/9) over b = 2,4,2,1 = 1.273028
        let mi = 5.0 / 9.0 * 3f64.ln() + 0.75f64.ln() / 9.0 + 2.25f64.ln() / 3.0;
        assert!(close(mi, 0.848685557726));
        // arithmetic: 0.848686 / ((1.098612 + 1.273028)/2) = 0.715695
        assert!(close(scores.nmi_arithmetic, 0.715694906461));
        // geometric: 0.848686 / √(1.098612 · 1.273028) = 0.717638
        assert!(close(scores.nmi_geometric, 0.717638203050));
        // ARI: Σ C(n_ij,2) = 1 + 3 + 1 = 5; Σ C(a,2) = 9; Σ C(b,2) = 1 + 6 + 1 = 8;
        // expected = 9·8/36 = 2; max = 8.5; ARI = (5 − 2)/(8.5 − 2) = 6/13.
        assert!(close(scores.ari, 6.0 / 13.0));
    }

    #[test]
    fn fewer_clusters_than_classes_by_hand() {
        // class 0 → [2, 0], class 1 → [2, 0], class 2 → [0, 2]: two classes share
        // cluster 0, so one of them is unmatched: ACC = (2 + 2)/6.
        let (scores, _) = evaluate(&[0, 0, 1, 1, 2, 2], &[0, 0, 0, 0, 1, 1]).unwrap();
        assert!(close(scores.accuracy, 4.0 / 6.0));
        // ARI: Σ C(n_ij,2) = 3; Σ C(a,2) = 3; Σ C(b,2) = 6 + 1 = 7;
        // expected = 3·7/15 = 1.4; max = 5; ARI = 1.6/3.6 = 4/9.
        assert!(close(scores.ari, 4.0 / 9.0));
        // MI = H(V) here (clusters are a coarsening of classes) = 0.636514;
        // arithmetic: 0.636514 / ((1.098612 + 0.636514)/2) = 0.733680
        assert!(close(scores.nmi_arithmetic, 0.733680436651));
    }

    #[test]
    fn matches_scikit_learn_reference() {
        // Reference values from scikit-learn 1.9.1 (normalized_mutual_info_score with
        // the default and "geometric" average_method, adjusted_rand_score) and
        // scipy's linear_sum_assignment on the contingency matrix for ACC, run once in
        // a throwaway virtualenv on exactly these labelings.
        let labels: Vec<i32> = (0..200).map(|i| (i * 7 + i / 3) % 5).collect();
        let clusters: Vec<u32> = (0..200)
            .map(|i| {
                if i % 4 != 0 {
                    ((3 * labels[i as usize] + 1) % 6) as u32
                } else {
                    ((i * i) % 6) as u32
                }
            })
            .collect();
        let (scores, _) = evaluate(&labels, &clusters).unwrap();
        assert!((scores.nmi_arithmetic - 0.29412755312178496).abs() < 1e-12);
        assert!((scores.nmi_geometric - 0.30546985159273726).abs() < 1e-12);
        assert!((scores.ari - 0.22567546284716408).abs() < 1e-12);
        assert!((scores.accuracy - 0.355).abs() < 1e-12);
        // The 3 × 4 case above, same way: 0.7156949064609543, 0.7176382030495405,
        // 0.46153846153846156, ACC 0.7777777777777778.
        let (scores, _) =
            evaluate(&[0, 0, 0, 1, 1, 1, 2, 2, 2], &[0, 0, 1, 1, 1, 1, 2, 2, 3]).unwrap();
        assert!((scores.nmi_arithmetic - 0.7156949064609543).abs() < 1e-12);
        assert!((scores.nmi_geometric - 0.7176382030495405).abs() < 1e-12);
        assert!((scores.ari - 0.46153846153846156).abs() < 1e-12);
    }

    #[test]
    fn permuted_labels_score_one() {
        let labels: Vec<i32> = (0..30).map(|i| i % 3 - 1).collect(); // classes −1, 0, 1
        let clusters: Vec<u32> = labels
            .iter()
            .map(|&l| [7, 2, 5][(l + 1) as usize])
            .collect();
        let (scores, _) = evaluate(&labels, &clusters).unwrap();
        assert!(close(scores.accuracy, 1.0));
        assert!(close(scores.nmi_arithmetic, 1.0));
        assert!(close(scores.nmi_geometric, 1.0));
        assert!(close(scores.ari, 1.0));
    }

    #[test]
    fn limit_cases_follow_scikit_learn() {
        // One class, one cluster: both entropies zero, a perfect match.
        let (scores, _) = evaluate(&[4, 4, 4], &[1, 1, 1]).unwrap();
        assert_eq!(
            (scores.nmi_arithmetic, scores.ari, scores.accuracy),
            (1.0, 1.0, 1.0)
        );
        // One cluster, two classes: MI = 0 → NMI 0; no pair agreement beyond chance.
        let (scores, _) = evaluate(&[0, 0, 1, 1], &[3, 3, 3, 3]).unwrap();
        assert_eq!(scores.nmi_arithmetic, 0.0);
        assert_eq!(scores.ari, 0.0);
        assert_eq!(
            evaluate(&[0], &[0, 1]).unwrap_err(),
            MetricsError::LengthMismatch {
                labels: 1,
                clusters: 2
            }
        );
        assert_eq!(evaluate(&[], &[]).unwrap_err(), MetricsError::Empty);
    }

    #[test]
    fn independent_random_labelings_have_ari_near_zero() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let labels: Vec<i32> = (0..10_000).map(|_| rng.random_range(0..10)).collect();
        let clusters: Vec<u32> = (0..10_000).map(|_| rng.random_range(0..10)).collect();
        let (scores, _) = evaluate(&labels, &clusters).unwrap();
        assert!(scores.ari.abs() < 0.01, "ARI {}", scores.ari);
        // NMI of independent labelings is small but positive (finite-sample bias).
        assert!(scores.nmi_arithmetic < 0.01);
    }
}
