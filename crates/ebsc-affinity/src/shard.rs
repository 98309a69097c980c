//! `--shard i/n`: the rows of one shard written to `coefficients/part-i-of-n.parquet`, so a
//! job scheduler can spread the export over machines; `--merge` joins the parts
//! (`ebsc_core::shard`: the shard arithmetic, `--shard auto`, the sidecars).
//!
//! Each part's sidecar records the stage key (stage version, config, the upstream files
//! read): parts of another config or model are never merged.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_core::shard::{PartInfo, Shard};
use ebsc_io::Triplets;

pub const PARTS_DIR: &str = "coefficients";

/// Writes the part (Parquet first, then its sidecar: a part without sidecar is ignored).
pub fn write_part(
    stage_dir: &Path,
    shard: Shard,
    info: &PartInfo,
    triplets: &Triplets,
) -> anyhow::Result<PathBuf> {
    let dir = stage_dir.join(PARTS_DIR);
    let path = shard.part_path(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut file = ebsc_core::AtomicFile::create(&path)?;
    ebsc_io::write_triplets(file.writer(), triplets)?;
    file.commit()?;
    ebsc_core::shard::write_sidecar(&dir, shard, info)?;
    Ok(path)
}

/// Reads all parts with `fingerprint` and joins them in row order; every shard 0..n of one
/// `n` must be there. Parts of other fingerprints (an older config) are ignored.
pub fn merge_parts(stage_dir: &Path, fingerprint: &str) -> anyhow::Result<(Triplets, usize)> {
    let dir = stage_dir.join(PARTS_DIR);
    let found = ebsc_core::shard::complete_parts(&dir, fingerprint)?;
    let n_samples = found[0].1.n_samples;
    let mut merged = Triplets::default();
    for (shard, _) in &found {
        let part = ebsc_io::read_triplets(&shard.part_path(&dir))?;
        merged.rows.extend(part.rows);
        merged.cols.extend(part.cols);
        merged.values.extend(part.values);
    }
    Ok((merged, n_samples))
}

#[cfg(test)]
mod tests {
    use super::*;

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
