//! `ebsc-cluster`: spectral clustering of the affinity graph, scores against the labels
//! and a report with figures — the last stage of every pipeline (docs/method.md,
//! docs/artifacts.md).
//!
//! Every mode runs the same phases ([`cluster_stage`], in `stage.rs`):
//! - pipeline: `ebsc-cluster pipelines/x.toml` reads the `affinity` and `prepare`
//!   stages' files and writes `<runs>/<pipeline>/cluster/` through the stage runner
//!   (key, cache, manifest);
//! - standalone: `ebsc-cluster --affinity g.parquet --n-clusters K --out DIR` clusters a
//!   user's own graph, writing the same files (atomically) into `DIR`, with no manifest;
//! - feature baselines: `ebsc-cluster --features f.safetensors --tensor T --n-clusters K
//!   --out DIR [--knn K]`, k-means on the rows or spectral clustering of their kNN graph
//!   ([`features`]), the ablations' reference points.

pub mod config;
pub mod features;
pub mod figures;
pub mod gallery;
pub mod input;
pub mod lowest_cut;
pub mod outputs;
pub mod quality;
pub mod referee;
pub mod report;
pub mod spectral;
pub mod stage;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ebsc_core::progress::{ProgressMode, format_duration};
use ebsc_core::{Outcome, Pipeline, StageRunner};
use ebsc_io::artifacts::{affinity, cluster, prepare, train};

use crate::config::{ClusterConfig, ClusterCountSetting, RestartChoiceSetting, SizesSetting};
use crate::input::Mode;
use crate::lowest_cut::CutSetting;
use crate::referee::RefereeSetting;

pub const STAGE: &str = cluster::STAGE;
/// Bump when the outputs for a given config change (2: `report/` figures drawn with
/// titles, axes and legends, as PNG and SVG; 3: LOBPCG starts from power steps, so
/// eigenvectors, and with them assignments, move within the tolerance; 4:
/// `assignments.parquet` carries each sample's `source` from `samples.parquet`; 5:
/// `metrics.json` has `quality`, the report a cluster table and, for images, a gallery;
/// 6: with equal sizes, the k-means restart with the lowest normalised cut is kept; 7:
/// whatever the sizes, the lowest cut among the restarts near the lowest inertia).
pub const STAGE_VERSION: u32 = 7;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ebsc-cluster",
    version,
    about = "Spectral clustering of an affinity graph: assignments, ACC/NMI/ARI, report with figures",
    long_about = "Spectral clustering of an affinity graph: assignments.parquet, metrics.json and \
report/ (report.md and PNG figures).\n\n\
Pipeline mode: `ebsc-cluster pipelines/x.toml` reads <runs-dir>/<pipeline>/affinity/affinity.parquet \
and the labels of <runs-dir>/<pipeline>/prepare/samples.parquet, takes its settings from the \
[cluster] section, and writes <runs-dir>/<pipeline>/cluster/ with a manifest (cached: a second \
run is up to date).\n\n\
Standalone mode, for a graph of your own: `ebsc-cluster --affinity graph.parquet \
[--labels samples.parquet] --n-clusters K|auto --out DIR [--seed S]`. The graph has columns \
`row`, `col` (unsigned integers) and `value` (non-negative float), both directions of every \
edge; the sample count is the labels file's row count, or the largest index + 1. The same \
files are written atomically into DIR, with no manifest and no caching: every run recomputes.\n\n\
Feature baselines: `ebsc-cluster --features f.safetensors --tensor NAME [--labels samples.parquet] \
--n-clusters K --out DIR` runs k-means++ on the tensor's rows (u8 images scaled to [0, 1]; \
--normalize-rows for cosine geometry); with `--knn K` it clusters the rows' cosine K-nearest-neighbour \
graph spectrally instead (the graph lands in DIR/affinity.parquet).",
    group(clap::ArgGroup::new("mode").required(true).args(["pipeline", "affinity", "features"])),
    group(clap::ArgGroup::new("standalone").args(["affinity", "features"]))
)]
pub struct Args {
    /// Pipeline file, e.g. pipelines/mnist-demo.toml (pipeline mode).
    pub pipeline: Option<PathBuf>,
    /// Where run folders go: <runs-dir>/<pipeline>/<stage>/ (pipeline mode).
    #[arg(long, default_value = "data/runs")]
    pub runs_dir: PathBuf,
    /// Run even when the outputs are up to date (pipeline mode).
    #[arg(long, conflicts_with = "standalone")]
    pub force: bool,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Standalone mode: affinity Parquet (`row`, `col`, `value`) to cluster. Given several
    /// times (graphs of the same samples, e.g. one pipeline run with several seeds), their
    /// mean is clustered, each graph scaled to the same total weight.
    #[arg(long, help_heading = "Standalone mode (no pipeline, no manifest)", requires_all = ["n_clusters", "out"])]
    pub affinity: Vec<PathBuf>,
    /// Labels Parquet (a `label` i32 column, null when unknown; e.g. a samples.parquet):
    /// one row per sample, for the scores.
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub labels: Option<PathBuf>,
    /// Number of clusters (≥ 2), or `auto` for the largest eigengap.
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub n_clusters: Option<ClusterCountSetting>,
    /// Eigenvectors to compute (default: the number of clusters; 50 with `auto`).
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub n_eigenvectors: Option<usize>,
    /// Use (W + Wᵀ)/2 when the graph is not symmetric (an error otherwise).
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub symmetrize: bool,
    /// Cluster sizes: `free`, or `equal` (held equal after k-means on the embedding;
    /// spectral clustering only: --affinity, or --features with --knn).
    #[arg(
        long,
        value_enum,
        default_value_t = SizesSetting::Free,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub sizes: SizesSetting,
    /// Which k-means restart is kept: `normalized-cut` (the graph's lowest normalised cut
    /// among the restarts near the lowest inertia) or `inertia` (the lowest k-means
    /// inertia). Spectral clustering only.
    #[arg(
        long,
        value_enum,
        default_value_t = RestartChoiceSetting::NormalizedCut,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub restart_choice: RestartChoiceSetting,
    /// Output folder for assignments.parquet, metrics.json and report/ (created).
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub out: Option<PathBuf>,
    /// Seed of the eigensolver's start and k-means (default 0).
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "standalone"
    )]
    pub seed: Option<u64>,

    /// The eigenvector referee in standalone mode: a train stage's features.safetensors
    /// (its `dictionary` tensor), of the run of the first graph given to --affinity or of
    /// each graph's run; several are put side by side (each row L2-normalised, then
    /// concatenated: their cosines averaged), or judged apart (--referee-apart). Of the
    /// graph's partitions with n_clusters to n_clusters + --referee-max-extra eigenvectors,
    /// the one that agrees best with the dictionary's partition is kept, as `[cluster]
    /// eigenvector_referee` does.
    #[arg(
        long,
        help_heading = "Eigenvector referee (standalone mode)",
        requires = "affinity"
    )]
    pub referee_dictionary: Vec<PathBuf>,
    /// With several --referee-dictionary: each dictionary referees on its own and a count
    /// scores its best agreement with any of them (what a pipeline's members do), instead
    /// of one referee on the dictionaries side by side.
    #[arg(
        long,
        help_heading = "Eigenvector referee (standalone mode)",
        requires = "referee_dictionary"
    )]
    pub referee_apart: bool,
    /// Counts tried: n_clusters to n_clusters + this many eigenvectors.
    #[arg(
        long,
        help_heading = "Eigenvector referee (standalone mode)",
        requires = "referee_dictionary",
        default_value_t = 6
    )]
    pub referee_max_extra: usize,
    /// Ask k-means on the dictionary first, and let it referee when the recipe's partition
    /// agrees with it (NMI) at least this much (the images template: 0.75, on sets of 100
    /// samples a cluster and more); without it k-means is not asked.
    #[arg(
        long,
        help_heading = "Eigenvector referee (standalone mode)",
        requires = "referee_dictionary"
    )]
    pub referee_min_agreement: Option<f64>,
    /// Neighbours per row of the dictionary's cosine graph whose spectral partition
    /// referees where k-means does not.
    #[arg(
        long,
        help_heading = "Eigenvector referee (standalone mode)",
        requires = "referee_dictionary",
        default_value_t = 10
    )]
    pub referee_knn: usize,
    /// Of the graph's partitions with n_clusters to n_clusters + this many eigenvectors,
    /// keep the one of lowest normalised cut, as `[cluster] eigenvector_cut` does (for
    /// graphs of samples near linear subspaces).
    #[arg(
        long,
        help_heading = "Standalone mode (no pipeline, no manifest)",
        requires = "affinity",
        conflicts_with = "referee_dictionary"
    )]
    pub eigenvector_cut: Option<usize>,

    /// Feature baseline: a safetensors file whose tensor `--tensor` holds one row per
    /// sample (e.g. prepare's inputs.safetensors or pretrain's features.safetensors).
    #[arg(long, help_heading = "Feature baselines (no pipeline, no manifest)", requires_all = ["tensor", "n_clusters", "out"], conflicts_with = "affinity")]
    pub features: Option<PathBuf>,
    /// The tensor of --features to cluster (`images`, `features`, `head`, `backbone`...).
    #[arg(
        long,
        help_heading = "Feature baselines (no pipeline, no manifest)",
        requires = "features"
    )]
    pub tensor: Option<String>,
    /// Spectral clustering of the rows' cosine kNN graph with this many neighbours,
    /// instead of k-means on the rows.
    #[arg(
        long,
        help_heading = "Feature baselines (no pipeline, no manifest)",
        requires = "features",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub knn: Option<u64>,
    /// L2-normalise the rows before k-means.
    #[arg(
        long,
        help_heading = "Feature baselines (no pipeline, no manifest)",
        requires = "features",
        conflicts_with = "knn"
    )]
    pub normalize_rows: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Stage(Outcome),
    Standalone { out: PathBuf, elapsed: Duration },
}

impl Finished {
    /// The one line the stage ends with.
    pub fn summary(&self) -> String {
        match self {
            Finished::Stage(outcome) => outcome.summary(STAGE),
            Finished::Standalone { out, elapsed } => format!(
                "{STAGE}: done in {} (standalone, outputs in {}, no manifest)",
                format_duration(*elapsed),
                out.display()
            ),
        }
    }
}

/// Prints the outcome line or the error (one line, with its context chain).
pub fn finish(result: anyhow::Result<Finished>) -> ExitCode {
    match result {
        Ok(finished) => {
            println!("{}", finished.summary());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{STAGE}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<Finished> {
    match (&args.pipeline, args.affinity.as_slice(), &args.features) {
        (Some(pipeline), _, _) => run_pipeline(args, pipeline).map(Finished::Stage),
        (None, [_, ..], _) | (None, [], Some(_)) => run_standalone(args),
        (None, [], None) => anyhow::bail!(
            "give a pipeline file, --affinity for standalone mode or --features for a baseline"
        ),
    }
}

fn run_pipeline(args: &Args, path: &Path) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::load(path)?;
    let config = ClusterConfig::from_pipeline(&pipeline)?;
    let mut runner = StageRunner::new(&pipeline, &args.runs_dir, STAGE, STAGE_VERSION)
        .config(&config)
        .upstream(affinity::STAGE)
        .upstream(prepare::STAGE)
        .progress(args.progress);
    // The referee's dictionary is a dependency only where it is read, so the keys of
    // pipelines without it are unchanged.
    let refereed = config.eigenvector_referee.is_some();
    if refereed {
        runner = runner.upstream_reading(&[train::FEATURES]);
    }
    // Several members: the mean of their graphs, and each member's dictionary referees on
    // its own (the strongest agreement decides).
    let mut graphs = vec![runner.upstream_path(&affinity::AFFINITY)];
    let mut dictionaries = Vec::new();
    if refereed {
        dictionaries.push(runner.upstream_path(&train::FEATURES));
    }
    for member in 1..pipeline.settings.members {
        runner = runner.member_upstream_reading(member, &[affinity::AFFINITY]);
        graphs.push(runner.member_upstream_path(member, &affinity::AFFINITY));
        if refereed {
            runner = runner.member_upstream_reading(member, &[train::FEATURES]);
            dictionaries.push(runner.member_upstream_path(member, &train::FEATURES));
        }
    }
    let inputs = Inputs {
        affinity: graphs,
        labels: Some(runner.upstream_path(&prepare::SAMPLES)),
        images: Some(runner.upstream_path(&prepare::INPUTS)),
        referee: dictionaries,
        referee_apart: true,
        mode: Mode::Pipeline,
        name: pipeline.name.clone(),
    };
    runner.run(args.force, |run| {
        let seed = run.seed();
        cluster_stage(run, &inputs, &config, seed)
    })
}

/// `--affinity` (one graph or several) or, without it, `--features` (a baseline).
fn run_standalone(args: &Args) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let (Some(n_clusters), Some(out)) = (args.n_clusters, &args.out) else {
        anyhow::bail!("standalone mode needs --n-clusters and --out");
    };
    let mut config = ClusterConfig::with_defaults(n_clusters);
    config.n_eigenvectors = args.n_eigenvectors;
    config.symmetrize = args.symmetrize;
    config.sizes = args.sizes;
    config.restart_choice = args.restart_choice;
    if !args.referee_dictionary.is_empty() {
        config.eigenvector_referee = Some(RefereeSetting {
            max_extra: args.referee_max_extra,
            min_agreement: args.referee_min_agreement,
            knn_graph: Some(args.referee_knn),
        });
    }
    config.eigenvector_cut = args
        .eigenvector_cut
        .map(|max_extra| CutSetting { max_extra });
    anyhow::ensure!(
        !args.affinity.is_empty() || args.knn.is_some() || args.sizes == SizesSetting::Free,
        "--sizes equal holds the sizes of spectral clusters: give --knn with --features"
    );
    config.check().map_err(anyhow::Error::msg)?;
    if args.affinity.is_empty() {
        let (Some(features), Some(tensor)) = (&args.features, &args.tensor) else {
            anyhow::bail!("--features needs --tensor");
        };
        let run = features::FeatureRun {
            features: features.clone(),
            tensor: tensor.clone(),
            labels: args.labels.clone(),
            out: out.clone(),
            knn: args.knn.map(|k| k as usize),
            normalize_rows: args.normalize_rows,
            seed: args.seed.unwrap_or(0),
        };
        features::run(&run, &config)?;
        return Ok(Finished::Standalone {
            out: out.clone(),
            elapsed: started.elapsed(),
        });
    }
    let inputs = Inputs {
        affinity: args.affinity.clone(),
        labels: args.labels.clone(),
        images: None,
        referee: args.referee_dictionary.clone(),
        referee_apart: args.referee_apart,
        mode: Mode::Standalone,
        name: folder_name(out),
    };
    let mut sink = Standalone { dir: out.clone() };
    cluster_stage(&mut sink, &inputs, &config, args.seed.unwrap_or(0))?;
    Ok(Finished::Standalone {
        out: out.clone(),
        elapsed: started.elapsed(),
    })
}

pub use stage::{Inputs, Sink, Standalone, cluster_stage, folder_name};
pub(crate) use stage::{score_known, score_summary};
