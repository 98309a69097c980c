//! `manifest.json`: what a stage run produced and from what. Written last, so a manifest
//! that exists describes outputs that were completely written.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use ebsc_io::artifacts::REPORT_DIR;

use crate::hash::sha256_file;

pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEntry {
    pub size: u64,
    pub sha256: String,
}

/// Recorded for people, never hashed into a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub git_revision: Option<String>,
    pub device: String,
    pub wall_seconds: f64,
    pub finished_at_unix: u64,
    pub ebsc_version: String,
    pub command: Vec<String>,
}

impl Provenance {
    /// The provenance of a manifest written by hand (tests): no revision, no command,
    /// no time.
    pub fn by_hand() -> Provenance {
        Provenance {
            git_revision: None,
            device: "cpu".into(),
            wall_seconds: 0.0,
            finished_at_unix: 0,
            ebsc_version: "test".into(),
            command: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub pipeline: String,
    pub stage: String,
    pub stage_version: u32,
    /// Hash of everything below that determines the outputs.
    pub key: String,
    /// The stage's config section in canonical form.
    pub config: serde_json::Value,
    /// Raw files read (path → content hash), for the stage that reads outside the pipeline.
    pub inputs: BTreeMap<String, String>,
    /// Upstream stage → its key.
    pub upstream: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, OutputEntry>,
    /// Numbers a stage reports about its outputs (sample counts, losses, errors).
    pub stats: serde_json::Value,
    pub provenance: Provenance,
}

/// Why the outputs on disk do not match a manifest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputProblem {
    #[error("{file} is missing")]
    Missing { file: String },
    #[error("{file} has {actual} bytes, the manifest says {expected}")]
    SizeChanged {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file} does not match its recorded sha256 (modified or corrupt)")]
    HashChanged { file: String },
}

impl Manifest {
    pub fn new_format() -> u32 {
        FORMAT
    }

    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid manifest", path.display()))?;
        anyhow::ensure!(
            manifest.format == FORMAT,
            "{}: manifest format {} is not the supported {FORMAT}",
            path.display(),
            manifest.format
        );
        Ok(manifest)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self).context("serialising manifest")?;
        text.push('\n');
        crate::atomic::write_atomic(path, text.as_bytes())
    }

    /// Checks size, then content hash, of every output in `dir`; the first problem.
    pub fn verify_outputs(&self, dir: &Path) -> anyhow::Result<Result<(), OutputProblem>> {
        self.first_problem(dir, |_| true)
    }

    /// As [`Manifest::verify_outputs`], for the outputs that are not [derived](is_derived):
    /// the ones a stage reads.
    pub fn verify_primary_outputs(&self, dir: &Path) -> anyhow::Result<Result<(), OutputProblem>> {
        self.first_problem(dir, |file| !is_derived(file))
    }

    /// Every problem of the [derived](is_derived) outputs, in the manifest's order.
    pub fn derived_problems(&self, dir: &Path) -> anyhow::Result<Vec<OutputProblem>> {
        let mut problems = Vec::new();
        for (file, entry) in self.outputs.iter().filter(|(f, _)| is_derived(f)) {
            if let Some(problem) = check_output(dir, file, entry)? {
                problems.push(problem);
            }
        }
        Ok(problems)
    }

    fn first_problem(
        &self,
        dir: &Path,
        which: impl Fn(&str) -> bool,
    ) -> anyhow::Result<Result<(), OutputProblem>> {
        for (file, entry) in self.outputs.iter().filter(|(f, _)| which(f)) {
            if let Some(problem) = check_output(dir, file, entry)? {
                return Ok(Err(problem));
            }
        }
        Ok(Ok(()))
    }
}

/// Whether an output is derived: a figure or note under `report/`, drawn for people from
/// the stage's other outputs. No stage reads one, so none is verified or hashed upstream,
/// and a stage that can redraw its reports does so instead of running again
/// ([`crate::StageRunner::redraw_reports`]).
pub fn is_derived(file: &str) -> bool {
    file.strip_prefix(REPORT_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Size, then content hash, of one output.
fn check_output(
    dir: &Path,
    file: &str,
    entry: &OutputEntry,
) -> anyhow::Result<Option<OutputProblem>> {
    let path = dir.join(file);
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(Some(OutputProblem::Missing {
            file: file.to_string(),
        }));
    };
    if meta.len() != entry.size {
        return Ok(Some(OutputProblem::SizeChanged {
            file: file.to_string(),
            expected: entry.size,
            actual: meta.len(),
        }));
    }
    let (sha256, _) = sha256_file(&path)?;
    if sha256 != entry.sha256 {
        return Ok(Some(OutputProblem::HashChanged {
            file: file.to_string(),
        }));
    }
    Ok(None)
}

pub fn output_entry(path: &Path) -> anyhow::Result<OutputEntry> {
    let (sha256, size) = sha256_file(path)?;
    Ok(OutputEntry { size, sha256 })
}
