//! The `[affinity]` section (docs/method.md "Inference"):
//!
//! ```toml
//! [affinity]
//! top_k = 20               # coefficients kept per row, largest |c| first
//! block_size = 4096        # rows per block, against columns in tiles of at most 2048:
//!                          # memory O(N·top_k + block²)
//! perplexity = 10.0        # optional: each row's weights calibrated to this perplexity
//! normalize_rows = true    # L2-normalise each row of C before building the graph
//! affinity = "symmetric"   # W = (|C| + |C|ᵀ)/2, or "knn": a cosine kNN graph on rows of C
//! knn_k = 3                # neighbours per row, only with affinity = "knn"
//! fit_class_size = true    # small classes: fewer coefficients a row, symmetric graph
//! refine = "elastic-net"   # optional: the energy picks candidates, a solve weights them;
//!                          # or "ridge": least squares over every other sample, closed form
//! refine_candidates = 400  # the energy's best atoms per row the solve runs over (elastic-net)
//! refine_candidates_by = "ridge"  # optional (elastic-net): the candidates are each row's
//!                          # largest ridge coefficients over every other sample instead
//! refine_gamma = 50.0      # γ of either solve, and λ of the elastic-net one: one value,
//! refine_lambda = 0.9      # or two ([0.2, 0.9]) whose solves' coefficients are averaged
//! residual = false         # optional: score pairs by the energy's cosine term alone
//! ```
//!
//! `fit_class_size` guards a recipe made for large classes against data with small ones.
//! With `[cluster] n_clusters = k` and N samples, the mean class size is m = N / k; when m
//! is below 2 × `top_k`, a row's top-k must reach into other classes, and the kNN graph on
//! rows of C (which compares the atoms two samples use) finds few shared ones. Then
//! `top_k` becomes max(3, m / 2) and the graph symmetric. On two 400-image, 40-class sets
//! this gained 0.06–0.08 ACC over the 10-NN graph on C; classes of 60 and more (digits,
//! MNIST, subspaces) are untouched. RESULTS.md, "A small many-class set".

use ebsc_core::{ConfigError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::solve::{ElasticNet, Lambda};

pub const SECTION: &str = "affinity";

/// The graph built from the kept coefficients: a value that cannot hold a `k` the graph
/// does not use, nor lack one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffinityGraph {
    /// W = (|C| + |C|ᵀ)/2.
    Symmetric,
    /// Each row's `k` nearest rows of C by cosine similarity, symmetrised.
    Knn { k: usize },
}

/// `[affinity]` as checked settings. Read from and hashed as the flat TOML section
/// ([`AffinitySection`]), so a pipeline's key is the same as its file says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AffinitySection", into = "AffinitySection")]
pub struct AffinityConfig {
    pub top_k: usize,
    pub block_size: usize,
    pub normalize_rows: bool,
    pub graph: AffinityGraph,
    /// Fit `top_k` and the graph to small classes (module docs).
    pub fit_class_size: bool,
    /// `[cluster] n_clusters`, read from there when `fit_class_size` is on: part of the
    /// stage key, since the fitted graph depends on it.
    pub n_clusters: Option<usize>,
    /// A joint solve over each row's candidates (`crate::solve`); `None`: the energy's
    /// own coefficients.
    pub refine: Option<Refine>,
    /// Each row's kept coefficients calibrated to this perplexity before the graph is
    /// built (`graph::calibrate_perplexity`); `None`: the coefficients as they are.
    pub perplexity: Option<f64>,
    /// Whether pairs are scored with the towers' learned residual (the whole energy) or
    /// with its cosine term `κ·⟨d_i, d_j⟩` alone: on a few hundred samples the residual
    /// learns which views are one image, not which images are one class (docs/method.md,
    /// "Inference").
    pub residual: bool,
}

/// How the kept coefficients are weighted after the energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refine {
    /// `refine = "elastic-net"`: each row's `candidates` best atoms, by energy or by the
    /// ridge solve, re-weighted by the elastic-net self-expression solve (`crate::solve`).
    ElasticNet {
        candidates: usize,
        ranked_by: Ranking,
        weights: ElasticNet,
    },
    /// `refine = "ridge"`: the least-squares self-expression solve over every other sample,
    /// in closed form (`crate::ridge`); the energy's scores are not used.
    Ridge { gamma: f64 },
}

/// What picks the candidates of the elastic-net solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ranking {
    /// The energy's best scores.
    Energy,
    /// The largest coefficients of the ridge solve over every other sample (`crate::ridge`),
    /// with the elastic-net solve's γ; the energy's scores are not used.
    Ridge,
}

impl Refine {
    /// How many of each row's atoms the energy scores: the candidates of the elastic-net
    /// solve when the energy picks them; none when the ridge solve does.
    pub fn energy_candidates(self) -> Option<usize> {
        match self {
            Refine::ElasticNet {
                candidates,
                ranked_by: Ranking::Energy,
                ..
            } => Some(candidates),
            _ => None,
        }
    }

    /// The γ of the ridge solve where one runs (alone or picking candidates): new samples
    /// are then expressed by the same solve (`ebsc-assign`).
    pub fn ridge_gamma(self) -> Option<f64> {
        match self {
            Refine::Ridge { gamma } => Some(gamma),
            Refine::ElasticNet {
                ranked_by: Ranking::Ridge,
                weights,
                ..
            } => Some(weights.gamma),
            Refine::ElasticNet { .. } => None,
        }
    }

    /// The candidates and weights of an elastic-net solve whose candidates the ridge solve
    /// picks; `None` for the ridge solve alone or the energy's candidates.
    pub fn elastic_net_over_ridge(self) -> Option<(usize, ElasticNet)> {
        match self {
            Refine::ElasticNet {
                candidates,
                ranked_by: Ranking::Ridge,
                weights,
            } => Some((candidates, weights)),
            _ => None,
        }
    }

    /// The ridge solve where one runs: its γ and how many coefficients a row it keeps (the
    /// elastic-net solve's candidates when it picks them, else `top_k`).
    pub fn ridge_solve(self, top_k: usize) -> Option<(f64, usize)> {
        let kept = self
            .elastic_net_over_ridge()
            .map_or(top_k, |(candidates, _)| candidates);
        self.ridge_gamma().map(|gamma| (gamma, kept))
    }

    pub fn gamma(self) -> f64 {
        match self {
            Refine::ElasticNet { weights, .. } => weights.gamma,
            Refine::Ridge { gamma } => gamma,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RefineKind {
    ElasticNet,
    Ridge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GraphKind {
    Symmetric,
    Knn,
}

/// `refine_lambda` as written: a number, or a list (two numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum LambdaValue {
    One(f64),
    List(Vec<f64>),
}

impl LambdaValue {
    fn checked(self) -> Result<Lambda, String> {
        let lambda = match self {
            LambdaValue::One(lambda) => Lambda::One(lambda),
            LambdaValue::List(list) => match list[..] {
                [a, b] => Lambda::MeanOf([a, b]),
                _ => {
                    return Err(format!(
                        "refine_lambda is one λ (0.9) or two whose solves are averaged \
                         ([0.2, 0.9]), not a list of {}",
                        list.len()
                    ));
                }
            },
        };
        if let Some(bad) = lambda.values().iter().find(|l| !(0.0..=1.0).contains(*l)) {
            return Err(format!("refine_lambda must lie in [0, 1], not {bad}"));
        }
        Ok(lambda)
    }
}

impl From<Lambda> for LambdaValue {
    fn from(lambda: Lambda) -> Self {
        match lambda {
            Lambda::One(lambda) => LambdaValue::One(lambda),
            Lambda::MeanOf(lambdas) => LambdaValue::List(lambdas.to_vec()),
        }
    }
}

/// The section as written: `affinity = "knn"` with `knn_k`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AffinitySection {
    top_k: usize,
    block_size: usize,
    normalize_rows: bool,
    affinity: GraphKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    knn_k: Option<usize>,
    /// Off by default; left out of the stage key when off, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "is_false")]
    fit_class_size: bool,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    n_clusters: Option<usize>,
    /// Off when absent; absent keys stay out of the stage key, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine: Option<RefineKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine_candidates: Option<usize>,
    /// Absent (and out of the stage key) when the energy picks the candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine_candidates_by: Option<Ranking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine_gamma: Option<f64>,
    /// A number, hashed as one, so a single λ keeps the key it had before pairs existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine_lambda: Option<LambdaValue>,
    /// Off when absent, and then out of the stage key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    perplexity: Option<f64>,
    /// `graph::MAX_POWER`, hashed beside `perplexity` so that a stage run under another
    /// bound is stale; never read from the file.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    perplexity_max_power: Option<f64>,
    /// On by default; left out of the stage key when on, so older runs stay up to date.
    #[serde(default = "on", skip_serializing_if = "is_true")]
    residual: bool,
}

impl TryFrom<AffinitySection> for AffinityConfig {
    type Error = String;

    fn try_from(section: AffinitySection) -> Result<Self, String> {
        if section.top_k == 0 {
            return Err("top_k must be at least 1".into());
        }
        if section.block_size == 0 {
            return Err("block_size must be at least 1".into());
        }
        let graph = match (section.affinity, section.knn_k) {
            (GraphKind::Knn, None) => return Err("affinity = \"knn\" needs knn_k (≥ 1)".into()),
            (GraphKind::Knn, Some(0)) => return Err("knn_k must be at least 1".into()),
            (GraphKind::Knn, Some(k)) => AffinityGraph::Knn { k },
            (GraphKind::Symmetric, Some(_)) => {
                return Err("knn_k is only used with affinity = \"knn\"".into());
            }
            (GraphKind::Symmetric, None) => AffinityGraph::Symmetric,
        };
        let gamma = section.refine_gamma.unwrap_or(DEFAULT_GAMMA);
        if section.refine.is_some() && !(gamma > 0.0 && gamma.is_finite()) {
            return Err(format!("refine_gamma must be positive, not {gamma}"));
        }
        let refine = match section.refine {
            None => {
                if section.refine_candidates.is_some()
                    || section.refine_candidates_by.is_some()
                    || section.refine_gamma.is_some()
                    || section.refine_lambda.is_some()
                {
                    return Err(
                        "refine_candidates, refine_candidates_by, refine_gamma and refine_lambda are only used with refine = \"elastic-net\" or \"ridge\""
                            .into(),
                    );
                }
                None
            }
            Some(RefineKind::ElasticNet) => {
                let candidates = section.refine_candidates.unwrap_or(DEFAULT_CANDIDATES);
                let lambda = match section.refine_lambda {
                    Some(value) => value.checked()?,
                    None => Lambda::One(DEFAULT_LAMBDA),
                };
                if candidates < section.top_k {
                    return Err(format!(
                        "refine_candidates ({candidates}) must be at least top_k ({})",
                        section.top_k
                    ));
                }
                Some(Refine::ElasticNet {
                    candidates,
                    ranked_by: section.refine_candidates_by.unwrap_or(Ranking::Energy),
                    weights: ElasticNet { gamma, lambda },
                })
            }
            Some(RefineKind::Ridge) => {
                if section.refine_candidates.is_some()
                    || section.refine_candidates_by.is_some()
                    || section.refine_lambda.is_some()
                {
                    return Err(
                        "refine = \"ridge\" solves over every other sample with the ℓ2 penalty alone: \
                         refine_candidates, refine_candidates_by and refine_lambda belong to \
                         refine = \"elastic-net\""
                            .into(),
                    );
                }
                Some(Refine::Ridge { gamma })
            }
        };
        if let Some(p) = section.perplexity
            && !(p >= 1.0 && p.is_finite())
        {
            return Err(format!(
                "perplexity is the effective number of coefficients a row spreads its weight \
                 over, a number ≥ 1, not {p}"
            ));
        }
        Ok(AffinityConfig {
            top_k: section.top_k,
            block_size: section.block_size,
            normalize_rows: section.normalize_rows,
            graph,
            fit_class_size: section.fit_class_size,
            n_clusters: section.n_clusters,
            refine,
            perplexity: section.perplexity,
            residual: section.residual,
        })
    }
}

impl From<AffinityConfig> for AffinitySection {
    fn from(config: AffinityConfig) -> Self {
        let (affinity, knn_k) = match config.graph {
            AffinityGraph::Symmetric => (GraphKind::Symmetric, None),
            AffinityGraph::Knn { k } => (GraphKind::Knn, Some(k)),
        };
        let (refine, refine_candidates, refine_candidates_by, refine_gamma, refine_lambda) =
            match config.refine {
                None => (None, None, None, None, None),
                Some(Refine::ElasticNet {
                    candidates,
                    ranked_by,
                    weights,
                }) => (
                    Some(RefineKind::ElasticNet),
                    Some(candidates),
                    // The energy's ranking is the default, and stays out of the key.
                    (ranked_by != Ranking::Energy).then_some(ranked_by),
                    Some(weights.gamma),
                    Some(weights.lambda.into()),
                ),
                Some(Refine::Ridge { gamma }) => {
                    (Some(RefineKind::Ridge), None, None, Some(gamma), None)
                }
            };
        AffinitySection {
            top_k: config.top_k,
            block_size: config.block_size,
            normalize_rows: config.normalize_rows,
            affinity,
            knn_k,
            fit_class_size: config.fit_class_size,
            n_clusters: config.n_clusters,
            refine,
            refine_candidates,
            refine_candidates_by,
            refine_gamma,
            refine_lambda,
            perplexity: config.perplexity,
            perplexity_max_power: config.perplexity.map(|_| crate::graph::MAX_POWER),
            residual: config.residual,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_true(value: &bool) -> bool {
    *value
}

fn on() -> bool {
    true
}

/// `refine`'s defaults: EnSC's λ; γ and the candidate count from the small-set
/// measurements in RESULTS.md.
const DEFAULT_CANDIDATES: usize = 400;
const DEFAULT_GAMMA: f64 = 50.0;
const DEFAULT_LAMBDA: f64 = 0.9;

/// The smallest `top_k` that `fit_class_size` sets.
const MIN_FITTED_TOP_K: usize = 3;

impl AffinityConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<AffinityConfig, ConfigError> {
        let mut config: AffinityConfig = pipeline.section(SECTION)?;
        if config.fit_class_size {
            config.n_clusters = pipeline.cluster_count();
        }
        Ok(config)
    }

    /// What `refine` does, for the log; `None` without it.
    pub fn refine_note(&self) -> Option<String> {
        Some(match self.refine? {
            Refine::ElasticNet {
                candidates,
                ranked_by,
                weights,
            } => format!(
                "refine: elastic-net solve over each row's {candidates} best candidates by \
                 {} (γ {}, λ {}), {} kept",
                match ranked_by {
                    Ranking::Energy => "energy",
                    Ranking::Ridge => "the ridge solve over every other sample",
                },
                weights.gamma,
                match weights.lambda {
                    Lambda::One(lambda) => lambda.to_string(),
                    Lambda::MeanOf([a, b]) => format!("{a} and {b}: the mean of both solves"),
                },
                self.top_k
            ),
            Refine::Ridge { gamma } => format!(
                "refine: ridge (least-squares) solve over every other sample, in closed form \
                 (γ {gamma}), {} kept",
                self.top_k
            ),
        })
    }

    /// The settings used on `n_samples` samples, and a line for the log when
    /// `fit_class_size` changed them.
    pub fn fitted(&self, n_samples: usize) -> (AffinityConfig, Option<String>) {
        let Some(k) = self.n_clusters.filter(|_| self.fit_class_size) else {
            return (self.clone(), None);
        };
        let class_size = n_samples / k.max(1);
        if class_size >= 2 * self.top_k {
            return (self.clone(), None);
        }
        let top_k = (class_size / 2).max(MIN_FITTED_TOP_K).min(self.top_k);
        let fitted = AffinityConfig {
            top_k,
            graph: AffinityGraph::Symmetric,
            // `perplexity` is set for rows of `top_k` coefficients: a row of half a small
            // class has at most as many, and calibrating it to that perplexity makes its
            // weights all equal, dropping the energy's ranking (RESULTS.md, "Crowded images
            // that change in pose").
            perplexity: None,
            ..self.clone()
        };
        let graph = match self.graph {
            AffinityGraph::Symmetric => String::new(),
            AffinityGraph::Knn { .. } => {
                ", the symmetric graph instead of the kNN graph on C".into()
            }
        };
        let weights = match self.perplexity {
            Some(p) => format!(", the energy's own weights (no perplexity {p} a row)"),
            None => String::new(),
        };
        let note = format!(
            "fit_class_size: mean class size {class_size} ({n_samples} samples / {k} clusters) \
             is under 2 × top_k = {}: top {top_k} coefficients a row{graph}{weights}",
            2 * self.top_k
        );
        (fitted, Some(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(section: &str) -> Result<AffinityConfig, ConfigError> {
        let text = format!("[pipeline]\nseed = 0\n[affinity]\n{section}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text).unwrap();
        AffinityConfig::from_pipeline(&pipeline)
    }

    #[test]
    fn small_classes_get_fewer_coefficients_and_the_symmetric_graph() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"knn\"\nknn_k = 10\nfit_class_size = true";
        let text =
            format!("[pipeline]\nseed = 0\n[affinity]\n{base}\n[cluster]\nn_clusters = 40\n");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text).unwrap();
        let c = AffinityConfig::from_pipeline(&pipeline).unwrap();
        assert_eq!(c.n_clusters, Some(40));
        // 400 samples in 40 classes: classes of 10.
        let (fitted, note) = c.fitted(400);
        assert_eq!((fitted.top_k, fitted.graph), (5, AffinityGraph::Symmetric));
        let note = note.unwrap();
        assert!(
            note.contains("mean class size 10 (400 samples / 40 clusters)"),
            "{note}"
        );
        // The per-row perplexity is for rows of top_k: fitted rows keep their weights.
        let with_perplexity = AffinityConfig {
            perplexity: Some(10.0),
            ..c.clone()
        };
        let (fitted, note) = with_perplexity.fitted(400);
        assert_eq!((fitted.top_k, fitted.perplexity), (5, None));
        assert!(note.unwrap().contains("no perplexity 10 a row"));
        assert_eq!(with_perplexity.fitted(1800).0.perplexity, Some(10.0));
        // Classes of 4: never below 3 coefficients a row.
        assert_eq!(c.fitted(160).0.top_k, 3);
        // Classes of 45 (≥ 2 × 20): untouched.
        let (fitted, note) = c.fitted(1800);
        assert_eq!((fitted, note), (c.clone(), None));
        // Off, or with n_clusters = "auto": untouched, and the key is as before.
        let off =
            load("top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"")
                .unwrap();
        assert_eq!(off.fitted(400).0, off);
        let json = serde_json::to_value(&off).unwrap();
        assert!(json.get("fit_class_size").is_none() && json.get("n_clusters").is_none());
        let text =
            format!("[pipeline]\nseed = 0\n[affinity]\n{base}\n[cluster]\nn_clusters = \"auto\"\n");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text).unwrap();
        let auto = AffinityConfig::from_pipeline(&pipeline).unwrap();
        assert_eq!(auto.fitted(400).0, auto);
        // n_clusters is read from [cluster], never written in [affinity].
        let err = load(&format!("{base}\nn_clusters = 3"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("n_clusters"), "{err}");
    }

    #[test]
    fn reads_both_kinds_and_names_bad_keys() {
        let c = load("top_k = 5\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"")
            .unwrap();
        assert_eq!((c.top_k, c.graph), (5, AffinityGraph::Symmetric));
        let c = load(
            "top_k = 5\nblock_size = 64\nnormalize_rows = false\naffinity = \"knn\"\nknn_k = 3",
        )
        .unwrap();
        assert_eq!(c.graph, AffinityGraph::Knn { k: 3 });
        // Hashed as written: the flat section, so keys do not depend on the Rust types.
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({
                "top_k": 5, "block_size": 64, "normalize_rows": false,
                "affinity": "knn", "knn_k": 3
            })
        );
        let err = load(
            "top_k = 5\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"\nknn_k = 3",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("knn_k is only used with affinity = \"knn\""),
            "{err}"
        );
        let err = load("top_k = 5\nblock_size = 64\nnormalize_rows = true\naffinity = \"knn\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[affinity]") && err.contains("knn_k"), "{err}");
        let err = load("top_k = 0\nblock_size = 64\nnormalize_rows = true\naffinity = \"knn\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("top_k must be at least 1"), "{err}");
        let err = load("top_k = 5\nblock_sise = 64\nnormalize_rows = true\naffinity = \"knn\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pipelines/p.toml") && err.contains("block_sise"),
            "{err}"
        );
    }

    #[test]
    fn perplexity_is_checked_and_stays_out_of_older_keys() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"";
        assert_eq!(load(base).unwrap().perplexity, None);
        let hashed = serde_json::to_string(&AffinitySection::from(load(base).unwrap())).unwrap();
        assert!(!hashed.contains("perplexity"), "{hashed}");
        let c = load(&format!("{base}\nperplexity = 10.0")).unwrap();
        assert_eq!(c.perplexity, Some(10.0));
        // The bound on a row's power is part of the key, not of the file.
        let hashed = serde_json::to_value(AffinitySection::from(c)).unwrap();
        assert_eq!(hashed["perplexity_max_power"], 16.0);
        let err = load(&format!(
            "{base}\nperplexity = 10.0\nperplexity_max_power = 4.0"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("perplexity_max_power"), "{err}");
        for bad in ["0.5", "nan", "inf"] {
            let err = load(&format!("{base}\nperplexity = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("a number ≥ 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn residual_is_on_by_default_and_only_its_absence_is_hashed() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"";
        assert!(load(base).unwrap().residual);
        let hashed = serde_json::to_string(&AffinitySection::from(load(base).unwrap())).unwrap();
        assert!(!hashed.contains("residual"), "{hashed}");
        // Written as on, the key is the older one.
        let on = load(&format!("{base}\nresidual = true")).unwrap();
        assert_eq!(on, load(base).unwrap());
        let off = load(&format!("{base}\nresidual = false")).unwrap();
        assert!(!off.residual);
        let hashed = serde_json::to_value(AffinitySection::from(off)).unwrap();
        assert_eq!(hashed["residual"], false);
        let err = load(&format!("{base}\nresidual = \"no\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("residual"), "{err}");
    }

    #[test]
    fn refine_has_defaults_checks_its_keys_and_stays_out_of_older_keys() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"";
        let c = load(&format!("{base}\nrefine = \"elastic-net\"")).unwrap();
        assert_eq!(
            c.refine,
            Some(Refine::ElasticNet {
                candidates: 400,
                ranked_by: Ranking::Energy,
                weights: ElasticNet {
                    gamma: 50.0,
                    lambda: Lambda::One(0.9)
                }
            })
        );
        let c = load(&format!(
            "{base}\nrefine = \"elastic-net\"\nrefine_candidates = 40\nrefine_gamma = 10.0\nrefine_lambda = 0.5"
        ))
        .unwrap();
        assert_eq!(c.refine.unwrap().energy_candidates(), Some(40));
        assert_eq!(c.refine.unwrap().ridge_gamma(), None);
        assert_eq!(c.refine.unwrap().ridge_solve(20), None);
        assert_eq!(c.refine.unwrap().elastic_net_over_ridge(), None);
        assert_eq!(c.refine.unwrap().gamma(), 10.0);
        // Without refine, its keys are errors, and none appear in the hashed section.
        let err = load(&format!("{base}\nrefine_gamma = 10.0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only used with refine"), "{err}");
        let plain = load(base).unwrap();
        let hashed = serde_json::to_string(&AffinitySection::from(plain)).unwrap();
        assert!(!hashed.contains("refine"), "{hashed}");
        for (extra, expected) in [
            ("refine_candidates = 5", "at least top_k"),
            ("refine_lambda = 1.5", "[0, 1]"),
            ("refine_gamma = 0.0", "positive"),
        ] {
            let err = load(&format!("{base}\nrefine = \"elastic-net\"\n{extra}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{extra}: {err}");
        }
    }

    #[test]
    fn two_lambdas_are_a_list_and_one_keeps_the_key_of_a_number() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"\nrefine = \"elastic-net\"";
        let one = load(&format!("{base}\nrefine_lambda = 0.2")).unwrap();
        let hashed = serde_json::to_value(AffinitySection::from(one)).unwrap();
        assert_eq!(hashed["refine_lambda"], 0.2);
        let two = load(&format!("{base}\nrefine_lambda = [0.2, 0.9]")).unwrap();
        let Some(Refine::ElasticNet { weights, .. }) = two.refine else {
            panic!("{two:?}");
        };
        assert_eq!(weights.lambda, Lambda::MeanOf([0.2, 0.9]));
        assert!(two.refine_note().unwrap().contains("λ 0.2 and 0.9"));
        let hashed = serde_json::to_value(AffinitySection::from(two.clone())).unwrap();
        assert_eq!(hashed["refine_lambda"], serde_json::json!([0.2, 0.9]));
        // Read back from the hashed section: the same settings.
        let back: AffinityConfig = serde_json::from_value(hashed).unwrap();
        assert_eq!(back, two);
        for (value, expected) in [
            ("[0.2, 0.5, 0.9]", "not a list of 3"),
            ("[]", "not a list of 0"),
            ("[0.2, 1.5]", "[0, 1], not 1.5"),
            ("\"0.2\"", "refine_lambda"),
        ] {
            let err = load(&format!("{base}\nrefine_lambda = {value}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn the_ridge_solve_takes_gamma_alone_and_has_its_own_key() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"";
        let c = load(&format!("{base}\nrefine = \"ridge\"")).unwrap();
        assert_eq!(c.refine, Some(Refine::Ridge { gamma: 50.0 }));
        assert_eq!(c.refine.unwrap().energy_candidates(), None);
        assert_eq!(c.refine.unwrap().ridge_gamma(), Some(50.0));
        // Alone, the ridge solve keeps top_k coefficients a row.
        assert_eq!(c.refine.unwrap().ridge_solve(20), Some((50.0, 20)));
        assert_eq!(c.refine.unwrap().elastic_net_over_ridge(), None);
        let c = load(&format!("{base}\nrefine = \"ridge\"\nrefine_gamma = 10.0")).unwrap();
        assert_eq!(c.refine, Some(Refine::Ridge { gamma: 10.0 }));
        let hashed = serde_json::to_value(AffinitySection::from(c)).unwrap();
        assert_eq!(hashed["refine"], "ridge");
        assert_eq!(hashed["refine_gamma"], 10.0);
        assert!(hashed.get("refine_candidates").is_none(), "{hashed}");
        assert!(hashed.get("refine_lambda").is_none(), "{hashed}");
        for (extra, expected) in [
            (
                "refine_candidates = 400",
                "belong to refine = \"elastic-net\"",
            ),
            ("refine_lambda = 0.0", "belong to refine = \"elastic-net\""),
            (
                "refine_candidates_by = \"ridge\"",
                "belong to refine = \"elastic-net\"",
            ),
            ("refine_gamma = -1.0", "positive"),
        ] {
            let err = load(&format!("{base}\nrefine = \"ridge\"\n{extra}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{extra}: {err}");
        }
    }

    #[test]
    fn the_ridge_solve_can_pick_the_elastic_net_candidates() {
        let base = "top_k = 20\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"";
        let by_ridge = load(&format!(
            "{base}\nrefine = \"elastic-net\"\nrefine_candidates = 100\nrefine_candidates_by = \"ridge\""
        ))
        .unwrap();
        let refine = by_ridge.refine.unwrap();
        assert_eq!(
            refine,
            Refine::ElasticNet {
                candidates: 100,
                ranked_by: Ranking::Ridge,
                weights: ElasticNet {
                    gamma: 50.0,
                    lambda: Lambda::One(0.9)
                }
            }
        );
        // The energy scores nothing; new samples take the same ridge solve.
        assert_eq!(refine.energy_candidates(), None);
        assert_eq!(refine.ridge_gamma(), Some(50.0));
        // Picking candidates, it keeps as many as the elastic-net solve weighs.
        assert_eq!(refine.ridge_solve(20), Some((50.0, 100)));
        assert_eq!(
            refine.elastic_net_over_ridge(),
            Some((
                100,
                ElasticNet {
                    gamma: 50.0,
                    lambda: Lambda::One(0.9)
                }
            ))
        );
        assert!(
            by_ridge
                .refine_note()
                .unwrap()
                .contains("by the ridge solve")
        );
        let hashed = serde_json::to_value(AffinitySection::from(by_ridge)).unwrap();
        assert_eq!(hashed["refine_candidates_by"], "ridge");
        // The energy's ranking, written or not, is the same stage key as before the key existed.
        let implicit = load(&format!("{base}\nrefine = \"elastic-net\"")).unwrap();
        let explicit = load(&format!(
            "{base}\nrefine = \"elastic-net\"\nrefine_candidates_by = \"energy\""
        ))
        .unwrap();
        assert_eq!(implicit, explicit);
        let hashed = serde_json::to_value(AffinitySection::from(explicit)).unwrap();
        assert!(hashed.get("refine_candidates_by").is_none(), "{hashed}");
        let err = load(&format!("{base}\nrefine_candidates_by = \"ridge\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only used with refine"), "{err}");
        let err = load(&format!(
            "{base}\nrefine = \"elastic-net\"\nrefine_candidates_by = \"cosine\""
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("refine_candidates_by") || err.contains("cosine"),
            "{err}"
        );
    }
}
