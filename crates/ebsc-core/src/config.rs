//! Pipeline files: one TOML per experiment, one section per stage (DESIGN.md §3).
//!
//! Each stage deserialises only its own section, with unknown keys rejected, so a typo in a
//! pipeline file is an error that names the file, the section and the key — never a silently
//! ignored setting.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Sections a pipeline file may hold: the global settings and one per stage.
pub const SECTIONS: &[&str] = &[
    "pipeline", "prepare", "pretrain", "train", "affinity", "cluster",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read pipeline file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: unknown section [{section}]; expected one of {}", SECTIONS.join(", "))]
    UnknownSection { path: PathBuf, section: String },
    #[error("{path}: `{key}` must sit inside a section such as [prepare]")]
    TopLevelKey { path: PathBuf, key: String },
    #[error("{path}: missing section [{section}]")]
    MissingSection { path: PathBuf, section: String },
    #[error("{path}: [{section}]: {message}")]
    Invalid {
        path: PathBuf,
        section: String,
        message: String,
    },
}

/// Settings of the `[pipeline]` section that every stage shares.
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Root of all randomness in the pipeline; every stage derives its streams from it.
    pub seed: u64,
    /// Free text for people; not part of any stage key.
    #[serde(default, skip_serializing)]
    pub description: Option<String>,
}

/// A loaded pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file stem: `pipelines/mnist-demo.toml` is the pipeline `mnist-demo`.
    pub name: String,
    pub path: PathBuf,
    pub settings: PipelineSettings,
    table: toml::Table,
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Pipeline::parse(path, &text)
    }

    /// Parses pipeline text; `path` names it in errors and gives the pipeline its name.
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: one_line(&e.to_string()),
                })?;
        for (key, value) in &table {
            if !value.is_table() {
                return Err(ConfigError::TopLevelKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                });
            }
            if !SECTIONS.contains(&key.as_str()) {
                return Err(ConfigError::UnknownSection {
                    path: path.to_path_buf(),
                    section: key.clone(),
                });
            }
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::Invalid {
                path: path.to_path_buf(),
                section: "pipeline".into(),
                message: "the file name must give the pipeline a name".into(),
            })?
            .to_string();
        let mut pipeline = Pipeline {
            name,
            path: path.to_path_buf(),
            settings: PipelineSettings {
                seed: 0,
                description: None,
            },
            table,
        };
        pipeline.settings = pipeline.section("pipeline")?;
        Ok(pipeline)
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.table.contains_key(section)
    }

    /// The raw TOML of a section, for stages that split it before deserialising.
    pub fn raw_section(&self, section: &str) -> Result<&toml::Table, ConfigError> {
        self.table
            .get(section)
            .and_then(|v| v.as_table())
            .ok_or_else(|| ConfigError::MissingSection {
                path: self.path.clone(),
                section: section.into(),
            })
    }

    /// Deserialises a section; with `deny_unknown_fields` on `T`, a stray key is an error
    /// naming the file, the section and the key.
    pub fn section<T: DeserializeOwned>(&self, section: &str) -> Result<T, ConfigError> {
        let raw = self.raw_section(section)?;
        self.deserialize(section, raw.clone())
    }

    /// Deserialises part of a section (`section` only names it in errors).
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        section: &str,
        table: toml::Table,
    ) -> Result<T, ConfigError> {
        T::deserialize(toml::Value::Table(table)).map_err(|e| self.invalid(section, e.to_string()))
    }

    pub fn invalid(&self, section: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            section: section.into(),
            message: one_line(&message.into()),
        }
    }
}

/// The canonical form of a config value that goes into a stage key: JSON with sorted keys.
pub fn canonical_json<T: Serialize>(value: &T) -> serde_json::Value {
    // serde_json's Map is a BTreeMap (the `preserve_order` feature is off), so keys are
    // sorted and the text is the same whatever order the TOML listed them in.
    serde_json::to_value(value).expect("config structs serialise to JSON: plain data, string keys")
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Prepare {
        source: String,
        #[serde(default)]
        limit: Option<u32>,
    }

    fn parse(text: &str) -> Result<Pipeline, ConfigError> {
        Pipeline::parse(Path::new("pipelines/demo.toml"), text)
    }

    #[test]
    fn loads_sections_and_name() {
        let p = parse("[pipeline]\nseed = 7\n[prepare]\nsource = \"idx\"\n").unwrap();
        assert_eq!(p.name, "demo");
        assert_eq!(p.settings.seed, 7);
        let prepare: Prepare = p.section("prepare").unwrap();
        assert_eq!(prepare.source, "idx");
        assert_eq!(prepare.limit, None);
    }

    #[test]
    fn unknown_key_names_file_section_and_key() {
        let p = parse("[pipeline]\nseed = 1\n[prepare]\nsource = \"idx\"\nlimt = 3\n").unwrap();
        let err = p.section::<Prepare>("prepare").unwrap_err().to_string();
        assert!(err.starts_with("pipelines/demo.toml: [prepare]:"), "{err}");
        assert!(err.contains("unknown field `limt`"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn unknown_section_and_top_level_key_are_errors() {
        let err = parse("[pipeline]\nseed = 1\n[prepair]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown section [prepair]"), "{err}");
        let err = parse("seed = 1\n").unwrap_err().to_string();
        assert!(err.contains("`seed` must sit inside a section"), "{err}");
    }

    #[test]
    fn key_in_wrong_section_is_an_error() {
        let err = parse("[pipeline]\nseed = 1\nsource = \"idx\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[pipeline]") && err.contains("unknown field `source`"),
            "{err}"
        );
    }

    #[test]
    fn missing_seed_and_syntax_errors_are_reported() {
        let err = parse("[pipeline]\n").unwrap_err().to_string();
        assert!(err.contains("missing field `seed`"), "{err}");
        let err = parse("[pipeline\n").unwrap_err().to_string();
        assert!(
            err.starts_with("pipelines/demo.toml: not valid TOML"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a = parse("[pipeline]\nseed = 1\n[prepare]\nsource = \"x\"\nlimit = 2\n").unwrap();
        let b = parse("[prepare]\nlimit = 2\nsource = \"x\"\n[pipeline]\nseed = 1\n").unwrap();
        let a: Prepare = a.section("prepare").unwrap();
        let b: Prepare = b.section("prepare").unwrap();
        assert_eq!(
            canonical_json(&a).to_string(),
            canonical_json(&b).to_string()
        );
    }
}
