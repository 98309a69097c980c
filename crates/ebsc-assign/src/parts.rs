//! A sharded assignment: each shard writes its rows to `parts/part-i-of-n.parquet` (the
//! output's schema with global `index` values, so the parts read as one Parquet
//! dataset) with a sidecar naming the fingerprint; `--merge` joins the parts of the
//! current fingerprint into the output, the bytes a single run writes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ebsc_core::shard::{PartInfo, Shard};
use ebsc_io::assigned::{Assigned, read_assigned, write_assigned};

/// Writes a part (Parquet, then its sidecar: a part without one is ignored).
pub fn write_part(
    parts_dir: &Path,
    shard: Shard,
    info: &PartInfo,
    rows: &Assigned,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(parts_dir)
        .with_context(|| format!("{}: cannot create", parts_dir.display()))?;
    let path = shard.part_path(parts_dir);
    let mut file = ebsc_core::AtomicFile::create(&path)?;
    write_assigned(file.writer(), rows)?;
    file.commit()?;
    ebsc_core::shard::write_sidecar(parts_dir, shard, info)?;
    Ok(path)
}

/// Every row, from the parts of `fingerprint` (all shards of one count must be there).
pub fn merge(parts_dir: &Path, fingerprint: &str) -> anyhow::Result<Assigned> {
    let found = ebsc_core::shard::complete_parts(parts_dir, fingerprint)?;
    let n_samples = found[0].1.n_samples;
    let mut merged = Assigned::default();
    for (shard, info) in &found {
        let path = shard.part_path(parts_dir);
        let part = read_assigned(&path)?;
        anyhow::ensure!(
            part.first_index == info.rows[0] && part.len() == info.rows[1] - info.rows[0],
            "{}: holds rows {}..{}, its sidecar says {}..{}",
            path.display(),
            part.first_index,
            part.first_index + part.len(),
            info.rows[0],
            info.rows[1]
        );
        merged
            .append(part)
            .with_context(|| format!("{}", path.display()))?;
    }
    anyhow::ensure!(
        merged.len() == n_samples,
        "{}: the parts hold {} rows of {n_samples}",
        parts_dir.display(),
        merged.len()
    );
    Ok(merged)
}
