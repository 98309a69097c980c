//! Spreading a stage's rows over machines: `--shard i/n` computes shard i's rows into
//! `part-i-of-n.parquet` (with a sidecar `part-i-of-n.json` naming the fingerprint of
//! everything that decides its content), and a merge joins the parts of one fingerprint.
//! `--shard auto` takes `i/n` from the scheduler's environment: a Slurm job array or a
//! Kubernetes Indexed Job. What a part holds is the stage's business; this module only
//! knows rows, names and sidecars.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (0-based), as `--shard index/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("expected i/n with 0 ≤ i < n (e.g. 0/4), got {text:?}");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// `--shard`: a fixed `i/n`, or `auto` (from the scheduler's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<ShardArg, String> {
        if text.trim() == "auto" {
            return Ok(ShardArg::Auto);
        }
        text.parse()
            .map(ShardArg::Fixed)
            .map_err(|e| format!("{e}, or auto"))
    }
}

/// The shard count of a Kubernetes Indexed Job (its `completions`), which Kubernetes does
/// not put in the pod's environment; `--shards N` gives it too.
pub const SHARD_COUNT_ENV: &str = "EBSC_SHARD_COUNT";

/// The shard this process is, from a Slurm job array (`SLURM_ARRAY_TASK_ID` with
/// `SLURM_ARRAY_TASK_COUNT` or `_MIN`/`_MAX`, steps included) or a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, the count from `shards` or [`SHARD_COUNT_ENV`]), with a line
/// saying where it came from. `env` looks a variable up.
pub fn shard_from_env(
    env: impl Fn(&str) -> Option<String>,
    shards: Option<usize>,
) -> Result<(Shard, String), String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        match env(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name} = {text:?} is not a whole number")),
        }
    };
    let count_env = number(SHARD_COUNT_ENV)?;
    if let (Some(flag), Some(from_env)) = (shards, count_env)
        && flag != from_env
    {
        return Err(format!(
            "--shards {flag} and {SHARD_COUNT_ENV} = {from_env} disagree"
        ));
    }
    let slurm = match number("SLURM_ARRAY_TASK_ID")? {
        None => None,
        Some(id) => Some(slurm_shard(
            id,
            number("SLURM_ARRAY_TASK_MIN")?,
            number("SLURM_ARRAY_TASK_MAX")?,
            number("SLURM_ARRAY_TASK_COUNT")?,
        )?),
    };
    let kubernetes = match number("JOB_COMPLETION_INDEX")? {
        None => None,
        Some(index) => {
            let count = shards.or(count_env).ok_or_else(|| {
                format!(
                    "JOB_COMPLETION_INDEX = {index} (a Kubernetes Indexed Job) but no shard count; \
                     pass --shards N or set {SHARD_COUNT_ENV} to the Job's completions"
                )
            })?;
            Some(Shard { index, count })
        }
    };
    let shard = match (slurm, kubernetes) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "the Slurm array says shard {}/{} but JOB_COMPLETION_INDEX says {}/{}",
                a.index, a.count, b.index, b.count
            ));
        }
        (Some(a), _) => {
            if let Some(n) = shards.or(count_env).filter(|&n| n != a.count) {
                return Err(format!(
                    "the Slurm array has {} tasks but the shard count given is {n}",
                    a.count
                ));
            }
            (a, "the Slurm job array")
        }
        (None, Some(b)) => (b, "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)"),
        (None, None) => {
            return Err(
                "--shard auto: no scheduler environment; neither SLURM_ARRAY_TASK_ID \
                 (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; \
                 use --shard i/n"
                    .into(),
            );
        }
    };
    if shard.0.index >= shard.0.count || shard.0.count == 0 {
        return Err(format!(
            "{} gives shard {} of {}, outside 0..{}",
            shard.1, shard.0.index, shard.0.count, shard.0.count
        ));
    }
    Ok((
        shard.0,
        format!("shard {}/{} from {}", shard.0.index, shard.0.count, shard.1),
    ))
}

/// Task `id` of a Slurm array `min-max[:step]` of `count` tasks.
fn slurm_shard(
    id: usize,
    min: Option<usize>,
    max: Option<usize>,
    count: Option<usize>,
) -> Result<Shard, String> {
    let min_id = min.unwrap_or(0);
    let offset = id.checked_sub(min_id).ok_or_else(|| {
        format!("SLURM_ARRAY_TASK_ID = {id} is below SLURM_ARRAY_TASK_MIN = {min_id}")
    })?;
    let (count, step) = match (count, min, max) {
        (Some(count), Some(min), Some(max)) if count > 1 => {
            let span = max.saturating_sub(min);
            if span % (count - 1) != 0 {
                return Err(format!(
                    "a Slurm array of {count} tasks from {min} to {max} has no even step; \
                     use --shard i/n"
                ));
            }
            (count, span / (count - 1))
        }
        (Some(count), _, _) => (count, 1),
        (None, Some(min), Some(max)) if max >= min => (max - min + 1, 1),
        _ => {
            return Err(
                "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor \
                 SLURM_ARRAY_TASK_MIN/_MAX; use --shard i/n"
                    .into(),
            );
        }
    };
    if offset % step.max(1) != 0 {
        return Err(format!(
            "SLURM_ARRAY_TASK_ID = {id} is not on the array's step of {step}"
        ));
    }
    Ok(Shard {
        index: offset / step.max(1),
        count,
    })
}

impl Shard {
    /// This shard's rows of `n_samples`: contiguous, balanced, covering all rows together.
    pub fn rows(&self, n_samples: usize) -> std::ops::Range<usize> {
        self.index * n_samples / self.count..(self.index + 1) * n_samples / self.count
    }

    /// Its part in `parts_dir`: `part-i-of-n.parquet`.
    pub fn part_path(&self, parts_dir: &Path) -> PathBuf {
        parts_dir.join(format!("part-{}-of-{}.parquet", self.index, self.count))
    }

    /// The part's sidecar, `part-i-of-n.json`: written after the part, so a part without
    /// one is ignored.
    pub fn sidecar_path(&self, parts_dir: &Path) -> PathBuf {
        self.part_path(parts_dir).with_extension("json")
    }
}

/// `--shard` and `--shards` as a stage's command line gives them: the shard this process
/// is, or `None` for every row; with `auto` also the line saying where `i/n` came from.
pub fn resolve(
    shard: Option<ShardArg>,
    shards: Option<usize>,
) -> Result<Option<(Shard, Option<String>)>, String> {
    match shard {
        None => Ok(None),
        Some(ShardArg::Fixed(shard)) => {
            if shards.is_some() {
                return Err(format!(
                    "--shards is for --shard auto; --shard {}/{} already gives the count",
                    shard.index, shard.count
                ));
            }
            Ok(Some((shard, None)))
        }
        Some(ShardArg::Auto) => {
            let (shard, source) = shard_from_env(|name| std::env::var(name).ok(), shards)?;
            Ok(Some((shard, Some(source))))
        }
    }
}

/// What a part's sidecar records: the fingerprint of everything that decides the part's
/// content (a stage key), the number of rows of the whole output, and the part's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    pub fingerprint: String,
    pub n_samples: usize,
    pub rows: [usize; 2],
}

/// Writes a part's sidecar (atomically), after the part itself.
pub fn write_sidecar(parts_dir: &Path, shard: Shard, info: &PartInfo) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(info).expect("plain data serialises");
    crate::atomic::write_atomic(&shard.sidecar_path(parts_dir), &json)
}

/// Every part in `parts_dir` with `fingerprint`, in shard order; every shard 0..n of one
/// `n` must be there. Parts of other fingerprints (an older config) are ignored.
pub fn complete_parts(
    parts_dir: &Path,
    fingerprint: &str,
) -> anyhow::Result<Vec<(Shard, PartInfo)>> {
    let dir = parts_dir;
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "{}: no parts to merge; run with --shard i/n first",
            dir.display()
        )
    })?;
    let mut found: Vec<(Shard, PartInfo)> = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(shard) = parse_part_name(&path) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(shard.sidecar_path(dir)) else {
            continue;
        };
        let info: PartInfo = serde_json::from_str(&text)
            .with_context(|| format!("{}: bad sidecar", shard.sidecar_path(dir).display()))?;
        if info.fingerprint == fingerprint {
            found.push((shard, info));
        }
    }
    anyhow::ensure!(
        !found.is_empty(),
        "{}: no parts for the current config and model; run with --shard i/n first",
        dir.display()
    );
    let count = found[0].0.count;
    anyhow::ensure!(
        found.iter().all(|(s, _)| s.count == count),
        "{}: parts of different shard counts for the same config; remove the stale ones",
        dir.display()
    );
    found.sort_by_key(|(s, _)| s.index);
    let missing: Vec<String> = (0..count)
        .filter(|i| !found.iter().any(|(s, _)| s.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{}: shards {} missing; run them with --shard",
        dir.display(),
        missing.join(", ")
    );
    Ok(found)
}

fn parse_part_name(path: &Path) -> Option<Shard> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let (i, n) = rest.split_once("-of-")?;
    format!("{i}/{n}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shards_and_splits_rows() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().unwrap_err().contains("0 ≤ i < n"));
        assert!("x".parse::<Shard>().is_err());
        // 10 rows in 3 shards: 0..3, 3..6, 6..10.
        let ranges: Vec<_> = (0..3)
            .map(|i| Shard { index: i, count: 3 }.rows(10))
            .collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..10]);
        let name = Path::new("x/part-2-of-3.parquet");
        assert_eq!(Shard { index: 2, count: 3 }.part_path(Path::new("x")), name);
        assert_eq!(parse_part_name(name), Some(Shard { index: 2, count: 3 }));
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn auto_shards_from_slurm_arrays() {
        let shard = |vars: &[(&str, &str)]| shard_from_env(env(vars), None).map(|(s, _)| s);
        let s = |index, count| Ok(Shard { index, count });
        // --array=0-3
        let array = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(shard(&array), s(2, 4));
        // --array=1-4: MIN/MAX only.
        let array = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ];
        assert_eq!(shard(&array), s(0, 4));
        // --array=0-12:4 → ids 0, 4, 8, 12.
        let array = [
            ("SLURM_ARRAY_TASK_ID", "8"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "12"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(shard(&array), s(2, 4));
        let err = shard(&[("SLURM_ARRAY_TASK_ID", "2")]).unwrap_err();
        assert!(err.contains("SLURM_ARRAY_TASK_COUNT"), "{err}");
        let err = shard(&[("SLURM_ARRAY_TASK_ID", "x")]).unwrap_err();
        assert!(err.contains("\"x\" is not a whole number"), "{err}");
        let err = shard(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap_err();
        assert!(err.contains("outside 0..4"), "{err}");
    }

    #[test]
    fn auto_shards_from_kubernetes_and_disagreements() {
        let k8s = [("JOB_COMPLETION_INDEX", "1")];
        let (shard, source) = shard_from_env(env(&k8s), Some(3)).unwrap();
        assert_eq!(shard, Shard { index: 1, count: 3 });
        assert!(source.contains("Kubernetes"), "{source}");
        let with_env = [("JOB_COMPLETION_INDEX", "1"), (SHARD_COUNT_ENV, "3")];
        assert_eq!(shard_from_env(env(&with_env), None).unwrap().0, shard);
        let err = shard_from_env(env(&k8s), None).unwrap_err();
        assert!(err.contains("--shards N"), "{err}");
        let err = shard_from_env(env(&with_env), Some(4)).unwrap_err();
        assert!(err.contains("disagree"), "{err}");
        let both = [
            ("JOB_COMPLETION_INDEX", "1"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        let err = shard_from_env(env(&both), Some(3)).unwrap_err();
        assert!(err.contains("says shard 2/3"), "{err}");
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        let err = shard_from_env(env(&slurm), Some(2)).unwrap_err();
        assert!(err.contains("has 3 tasks"), "{err}");
        let err = shard_from_env(env(&[]), None).unwrap_err();
        assert!(err.contains("neither SLURM_ARRAY_TASK_ID"), "{err}");
        assert_eq!("auto".parse(), Ok(ShardArg::Auto));
        assert_eq!(
            "1/2".parse(),
            Ok(ShardArg::Fixed(Shard { index: 1, count: 2 }))
        );
    }
}
