//! Pipeline files: one TOML per experiment, one section per stage (docs/caching.md).
//!
//! Each stage deserialises only its own section, with unknown keys rejected, so a typo in a
//! pipeline file is an error that names the file, the section and the key — never a silently
//! ignored setting.
//!
//! A pipeline may start from another: `extends = "mnist-demo"` (a pipeline name, looked up
//! beside the file and then in the nearest `pipelines/` folder above it) or
//! `extends = "../base.toml"` (a path relative to the file), then only the keys that
//! differ. Tables merge key by key, deepest first; any other value (numbers, strings,
//! arrays) replaces the base's. Stages see only the merged result, so their keys are the
//! same whether a setting was inherited or written out.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::member::MAX_MEMBERS;

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
    #[error("{path}: extends = {target:?}: {message}")]
    Extends {
        path: PathBuf,
        target: String,
        message: String,
    },
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
    /// How many times pretrain, train and affinity run, each member from its own seed,
    /// before one cluster stage clusters the mean of their graphs (`crate::member`).
    /// Not part of any member's key: member 0 is the one-member pipeline.
    #[serde(default = "one_member", skip_serializing_if = "is_one_member")]
    pub members: usize,
    /// Free text for people; not part of any stage key.
    #[serde(default, skip_serializing)]
    pub description: Option<String>,
}

fn one_member() -> usize {
    1
}

fn is_one_member(members: &usize) -> bool {
    *members == 1
}

/// A loaded pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file stem: `pipelines/mnist-demo.toml` is the pipeline `mnist-demo`.
    pub name: String,
    pub path: PathBuf,
    pub settings: PipelineSettings,
    table: toml::Table,
    /// The file each key was written in (`section.key`, `section.table.key`); keys from a
    /// base file name it in errors.
    origins: Vec<(String, PathBuf)>,
}

/// The top-level key naming the pipeline a file starts from.
pub const EXTENDS_KEY: &str = "extends";

/// Eigenvalues of the affinity that `[cluster] n_clusters = "auto"` scans for the largest
/// gap when `n_eigenvectors` is not given (capped at the sample count). 50 lets a many-class
/// set's gap be seen (a 30-class face set's gap lies at k = 30) while costing the eigen
/// solver little: 0.3–0.9 s more than 20 on the 10,000-sample Fashion-MNIST graphs.
pub const AUTO_EIGENVALUES: usize = 50;

/// How many files one `extends` chain may hold (a guard against cycles).
const MAX_EXTENDS_DEPTH: usize = 16;

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = read_text(path)?;
        Pipeline::parse(path, &text)
    }

    /// Parses pipeline text; `path` names it in errors and gives the pipeline its name, and
    /// an `extends` in it is resolved from the file's folder.
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, ConfigError> {
        let mut origins = Vec::new();
        let table = merged_table(path, text, &mut Vec::new(), &mut origins)?;
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
                members: 1,
                description: None,
            },
            table,
            origins,
        };
        pipeline.settings = pipeline.section("pipeline")?;
        let members = pipeline.settings.members;
        if !(1..=MAX_MEMBERS).contains(&members) {
            return Err(pipeline.invalid(
                "pipeline",
                format!("members = {members}: expected 1 to {MAX_MEMBERS}"),
            ));
        }
        Ok(pipeline)
    }

    /// `[cluster] n_clusters` when it is a number (not "auto"): the expected class count that
    /// train's collapse alarm and affinity's class-size fit default to.
    pub fn cluster_count(&self) -> Option<usize> {
        let value = self.table.get("cluster")?.get("n_clusters")?;
        value.as_integer().and_then(|k| usize::try_from(k).ok())
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
        let message = one_line(&message.into());
        // An unknown key written in a base file is reported against that file.
        if let Some(base) = unknown_field(&message).and_then(|key| self.written_in(section, key)) {
            return ConfigError::Invalid {
                path: base.to_path_buf(),
                section: section.into(),
                message: format!("{message} (inherited by {})", self.path.display()),
            };
        }
        ConfigError::Invalid {
            path: self.path.clone(),
            section: section.into(),
            message,
        }
    }

    /// Whether this file itself (not a base it extends) writes `key` of `section`, or a
    /// key inside it when it is a table.
    pub fn writes(&self, section: &str, key: &str) -> bool {
        let dotted = format!("{section}.{key}");
        let inside = format!("{dotted}.");
        self.origins.iter().any(|(origin, file)| {
            (*origin == dotted || origin.starts_with(&inside)) && *file == self.path
        })
    }

    /// An error for the first key of `section` that was renamed (`(old, new)` pairs): it
    /// names the new key, and the file that still writes the old one.
    pub fn check_renamed(
        &self,
        section: &str,
        renamed: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        let Some(table) = self.table.get(section).and_then(|v| v.as_table()) else {
            return Ok(());
        };
        for (old, new) in renamed {
            if table.contains_key(*old) {
                let path = match self.written_in(section, old) {
                    Some(base) => base.to_path_buf(),
                    None => self.path.clone(),
                };
                return Err(ConfigError::Invalid {
                    path,
                    section: section.into(),
                    message: format!(
                        "`{old}` is now called `{new}` (same meaning, same value): rename it"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The base file that wrote `key` somewhere in `section`, when this file did not.
    fn written_in(&self, section: &str, key: &str) -> Option<&Path> {
        let prefix = format!("{section}.");
        let suffix = format!(".{key}");
        let mut files = self
            .origins
            .iter()
            .filter(|(dotted, _)| dotted.starts_with(&prefix) && dotted.ends_with(&suffix))
            .map(|(_, file)| file.as_path());
        let first = files.next()?;
        let own = first == self.path || files.any(|file| file == self.path);
        (!own).then_some(first)
    }

    /// The merged configuration as TOML: what the stages read, after every `extends`.
    pub fn effective_toml(&self) -> String {
        let mut text = String::new();
        for section in SECTIONS {
            if let Some(table) = self.table.get(*section) {
                let mut one = toml::Table::new();
                one.insert((*section).to_string(), table.clone());
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(
                    &toml::to_string(&one).expect("a parsed TOML table serialises back to TOML"),
                );
            }
        }
        text
    }
}

/// `X` in serde's "unknown field `X`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.split("unknown field `").nth(1)?;
    rest.split('`').next()
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_table(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: one_line(&e.to_string()),
        })
}

/// The file's table with its `extends` chain merged under it. `chain` holds the files
/// being loaded, to refuse a cycle.
fn merged_table(
    path: &Path,
    text: &str,
    chain: &mut Vec<PathBuf>,
    origins: &mut Vec<(String, PathBuf)>,
) -> Result<toml::Table, ConfigError> {
    let mut table = parse_table(path, text)?;
    let target = table.remove(EXTENDS_KEY);
    record_origins(&table, "", path, origins);
    let Some(target) = target else {
        return Ok(table);
    };
    let extends_error = |target: &str, message: String| ConfigError::Extends {
        path: path.to_path_buf(),
        target: target.to_string(),
        message,
    };
    let target = target
        .as_str()
        .ok_or_else(|| extends_error(&target.to_string(), "must be a string".into()))?
        .to_string();
    let base_path = resolve_extends(path, &target).map_err(|m| extends_error(&target, m))?;
    let identity = base_path
        .canonicalize()
        .unwrap_or_else(|_| base_path.clone());
    chain.push(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()));
    if chain.contains(&identity) {
        return Err(extends_error(
            &target,
            "the pipelines extend each other in a cycle".into(),
        ));
    }
    if chain.len() >= MAX_EXTENDS_DEPTH {
        return Err(extends_error(
            &target,
            format!("more than {MAX_EXTENDS_DEPTH} files in one extends chain"),
        ));
    }
    let base_text = read_text(&base_path)?;
    let mut base = merged_table(&base_path, &base_text, chain, origins)?;
    chain.pop();
    merge_into(&mut base, table);
    Ok(base)
}

/// The file `extends = target` names: a `.toml` path relative to the extending file, or a
/// pipeline name beside it or in the nearest `pipelines/` folder above it.
fn resolve_extends(path: &Path, target: &str) -> Result<PathBuf, String> {
    let folder = path.parent().unwrap_or(Path::new(""));
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    if target.ends_with(".toml") {
        let base = folder.join(target);
        return if base.is_file() {
            Ok(base)
        } else {
            Err(format!("no file {}", base.display()))
        };
    }
    if target.is_empty() || target.contains(['/', '\\']) {
        return Err("a pipeline name (e.g. \"mnist-demo\") or a path ending in .toml".into());
    }
    let file = format!("{target}.toml");
    let mut tried = vec![folder.join(&file)];
    if let Some(pipelines) = folder
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "pipelines"))
    {
        tried.push(pipelines.join(&file));
    }
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(format!("no pipeline file (tried {})", tried.join(", ")))
}

/// Notes `path` as the file that wrote every key of `table` (dotted under `prefix`). A file
/// is recorded before its base, so the first entry of a key is the file that wins.
fn record_origins(
    table: &toml::Table,
    prefix: &str,
    path: &Path,
    origins: &mut Vec<(String, PathBuf)>,
) {
    for (key, value) in table {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => record_origins(inner, &dotted, path, origins),
            _ => {
                if !origins.iter().any(|(k, _)| *k == dotted) {
                    origins.push((dotted, path.to_path_buf()));
                }
            }
        }
    }
}

/// `over` on top of `base`: tables merge key by key, other values replace.
fn merge_into(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => {
                merge_into(base_table, over_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
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

    /// A `pipelines/` folder with `base.toml` and `ablations/`, in a temp dir.
    fn pipelines_dir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let pipelines = dir.path().join("pipelines");
        std::fs::create_dir_all(pipelines.join("ablations")).unwrap();
        std::fs::write(
            pipelines.join("base.toml"),
            "[pipeline]\nseed = 1\n[prepare]\nsource = \"idx\"\nlimit = 5\n\
             [train]\nalpha = 1.0\nbeta = 2.0\n[train.augment]\nnoise = 0.1\ncrop = 0.5\n",
        )
        .unwrap();
        (dir, pipelines)
    }

    #[test]
    fn extends_merges_tables_and_replaces_values() {
        let (_dir, pipelines) = pipelines_dir();
        let child = pipelines.join("ablations/no-ebm.toml");
        std::fs::write(
            &child,
            "extends = \"base\"\n[train]\nbeta = 0.0\n[train.augment]\nnoise = 0.0\n",
        )
        .unwrap();
        let p = Pipeline::load(&child).unwrap();
        assert_eq!(p.name, "no-ebm");
        assert_eq!(p.settings.seed, 1);
        let train = p.raw_section("train").unwrap();
        assert_eq!(train["alpha"].as_float(), Some(1.0));
        assert_eq!(train["beta"].as_float(), Some(0.0));
        let augment = train["augment"].as_table().unwrap();
        assert_eq!(augment["noise"].as_float(), Some(0.0));
        assert_eq!(augment["crop"].as_float(), Some(0.5));
        // Inherited or written out, a section deserialises to the same value.
        let prepare: Prepare = p.section("prepare").unwrap();
        assert_eq!(prepare.limit, Some(5));
        // A path works too, and a chain of two.
        let grandchild = pipelines.join("ablations/seed-2.toml");
        std::fs::write(
            &grandchild,
            "extends = \"no-ebm.toml\"\n[pipeline]\nseed = 2\n",
        )
        .unwrap();
        let p = Pipeline::load(&grandchild).unwrap();
        assert_eq!(p.settings.seed, 2);
        assert_eq!(
            p.raw_section("train").unwrap()["beta"].as_float(),
            Some(0.0)
        );
    }

    #[test]
    fn unknown_key_in_a_base_file_names_the_base() {
        let (_dir, pipelines) = pipelines_dir();
        std::fs::write(
            pipelines.join("typo.toml"),
            "[pipeline]\nseed = 1\n[prepare]\nsource = \"idx\"\nlimt = 5\n",
        )
        .unwrap();
        let child = pipelines.join("child.toml");
        std::fs::write(&child, "extends = \"typo\"\n[pipeline]\nseed = 2\n").unwrap();
        let p = Pipeline::load(&child).unwrap();
        let err = p.section::<Prepare>("prepare").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: [prepare]: unknown field `limt`",
                pipelines.join("typo.toml").display()
            )) && err.contains(&format!("(inherited by {})", child.display())),
            "{err}"
        );
        // The same typo written in the extending file is reported there.
        std::fs::write(&child, "extends = \"typo\"\n[prepare]\nlimt = 6\n").unwrap();
        let p = Pipeline::load(&child).unwrap();
        let err = p.section::<Prepare>("prepare").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: [prepare]:", child.display()))
                && !err.contains("inherited"),
            "{err}"
        );
    }

    #[test]
    fn effective_toml_is_the_merged_table_in_section_order() {
        let (_dir, pipelines) = pipelines_dir();
        let child = pipelines.join("child.toml");
        std::fs::write(&child, "extends = \"base\"\n[train]\nbeta = 0.5\n").unwrap();
        let p = Pipeline::load(&child).unwrap();
        let text = p.effective_toml();
        assert!(!text.contains("extends"), "{text}");
        let reparsed = Pipeline::parse(&pipelines.join("flat.toml"), &text).unwrap();
        assert_eq!(reparsed.table, p.table);
        let order: Vec<usize> = ["[pipeline]", "[prepare]", "[train]"]
            .iter()
            .map(|h| text.find(h).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn extends_errors_name_the_file_and_the_target() {
        let (_dir, pipelines) = pipelines_dir();
        let child = pipelines.join("child.toml");
        std::fs::write(&child, "extends = \"nope\"\n").unwrap();
        let err = Pipeline::load(&child).unwrap_err().to_string();
        assert!(
            err.contains("child.toml: extends = \"nope\": no pipeline file (tried ")
                && err.contains("nope.toml"),
            "{err}"
        );
        std::fs::write(&child, "extends = 3\n").unwrap();
        let err = Pipeline::load(&child).unwrap_err().to_string();
        assert!(err.contains("must be a string"), "{err}");
        // Two files that extend each other.
        std::fs::write(pipelines.join("a.toml"), "extends = \"b\"\n").unwrap();
        std::fs::write(pipelines.join("b.toml"), "extends = \"a\"\n").unwrap();
        let err = Pipeline::load(&pipelines.join("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn renamed_keys_and_who_writes_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml");
        std::fs::write(
            &base,
            "[pipeline]\nseed = 0\n[train]\ntau = 0.5\n[train.augment]\nnoise = { std = 0.1 }\n",
        )
        .unwrap();
        let child = dir.path().join("child.toml");
        std::fs::write(&child, "extends = \"base.toml\"\n[train]\nbeta = 1.0\n").unwrap();
        let p = Pipeline::load(&child).unwrap();
        assert!(p.writes("train", "beta"));
        assert!(!p.writes("train", "augment") && !p.writes("train", "tau"));
        assert!(Pipeline::load(&base).unwrap().writes("train", "augment"));
        let err = p
            .check_renamed("train", &[("tau", "ssl_temperature")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("base.toml: [train]: `tau` is now called `ssl_temperature`"),
            "{err}"
        );
        assert!(p.check_renamed("train", &[("gamma", "weight")]).is_ok());
    }
}
