//! The `[affinity]` section (docs/method.md "Inference"):
//!
//! ```toml
//! [affinity]
//! top_k = 20               # coefficients kept per row, largest |c| first
//! block_size = 4096        # rows and columns per block: memory O(N·top_k + block²)
//! normalize_rows = true    # L2-normalise each row of C before building the graph
//! affinity = "symmetric"   # W = (|C| + |C|ᵀ)/2, or "knn": a cosine kNN graph on rows of C
//! knn_k = 3                # neighbours per row, only with affinity = "knn"
//! ```

use ebsc_core::{ConfigError, Pipeline};
use serde::{Deserialize, Serialize};

pub const SECTION: &str = "affinity";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AffinityKind {
    Symmetric,
    Knn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffinityConfig {
    pub top_k: usize,
    pub block_size: usize,
    pub normalize_rows: bool,
    pub affinity: AffinityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn_k: Option<usize>,
}

impl AffinityConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<AffinityConfig, ConfigError> {
        let config: AffinityConfig = pipeline.section(SECTION)?;
        config
            .validate()
            .map_err(|message| pipeline.invalid(SECTION, message))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 {
            return Err("top_k must be at least 1".into());
        }
        if self.block_size == 0 {
            return Err("block_size must be at least 1".into());
        }
        match (self.affinity, self.knn_k) {
            (AffinityKind::Knn, None) => Err("affinity = \"knn\" needs knn_k (≥ 1)".into()),
            (AffinityKind::Knn, Some(0)) => Err("knn_k must be at least 1".into()),
            (AffinityKind::Symmetric, Some(_)) => {
                Err("knn_k is only used with affinity = \"knn\"".into())
            }
            _ => Ok(()),
        }
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
    fn reads_both_kinds_and_names_bad_keys() {
        let c = load("top_k = 5\nblock_size = 64\nnormalize_rows = true\naffinity = \"symmetric\"")
            .unwrap();
        assert_eq!(
            (c.top_k, c.affinity, c.knn_k),
            (5, AffinityKind::Symmetric, None)
        );
        let c = load(
            "top_k = 5\nblock_size = 64\nnormalize_rows = false\naffinity = \"knn\"\nknn_k = 3",
        )
        .unwrap();
        assert_eq!(c.knn_k, Some(3));
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
}
