//! Running one stage: key, freshness, lock, atomic outputs, manifest last (docs/caching.md).
//!
//! ```text
//! lock <stage>/.lock ─► key = H(stage, version, config, inputs, upstream manifests)
//!   ├─ manifest key matches and outputs verify ─► "up to date"
//!   ├─ key matches, only report/ files (derived) are missing or changed, and the stage
//!   │  can redraw them ─► redraw them, re-record them in the manifest ─► "up to date"
//!   └─ otherwise: say why, delete manifest, run body (outputs via temp + rename,
//!      checkpoints under .work/<key>/), hash outputs, write manifest
//!      (body failed: the old manifest goes back if every output it lists is unchanged)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ebsc_io::artifacts::Artifact;
use serde::Serialize;

use crate::atomic::AtomicFile;
use crate::config::{Pipeline, canonical_json};
use crate::hash::{KeyHasher, sha256_path};
use crate::lock::StageLock;
use crate::manifest::{
    MANIFEST_FILE, Manifest, OutputProblem, Provenance, is_derived, output_entry,
};
use crate::member::{member_seed, member_stage_label, member_stage_path};
use crate::progress::{Progress, ProgressMode, format_duration};

const WORK_DIR: &str = ".work";
const LOCK_FILE: &str = ".lock";

/// Whether a stage's outputs are current, as a value rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale { reason: String },
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    UpToDate {
        key: String,
    },
    Ran {
        key: String,
        elapsed: Duration,
    },
    /// Up to date but for derived files (`report/`), which were drawn again from the
    /// stage's other outputs: `files`, as the redraw wrote them.
    Redrawn {
        key: String,
        files: Vec<String>,
    },
}

impl Outcome {
    /// The one line a stage ends with.
    pub fn summary(&self, stage: &str) -> String {
        match self {
            Outcome::UpToDate { key } => format!("{stage}: up to date (key {})", &key[..12]),
            Outcome::Redrawn { key, files } => format!(
                "{stage}: up to date, {} report file{} redrawn (key {})",
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                &key[..12]
            ),
            Outcome::Ran { key, elapsed } => format!(
                "{stage}: done in {} (key {})",
                format_duration(*elapsed),
                &key[..12]
            ),
        }
    }
}

/// Describes a stage before it runs: what it is, what it reads, where it writes.
pub struct StageRunner<'a> {
    pipeline: &'a Pipeline,
    runs_dir: PathBuf,
    stage: String,
    version: u32,
    /// Which member's run this is (0: the pipeline's own; `crate::member`).
    member: usize,
    /// The stage's own settings; the key's config adds the member's seed to them.
    stage_config: serde_json::Value,
    inputs: Vec<PathBuf>,
    /// Upstream stages and the outputs of theirs that this stage reads (`None`: all).
    upstream: Vec<(String, Option<Vec<String>>)>,
    progress: ProgressMode,
    redraw: Option<Redraw<'a>>,
}

/// How a stage draws its `report/` files again from its other outputs.
struct Redraw<'a> {
    /// The outputs they are drawn from, for the log.
    from: Vec<String>,
    draw: Box<DrawFn<'a>>,
}

type DrawFn<'a> = dyn FnOnce(&mut StageRun) -> anyhow::Result<()> + 'a;

/// What the manifest on disk says against the key the stage would have now.
enum Check {
    Fresh,
    Missing,
    Stale(String),
    /// The key matches and every output a stage reads verifies; these derived ones do not.
    Derived(Vec<OutputProblem>),
}

/// Key and its parts, as they go into the manifest.
struct KeyParts {
    key: String,
    inputs: BTreeMap<String, String>,
    upstream: BTreeMap<String, String>,
}

impl<'a> StageRunner<'a> {
    pub fn new(pipeline: &'a Pipeline, runs_dir: &Path, stage: &str, version: u32) -> Self {
        StageRunner {
            pipeline,
            runs_dir: runs_dir.to_path_buf(),
            stage: stage.to_string(),
            version,
            member: 0,
            stage_config: serde_json::Value::Null,
            inputs: Vec::new(),
            upstream: Vec::new(),
            progress: ProgressMode::Auto,
            redraw: None,
        }
    }

    /// The stage's config; the seed is added, since every stage draws from it.
    pub fn config<T: Serialize>(mut self, config: &T) -> Self {
        self.stage_config = canonical_json(config);
        self
    }

    /// Runs member `member` of the pipeline (`crate::member`): its own seed, and its own
    /// folders for the stages members do not share. Member 0 is the runner as it was.
    pub fn member(mut self, member: usize) -> Self {
        self.member = member;
        self
    }

    /// The seed this run draws from: the pipeline's, or its member's.
    pub fn seed(&self) -> u64 {
        member_seed(self.pipeline.settings.seed, self.member)
    }

    /// What goes into the key and the manifest as the config: the seed and the stage's
    /// settings.
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({
            "seed": self.seed(),
            "stage": self.stage_config,
        })
    }

    /// A raw file or folder the stage reads; its content is hashed into the key.
    pub fn input(mut self, path: impl Into<PathBuf>) -> Self {
        self.inputs.push(path.into());
        self
    }

    /// An upstream stage of the same pipeline whose outputs this stage reads, all of them.
    pub fn upstream(mut self, stage: &str) -> Self {
        self.upstream.push((stage.to_string(), None));
        self
    }

    /// Upstream artifacts, the only ones of their stages this stage reads: only their
    /// hashes go into the key, so an upstream rebuild that changes another output (a
    /// metrics log with its timings) leaves this stage up to date. Every upstream output is
    /// still verified, the derived reports aside.
    pub fn upstream_reading(mut self, artifacts: &[Artifact]) -> Self {
        for artifact in artifacts {
            self.add_upstream_files(artifact.stage.to_string(), artifact.files());
        }
        self
    }

    /// `files` of upstream `stage` join what this stage reads of it (nothing to add where
    /// it reads all of that stage).
    fn add_upstream_files(&mut self, stage: String, files: Vec<String>) {
        match self.upstream.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, Some(reads))) => reads.extend(files),
            Some((_, None)) => {}
            None => self.upstream.push((stage, Some(files))),
        }
    }

    /// How this stage redraws its derived outputs (`report/`, [`is_derived`]) from `from`,
    /// another of its outputs. When the key matches and only derived files are missing or
    /// changed, `redraw` runs instead of the body: it writes the reports through
    /// [`StageRun::write_output`] as the body does, into the same folder, and their new
    /// entries replace the old ones in the manifest. `--force` runs the body as ever; a
    /// stage without a redraw runs its body when a report is damaged.
    pub fn redraw_reports(
        mut self,
        from: &Artifact,
        redraw: impl FnOnce(&mut StageRun) -> anyhow::Result<()> + 'a,
    ) -> Self {
        self.redraw = Some(Redraw {
            from: from.files(),
            draw: Box::new(redraw),
        });
        self
    }

    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    pub fn pipeline_dir(&self) -> PathBuf {
        self.runs_dir.join(&self.pipeline.name)
    }

    pub fn stage_dir(&self) -> PathBuf {
        self.pipeline_dir()
            .join(member_stage_path(self.member, &self.stage))
    }

    /// Where an upstream stage's outputs live: this member's run of it, or the shared one.
    pub fn upstream_dir(&self, stage: &str) -> PathBuf {
        self.pipeline_dir()
            .join(member_stage_path(self.member, stage))
    }

    /// Upstream artifacts of another member (the cluster stage reads every member's
    /// graph): recorded as upstream stages `member-<m>/<stage>`, only these files in the key.
    pub fn member_upstream_reading(mut self, member: usize, artifacts: &[Artifact]) -> Self {
        for artifact in artifacts {
            self.add_upstream_files(member_stage_label(member, artifact.stage), artifact.files());
        }
        self
    }

    /// Where another member's upstream artifact lives.
    pub fn member_upstream_path(&self, member: usize, artifact: &Artifact) -> PathBuf {
        artifact.path(
            &self
                .pipeline_dir()
                .join(member_stage_path(member, artifact.stage)),
        )
    }

    /// Where an upstream artifact of this pipeline lives.
    pub fn upstream_path(&self, artifact: &Artifact) -> PathBuf {
        artifact.path(&self.upstream_dir(artifact.stage))
    }

    fn label(&self) -> String {
        format!("{}/{}", self.pipeline.name, self.stage_label())
    }

    /// `train`, or `member-1/train` for another member's run.
    fn stage_label(&self) -> String {
        member_stage_label(self.member, &self.stage)
    }

    fn key_parts(&self) -> anyhow::Result<KeyParts> {
        let mut hasher = KeyHasher::new("ebsc-stage-key-v1");
        hasher
            .part("stage", &self.stage)
            .part("version", &self.version.to_string())
            .part("config", &self.config_json().to_string());
        let mut inputs = BTreeMap::new();
        for path in &self.inputs {
            let hash = sha256_path(path)?;
            let name = path.to_string_lossy().into_owned();
            hasher.part("input", &name).part("sha256", &hash);
            inputs.insert(name, hash);
        }
        let mut upstream = BTreeMap::new();
        for (stage, reads) in &self.upstream {
            let manifest = self.verified_upstream(stage)?;
            hasher.part("upstream", stage).part("key", &manifest.key);
            if let Some(reads) = reads
                && let Some(file) = reads.iter().find(|f| !manifest.outputs.contains_key(*f))
            {
                anyhow::bail!(
                    "upstream stage {stage} has no output {file} (its manifest lists {}); run `just {} {}` first",
                    manifest
                        .outputs
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    recipe_of(stage),
                    self.pipeline.name
                );
            }
            // Of all outputs, those a stage reads: not the derived reports.
            for (file, entry) in &manifest.outputs {
                let read = match reads {
                    Some(reads) => reads.contains(file),
                    None => !is_derived(file),
                };
                if read {
                    hasher.part("file", file).part("sha256", &entry.sha256);
                }
            }
            upstream.insert(stage.clone(), manifest.key);
        }
        Ok(KeyParts {
            key: hasher.finish(),
            inputs,
            upstream,
        })
    }

    /// An upstream manifest whose outputs are intact, or an error that says what to run.
    /// Derived outputs (`report/`) are not checked: no stage reads them.
    fn verified_upstream(&self, stage: &str) -> anyhow::Result<Manifest> {
        let dir = self.upstream_dir(stage);
        let path = dir.join(MANIFEST_FILE);
        let rerun = format!(
            "run `just {} {}` first",
            recipe_of(stage),
            self.pipeline.name
        );
        if !path.exists() {
            anyhow::bail!(
                "upstream stage {stage} has not completed for pipeline {} ({} is missing); {rerun}",
                self.pipeline.name,
                path.display()
            );
        }
        let manifest = Manifest::read(&path)?;
        if let Err(problem) = manifest.verify_primary_outputs(&dir)? {
            anyhow::bail!("upstream stage {stage}: {problem}; {rerun}");
        }
        Ok(manifest)
    }

    /// The key the stage would have now: what decides its outputs (verifies upstream, as
    /// [`StageRunner::freshness`] does). Work done outside [`StageRunner::run`], such as a
    /// shard of rows, is labelled with it.
    pub fn key(&self) -> anyhow::Result<String> {
        Ok(self.key_parts()?.key)
    }

    /// Compares the manifest on disk with the key the stage would have now.
    /// A damaged report is stale here, with its problem as the reason, whether or not
    /// [`StageRunner::run`] would only redraw it.
    pub fn freshness(&self) -> anyhow::Result<Freshness> {
        let parts = self.key_parts()?;
        Ok(match self.check(&parts)? {
            Check::Fresh => Freshness::Fresh,
            Check::Missing => Freshness::Missing,
            Check::Stale(reason) => Freshness::Stale { reason },
            Check::Derived(problems) => Freshness::Stale {
                reason: problems[0].to_string(),
            },
        })
    }

    fn check(&self, parts: &KeyParts) -> anyhow::Result<Check> {
        let dir = self.stage_dir();
        let path = dir.join(MANIFEST_FILE);
        if !path.exists() {
            return Ok(Check::Missing);
        }
        let manifest = match Manifest::read(&path) {
            Ok(m) => m,
            Err(e) => return Ok(Check::Stale(format!("{e:#}"))),
        };
        if manifest.key != parts.key {
            return Ok(Check::Stale(self.why_key_changed(&manifest, parts)));
        }
        if let Err(problem) = manifest.verify_primary_outputs(&dir)? {
            return Ok(Check::Stale(problem.to_string()));
        }
        let problems = manifest.derived_problems(&dir)?;
        Ok(if problems.is_empty() {
            Check::Fresh
        } else {
            Check::Derived(problems)
        })
    }

    fn why_key_changed(&self, old: &Manifest, parts: &KeyParts) -> String {
        if old.stage_version != self.version {
            return format!(
                "stage version changed ({} → {})",
                old.stage_version, self.version
            );
        }
        let config = self.config_json();
        if old.config != config {
            let changed = changed_keys(&old.config, &config);
            return format!("config changed: {}", changed.join(", "));
        }
        for (path, hash) in &parts.inputs {
            if old.inputs.get(path) != Some(hash) {
                return format!("input {path} changed");
            }
        }
        if old.inputs.len() != parts.inputs.len() {
            return "the set of input files changed".into();
        }
        for (stage, key) in &parts.upstream {
            if old.upstream.get(stage) != Some(key) {
                return format!("upstream stage {stage} changed");
            }
        }
        // Same keys upstream: an output read from upstream has other bytes (the upstream
        // stage is not reproducible, or its files were replaced by hand).
        "the bytes of an upstream output changed".into()
    }

    /// Runs `body` unless the outputs are up to date (or only derived ones are damaged and
    /// the stage redraws them, [`StageRunner::redraw_reports`]); `force` runs it regardless.
    pub fn run(
        mut self,
        force: bool,
        body: impl FnOnce(&mut StageRun) -> anyhow::Result<()>,
    ) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let dir = self.stage_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let _lock = StageLock::acquire(&dir.join(LOCK_FILE), &self.label())?;

        let parts = self.key_parts()?;
        let reason = match self.check(&parts)? {
            Check::Fresh if !force => return Ok(Outcome::UpToDate { key: parts.key }),
            Check::Derived(problems) if !force && self.redraw.is_some() => {
                let redraw = self.redraw.take().expect("checked just above");
                return self.redraw(parts.key, &problems, redraw);
            }
            Check::Fresh => "--force".to_string(),
            Check::Missing => "no previous run".to_string(),
            Check::Stale(reason) => reason,
            Check::Derived(problems) => problems[0].to_string(),
        };
        eprintln!("{}: running ({reason})", self.stage_label());

        // From here on the old manifest would describe outputs that are being replaced.
        let previous = Manifest::read(&dir.join(MANIFEST_FILE)).ok();
        remove_if_exists(&dir.join(MANIFEST_FILE))?;
        remove_dead_temp_files(&dir);
        let work_dir = dir.join(WORK_DIR).join(&parts.key);
        remove_other_work_dirs(&dir.join(WORK_DIR), &parts.key)?;
        std::fs::create_dir_all(&work_dir)
            .with_context(|| format!("{}: cannot create", work_dir.display()))?;

        let mut run = StageRun {
            stage: self.stage_label(),
            dir: dir.clone(),
            work_dir: work_dir.clone(),
            seed: self.seed(),
            outputs: Vec::new(),
            stats: serde_json::Map::new(),
            device: "cpu".into(),
            progress: self.progress,
        };
        if let Err(error) = body(&mut run) {
            restore_if_still_true(previous, &dir);
            return Err(error);
        }

        let mut outputs = BTreeMap::new();
        for name in &run.outputs {
            outputs.insert(name.clone(), output_entry(&dir.join(name))?);
        }
        let elapsed = started.elapsed();
        let manifest = Manifest {
            format: Manifest::new_format(),
            pipeline: self.pipeline.name.clone(),
            stage: self.stage.clone(),
            stage_version: self.version,
            key: parts.key.clone(),
            config: self.config_json(),
            inputs: parts.inputs,
            upstream: parts.upstream,
            outputs,
            stats: serde_json::Value::Object(run.stats),
            provenance: Provenance {
                git_revision: git_revision(),
                device: run.device,
                wall_seconds: elapsed.as_secs_f64(),
                finished_at_unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                ebsc_version: env!("CARGO_PKG_VERSION").to_string(),
                command: std::env::args().collect(),
            },
        };
        manifest.write(&dir.join(MANIFEST_FILE))?;
        // Checkpoints served their purpose once the outputs are final.
        let _ = std::fs::remove_dir_all(&work_dir);
        let _ = std::fs::remove_dir(dir.join(WORK_DIR));
        Ok(Outcome::Ran {
            key: parts.key,
            elapsed,
        })
    }

    /// Draws the derived outputs again (the lock held, the key matching, every other output
    /// verified) and records their new entries in the manifest, written last as ever. The
    /// manifest keeps its stats and provenance: they describe the run that made the
    /// outputs the reports are drawn from. A redraw that fails leaves the manifest as it
    /// was, so the next run tries again.
    fn redraw(
        &self,
        key: String,
        problems: &[OutputProblem],
        redraw: Redraw<'_>,
    ) -> anyhow::Result<Outcome> {
        let dir = self.stage_dir();
        let manifest_path = dir.join(MANIFEST_FILE);
        let mut manifest = Manifest::read(&manifest_path)?;
        remove_dead_temp_files(&dir);
        let what = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let mut run = StageRun {
            stage: self.stage_label(),
            dir: dir.clone(),
            // Not created: a redraw has nothing to checkpoint.
            work_dir: dir.join(WORK_DIR).join(&key),
            seed: self.seed(),
            outputs: Vec::new(),
            stats: serde_json::Map::new(),
            device: "cpu".into(),
            progress: self.progress,
        };
        let force = "`--force` runs the stage again";
        (redraw.draw)(&mut run)
            .with_context(|| format!("{what}: redrawing the reports failed; {force}"))?;
        for name in &run.outputs {
            anyhow::ensure!(
                is_derived(name),
                "the report redraw wrote {name}, which is not a derived output (report/)"
            );
            manifest
                .outputs
                .insert(name.clone(), output_entry(&dir.join(name))?);
        }
        if let Some(problem) = manifest.derived_problems(&dir)?.first() {
            anyhow::bail!("{problem} after redrawing the reports; {force}");
        }
        manifest.write(&manifest_path)?;
        eprintln!(
            "{}: {what}: redrawn from {} (the stage's outputs are up to date)",
            self.stage_label(),
            redraw.from.join(", ")
        );
        Ok(Outcome::Redrawn {
            key,
            files: run.outputs,
        })
    }
}

/// A stage while it runs: hands out output files and collects stats for the manifest.
pub struct StageRun {
    stage: String,
    dir: PathBuf,
    work_dir: PathBuf,
    seed: u64,
    outputs: Vec<String>,
    stats: serde_json::Map<String, serde_json::Value>,
    device: String,
    progress: ProgressMode,
}

impl StageRun {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `.work/<key>/`: checkpoints that a rerun with the same key resumes from.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Opens an output for writing; it lands under its name only on `commit`.
    pub fn create_output(&mut self, name: &str) -> anyhow::Result<AtomicFile> {
        self.register_output(name);
        AtomicFile::create(&self.dir.join(name))
    }

    /// Writes a whole output from memory (atomically, listed in the manifest).
    pub fn write_output(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.register_output(name);
        crate::atomic::write_atomic(&self.dir.join(name), bytes)
    }

    /// Declares an output written by other means (already renamed into place).
    pub fn register_output(&mut self, name: &str) {
        if !self.outputs.iter().any(|o| o == name) {
            self.outputs.push(name.to_string());
        }
    }

    pub fn output_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn stat(&mut self, name: &str, value: impl Serialize) {
        self.stats.insert(
            name.to_string(),
            serde_json::to_value(value).unwrap_or_default(),
        );
    }

    pub fn set_device(&mut self, device: impl Into<String>) {
        self.device = device.into();
    }

    pub fn progress(&self, what: &str, total: u64, unit: &str) -> Progress {
        Progress::new(
            self.progress,
            &format!("{}: {what}", self.stage),
            total,
            unit,
        )
    }

    pub fn log(&self, message: impl std::fmt::Display) {
        eprintln!("{}: {message}", self.stage);
    }
}

/// The `just` recipe that runs an upstream stage: `member-1/affinity` is run by `just
/// affinity`, which runs every member.
fn recipe_of(stage: &str) -> &str {
    stage.rsplit('/').next().unwrap_or(stage)
}

fn changed_keys(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let mut changed = Vec::new();
    collect_changes("", old, new, &mut changed);
    if changed.is_empty() {
        changed.push("(layout)".into());
    }
    changed
}

fn collect_changes(
    prefix: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
    out: &mut Vec<String>,
) {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let name = match prefix {
                    "" | "stage" => key.clone(),
                    _ => format!("{prefix}.{key}"),
                };
                let null = serde_json::Value::Null;
                let (x, y) = (a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
                if x != y {
                    collect_changes(&name, x, y, out);
                }
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// After a failed run, puts the previous manifest back when every output it lists is still
/// on disk unchanged (a run that failed before replacing any, e.g. on a full disk): the
/// stage is then exactly as it was before, and downstream stages can go on reading it.
/// When any output was replaced, the stage stays without a manifest.
fn restore_if_still_true(previous: Option<Manifest>, dir: &Path) {
    if let Some(manifest) = previous
        && let Ok(Ok(())) = manifest.verify_outputs(dir)
    {
        // Best effort: failing here leaves no manifest, which is never wrong.
        let _ = manifest.write(&dir.join(MANIFEST_FILE));
    }
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot remove", path.display())),
    }
}

/// Checkpoints of other keys can never be resumed (a changed config never resumes a stale one).
/// Removes `.<name>.tmp-<pid>-<n>` files (an [`AtomicFile`] being written) whose writer is
/// no longer running: a process killed mid-write leaves its temp file, which nothing else
/// would ever remove. Writers that do not take the lock (affinity's `--shard`) may still be
/// running, hence the check of the pid; without `/proc` (not Linux) nothing is removed.
fn remove_dead_temp_files(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != WORK_DIR {
                remove_dead_temp_files(&path);
            }
            continue;
        }
        let writer = name
            .starts_with('.')
            .then(|| name.rsplit_once(".tmp-"))
            .flatten()
            .and_then(|(_, rest)| rest.split_once('-'))
            .map(|(pid, _)| pid);
        if let Some(pid) = writer
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn remove_other_work_dirs(work_root: &Path, key: &str) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(work_root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_name() != key {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("{}: cannot remove", entry.path().display()))?;
        }
    }
    Ok(())
}

fn git_revision() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests;
