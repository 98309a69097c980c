//! The `[prepare]` section: which source to read, then which samples to keep.
//!
//! ```toml
//! [prepare]
//! source = "idx"                       # idx | cifar | image-folder | table | synthetic-subspaces
//! images = "data/mnist-test/t10k-images-idx3-ubyte.gz"
//! labels = "data/mnist-test/t10k-labels-idx1-ubyte.gz"
//! splits = ["test"]                    # optional: keep these splits only
//! subset = { per_class = 100 }         # optional: seeded subset, `total` or `per_class`
//! ```

use std::path::PathBuf;

use ebsc_core::{ConfigError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::sources::cifar::CifarConfig;
use crate::sources::idx::IdxConfig;
use crate::sources::image_folder::ImageFolderConfig;
use crate::sources::synthetic::SyntheticConfig;
use crate::sources::table::TableConfig;

pub const SECTION: &str = "prepare";

/// The source and its own keys; each variant rejects keys it does not know.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
// Read once a stage and passed by reference: a table's many optional keys cost nothing here,
// and boxing them would clutter every match on the source.
#[allow(clippy::large_enum_variant)]
pub enum SourceConfig {
    Idx(IdxConfig),
    Cifar(CifarConfig),
    ImageFolder(ImageFolderConfig),
    Table(TableConfig),
    SyntheticSubspaces(SyntheticConfig),
}

impl SourceConfig {
    /// Files and folders the source reads; their contents go into the stage key.
    pub fn input_paths(&self) -> Vec<PathBuf> {
        match self {
            SourceConfig::Idx(c) => c
                .images
                .to_vec()
                .into_iter()
                .chain(c.labels.to_vec())
                .collect(),
            SourceConfig::Cifar(c) => vec![c.path.clone()],
            SourceConfig::ImageFolder(c) => std::iter::once(c.path.clone())
                .chain(c.labels_file.clone())
                .collect(),
            // Labels saved apart are an input too: a change to them reruns the stage.
            SourceConfig::Table(c) => match c.class_files.as_ref().or(c.split_files.as_ref()) {
                Some(files) => files
                    .iter()
                    .chain(c.split_labels.iter().flatten())
                    .cloned()
                    .collect(),
                None => std::iter::once(c.path.clone())
                    .chain(c.labels_path.clone())
                    .collect(),
            },
            SourceConfig::SyntheticSubspaces(_) => Vec::new(),
        }
    }
}

/// A seeded subset: `total` samples overall, or `per_class` samples of each class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetConfig {
    #[serde(default)]
    pub total: Option<usize>,
    #[serde(default)]
    pub per_class: Option<usize>,
}

/// Selection that applies to every source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionConfig {
    /// Keep only these splits (e.g. `["test"]`); all when absent.
    #[serde(default)]
    pub splits: Option<Vec<String>>,
    #[serde(default)]
    pub subset: Option<SubsetConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrepareConfig {
    #[serde(flatten)]
    pub source: SourceConfig,
    #[serde(flatten)]
    pub selection: SelectionConfig,
}

impl PrepareConfig {
    pub fn from_pipeline(pipeline: &Pipeline) -> Result<PrepareConfig, ConfigError> {
        let mut raw = pipeline.raw_section(SECTION)?.clone();
        let mut selection = toml::Table::new();
        for key in ["splits", "subset"] {
            if let Some(value) = raw.remove(key) {
                selection.insert(key.to_string(), value);
            }
        }
        if !raw.contains_key("source") {
            return Err(pipeline.invalid(
                SECTION,
                "missing key `source`; expected one of idx, cifar, image-folder, table, synthetic-subspaces",
            ));
        }
        let source: SourceConfig = pipeline.deserialize(SECTION, raw)?;
        let selection: SelectionConfig = pipeline.deserialize(SECTION, selection)?;
        if let Some(subset) = &selection.subset {
            match (subset.total, subset.per_class) {
                (Some(0), _) | (_, Some(0)) => {
                    return Err(pipeline.invalid(SECTION, "subset sizes must be at least 1"));
                }
                (Some(_), Some(_)) | (None, None) => {
                    return Err(pipeline.invalid(
                        SECTION,
                        "subset takes exactly one of `total` or `per_class`",
                    ));
                }
                _ => {}
            }
        }
        Ok(PrepareConfig { source, selection })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(body: &str) -> Result<PrepareConfig, ConfigError> {
        let text = format!("[pipeline]\nseed = 1\n[prepare]\n{body}");
        let pipeline = Pipeline::parse(Path::new("pipelines/p.toml"), &text)?;
        PrepareConfig::from_pipeline(&pipeline)
    }

    #[test]
    fn idx_with_selection() {
        let config = load(
            "source = \"idx\"\nimages = \"a.gz\"\nlabels = \"b.gz\"\nsplits = [\"test\"]\nsubset = { per_class = 3 }\n",
        )
        .unwrap();
        assert!(matches!(config.source, SourceConfig::Idx(_)));
        assert_eq!(config.selection.splits, Some(vec!["test".to_string()]));
        assert_eq!(
            config.source.input_paths(),
            vec![PathBuf::from("a.gz"), PathBuf::from("b.gz")]
        );
    }

    #[test]
    fn a_tables_labels_saved_apart_are_an_input() {
        let config =
            load("source = \"table\"\npath = \"X.npy\"\nlabels_path = \"y.npy\"\n").unwrap();
        assert_eq!(
            config.source.input_paths(),
            vec![PathBuf::from("X.npy"), PathBuf::from("y.npy")]
        );
    }

    #[test]
    fn unknown_source_and_unknown_key_are_named() {
        let err = load("source = \"mnist\"\n").unwrap_err().to_string();
        assert!(
            err.starts_with("pipelines/p.toml: [prepare]: unknown variant `mnist`"),
            "{err}"
        );
        let err = load("source = \"idx\"\nimages = \"a\"\nlabels = \"b\"\nresize = [2, 2]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[prepare]") && err.contains("unknown field `resize`"),
            "{err}"
        );
        let err = load("images = \"a\"\n").unwrap_err().to_string();
        assert!(err.contains("missing key `source`"), "{err}");
    }

    #[test]
    fn subset_needs_exactly_one_size() {
        let err = load("source = \"idx\"\nimages = \"a\"\nlabels = \"b\"\nsubset = { total = 1, per_class = 2 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exactly one of `total` or `per_class`"),
            "{err}"
        );
        let err = load("source = \"idx\"\nimages = \"a\"\nlabels = \"b\"\nsubset = { totl = 1 }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `totl`"), "{err}");
    }
}
