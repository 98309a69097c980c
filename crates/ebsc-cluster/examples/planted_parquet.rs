//! Writes a planted-partition graph as the cluster stage's inputs, to time the whole
//! stage in standalone mode: `DIR/affinity.parquet` (10 clusters, about 20 non-zeros
//! per row, about 90% inside the row's cluster, symmetric, sorted by (row, col), no
//! self loops) and `DIR/samples.parquet` (the schema of prepare's output, labels = the
//! planted clusters).
//!
//! ```text
//! cargo build --release -p ebsc-cluster --examples --bins
//! target/release/examples/planted_parquet 70000 /tmp/planted
//! /usr/bin/time -v target/release/ebsc-cluster --affinity /tmp/planted/affinity.parquet \
//!     --labels /tmp/planted/samples.parquet --n-clusters 10 --out /tmp/planted/out
//! ```

use std::time::Instant;

use ebsc_io::artifacts::{affinity, prepare};
use ebsc_io::{SampleRow, Triplets, write_samples, write_triplets};
use ebsc_spectral::synthetic::planted_partition;

const N_CLUSTERS: usize = 10;
/// Partners drawn per node; both directions are stored, so rows hold about twice this.
const PARTNERS: usize = 10;
const WITHIN: f64 = 0.9;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: planted_parquet N_NODES DIR [SEED]";
    let n_nodes: usize = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let dir = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let seed: u64 = args.next().map_or(Ok(0), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;

    let started = Instant::now();
    let (raw, labels) = planted_partition(n_nodes, N_CLUSTERS, PARTNERS, WITHIN, seed);
    // Sorted by (row, col), repeated pairs summed, self loops dropped: the layout of
    // affinity.parquet. Both directions of a pair repeat equally often, so the sums
    // keep the graph symmetric.
    let mut entries: Vec<(u64, f32)> = raw
        .rows
        .iter()
        .zip(&raw.cols)
        .zip(&raw.values)
        .filter(|((r, c), _)| r != c)
        .map(|((&r, &c), &v)| ((u64::from(r) << 32) | u64::from(c), v))
        .collect();
    drop(raw);
    entries.sort_unstable_by_key(|&(key, _)| key);
    let mut triplets = Triplets::default();
    for (key, value) in entries {
        let (row, col) = ((key >> 32) as u32, key as u32);
        match (triplets.rows.last(), triplets.cols.last()) {
            (Some(&r), Some(&c)) if (r, c) == (row, col) => {
                *triplets.values.last_mut().expect("a last row exists") += value;
            }
            _ => triplets.push(row, col, value),
        }
    }
    let affinity = affinity::AFFINITY.path(&dir);
    write_triplets(std::fs::File::create(&affinity)?, &triplets)?;

    let rows: Vec<SampleRow> = labels
        .iter()
        .enumerate()
        .map(|(index, &label)| SampleRow {
            index: index as u32,
            label: Some(label),
            label_name: Some(label.to_string()),
            source: format!("planted#{index}"),
            split: "all".into(),
        })
        .collect();
    let samples = prepare::SAMPLES.path(&dir);
    write_samples(std::fs::File::create(&samples)?, &rows)?;
    eprintln!(
        "{n_nodes} nodes, {} entries ({:.1} per row) in {:.1}s: {} and {}",
        triplets.len(),
        triplets.len() as f64 / n_nodes as f64,
        started.elapsed().as_secs_f64(),
        affinity.display(),
        samples.display()
    );
    Ok(())
}
