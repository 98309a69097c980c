//! The eigenvector count a second view of the trained model agrees with (docs/method.md,
//! "The eigenvector count the trained dictionary agrees with").
//!
//! Spectral clustering with `n_clusters + 2` eigenvectors is the recipe; on some data a
//! few more eigenvectors give a markedly better partition of the same graph, on other data
//! markedly worse, and the normalised cut does not tell them apart. A referee partition
//! from the train stage's dictionary, with no labels, picks among the counts from
//! `n_clusters` to `n_clusters + max_extra`: the one whose partition agrees with it best
//! (NMI) is kept, the recipe's on a tie. Two referees, in order:
//!
//! - `min_agreement`: k-means on the L2-normalised dictionary rows, consulted only when the
//!   recipe's partition already agrees with it that much (k-means is a strong referee on
//!   round classes and a misleading one elsewhere);
//! - `knn_graph`: where k-means is absent or not consulted, spectral clustering (the
//!   recipe's count, the stage's settings) of the dictionary's cosine k-nearest-neighbour
//!   graph, consulted always.
//!
//! The clusters still come from the coefficient graph: a referee only picks among its
//! partitions.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_spectral::{ContingencyTable, NmiNormalization, SparseGraph, Symmetry, kmeans};
use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;
use crate::features::{FeatureRows, knn_graph, read_feature_rows};
use crate::spectral;

/// `[cluster] eigenvector_referee = { max_extra = 6, min_agreement = 0.75, knn_graph = 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefereeSetting {
    /// Counts tried: `n_clusters` to `n_clusters + max_extra` eigenvectors.
    pub max_extra: usize,
    /// k-means on the dictionary referees when the recipe's partition agrees with it
    /// (NMI) at least this much; absent: k-means is not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_agreement: Option<f64>,
    /// Neighbours per row of the dictionary's cosine graph whose spectral partition
    /// referees where k-means does not; absent: no graph referee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn_graph: Option<usize>,
}

impl RefereeSetting {
    pub fn check(&self) -> Result<(), String> {
        if self.max_extra == 0 {
            return Err("eigenvector_referee.max_extra must be at least 1".into());
        }
        if self.min_agreement.is_none() && self.knn_graph.is_none() {
            return Err(
                "eigenvector_referee needs min_agreement (k-means on the trained \
                        dictionary), knn_graph (its neighbour graph), or both"
                    .into(),
            );
        }
        if let Some(min) = self.min_agreement
            && !(0.0..=1.0).contains(&min)
        {
            return Err(format!(
                "eigenvector_referee.min_agreement must lie in [0, 1] (an NMI), got {min}"
            ));
        }
        if self.knn_graph == Some(0) {
            return Err("eigenvector_referee.knn_graph must be at least 1 neighbour".into());
        }
        Ok(())
    }
}

/// Which partition of the dictionary refereed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefereeKind {
    Kmeans,
    KnnGraph,
}

impl RefereeKind {
    pub fn describe(self, knn: Option<usize>) -> String {
        match self {
            RefereeKind::Kmeans => "k-means on the trained dictionary".to_string(),
            RefereeKind::KnnGraph => format!(
                "the trained dictionary's {}-NN graph",
                knn.unwrap_or_default()
            ),
        }
    }
}

/// What the referee said, for the log and `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefereeRecord {
    /// The partition that refereed (absent in files written before there were two:
    /// k-means).
    #[serde(default = "RefereeRecord::kmeans")]
    pub referee: RefereeKind,
    /// NMI of the recipe's partition with that referee; absent where the referee could not
    /// be computed (`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_agreement: Option<f64>,
    /// `(eigenvectors, NMI with the referee)` for each count tried, in order; only the
    /// recipe's count when k-means agreed too little and there is no graph referee, none
    /// when the referee could not be computed.
    pub agreements: Vec<(usize, f64)>,
    /// The count whose partition was kept.
    pub chosen: usize,
    /// k-means' agreement with the recipe's partition when it was below `min_agreement`
    /// and the graph refereed instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmeans_agreement: Option<f64>,
    /// `(eigenvectors, error)` for each count whose spectral clustering failed: left out of
    /// the choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_counts: FailedCounts,
    /// Why the referee gave no partition (k-means or its graph's clustering failed); the
    /// recipe's count was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Dictionaries judged apart (a pipeline's members, `--referee-apart`): each answering
    /// referee's `(eigenvectors, NMI)`, in the order given; `agreements` holds the best of
    /// them, and `referee` / `kmeans_agreement` describe the one that agreed best with the
    /// partition kept. Empty for one referee.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_dictionary: Vec<Vec<(usize, f64)>>,
}

impl RefereeRecord {
    fn kmeans() -> RefereeKind {
        RefereeKind::Kmeans
    }
}

/// The train stage's dictionary rows, checked to describe the graph's samples.
pub fn read_dictionary(path: &Path, tensor: &str, n_samples: usize) -> anyhow::Result<FeatureRows> {
    let rows = read_feature_rows(path, tensor)?;
    anyhow::ensure!(
        rows.n_rows == n_samples,
        "{}: tensor `{tensor}` has {} rows but the graph has {n_samples} samples: the \
         referee must describe the same samples",
        path.display(),
        rows.n_rows
    );
    Ok(rows)
}

/// The dictionaries of several runs of the same samples side by side: each row
/// L2-normalised, then the runs' rows concatenated, so that a row's cosine with another is
/// the mean of its cosines in the runs. One file is read as [`read_dictionary`] reads it.
pub fn read_dictionaries(
    paths: &[PathBuf],
    tensor: &str,
    n_samples: usize,
) -> anyhow::Result<FeatureRows> {
    if let [one] = paths {
        return read_dictionary(one, tensor, n_samples);
    }
    let parts = paths
        .iter()
        .map(|path| read_dictionary(path, tensor, n_samples).map(|rows| rows.normalized()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n_dims = parts.iter().map(|part| part.n_dims).sum();
    let mut values = Vec::with_capacity(n_samples * n_dims);
    for row in 0..n_samples {
        for part in &parts {
            values.extend_from_slice(&part.values[row * part.n_dims..(row + 1) * part.n_dims]);
        }
    }
    Ok(FeatureRows {
        values,
        n_rows: n_samples,
        n_dims,
    })
}

/// How the referee's dictionary is named in messages: its file, or the files side by side.
pub fn dictionary_label(paths: &[PathBuf]) -> String {
    crate::input::files_label(paths, |list| format!("{list} side by side"))
}

/// k-means on the L2-normalised rows, with the stage's k-means settings and seed.
pub fn kmeans_partition(
    rows: &FeatureRows,
    n_clusters: usize,
    config: &ClusterConfig,
    seed: u64,
) -> anyhow::Result<Vec<u32>> {
    let rows = rows.normalized();
    let result = kmeans(
        &rows.values,
        rows.n_dims,
        &config.kmeans_options(n_clusters, seed),
    )
    .map_err(|e| anyhow::anyhow!("k-means: {e}"))?;
    Ok(result.assignments)
}

/// Spectral clustering of the rows' cosine `knn`-nearest-neighbour graph (the standalone
/// `--knn` graph) with `n_eigenvectors`, under the stage's settings (its fixed count).
pub fn knn_graph_partition(
    rows: &FeatureRows,
    knn: usize,
    n_eigenvectors: usize,
    config: &ClusterConfig,
    seed: u64,
) -> anyhow::Result<Vec<u32>> {
    let triplets = knn_graph(rows, knn).with_context(|| format!("knn_graph = {knn}"))?;
    let (graph, _) = SparseGraph::from_owned_triplets(
        rows.n_rows,
        triplets.rows,
        triplets.cols,
        triplets.values,
        Symmetry::Require,
    )
    .context("the dictionary's kNN graph")?;
    Ok(spectral::cluster(&graph, config, n_eigenvectors, seed)?.assignments)
}

/// What the referees said of the recipe's partition.
pub enum Verdict {
    /// `partition` referees the counts; `kmeans_shut` is k-means' agreement where it was
    /// asked first and agreed too little.
    Referee {
        kind: RefereeKind,
        partition: Vec<u32>,
        kmeans_shut: Option<f64>,
    },
    /// k-means agreed too little (this much) and no graph is set: the recipe's count stays.
    Shut(f64),
    /// The referee `kind` could not be computed (`error`): the recipe's count stays. The
    /// referee only advises, so its failure leaves the stage's result as the recipe made it.
    Unanswered {
        kind: RefereeKind,
        error: String,
        kmeans_shut: Option<f64>,
    },
}

/// Asks the referees in order: k-means on `rows` where it agrees at least `min_agreement`
/// with `recipe`, else the partition of their kNN graph where `knn_graph` is set.
pub fn ask(
    rows: &FeatureRows,
    setting: &RefereeSetting,
    recipe: &[u32],
    (n_clusters, n_eigenvectors): (usize, usize),
    config: &ClusterConfig,
    seed: u64,
) -> Verdict {
    let mut kmeans_shut = None;
    if let Some(min_agreement) = setting.min_agreement {
        let partition = match kmeans_partition(rows, n_clusters, config, seed) {
            Ok(partition) => partition,
            Err(e) => {
                return Verdict::Unanswered {
                    kind: RefereeKind::Kmeans,
                    error: format!("{e:#}"),
                    kmeans_shut: None,
                };
            }
        };
        let agrees = agreement(&partition, recipe);
        if agrees >= min_agreement {
            return Verdict::Referee {
                kind: RefereeKind::Kmeans,
                partition,
                kmeans_shut: None,
            };
        }
        kmeans_shut = Some(agrees);
    }
    match (setting.knn_graph, kmeans_shut) {
        (Some(knn), _) => match knn_graph_partition(rows, knn, n_eigenvectors, config, seed) {
            Ok(partition) => Verdict::Referee {
                kind: RefereeKind::KnnGraph,
                partition,
                kmeans_shut,
            },
            Err(e) => Verdict::Unanswered {
                kind: RefereeKind::KnnGraph,
                error: format!("{e:#}"),
                kmeans_shut,
            },
        },
        (None, Some(agrees)) => Verdict::Shut(agrees),
        // `RefereeSetting::check` refuses a setting with neither.
        (None, None) => Verdict::Unanswered {
            kind: RefereeKind::Kmeans,
            error: "eigenvector_referee has neither min_agreement nor knn_graph".into(),
            kmeans_shut: None,
        },
    }
}

/// `(eigenvectors, error)` of the counts whose clustering failed.
pub type FailedCounts = Vec<(usize, String)>;

/// `cluster` for each count; a count whose clustering fails is left out, with its error,
/// so that one count the eigensolver cannot resolve does not cost the others.
pub fn partitions_by_count<T>(
    counts: impl IntoIterator<Item = usize>,
    mut cluster: impl FnMut(usize) -> anyhow::Result<T>,
) -> (Vec<(usize, T)>, FailedCounts) {
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for count in counts {
        match cluster(count) {
            Ok(partition) => done.push((count, partition)),
            Err(e) => failed.push((count, format!("{e:#}"))),
        }
    }
    (done, failed)
}

/// NMI (arithmetic mean of the entropies, scikit-learn's default) of two partitions of
/// the same samples.
pub fn agreement(referee: &[u32], partition: &[u32]) -> f64 {
    let as_labels: Vec<i32> = referee.iter().map(|&c| c as i32).collect();
    let table = ContingencyTable::new(&as_labels, partition)
        .expect("partitions of the same samples have the same length");
    ebsc_spectral::normalized_mutual_info(&table, NmiNormalization::Arithmetic)
}

/// The count of highest agreement among the recipe's and those tried (the recipe's on a
/// tie, else the first in the order given).
pub fn choose(recipe: (usize, f64), tried: &[(usize, f64)]) -> usize {
    choose_by(recipe, tried, |score, best| score > best)
}

/// The count whose score is `better` than the best so far, in turn from the recipe's; the
/// recipe's where none is.
pub fn choose_by(
    recipe: (usize, f64),
    tried: &[(usize, f64)],
    better: impl Fn(f64, f64) -> bool,
) -> usize {
    tried
        .iter()
        .fold(recipe, |best, &candidate| {
            if better(candidate.1, best.1) {
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
    use crate::config::ClusterCountSetting;

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

    fn write_dictionary(path: &Path, shape: [usize; 2], values: Vec<f32>) {
        use ebsc_io::tensors::{TensorData, write_tensors};
        write_tensors(
            std::fs::File::create(path).unwrap(),
            &[("dictionary", shape.to_vec(), &TensorData::F32(values))],
            &Default::default(),
        )
        .unwrap();
    }

    #[test]
    fn dictionaries_side_by_side_are_unit_rows_concatenated() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, short) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
            dir.path().join("short.safetensors"),
        );
        write_dictionary(&a, [2, 2], vec![3.0, 4.0, 2.0, 0.0]);
        write_dictionary(&b, [2, 1], vec![-5.0, 0.5]);
        write_dictionary(&short, [1, 2], vec![1.0, 0.0]);
        // Rows 3,4 → 0.6,0.8 and 2,0 → 1,0; -5 → -1 and 0.5 → 1.
        let rows = read_dictionaries(&[a.clone(), b.clone()], "dictionary", 2).unwrap();
        assert_eq!((rows.n_rows, rows.n_dims), (2, 3));
        let expected = [0.6, 0.8, -1.0, 1.0, 0.0, 1.0];
        for (got, want) in rows.values.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", rows.values);
        }
        // One file is read as it is, unnormalised.
        assert_eq!(
            read_dictionaries(std::slice::from_ref(&a), "dictionary", 2)
                .unwrap()
                .values,
            vec![3.0, 4.0, 2.0, 0.0]
        );
        let err = read_dictionaries(&[a.clone(), short.clone()], "dictionary", 2)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&short.display().to_string()) && err.contains("has 1 rows"),
            "{err}"
        );
        assert_eq!(
            dictionary_label(&[a.clone(), b.clone()]),
            format!("{}, {} side by side", a.display(), b.display())
        );
    }

    #[test]
    fn the_best_agreement_wins_and_ties_keep_the_recipe() {
        let tried = [(10, 0.80), (11, 0.86), (12, 0.80), (13, 0.86)];
        assert_eq!(choose((12, 0.80), &tried), 11);
        let level = [(10, 0.80), (12, 0.80), (14, 0.80)];
        assert_eq!(choose((12, 0.80), &level), 12);
        assert_eq!(choose((12, 0.90), &tried), 12);
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let ok = RefereeSetting {
            max_extra: 6,
            min_agreement: Some(0.75),
            knn_graph: Some(10),
        };
        assert!(ok.check().is_ok());
        let graph_only = RefereeSetting {
            min_agreement: None,
            ..ok
        };
        assert!(graph_only.check().is_ok());
        let none_tried = RefereeSetting { max_extra: 0, ..ok };
        assert!(none_tried.check().unwrap_err().contains("max_extra"));
        let not_nmi = RefereeSetting {
            min_agreement: Some(1.5),
            ..ok
        };
        assert!(not_nmi.check().unwrap_err().contains("min_agreement"));
        let no_neighbours = RefereeSetting {
            knn_graph: Some(0),
            ..ok
        };
        assert!(no_neighbours.check().unwrap_err().contains("knn_graph"));
        let no_referee = RefereeSetting {
            max_extra: 6,
            min_agreement: None,
            knn_graph: None,
        };
        let err = no_referee.check().unwrap_err();
        assert!(
            err.contains("min_agreement") && err.contains("knn_graph"),
            "{err}"
        );
    }

    /// 24 rows in two tight groups along two axes, spread a little along a third.
    fn two_groups() -> FeatureRows {
        let mut values = Vec::new();
        for i in 0..24 {
            let mut row = [0.0f32; 3];
            row[i / 12] = 1.0;
            row[2] = 0.01 * (i % 12) as f32;
            values.extend_from_slice(&row);
        }
        FeatureRows {
            values,
            n_rows: 24,
            n_dims: 3,
        }
    }

    /// The 2-NN graph joins each group's rows, so its partition into two is the groups.
    #[test]
    fn the_graph_referee_partitions_the_dictionary_neighbour_graph() {
        let rows = two_groups();
        let config = ClusterConfig::with_defaults(ClusterCountSetting::Fixed(2));
        let partition = knn_graph_partition(&rows, 2, 2, &config, 0).unwrap();
        let expected: Vec<u32> = (0..24).map(|i| (i / 12) as u32).collect();
        assert!(
            (agreement(&expected, &partition) - 1.0).abs() < 1e-12,
            "{partition:?}"
        );
        let err = knn_graph_partition(&rows, 24, 2, &config, 0).unwrap_err();
        assert!(err.to_string().contains("knn_graph = 24"), "{err}");
    }

    #[test]
    fn referees_are_asked_in_order() {
        let rows = two_groups();
        let config = ClusterConfig::with_defaults(ClusterCountSetting::Fixed(2));
        let groups: Vec<u32> = (0..24).map(|i| (i / 12) as u32).collect();
        let across: Vec<u32> = (0..24).map(|i| (i % 2) as u32).collect();
        let both = RefereeSetting {
            max_extra: 2,
            min_agreement: Some(0.75),
            knn_graph: Some(2),
        };
        let ask = |setting: &RefereeSetting, recipe: &[u32]| {
            ask(&rows, setting, recipe, (2, 2), &config, 0)
        };
        // k-means finds the groups: it agrees with a recipe that found them too.
        assert!(matches!(
            ask(&both, &groups),
            Verdict::Referee {
                kind: RefereeKind::Kmeans,
                kmeans_shut: None,
                ..
            }
        ));
        // A recipe across the groups: k-means is shut and the graph referees.
        match ask(&both, &across) {
            Verdict::Referee {
                kind: RefereeKind::KnnGraph,
                partition,
                kmeans_shut: Some(agrees),
            } => {
                assert!(agrees < 0.1, "{agrees}");
                assert!((agreement(&groups, &partition) - 1.0).abs() < 1e-12);
            }
            _ => panic!("the graph should referee"),
        }
        // Without a graph, the recipe stays.
        let kmeans_only = RefereeSetting {
            knn_graph: None,
            ..both
        };
        assert!(matches!(ask(&kmeans_only, &across), Verdict::Shut(a) if a < 0.1));
        // Without k-means, the graph is asked whatever the recipe.
        let graph_only = RefereeSetting {
            min_agreement: None,
            ..both
        };
        assert!(matches!(
            ask(&graph_only, &groups),
            Verdict::Referee {
                kind: RefereeKind::KnnGraph,
                kmeans_shut: None,
                ..
            }
        ));
        // A graph that cannot be built (24 neighbours of 24 rows): no partition, the
        // recipe's count stays, and the verdict says why.
        let impossible = RefereeSetting {
            knn_graph: Some(24),
            ..both
        };
        match ask(&impossible, &across) {
            Verdict::Unanswered {
                kind: RefereeKind::KnnGraph,
                error,
                kmeans_shut: Some(_),
            } => assert!(error.contains("knn_graph = 24"), "{error}"),
            _ => panic!("the graph referee should be unanswered"),
        }
    }

    #[test]
    fn a_count_that_fails_is_left_out_with_its_error() {
        let (done, failed) = partitions_by_count(10..=13, |m| {
            anyhow::ensure!(m != 11, "eigensolver: no convergence");
            Ok(m * 2)
        });
        assert_eq!(done, vec![(10, 20), (12, 24), (13, 26)]);
        assert_eq!(
            failed,
            vec![(11, "eigensolver: no convergence".to_string())]
        );
    }

    #[test]
    fn records_of_older_files_read_as_kmeans() {
        let old = r#"{"recipe_agreement": 0.8, "agreements": [[12, 0.8]], "chosen": 12}"#;
        let record: RefereeRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.referee, RefereeKind::Kmeans);
        assert_eq!(record.recipe_agreement, Some(0.8));
        assert_eq!(record.kmeans_agreement, None);
        assert!(record.failed_counts.is_empty() && record.error.is_none());
        let json = serde_json::to_value(&RefereeRecord {
            referee: RefereeKind::KnnGraph,
            kmeans_agreement: Some(0.6),
            ..record
        })
        .unwrap();
        assert_eq!(json["referee"], "knn-graph");
        assert_eq!(json["kmeans_agreement"], 0.6);
        // Nothing failed: the fields that say so are left out.
        assert!(json.get("failed_counts").is_none() && json.get("error").is_none());
        assert!(json.get("per_dictionary").is_none());
    }
}
