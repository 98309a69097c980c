//! The `[cluster]` section: how many clusters, and the spectral clustering knobs
//! (docs/method.md "Spectral clustering and evaluation").
//!
//! ```toml
//! [cluster]
//! n_clusters = 10              # an integer ≥ 2, or "auto" (largest eigengap)
//! n_eigenvectors = 10          # optional; default n_clusters (50 with "auto")
//! extra_eigenvectors = 2       # optional, instead: n_clusters + 2 (transfers to other counts)
//! kmeans_restarts = 10         # k-means++ seedings
//! restart_choice = "normalized-cut"  # the restart kept: the lowest cut of the graph among
//!                                     # those near the lowest inertia, or "inertia"
//! sizes = "free"               # or "equal": cluster sizes held equal after k-means
//! eigenvector_referee = { max_extra = 6, min_agreement = 0.75, knn_graph = 10 }
//!                              # optional: the count (n_clusters .. n_clusters + 6) whose
//!                              # partition k-means on the trained dictionary agrees with
//!                              # best, when the recipe's agrees ≥ 0.75; else the one the
//!                              # dictionary's 10-NN graph agrees with best (either key may
//!                              # be left out)
//! eigenvector_cut = { max_extra = 6 }
//!                              # optional, instead of the referee: the count (n_clusters ..
//!                              # n_clusters + 6) whose partition has the graph's lowest
//!                              # normalised cut (samples near linear subspaces)
//! max_iter = 300               # Lloyd iterations per restart
//! tol = 1e-4                   # k-means tolerance (scikit-learn's rule)
//! symmetrize = false           # true: use (W + Wᵀ)/2 when the affinity is not symmetric
//! eigen_dense_threshold = 2000 # largest graph solved densely; LOBPCG above
//! eigen_tolerance = 1e-4       # eigenpair residual ‖S x − θ x‖ to reach
//! eigen_max_iterations = 1000  # LOBPCG iteration cap
//! ```

use std::fmt;

use ebsc_core::config::AUTO_EIGENVALUES;
use ebsc_core::{ConfigError, Pipeline};
use ebsc_spectral::{
    ClusterCount, ClusterSizes, EigenOptions, KMeansOptions, RestartChoice, SpectralOptions,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::lowest_cut::CutSetting;
use crate::referee::RefereeSetting;

pub const SECTION: &str = "cluster";

/// `n_clusters`: a fixed count or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCountSetting {
    Fixed(usize),
    Auto,
}

impl ClusterCountSetting {
    pub fn to_spectral(self) -> ClusterCount {
        match self {
            ClusterCountSetting::Fixed(k) => ClusterCount::Fixed(k),
            ClusterCountSetting::Auto => ClusterCount::Eigengap,
        }
    }
}

impl fmt::Display for ClusterCountSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterCountSetting::Fixed(k) => write!(f, "{k}"),
            ClusterCountSetting::Auto => f.write_str("auto"),
        }
    }
}

impl std::str::FromStr for ClusterCountSetting {
    type Err = String;

    /// `"auto"` or an integer ≥ 2 (the command line's `--n-clusters`).
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Ok(ClusterCountSetting::Auto);
        }
        match text.parse::<usize>() {
            Ok(k) if k >= 2 => Ok(ClusterCountSetting::Fixed(k)),
            Ok(k) => Err(format!("n_clusters must be at least 2, got {k}")),
            Err(_) => Err(format!(
                "n_clusters must be an integer ≥ 2 or \"auto\", got {text:?}"
            )),
        }
    }
}

impl Serialize for ClusterCountSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClusterCountSetting::Fixed(k) => serializer.serialize_u64(*k as u64),
            ClusterCountSetting::Auto => serializer.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for ClusterCountSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Integer(i64),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Integer(k) => k.to_string(),
            Raw::Text(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `sizes`: what k-means may do with the cluster sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SizesSetting {
    /// Whatever k-means finds.
    #[default]
    Free,
    /// Held equal (docs/method.md "Equal sizes"): for data whose classes are known to be
    /// the same size.
    Equal,
}

impl SizesSetting {
    fn is_free(&self) -> bool {
        *self == SizesSetting::Free
    }

    pub fn to_spectral(self) -> ClusterSizes {
        match self {
            SizesSetting::Free => ClusterSizes::Free,
            SizesSetting::Equal => ClusterSizes::Equal,
        }
    }
}

/// `restart_choice`: which k-means restart is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RestartChoiceSetting {
    /// The partition with the lowest normalised cut of the graph, the objective spectral
    /// clustering relaxes, among the restarts within 5 % of the lowest inertia
    /// (docs/method.md "Which restart is kept").
    #[default]
    NormalizedCut,
    /// The lowest k-means inertia in the embedding (scikit-learn's rule).
    Inertia,
}

impl RestartChoiceSetting {
    fn is_default(&self) -> bool {
        *self == RestartChoiceSetting::default()
    }

    pub fn to_spectral(self) -> RestartChoice {
        match self {
            RestartChoiceSetting::NormalizedCut => RestartChoice::NormalizedCut,
            RestartChoiceSetting::Inertia => RestartChoice::Inertia,
        }
    }
}

fn default_restarts() -> usize {
    10
}
fn default_max_iter() -> usize {
    300
}
fn default_tol() -> f64 {
    1e-4
}
fn default_dense_threshold() -> usize {
    EigenOptions::default().dense_threshold
}
fn default_eigen_tolerance() -> f64 {
    EigenOptions::default().tolerance
}
fn is_zero(value: &usize) -> bool {
    *value == 0
}
fn default_eigen_max_iterations() -> usize {
    EigenOptions::default().max_iterations
}

/// The `[cluster]` section; every key but `n_clusters` has a default, written out here
/// and in the stage key, so the manifest says what a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Clusters to form: an integer ≥ 2, or `"auto"` for the largest eigengap among
    /// the top `n_eigenvectors` eigenvalues (at least 2 clusters).
    pub n_clusters: ClusterCountSetting,
    /// Eigenvectors of `S = D^{-1/2} W D^{-1/2}` to compute and embed on; default
    /// `n_clusters` (with `"auto"`: 50, and k-means uses the first k of them).
    /// Fewer than `n_clusters` is raised to `n_clusters`, with a warning
    /// ([`ClusterConfig::eigenvector_warning`]).
    #[serde(default)]
    pub n_eigenvectors: Option<usize>,
    /// Spare eigenvectors beyond a fixed `n_clusters` (instead of `n_eigenvectors`): a
    /// recipe with two spare ones keeps them when it is copied to another class count.
    /// Left out of the stage key when 0, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extra_eigenvectors: usize,
    /// Independent k-means++ seedings; `restart_choice` says which one is kept.
    #[serde(default = "default_restarts")]
    pub kmeans_restarts: usize,
    /// The restart kept: the lowest normalised cut of the graph among the restarts near
    /// the lowest inertia (the default), or the lowest inertia. The default is left out
    /// of the stage key (the stage version says when it came in).
    #[serde(default, skip_serializing_if = "RestartChoiceSetting::is_default")]
    pub restart_choice: RestartChoiceSetting,
    /// `"equal"`: after k-means, the clusters are re-formed with equal sizes (an entropic
    /// transport of the embedded points onto the centres). Left out of the stage key when
    /// free, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "SizesSetting::is_free")]
    pub sizes: SizesSetting,
    /// The eigenvector count chosen by a partition of the trained dictionary, a second
    /// view of the model ([`crate::referee`]); pipeline mode only. Left out of the stage key
    /// when absent, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigenvector_referee: Option<RefereeSetting>,
    /// The eigenvector count whose partition has the graph's lowest normalised cut
    /// ([`crate::lowest_cut`]), for graphs of samples near linear subspaces. Left out of
    /// the stage key when absent, so older runs stay up to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigenvector_cut: Option<CutSetting>,
    /// Lloyd iterations per k-means restart.
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    /// k-means stops when the centres move less than `tol` × the data's mean variance.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// A non-symmetric affinity is an error unless this is true; then `(W + Wᵀ)/2`.
    #[serde(default)]
    pub symmetrize: bool,
    /// Graphs with at most this many nodes are solved densely (`n × n` memory).
    #[serde(default = "default_dense_threshold")]
    pub eigen_dense_threshold: usize,
    /// LOBPCG converges when every wanted pair has `‖S x − θ x‖ ≤ eigen_tolerance`.
    #[serde(default = "default_eigen_tolerance")]
    pub eigen_tolerance: f64,
    /// LOBPCG iteration cap; reaching it is an error.
    #[serde(default = "default_eigen_max_iterations")]
    pub eigen_max_iterations: usize,
}

impl ClusterConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<ClusterConfig, ConfigError> {
        let raw = pipeline.raw_section(SECTION)?.clone();
        if !raw.contains_key("n_clusters") {
            return Err(pipeline.invalid(
                SECTION,
                "missing key `n_clusters` (an integer ≥ 2, or \"auto\")",
            ));
        }
        let config: ClusterConfig = pipeline.deserialize(SECTION, raw)?;
        config
            .check()
            .map_err(|message| pipeline.invalid(SECTION, message))?;
        Ok(config)
    }

    /// The defaults of every key but `n_clusters` (standalone mode's starting point).
    pub fn with_defaults(n_clusters: ClusterCountSetting) -> ClusterConfig {
        ClusterConfig {
            n_clusters,
            n_eigenvectors: None,
            extra_eigenvectors: 0,
            kmeans_restarts: default_restarts(),
            restart_choice: RestartChoiceSetting::default(),
            sizes: SizesSetting::Free,
            eigenvector_referee: None,
            eigenvector_cut: None,
            max_iter: default_max_iter(),
            tol: default_tol(),
            symmetrize: false,
            eigen_dense_threshold: default_dense_threshold(),
            eigen_tolerance: default_eigen_tolerance(),
            eigen_max_iterations: default_eigen_max_iterations(),
        }
    }

    /// Checks values that do not depend on the data.
    pub fn check(&self) -> Result<(), String> {
        if let ClusterCountSetting::Fixed(k) = self.n_clusters
            && k < 2
        {
            return Err(format!("n_clusters must be at least 2, got {k}"));
        }
        if let Some(m) = self.n_eigenvectors {
            if m < 2 {
                return Err(format!("n_eigenvectors must be at least 2, got {m}"));
            }
            if self.extra_eigenvectors > 0 {
                return Err(format!(
                    "n_eigenvectors = {m} and extra_eigenvectors = {} both set: give one",
                    self.extra_eigenvectors
                ));
            }
            if let ClusterCountSetting::Auto = self.n_clusters
                && m < 3
            {
                return Err(format!(
                    "n_eigenvectors must be at least 3 with n_clusters = \"auto\" (it needs two gaps), got {m}"
                ));
            }
        }
        if self.extra_eigenvectors > 0 && self.n_clusters == ClusterCountSetting::Auto {
            return Err(
                "extra_eigenvectors needs a fixed n_clusters; with \"auto\" set n_eigenvectors"
                    .into(),
            );
        }
        if let Some(referee) = &self.eigenvector_referee {
            referee.check()?;
            if self.n_clusters == ClusterCountSetting::Auto {
                return Err("eigenvector_referee needs a fixed n_clusters".into());
            }
        }
        if let Some(cut) = &self.eigenvector_cut {
            cut.check()?;
            if self.n_clusters == ClusterCountSetting::Auto {
                return Err("eigenvector_cut needs a fixed n_clusters".into());
            }
            if self.eigenvector_referee.is_some() {
                return Err(
                    "eigenvector_cut and eigenvector_referee both choose the eigenvector \
                     count: give one"
                        .into(),
                );
            }
        }
        if self.kmeans_restarts == 0 {
            return Err("kmeans_restarts must be at least 1".into());
        }
        if self.max_iter == 0 {
            return Err("max_iter must be at least 1".into());
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(format!("tol must be finite and ≥ 0, got {}", self.tol));
        }
        if !(self.eigen_tolerance.is_finite() && self.eigen_tolerance > 0.0) {
            return Err(format!(
                "eigen_tolerance must be finite and > 0, got {}",
                self.eigen_tolerance
            ));
        }
        if self.eigen_max_iterations == 0 {
            return Err("eigen_max_iterations must be at least 1".into());
        }
        Ok(())
    }

    /// Eigenvectors to compute for a graph of `n_samples` nodes.
    pub fn n_eigenvectors(&self, n_samples: usize) -> usize {
        match (self.n_eigenvectors, self.n_clusters) {
            (Some(m), ClusterCountSetting::Fixed(k)) => m.max(k),
            (Some(m), ClusterCountSetting::Auto) => m,
            (None, ClusterCountSetting::Fixed(k)) => k + self.extra_eigenvectors,
            (None, ClusterCountSetting::Auto) => AUTO_EIGENVALUES.min(n_samples),
        }
    }

    /// Said in the log when `n_eigenvectors` is below a fixed `n_clusters` (typically a
    /// 10-class recipe copied to more classes): k-means cannot separate k clusters in
    /// fewer than k dimensions, so k are used.
    pub fn eigenvector_warning(&self) -> Option<String> {
        match (self.n_eigenvectors, self.n_clusters) {
            (Some(m), ClusterCountSetting::Fixed(k)) if m < k => Some(format!(
                "warning: n_eigenvectors = {m} is fewer than n_clusters = {k}; using {k} \
                 (extra_eigenvectors = 2 keeps two spare ones for any n_clusters)"
            )),
            _ => None,
        }
    }

    pub fn eigen_options(&self, seed: u64) -> EigenOptions {
        EigenOptions {
            dense_threshold: self.eigen_dense_threshold,
            tolerance: self.eigen_tolerance,
            max_iterations: self.eigen_max_iterations,
            seed,
            ..EigenOptions::default()
        }
    }

    /// Everything `spectral_clustering` takes beyond the counts, seeded by the run.
    pub fn spectral_options(&self, seed: u64) -> SpectralOptions {
        SpectralOptions {
            eigen: self.eigen_options(seed),
            kmeans_restarts: self.kmeans_restarts,
            kmeans_max_iterations: self.max_iter,
            kmeans_tolerance: self.tol,
            kmeans_seed: seed,
            sizes: self.sizes.to_spectral(),
            restart_choice: self.restart_choice.to_spectral(),
        }
    }

    pub fn kmeans_options(&self, n_clusters: usize, seed: u64) -> KMeansOptions {
        KMeansOptions {
            n_clusters,
            restarts: self.kmeans_restarts,
            max_iterations: self.max_iter,
            tolerance: self.tol,
            seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(body: &str) -> Result<ClusterConfig, ConfigError> {
        let text = format!("[pipeline]\nseed = 1\n[cluster]\n{body}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text)?;
        ClusterConfig::from_pipeline(&pipeline)
    }

    #[test]
    fn defaults_fill_every_key() {
        let config = load("n_clusters = 10\n").unwrap();
        assert_eq!(
            config,
            ClusterConfig::with_defaults(ClusterCountSetting::Fixed(10))
        );
        assert_eq!(config.kmeans_restarts, 10);
        assert_eq!(config.max_iter, 300);
        assert_eq!(config.tol, 1e-4);
        assert!(!config.symmetrize);
        assert_eq!(config.n_eigenvectors(1000), 10);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["n_clusters"], 10);
        assert_eq!(json["eigen_dense_threshold"], 2000);
    }

    #[test]
    fn auto_and_explicit_keys() {
        let config = load(
            "n_clusters = \"auto\"\nn_eigenvectors = 12\nsymmetrize = true\nkmeans_restarts = 3\n",
        )
        .unwrap();
        assert_eq!(config.n_clusters, ClusterCountSetting::Auto);
        assert_eq!(config.n_eigenvectors(1000), 12);
        assert!(config.symmetrize);
        assert_eq!(serde_json::to_value(&config).unwrap()["n_clusters"], "auto");
        let config = load("n_clusters = \"auto\"\n").unwrap();
        assert_eq!(config.n_eigenvectors(1000), AUTO_EIGENVALUES);
        assert_eq!(config.n_eigenvectors(7), 7);
    }

    #[test]
    fn the_referee_parses_enters_the_key_only_when_set_and_needs_a_fixed_count() {
        let config = load(
            "n_clusters = 10\neigenvector_referee = { max_extra = 6, min_agreement = 0.75 }\n",
        )
        .unwrap();
        let referee = config.eigenvector_referee.unwrap();
        assert_eq!(
            (referee.max_extra, referee.min_agreement, referee.knn_graph),
            (6, Some(0.75), None)
        );
        // Keys left out stay out of the stage key, so runs made before `knn_graph` existed
        // keep theirs.
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json["eigenvector_referee"],
            serde_json::json!({"max_extra": 6, "min_agreement": 0.75})
        );
        let both = load(
            "n_clusters = 10\neigenvector_referee = { max_extra = 6, min_agreement = 0.75, knn_graph = 10 }\n",
        )
        .unwrap();
        assert_eq!(both.eigenvector_referee.unwrap().knn_graph, Some(10));
        let graph_only =
            load("n_clusters = 10\neigenvector_referee = { max_extra = 6, knn_graph = 10 }\n")
                .unwrap();
        assert_eq!(graph_only.eigenvector_referee.unwrap().min_agreement, None);
        let without = serde_json::to_value(load("n_clusters = 10\n").unwrap()).unwrap();
        assert!(without.get("eigenvector_referee").is_none());
        let err = load("n_clusters = \"auto\"\neigenvector_referee = { max_extra = 6, min_agreement = 0.75 }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a fixed n_clusters"), "{err}");
        let err =
            load("n_clusters = 10\neigenvector_referee = { max_extra = 6, min_agreement = 2.0 }\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("min_agreement"), "{err}");
        let err = load("n_clusters = 10\neigenvector_referee = { max_extra = 6 }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_agreement"), "{err}");
    }

    #[test]
    fn the_cut_parses_enters_the_key_only_when_set_and_excludes_the_referee() {
        let config =
            load("n_clusters = 6\nextra_eigenvectors = 2\neigenvector_cut = { max_extra = 6 }\n")
                .unwrap();
        assert_eq!(config.eigenvector_cut.unwrap().max_extra, 6);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["eigenvector_cut"], serde_json::json!({"max_extra": 6}));
        let without = serde_json::to_value(load("n_clusters = 6\n").unwrap()).unwrap();
        assert!(without.get("eigenvector_cut").is_none());
        for (text, expected) in [
            (
                "n_clusters = \"auto\"\neigenvector_cut = { max_extra = 6 }\n",
                "needs a fixed n_clusters",
            ),
            (
                "n_clusters = 6\neigenvector_cut = { max_extra = 0 }\n",
                "max_extra must be at least 1",
            ),
            (
                "n_clusters = 6\neigenvector_cut = { max_extra = 6, knn_graph = 10 }\n",
                "unknown field `knn_graph`",
            ),
            (
                "n_clusters = 6\neigenvector_cut = { max_extra = 6 }\neigenvector_referee = { max_extra = 6, knn_graph = 10 }\n",
                "give one",
            ),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let err = load("n_clusters = 1\n").unwrap_err().to_string();
        assert!(
            err.starts_with("pipelines/p.toml: [cluster]:")
                && err.contains("n_clusters must be at least 2"),
            "{err}"
        );
        let err = load("n_clusters = \"many\"\n").unwrap_err().to_string();
        assert!(err.contains("\"auto\""), "{err}");
        let err = load("n_clusters = 3\nkmeans_restart = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `kmeans_restart`"), "{err}");
        let err = load("k = 3\n").unwrap_err().to_string();
        assert!(err.contains("missing key `n_clusters`"), "{err}");
        let err = load("n_clusters = 3\ntol = -1.0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tol must be finite"), "{err}");
        let err = load("n_clusters = 3\nn_eigenvectors = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("n_eigenvectors must be at least 2"), "{err}");
        let err = load("n_clusters = 3\nn_eigenvectors = 4\nextra_eigenvectors = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("both set"), "{err}");
        let err = load("n_clusters = \"auto\"\nextra_eigenvectors = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a fixed n_clusters"), "{err}");
    }

    #[test]
    fn eigenvector_counts_follow_the_cluster_count() {
        // Two spare eigenvectors, whatever the class count.
        let config = load("n_clusters = 40\nextra_eigenvectors = 2\n").unwrap();
        assert_eq!(config.n_eigenvectors(400), 42);
        assert_eq!(config.eigenvector_warning(), None);
        // A 10-class recipe copied to 40 classes: raised to 40, and said.
        let config = load("n_clusters = 40\nn_eigenvectors = 12\n").unwrap();
        assert_eq!(config.n_eigenvectors(400), 40);
        let warning = config.eigenvector_warning().unwrap();
        assert!(
            warning.contains("n_eigenvectors = 12 is fewer than n_clusters = 40; using 40"),
            "{warning}"
        );
        // The stage key of a config without the new key is unchanged.
        let config = load("n_clusters = 10\nn_eigenvectors = 12\n").unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert!(json.get("extra_eigenvectors").is_none(), "{json}");
    }

    #[test]
    fn sizes_are_free_unless_held_equal() {
        let config = load("n_clusters = 10\n").unwrap();
        assert_eq!(config.sizes, SizesSetting::Free);
        assert_eq!(config.spectral_options(0).sizes, ClusterSizes::Free);
        // Free is left out of the stage key, so runs from before the key stay up to date.
        assert!(
            serde_json::to_value(&config)
                .unwrap()
                .get("sizes")
                .is_none()
        );
        let config = load("n_clusters = 10\nsizes = \"equal\"\n").unwrap();
        assert_eq!(config.spectral_options(0).sizes, ClusterSizes::Equal);
        assert_eq!(serde_json::to_value(&config).unwrap()["sizes"], "equal");
        let err = load("n_clusters = 10\nsizes = \"balanced\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown variant `balanced`") && err.contains("`equal`"),
            "{err}"
        );
    }

    #[test]
    fn the_kept_restart_is_judged_by_the_cut_unless_set() {
        let restart = |body: &str| load(body).unwrap().spectral_options(0).restart_choice;
        assert_eq!(restart("n_clusters = 10\n"), RestartChoice::NormalizedCut);
        assert_eq!(
            restart("n_clusters = 10\nsizes = \"equal\"\n"),
            RestartChoice::NormalizedCut
        );
        assert_eq!(
            restart("n_clusters = 10\nrestart_choice = \"inertia\"\n"),
            RestartChoice::Inertia
        );
        // The default stays out of the stage key; the other choice is in it.
        let unset = serde_json::to_value(load("n_clusters = 10\n").unwrap()).unwrap();
        assert!(unset.get("restart_choice").is_none());
        let set = load("n_clusters = 10\nrestart_choice = \"inertia\"\n").unwrap();
        assert_eq!(
            serde_json::to_value(&set).unwrap()["restart_choice"],
            "inertia"
        );
        let err = load("n_clusters = 10\nrestart_choice = \"ncut\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`normalized-cut`"), "{err}");
    }

    #[test]
    fn command_line_count_parses() {
        assert_eq!("auto".parse(), Ok(ClusterCountSetting::Auto));
        assert_eq!("4".parse(), Ok(ClusterCountSetting::Fixed(4)));
        assert!("1".parse::<ClusterCountSetting>().is_err());
        assert!("x".parse::<ClusterCountSetting>().is_err());
    }
}
