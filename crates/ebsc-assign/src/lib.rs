//! `ebsc-assign`: samples outside a trained pipeline's fit — its own whole source when
//! prepare took a seeded subset (the subset are the landmarks), or new data prepared with
//! the pipeline's sources — assigned to the pipeline's clusters without retraining
//! (docs/method.md "Out-of-sample assignment"). Each sample is encoded into dictionary
//! space by the trained encoder, scored against the landmarks (train's dictionary) with
//! the trained energy and the affinity stage's coefficient map, and takes the cluster with
//! the largest summed `|c|` over its top-k landmarks; its confidence is that cluster's
//! share of the weight.
//!
//! Three ways to run, like the affinity export:
//! - `ebsc-assign p.toml --input DIR --out OUT`: every row, into `OUT/assignments.parquet`;
//! - `… --shard i/n|auto`: shard i's rows into `OUT/parts/part-i-of-n.parquet`;
//! - `… --merge`: the parts into `OUT/assignments.parquet`, the bytes of a single run.
//!
//! Modules: [`trained`] (what the pipeline gives), [`input`] (what is assigned, checked
//! against the encoder), [`score`] (blocks of rows scored), [`vote`] (coefficients to a
//! cluster), [`parts`] (shards).

pub mod input;
pub mod parts;
pub mod score;
pub mod trained;
pub mod vote;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ebsc_core::hash::{KeyHasher, sha256_file};
use ebsc_core::shard::{PartInfo, ShardArg};
use ebsc_core::{Outcome, Pipeline, ProgressMode};
use ebsc_io::artifacts::assign::{ASSIGNMENTS, PARTS_DIR};
use ebsc_io::artifacts::prepare::{INPUTS, SAMPLES};
use ebsc_io::assigned::{Assigned, write_assigned};
use ebsc_nn::DeviceChoice;

use crate::input::{NewInputs, read_sample_columns};
use crate::score::BLOCK;
use crate::trained::Trained;

pub const STAGE: &str = ebsc_io::artifacts::assign::STAGE;
/// Bump when the output for the same pipeline and input changes meaning (it is part of
/// the parts' fingerprint).
pub const VERSION: u32 = 1;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-assign",
    version,
    about = "Assign samples to a trained pipeline's clusters, without retraining"
)]
pub struct Args {
    /// Pipeline file of a trained pipeline, e.g. pipelines/mnist-demo.toml.
    pub pipeline: PathBuf,
    /// The samples: a folder with prepare's samples.parquet and inputs.safetensors
    /// (`ebsc-prepare p.toml --out DIR [--data PATH]` writes one).
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Where assignments.parquet (and, sharded, parts/) go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the pipeline's run folders are: <runs-dir>/<pipeline>/<stage>/.
    #[arg(long, default_value = "data/runs")]
    pub runs_dir: PathBuf,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Where the encoder, towers and products run: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// libtorch threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Assign only shard i of n into parts/part-i-of-n.parquet; `auto`: i and n from a
    /// Slurm job array or a Kubernetes Indexed Job.
    #[arg(long, value_name = "I/N|auto", conflicts_with = "merge")]
    pub shard: Option<ShardArg>,
    /// With `--shard auto` in a Kubernetes Indexed Job: the shard count (the Job's
    /// completions; or set EBSC_SHARD_COUNT).
    #[arg(long, value_name = "N", requires = "shard")]
    pub shards: Option<usize>,
    /// Join all parts/part-*-of-n.parquet of this pipeline and input into the output.
    #[arg(long)]
    pub merge: bool,
    /// Rows scored at a time, and the grid shards split on (the same for every shard of
    /// one output and its merge).
    #[arg(long, default_value_t = BLOCK, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub block_rows: usize,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let pipeline = Pipeline::load(&args.pipeline)?;
    let shard = ebsc_core::shard::resolve(args.shard, args.shards).map_err(anyhow::Error::msg)?;
    ebsc_nn::device::set_threads(args.threads);
    ebsc_nn::allocator::reuse_freed_tensor_memory();
    let device = ebsc_nn::resolve_device(args.device)?;
    let trained = Trained::load(&pipeline, &args.runs_dir, device)?;
    let inputs = NewInputs::open(&args.input, &trained.encoder.spec().input)?;
    anyhow::ensure!(
        !inputs.is_empty(),
        "{}: holds no samples",
        inputs.path().display()
    );
    let n = inputs.len();
    let fingerprint = fingerprint(&trained, &args.input, args.block_rows)?;
    let parts_dir = args.out.join(PARTS_DIR);
    let out_path = ASSIGNMENTS.path(&args.out);

    if args.merge {
        let merged = parts::merge(&parts_dir, &fingerprint)?;
        anyhow::ensure!(
            merged.len() == n,
            "{}: the parts hold {} rows, the input {n}",
            parts_dir.display(),
            merged.len()
        );
        write_output(&out_path, &merged)?;
        report_scores(&merged);
        println!(
            "{STAGE}: merged {} parts into {} ({n} samples)",
            parts_dir.display(),
            out_path.display()
        );
        return Ok(Outcome::Ran {
            key: fingerprint,
            elapsed: started.elapsed(),
        });
    }

    let rows = match &shard {
        None => 0..n,
        Some((shard, source)) => {
            if let Some(source) = source {
                eprintln!("{STAGE}: {source}");
            }
            // Shards split the block grid, so every block is computed whole.
            let block = args.block_rows;
            let blocks = shard.rows(n.div_ceil(block));
            (blocks.start * block).min(n)..(blocks.end * block).min(n)
        }
    };
    eprintln!(
        "{STAGE}: {} samples{} against {} landmarks in {} clusters, top_k {}{}, on {device:?}",
        rows.len(),
        shard
            .as_ref()
            .map(|(s, _)| format!(
                " (rows {}..{} of {n}, shard {}/{})",
                rows.start, rows.end, s.index, s.count
            ))
            .unwrap_or_default(),
        trained.n_landmarks(),
        trained.n_clusters,
        trained.top_k,
        if trained.ridge.is_some() {
            " of the ridge solve"
        } else {
            ""
        },
    );
    let progress = ebsc_core::Progress::new(
        args.progress,
        &format!("{STAGE}: samples"),
        rows.len() as u64,
        "samples",
    );
    let clock = Instant::now();
    let (clusters, confidences, timing) = score::assign_rows(
        &trained,
        &inputs,
        rows.clone(),
        args.block_rows,
        device,
        |r| progress.inc(r as u64),
    )?;
    progress.finish();
    let seconds = clock.elapsed().as_secs_f64();
    eprintln!(
        "{STAGE}: {} samples in {seconds:.1} s: {:.0} samples/s (read {:.1} s, encode {:.1} s, score {:.1} s)",
        rows.len(),
        rows.len() as f64 / seconds.max(1e-9),
        timing.read_seconds,
        timing.encode_seconds,
        timing.score_seconds
    );
    let (labels, sources) = read_sample_columns(&args.input, n, rows.clone())?;
    let assigned = Assigned {
        first_index: rows.start,
        clusters,
        confidences,
        labels,
        sources: Some(sources),
    };
    match shard {
        Some((shard, _)) => {
            let info = PartInfo {
                fingerprint: fingerprint.clone(),
                n_samples: n,
                rows: [rows.start, rows.end],
            };
            let path = parts::write_part(&parts_dir, shard, &info, &assigned)?;
            println!("{STAGE}: wrote {}", path.display());
        }
        None => {
            write_output(&out_path, &assigned)?;
            report_scores(&assigned);
            println!("{STAGE}: wrote {} ({n} samples)", out_path.display());
        }
    }
    Ok(Outcome::Ran {
        key: fingerprint,
        elapsed: started.elapsed(),
    })
}

/// The trained pipeline's fingerprint with the input files' hashes and the block grid.
fn fingerprint(trained: &Trained, input: &Path, block_rows: usize) -> anyhow::Result<String> {
    let mut key = KeyHasher::new("assign-input");
    key.part("trained", &trained.fingerprint)
        .part("block_rows", &block_rows.to_string());
    for artifact in [INPUTS, SAMPLES] {
        let path = artifact.path(input);
        let (hash, _) =
            sha256_file(&path).with_context(|| format!("hashing {}", path.display()))?;
        key.part(artifact.file, &hash);
    }
    Ok(key.finish())
}

/// With labels: ACC, NMI and ARI of the assignment against them, on stderr (the labels
/// are never used to assign).
fn report_scores(rows: &Assigned) {
    let Some(labels) = &rows.labels else {
        return;
    };
    let (known, clusters): (Vec<i32>, Vec<u32>) = labels
        .iter()
        .zip(&rows.clusters)
        .filter_map(|(label, &cluster)| label.map(|l| (l, cluster)))
        .unzip();
    if let Ok((scores, _)) = ebsc_spectral::metrics::evaluate(&known, &clusters) {
        eprintln!(
            "{STAGE}: ACC {:.4}, NMI {:.4}, ARI {:.4} against the labels of {} samples",
            scores.accuracy,
            scores.nmi_arithmetic,
            scores.ari,
            known.len()
        );
    }
}

fn write_output(path: &Path, rows: &Assigned) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut file = ebsc_core::AtomicFile::create(path)?;
    write_assigned(file.writer(), rows)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    file.commit()
}
