//! `ebsc-affinity`: all N samples are the dictionary; the trained energy network gives
//! every pair's coefficient, of which the top `top_k` per row by `|c|` are kept
//! (`coefficients.parquet`), then the affinity graph (`affinity.parquet`) — docs/method.md
//! "Inference", and docs/artifacts.md.
//!
//! Three ways to run:
//! - `ebsc-affinity p.toml`: every row in this process, through the stage runner;
//! - `ebsc-affinity p.toml --shard i/n`: only shard i's rows, into
//!   `coefficients/part-i-of-n.parquet` (no manifest, no lock: shards run side by side);
//! - `ebsc-affinity p.toml --merge`: joins the parts into the stage's outputs and manifest.

pub mod config;
pub mod graph;
pub mod ridge;
pub mod shard;
pub mod solve;
pub mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ebsc_core::cli::StageArgs;
use ebsc_core::member::{MemberArgs, run_members};
use ebsc_core::shard::{PartInfo, Shard, ShardArg};
use ebsc_core::{Outcome, Pipeline, StageRun, StageRunner};
use ebsc_io::Triplets;
use ebsc_io::artifacts::{affinity, prepare, train};
use ebsc_io::labels::read_sample_labels;
use ebsc_nn::DeviceChoice;
use ebsc_nn::topk;
use ebsc_nn::trained::EnergyModel;
use tch::{Device, Tensor};

use crate::config::{AffinityConfig, AffinityGraph, Refine};

pub const STAGE: &str = affinity::STAGE;
/// Bump when the outputs for a given config change meaning (3: a row the shrink threshold
/// leaves fewer than top_k elastic-net candidates takes the energy's best scores).
pub const STAGE_VERSION: u32 = 3;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-affinity",
    version,
    about = "Top-k self-expressive coefficients over all N×N pairs and the affinity graph"
)]
pub struct Args {
    #[command(flatten)]
    pub stage: StageArgs,
    #[command(flatten)]
    pub member: MemberArgs,
    /// Where the tower outputs and block products run: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// libtorch threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Compute only shard i of n (rows i·N/n..(i+1)·N/n) into coefficients/part-i-of-n.parquet;
    /// `auto`: i and n from a Slurm job array or a Kubernetes Indexed Job.
    #[arg(long, value_name = "I/N|auto", conflicts_with_all = ["merge", "force"])]
    pub shard: Option<ShardArg>,
    /// With `--shard auto` in a Kubernetes Indexed Job: the shard count (the Job's
    /// completions; or set EBSC_SHARD_COUNT).
    #[arg(long, value_name = "N", requires = "shard")]
    pub shards: Option<usize>,
    /// Build the outputs from all coefficients/part-*-of-n.parquet of the current config.
    #[arg(long)]
    pub merge: bool,
}

/// Everything the stage reads, loaded.
struct Inputs {
    model: EnergyModel,
    dictionary: Tensor,
    /// The dictionary's values on the host, `[N·D]` row-major: kept from the file only
    /// when `refine` solves over them.
    host_dictionary: Option<Vec<f32>>,
    labels: Option<Vec<Option<i32>>>,
    device: Device,
}

/// Exports every member's graph in turn (`--member`: one); with `--shard`, that shard of
/// each.
pub fn run(args: &Args) -> anyhow::Result<Vec<(usize, Outcome)>> {
    let pipeline = Pipeline::load(&args.stage.pipeline)?;
    let config = AffinityConfig::from_pipeline(&pipeline)?;
    run_members(&pipeline, args.member.member, |member| {
        run_member(args, &pipeline, &config, member)
    })
}

fn run_member(
    args: &Args,
    pipeline: &Pipeline,
    config: &AffinityConfig,
    member: usize,
) -> anyhow::Result<Outcome> {
    let runner = StageRunner::new(pipeline, &args.stage.runs_dir, STAGE, STAGE_VERSION)
        .member(member)
        .config(config)
        // Not train's metrics.parquet: its timings differ on every rebuild.
        .upstream_reading(&[train::MODEL, train::FEATURES])
        .upstream(prepare::STAGE)
        .progress(args.stage.progress);
    // Verifies the upstream outputs before any work (an error says which stage to run);
    // shard parts carry the key, so only parts of this very config and upstream merge.
    let fingerprint = runner.key()?;
    let upstream = UpstreamDirs {
        train: runner.upstream_dir(train::STAGE),
        prepare: runner.upstream_dir(prepare::STAGE),
    };
    let shard =
        match ebsc_core::shard::resolve(args.shard, args.shards).map_err(anyhow::Error::msg)? {
            Some((shard, source)) => {
                if let Some(source) = source {
                    eprintln!("{STAGE}: {source}");
                }
                Some(shard)
            }
            None => None,
        };
    if let Some(shard) = shard {
        return run_shard(
            args,
            config,
            &upstream,
            &runner.stage_dir(),
            shard,
            &fingerprint,
        );
    }
    runner.run(args.stage.force, |run| {
        let (coefficients, n_samples, labels, fitted) = if args.merge {
            run.log("merging shards");
            let (c, n) = shard::merge_parts(run.dir(), &fingerprint)?;
            let fitted = fit_to_class_size(run, config, n);
            let labels = read_sample_labels(&prepare::SAMPLES.path(&upstream.prepare), n)?;
            (c, n, known_labels(labels), fitted)
        } else {
            let inputs = load_inputs(args, &upstream, config)?;
            run.set_device(format!("{:?}", inputs.device).to_lowercase());
            let n = inputs.dictionary.size()[0] as usize;
            let fitted = fit_to_class_size(run, config, n);
            let c = compute_rows(run, &inputs, &fitted, 0..n)?;
            (c, n, inputs.labels, fitted)
        };
        finish_outputs(run, &fitted, coefficients, n_samples, labels.as_deref())
    })
}

/// `config.fitted(n)`, said in the log and recorded in the manifest's stats.
fn fit_to_class_size(run: &mut StageRun, config: &AffinityConfig, n: usize) -> AffinityConfig {
    let (fitted, note) = config.fitted(n);
    if let Some(note) = note {
        run.log(note);
        run.stat("fitted_top_k", fitted.top_k);
    }
    fitted
}

struct UpstreamDirs {
    train: PathBuf,
    prepare: PathBuf,
}

fn run_shard(
    args: &Args,
    config: &AffinityConfig,
    upstream: &UpstreamDirs,
    stage_dir: &Path,
    shard: Shard,
    fingerprint: &str,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let inputs = load_inputs(args, upstream, config)?;
    let n = inputs.dictionary.size()[0] as usize;
    let (config, note) = config.fitted(n);
    if let Some(note) = note {
        eprintln!("{STAGE}: {note}");
    }
    if let Some(note) = config.refine_note() {
        eprintln!("{STAGE}: {note}");
    }
    let rows = shard.rows(n);
    eprintln!(
        "{STAGE}: shard {}/{}: rows {}..{} of {n}",
        shard.index, shard.count, rows.start, rows.end
    );
    let progress = ebsc_core::Progress::new(
        args.stage.progress,
        &format!("{STAGE}: coefficients"),
        rows.len() as u64,
        "rows",
    );
    let (c, timing) = inputs.coefficients(&config, rows.clone(), |r| progress.inc(r as u64))?;
    progress.finish();
    // A shard has no manifest of its own: its throughput goes to the log, from which
    // the time of the whole export (count × this) can be planned.
    eprintln!(
        "{STAGE}: shard {}/{}: {} rows × {n} columns in {:.1} s: {:.3e} pairs/s \
         (product {:.1} s, copy {:.1} s, scan {:.1} s; {:.1} GFLOP/s)",
        shard.index,
        shard.count,
        rows.len(),
        timing.total_seconds,
        (rows.len() * n) as f64 / timing.total_seconds.max(1e-9),
        timing.product_seconds,
        timing.copy_seconds,
        timing.scan_seconds,
        timing.flops / timing.total_seconds.max(1e-9) / 1e9,
    );
    let info = PartInfo {
        fingerprint: fingerprint.to_string(),
        n_samples: n,
        rows: [rows.start, rows.end],
    };
    let path = shard::write_part(stage_dir, shard, &info, &c)?;
    eprintln!("{STAGE}: wrote {}", path.display());
    Ok(Outcome::Ran {
        key: fingerprint.to_string(),
        elapsed: started.elapsed(),
    })
}

impl Inputs {
    fn dictionary_towers(&self, rows: std::ops::Range<usize>) -> (Tensor, Tensor) {
        self.model.towers(&self.dictionary, rows)
    }

    /// The kept coefficients of `rows`: the energy's top `top_k`; with the elastic-net
    /// `refine` its top `refine_candidates` (or the ridge solve's, `refine_candidates_by`)
    /// re-weighted by the joint solve, of which `top_k` are kept; with the ridge `refine`
    /// the closed-form solve over every other sample.
    fn coefficients(
        &self,
        config: &AffinityConfig,
        rows: std::ops::Range<usize>,
        mut on_rows: impl FnMut(usize),
    ) -> anyhow::Result<(Triplets, topk::BlockedTiming)> {
        let host_dictionary = || {
            let values = self
                .host_dictionary
                .as_deref()
                .expect("inputs for a refine config keep the host dictionary");
            (values, self.dictionary.size()[1] as usize)
        };
        // The ridge solve over every other sample: the kept coefficients, or the elastic-net
        // solve's candidates.
        let ridge = config
            .refine
            .and_then(|refine| refine.ridge_solve(config.top_k));
        let (c, timing) = match ridge {
            Some((gamma, keep)) => {
                let started = std::time::Instant::now();
                let (values, dim) = host_dictionary();
                let c = ridge::ridge_rows(values, dim, gamma, rows.clone(), keep)
                    .context("the ridge solve")?;
                on_rows(rows.len());
                let timing = topk::BlockedTiming {
                    total_seconds: started.elapsed().as_secs_f64(),
                    ..Default::default()
                };
                (c, timing)
            }
            None => {
                let (u, v) = self.dictionary_towers(rows.clone());
                let candidates = config.refine.and_then(Refine::energy_candidates);
                let scored = candidates.unwrap_or(config.top_k);
                let (c, timing) = topk::top_k_coefficients(
                    &u,
                    &v,
                    rows.clone(),
                    &self.model.map,
                    scored,
                    config.block_size,
                    on_rows,
                );
                if candidates.is_none() {
                    (c, timing)
                } else {
                    // The elastic-net solve's candidates: a row the shrink threshold leaves
                    // fewer than top_k takes the energy's best scores instead, which the solve
                    // weighs. Training holds the threshold under its batches' median row
                    // maximum, so most rows keep theirs; over all N samples some may not. A
                    // row has at most N − 1 atoms to offer.
                    let short_of = config.top_k.min((v.size()[0] as usize).saturating_sub(1));
                    let by_score = || {
                        let map = self.model.map.ranking_every_score();
                        topk::top_k_coefficients(
                            &u,
                            &v,
                            rows.clone(),
                            &map,
                            scored,
                            config.block_size,
                            |_| {},
                        )
                        .0
                    };
                    (fill_short_rows(c, rows.clone(), short_of, by_score), timing)
                }
            }
        };
        let Some(Refine::ElasticNet { weights, .. }) = config.refine else {
            return Ok((c, timing));
        };
        let (values, dim) = host_dictionary();
        Ok((
            solve::refine_rows(&c, values, dim, weights, config.top_k),
            timing,
        ))
    }
}

/// `c` (rows `rows`, sorted by row and column) with every row that holds fewer than `keep`
/// entries replaced by that row of `fallback()`, which runs only when a row is short.
fn fill_short_rows(
    c: Triplets,
    rows: std::ops::Range<usize>,
    keep: usize,
    fallback: impl FnOnce() -> Triplets,
) -> Triplets {
    let mut counts = vec![0usize; rows.len()];
    for &row in &c.rows {
        counts[row as usize - rows.start] += 1;
    }
    if counts.iter().all(|&count| count >= keep) {
        return c;
    }
    let other = fallback();
    let mut out = Triplets::default();
    let (mut i, mut j) = (0, 0);
    for (offset, &count) in counts.iter().enumerate() {
        let row = (rows.start + offset) as u32;
        let from_fallback = count < keep;
        while i < c.len() && c.rows[i] == row {
            if !from_fallback {
                out.push(row, c.cols[i], c.values[i]);
            }
            i += 1;
        }
        while j < other.len() && other.rows[j] == row {
            if from_fallback {
                out.push(row, other.cols[j], other.values[j]);
            }
            j += 1;
        }
    }
    out
}

fn load_inputs(
    args: &Args,
    upstream: &UpstreamDirs,
    config: &AffinityConfig,
) -> anyhow::Result<Inputs> {
    ebsc_nn::device::set_threads(args.threads);
    let device = ebsc_nn::resolve_device(args.device)?;
    let model_path = train::MODEL.path(&upstream.train);
    let mut model = EnergyModel::load(&model_path, device)?;
    if !config.residual {
        model.score_cosine_only(&model_path)?;
        eprintln!(
            "{STAGE}: residual = false: pairs scored by the energy's cosine term alone \
             (κ = {})",
            model.net.geometry
        );
    }
    let keep_host_dictionary = config.refine.is_some();
    let (dictionary, values) = ebsc_nn::trained::load_dictionary(
        &train::FEATURES.path(&upstream.train),
        model.input_dim(),
        device,
    )?;
    let labels = known_labels(read_sample_labels(
        &prepare::SAMPLES.path(&upstream.prepare),
        dictionary.size()[0] as usize,
    )?);
    Ok(Inputs {
        model,
        dictionary,
        host_dictionary: keep_host_dictionary.then_some(values),
        labels,
        device,
    })
}

/// `None` when no sample has a label.
fn known_labels(labels: Vec<Option<i32>>) -> Option<Vec<Option<i32>>> {
    labels.iter().any(Option::is_some).then_some(labels)
}

fn compute_rows(
    run: &mut StageRun,
    inputs: &Inputs,
    config: &AffinityConfig,
    rows: std::ops::Range<usize>,
) -> anyhow::Result<Triplets> {
    let progress = run.progress("coefficients", rows.len() as u64, "rows");
    if let Some(note) = config.refine_note() {
        run.log(note);
    }
    let (c, timing) = inputs.coefficients(config, rows, |r| progress.inc(r as u64))?;
    progress.finish();
    run.stat("blocked_seconds", timing.total_seconds);
    run.stat("product_seconds", timing.product_seconds);
    run.stat("copy_seconds", timing.copy_seconds);
    run.stat("scan_seconds", timing.scan_seconds);
    run.stat(
        "gflops",
        timing.flops / timing.total_seconds.max(1e-9) / 1e9,
    );
    Ok(c)
}

fn finish_outputs(
    run: &mut StageRun,
    config: &AffinityConfig,
    mut coefficients: Triplets,
    n_samples: usize,
    labels: Option<&[Option<i32>]>,
) -> anyhow::Result<()> {
    run.stat("n_samples", n_samples);
    run.stat("coefficient_nonzeros", coefficients.len());
    run.stat(
        "mean_nonzeros_per_row",
        coefficients.len() as f64 / n_samples.max(1) as f64,
    );
    if let Some(labels) = labels
        && let Some(error) = stats::subspace_preserving_error(&coefficients, labels)
    {
        run.log(format!("subspace-preserving error {error:.4}"));
        run.stat("subspace_preserving_error", error);
    }
    let mut file = run.create_output(affinity::COEFFICIENTS.file)?;
    ebsc_io::write_triplets(file.writer(), &coefficients)?;
    file.commit()?;

    if let Some(perplexity) = config.perplexity {
        let mut powers = graph::calibrate_perplexity(&mut coefficients, perplexity);
        if !powers.is_empty() {
            powers.sort_by(f64::total_cmp);
            let at = |q: f64| powers[((powers.len() - 1) as f64 * q).round() as usize];
            let capped = powers.iter().filter(|&&p| p >= graph::MAX_POWER).count();
            run.log(format!(
                "perplexity {perplexity}: each row's coefficients raised to a power of its own \
                 (median {:.2}, 10–90 % {:.2}–{:.2}; {capped} rows at the cap {}): the energy \
                 at temperature T / power",
                at(0.5),
                at(0.1),
                at(0.9),
                graph::MAX_POWER
            ));
            run.stat("perplexity_power_median", at(0.5));
            run.stat("perplexity_capped_rows", capped);
        }
    }
    if config.normalize_rows {
        graph::normalize_rows(&mut coefficients);
    }
    let affinity = match config.graph {
        AffinityGraph::Symmetric => graph::symmetric(&coefficients),
        AffinityGraph::Knn { k } => graph::knn(&coefficients, n_samples, k),
    };
    run.stat("affinity_edges", affinity.len());
    let mut file = run.create_output(affinity::AFFINITY.file)?;
    ebsc_io::write_triplets(file.writer(), &affinity)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triplets(entries: &[(u32, u32)]) -> Triplets {
        let mut t = Triplets::default();
        for &(row, col) in entries {
            t.push(row, col, (row * 10 + col) as f32);
        }
        t
    }

    #[test]
    fn short_rows_take_the_fallbacks_entries_and_full_rows_keep_theirs() {
        // Rows 3–5, two candidates wanted: row 3 has them, row 4 none, row 5 one.
        let c = triplets(&[(3, 0), (3, 1), (5, 2)]);
        let fallback = triplets(&[(3, 7), (3, 8), (4, 0), (4, 1), (5, 0), (5, 2)]);
        let filled = fill_short_rows(c.clone(), 3..6, 2, || fallback.clone());
        assert_eq!(
            filled,
            triplets(&[(3, 0), (3, 1), (4, 0), (4, 1), (5, 0), (5, 2)])
        );
        // Every row full: the fallback never runs.
        let full = triplets(&[(3, 0), (3, 1)]);
        let kept = fill_short_rows(full.clone(), 3..4, 2, || panic!("not needed"));
        assert_eq!(kept, full);
    }
}
