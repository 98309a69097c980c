//! `--shard i/n`: the rows of one shard written to `coefficients/part-i-of-n.parquet`, so a
//! job scheduler can spread the export over machines; `--merge` joins the parts.
//!
//! Each part has a sidecar `part-i-of-n.json` with a fingerprint of everything that decides
//! its content (stage version, config, upstream keys): parts of another config or model are
//! never merged.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use ebsc_io::Triplets;
use serde::{Deserialize, Serialize};

pub const PARTS_DIR: &str = "coefficients";

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

impl Shard {
    /// This shard's rows of `n_samples`: contiguous, balanced, covering all rows together.
    pub fn rows(&self, n_samples: usize) -> std::ops::Range<usize> {
        self.index * n_samples / self.count..(self.index + 1) * n_samples / self.count
    }

    pub fn part_path(&self, stage_dir: &Path) -> PathBuf {
        stage_dir
            .join(PARTS_DIR)
            .join(format!("part-{}-of-{}.parquet", self.index, self.count))
    }

    fn sidecar_path(&self, stage_dir: &Path) -> PathBuf {
        self.part_path(stage_dir).with_extension("json")
    }
}

/// What a part's sidecar records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    pub fingerprint: String,
    pub n_samples: usize,
    pub rows: [usize; 2],
}

/// Writes the part (Parquet first, then its sidecar: a part without sidecar is ignored).
pub fn write_part(
    stage_dir: &Path,
    shard: Shard,
    info: &PartInfo,
    triplets: &Triplets,
) -> anyhow::Result<PathBuf> {
    let path = shard.part_path(stage_dir);
    let dir = stage_dir.join(PARTS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut file = ebsc_core::AtomicFile::create(&path)?;
    ebsc_io::write_triplets(file.writer(), triplets)?;
    file.commit()?;
    let json = serde_json::to_vec_pretty(info).expect("plain data serialises");
    ebsc_core::atomic::write_atomic(&shard.sidecar_path(stage_dir), &json)?;
    Ok(path)
}

/// Reads all parts with `fingerprint` and joins them in row order; every shard 0..n of one
/// `n` must be there. Parts of other fingerprints (an older config) are ignored.
pub fn merge_parts(stage_dir: &Path, fingerprint: &str) -> anyhow::Result<(Triplets, usize)> {
    let dir = stage_dir.join(PARTS_DIR);
    let entries = std::fs::read_dir(&dir).with_context(|| {
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
        let Ok(text) = std::fs::read_to_string(shard.sidecar_path(stage_dir)) else {
            continue;
        };
        let info: PartInfo = serde_json::from_str(&text)
            .with_context(|| format!("{}: bad sidecar", shard.sidecar_path(stage_dir).display()))?;
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
    let n_samples = found[0].1.n_samples;
    let mut merged = Triplets::default();
    for (shard, _) in &found {
        let part = ebsc_io::read_triplets(&shard.part_path(stage_dir))?;
        merged.rows.extend(part.rows);
        merged.cols.extend(part.cols);
        merged.values.extend(part.values);
    }
    Ok((merged, n_samples))
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
        assert_eq!(parse_part_name(name), Some(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn merge_needs_every_part_of_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let info = |rows: [usize; 2], fp: &str| PartInfo {
            fingerprint: fp.into(),
            n_samples: 4,
            rows,
        };
        let mut a = Triplets::default();
        a.push(0, 1, 0.5);
        let mut b = Triplets::default();
        b.push(2, 3, -1.0);
        let (s0, s1) = (Shard { index: 0, count: 2 }, Shard { index: 1, count: 2 });
        write_part(dir.path(), s0, &info([0, 2], "f"), &a).unwrap();
        let err = merge_parts(dir.path(), "f").unwrap_err().to_string();
        assert!(err.contains("shards 1/2 missing"), "{err}");
        write_part(dir.path(), s1, &info([2, 4], "old"), &b).unwrap();
        assert!(merge_parts(dir.path(), "f").is_err());
        write_part(dir.path(), s1, &info([2, 4], "f"), &b).unwrap();
        let (merged, n) = merge_parts(dir.path(), "f").unwrap();
        assert_eq!((merged.rows, merged.cols, n), (vec![0, 2], vec![1, 3], 4));
    }
}
