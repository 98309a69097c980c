//! `ebsc-cluster`: spectral clustering of the affinity graph, scores against the labels
//! and a report with figures — the last stage of every pipeline (docs/method.md,
//! docs/artifacts.md).
//!
//! Two modes share one code path ([`cluster_stage`]):
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
pub mod input;
pub mod outputs;
pub mod report;
pub mod spectral;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ebsc_core::progress::{ProgressMode, format_duration};
use ebsc_core::{AtomicFile, Outcome, Pipeline, StageRun, StageRunner};
use ebsc_spectral::{
    ClusteringScores, ContingencyTable, EigenMethod, SparseGraph, evaluate, matched_classes,
};

use crate::config::{ClusterConfig, ClusterCountSetting};
use crate::input::{CountSource, Mode};
use crate::outputs::{ASSIGNMENTS_FILE, METRICS_FILE, Metrics, Scores};
use crate::spectral::Clustering;

pub const STAGE: &str = "cluster";
/// Bump when the outputs for a given config change meaning (2: `report/` figures drawn
/// with titles, axes and legends, as PNG and SVG).
pub const STAGE_VERSION: u32 = 2;
/// What the upstream stages write and this stage reads.
pub const AFFINITY_FILE: &str = "affinity.parquet";
pub const SAMPLES_FILE: &str = "samples.parquet";

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

    /// Standalone mode: affinity Parquet (`row`, `col`, `value`) to cluster.
    #[arg(long, help_heading = "Standalone mode (no pipeline, no manifest)", requires_all = ["n_clusters", "out"])]
    pub affinity: Option<PathBuf>,
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
    /// Eigenvectors to compute (default: the number of clusters; 20 with `auto`).
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
    match (&args.pipeline, &args.affinity, &args.features) {
        (Some(pipeline), _, _) => run_pipeline(args, pipeline).map(Finished::Stage),
        (None, Some(affinity), _) => run_standalone(args, Some(affinity)),
        (None, None, Some(_)) => run_standalone(args, None),
        (None, None, None) => anyhow::bail!(
            "give a pipeline file, --affinity for standalone mode or --features for a baseline"
        ),
    }
}

fn run_pipeline(args: &Args, path: &Path) -> anyhow::Result<Outcome> {
    let pipeline = Pipeline::load(path)?;
    let config = ClusterConfig::from_pipeline(&pipeline)?;
    let runner = StageRunner::new(&pipeline, &args.runs_dir, STAGE, STAGE_VERSION)
        .config(&config)
        .upstream("affinity")
        .upstream("prepare")
        .progress(args.progress);
    let inputs = Inputs {
        affinity: runner.upstream_dir("affinity").join(AFFINITY_FILE),
        labels: Some(runner.upstream_dir("prepare").join(SAMPLES_FILE)),
        mode: Mode::Pipeline,
        name: pipeline.name.clone(),
    };
    runner.run(args.force, |run| {
        let seed = run.seed();
        cluster_stage(run, &inputs, &config, seed)
    })
}

/// `--affinity` (a graph) or, when `affinity` is `None`, `--features` (a baseline).
fn run_standalone(args: &Args, affinity: Option<&Path>) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let (Some(n_clusters), Some(out)) = (args.n_clusters, &args.out) else {
        anyhow::bail!("standalone mode needs --n-clusters and --out");
    };
    let mut config = ClusterConfig::with_defaults(n_clusters);
    config.n_eigenvectors = args.n_eigenvectors;
    config.symmetrize = args.symmetrize;
    config.check().map_err(anyhow::Error::msg)?;
    let Some(affinity) = affinity else {
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
    };
    let inputs = Inputs {
        affinity: affinity.to_path_buf(),
        labels: args.labels.clone(),
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

/// The files a run reads.
pub struct Inputs {
    pub affinity: PathBuf,
    pub labels: Option<PathBuf>,
    pub mode: Mode,
    /// The run's name in figure titles: the pipeline's, or the output folder's.
    pub name: String,
}

/// The last component of `dir`, for titles ("out" when it has none).
pub fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "out".to_string(), |n| n.to_string_lossy().into_owned())
}

/// Where a run writes: a pipeline stage folder (with manifest) or a plain folder.
pub trait Sink {
    fn dir(&self) -> &Path;
    /// Opens an output; it lands under its name only on `commit`.
    fn create_output(&mut self, name: &str) -> anyhow::Result<AtomicFile>;
    /// A number for the manifest (dropped in standalone mode).
    fn stat(&mut self, name: &str, value: serde_json::Value);
    fn log(&self, message: &str);
}

impl Sink for StageRun {
    fn dir(&self) -> &Path {
        StageRun::dir(self)
    }
    fn create_output(&mut self, name: &str) -> anyhow::Result<AtomicFile> {
        StageRun::create_output(self, name)
    }
    fn stat(&mut self, name: &str, value: serde_json::Value) {
        StageRun::stat(self, name, value);
    }
    fn log(&self, message: &str) {
        StageRun::log(self, message);
    }
}

/// Standalone mode's output folder: atomic files, no manifest.
pub struct Standalone {
    pub dir: PathBuf,
}

impl Sink for Standalone {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn create_output(&mut self, name: &str) -> anyhow::Result<AtomicFile> {
        AtomicFile::create(&self.dir.join(name))
    }
    fn stat(&mut self, _name: &str, _value: serde_json::Value) {}
    fn log(&self, message: &str) {
        eprintln!("{STAGE}: {message}");
    }
}

/// Seconds per phase, logged as they end.
struct Timings(BTreeMap<String, f64>);

impl Timings {
    fn record(&mut self, sink: &dyn Sink, phase: &str, started: Instant, what: String) {
        let elapsed = started.elapsed();
        self.0.insert(phase.to_string(), elapsed.as_secs_f64());
        sink.log(&format!("{phase}: {what} in {}", format_duration(elapsed)));
    }
}

/// Reads, checks, clusters, scores and writes every output.
pub fn cluster_stage(
    sink: &mut dyn Sink,
    inputs: &Inputs,
    config: &ClusterConfig,
    seed: u64,
) -> anyhow::Result<()> {
    let mut timings = Timings(BTreeMap::new());

    let started = Instant::now();
    let labels = inputs
        .labels
        .as_deref()
        .map(input::read_labels)
        .transpose()?;
    let triplets = input::read_affinity(&inputs.affinity)?;
    let (n_samples, count_source) = match (&labels, &inputs.labels) {
        (Some(labels), Some(path)) => (labels.len(), CountSource::Labels(path.clone())),
        _ => (
            input::n_samples_from_triplets(&triplets),
            CountSource::MaxIndex,
        ),
    };
    timings.record(
        sink,
        "read",
        started,
        format!("{} entries, {n_samples} samples", triplets.len()),
    );
    let n_eigenvectors = check_counts(config, n_samples, inputs)?;
    if let Some(warning) = config.eigenvector_warning() {
        sink.log(&warning);
    }

    let started = Instant::now();
    let (graph, build) = input::build_graph(
        &inputs.affinity,
        &triplets,
        n_samples,
        &count_source,
        config.symmetrize,
        inputs.mode,
    )?;
    drop(triplets);
    if config.symmetrize {
        sink.log(&format!(
            "warning: symmetrize is on: clustering (W + Wᵀ)/2{}",
            if build.symmetrized {
                ", which differs from W"
            } else {
                " (W was already symmetric)"
            }
        ));
    }
    if build.self_loops_dropped > 0 {
        sink.log(&format!(
            "warning: {} self loops (row = col) dropped",
            build.self_loops_dropped
        ));
    }
    let isolated_nodes = graph.n_isolated_nodes();
    let components = graph.n_connected_components();
    if isolated_nodes > 0 {
        sink.log(&format!(
            "warning: {isolated_nodes} isolated nodes (no edge to any other sample)"
        ));
    }
    if components > config_clusters_hint(config) {
        sink.log(&format!(
            "warning: the graph has {components} connected components, more than the {} clusters asked for; clustering anyway",
            config.n_clusters
        ));
    }
    timings.record(
        sink,
        "graph",
        started,
        format!(
            "{} stored entries, {components} components",
            graph.n_stored_entries()
        ),
    );

    let clustering = spectral::cluster(&graph, config, n_eigenvectors, seed)?;
    timings
        .0
        .insert("eigen".into(), clustering.eigen_time.as_secs_f64());
    sink.log(&format!(
        "eigen: top {n_eigenvectors} eigenpairs ({}, {} iterations, largest residual {:.1e}) in {}",
        method_name(clustering.eigen_method),
        clustering.eigen_iterations,
        clustering.eigen_max_residual,
        format_duration(clustering.eigen_time)
    ));
    if let Some(k) = clustering.eigengap_n_clusters {
        sink.log(&format!("eigengap: {k} clusters"));
    }
    timings
        .0
        .insert("kmeans".into(), clustering.kmeans_time.as_secs_f64());
    sink.log(&format!(
        "kmeans: {} clusters, {} restarts, inertia {:.4} in {}",
        clustering.n_clusters,
        config.kmeans_restarts,
        clustering.inertia,
        format_duration(clustering.kmeans_time)
    ));

    let started = Instant::now();
    let mut metrics = base_metrics(config, &graph, &clustering, build, components);
    let labels = labels.filter(|l| l.iter().any(Option::is_some));
    let mut matched = None;
    if let Some(labels) = &labels {
        let (scores, table) = score_known(labels, &clustering.assignments)?;
        metrics.scores = Scores::new(&scores, &table);
        matched = Some(matched_classes(&table));
        timings.record(sink, "metrics", started, score_summary(&scores, &table));
    } else {
        sink.log("no labels: assignments only, no scores");
    }

    let started = Instant::now();
    // Class names are cosmetic: a labels file without `label_name` shows the ids.
    let class_names = match (&labels, &inputs.labels) {
        (Some(_), Some(path)) => input::read_class_names(path),
        _ => BTreeMap::new(),
    };
    let figures = figures::draw(&figures::FigureData {
        name: &inputs.name,
        graph: &graph,
        clustering: &clustering,
        labels: labels.as_deref(),
        class_names: &class_names,
        metrics: &metrics,
        matched: matched.as_deref(),
        seed,
    })?;
    timings.record(
        sink,
        "figures",
        started,
        format!("{} figures", figures.len()),
    );
    drop(graph);

    let started = Instant::now();
    std::fs::create_dir_all(sink.dir().join(report::REPORT_DIR))
        .with_context(|| format!("{}: cannot create", sink.dir().display()))?;
    let mut file = sink.create_output(ASSIGNMENTS_FILE)?;
    outputs::write_assignments(
        &mut file,
        &clustering.assignments,
        labels.as_deref().unwrap_or(&[]),
    )
    .context(ASSIGNMENTS_FILE)?;
    file.commit()?;
    timings.record(sink, "write", started, ASSIGNMENTS_FILE.to_string());

    metrics.timings = timings.0;
    write_bytes(sink, METRICS_FILE, metrics.to_json()?.as_bytes())?;
    for (stem, figure) in &figures {
        for (name, bytes) in figure.files(&format!("{}/{stem}", report::REPORT_DIR)) {
            write_bytes(sink, &name, bytes)?;
        }
    }
    if !figures.iter().any(|(stem, _)| *stem == "confusion") {
        // A previous run with labels may have left one; it would describe another run.
        for name in report::CONFUSION_FILES {
            let _ = std::fs::remove_file(sink.dir().join(name));
        }
    }
    let sources = report::Sources {
        affinity: inputs.affinity.display().to_string(),
        labels: labels
            .as_ref()
            .and(inputs.labels.as_ref())
            .map(|p| p.display().to_string()),
    };
    write_bytes(
        sink,
        report::REPORT_MD,
        report::render(&metrics, &sources).as_bytes(),
    )?;
    record_stats(sink, &metrics);
    Ok(())
}

/// ACC/NMI/ARI of the samples whose label is known, with their contingency table.
pub(crate) fn score_known(
    labels: &[Option<i32>],
    assignments: &[u32],
) -> anyhow::Result<(ClusteringScores, ContingencyTable)> {
    let (known_labels, known_clusters): (Vec<i32>, Vec<u32>) = labels
        .iter()
        .zip(assignments)
        .filter_map(|(label, &cluster)| label.map(|l| (l, cluster)))
        .unzip();
    evaluate(&known_labels, &known_clusters).map_err(|e| anyhow::anyhow!("scoring: {e}"))
}

/// The log line of a scoring.
pub(crate) fn score_summary(scores: &ClusteringScores, table: &ContingencyTable) -> String {
    format!(
        "ACC {:.4}, NMI {:.4}, ARI {:.4} on {} labelled samples",
        scores.accuracy,
        scores.nmi_arithmetic,
        scores.ari,
        table.n_samples()
    )
}

/// Checks the counts against the data; returns the eigenvectors to compute.
fn check_counts(
    config: &ClusterConfig,
    n_samples: usize,
    inputs: &Inputs,
) -> anyhow::Result<usize> {
    let counted_in = inputs.labels.as_ref().unwrap_or(&inputs.affinity).display();
    if let ClusterCountSetting::Fixed(k) = config.n_clusters {
        anyhow::ensure!(
            k <= n_samples,
            "n_clusters = {k} is more than the {n_samples} samples of {counted_in}"
        );
    }
    let n_eigenvectors = config.n_eigenvectors(n_samples);
    anyhow::ensure!(
        n_eigenvectors <= n_samples,
        "n_eigenvectors = {n_eigenvectors} is more than the {n_samples} samples of {counted_in}"
    );
    anyhow::ensure!(
        n_samples >= 2,
        "{counted_in}: {n_samples} sample; clustering needs at least 2"
    );
    Ok(n_eigenvectors)
}

/// The cluster count for the components warning (the eigengap's lower bound with auto).
fn config_clusters_hint(config: &ClusterConfig) -> usize {
    match config.n_clusters {
        ClusterCountSetting::Fixed(k) => k,
        ClusterCountSetting::Auto => usize::MAX,
    }
}

fn method_name(method: EigenMethod) -> String {
    format!("{method:?}").to_lowercase()
}

fn base_metrics(
    config: &ClusterConfig,
    graph: &SparseGraph,
    clustering: &Clustering,
    build: ebsc_spectral::BuildReport,
    components: usize,
) -> Metrics {
    let mut cluster_sizes = vec![0usize; clustering.n_clusters];
    for &c in &clustering.assignments {
        cluster_sizes[c as usize] += 1;
    }
    Metrics {
        n_samples: graph.n_nodes(),
        n_clusters: clustering.n_clusters,
        n_clusters_requested: config.n_clusters.to_string(),
        eigengap_n_clusters: clustering.eigengap_n_clusters,
        n_eigenvectors: clustering.eigenvalues.len(),
        scores: Scores::default(),
        cluster_sizes,
        eigenvalues: clustering.eigenvalues.clone(),
        eigen_method: method_name(clustering.eigen_method),
        eigen_iterations: clustering.eigen_iterations,
        eigen_max_residual: clustering.eigen_max_residual,
        kmeans_inertia: clustering.inertia,
        kmeans_iterations: clustering.kmeans_iterations,
        graph_entries: graph.n_stored_entries(),
        self_loops_dropped: build.self_loops_dropped,
        duplicates_summed: build.duplicates_summed,
        symmetrized: build.symmetrized,
        isolated_nodes: graph.n_isolated_nodes(),
        connected_components: components,
        timings: BTreeMap::new(),
    }
}

fn write_bytes(sink: &mut dyn Sink, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = sink.create_output(name)?;
    file.write_all(bytes)
        .with_context(|| format!("{}: cannot write", file.destination().display()))?;
    file.commit()
}

fn record_stats(sink: &mut dyn Sink, metrics: &Metrics) {
    use serde_json::json;
    sink.stat("n_samples", json!(metrics.n_samples));
    sink.stat("n_clusters", json!(metrics.n_clusters));
    sink.stat("n_clusters_requested", json!(metrics.n_clusters_requested));
    if let Some(k) = metrics.eigengap_n_clusters {
        sink.stat("eigengap_n_clusters", json!(k));
    }
    for (name, value) in [
        ("acc", metrics.scores.acc),
        ("nmi", metrics.scores.nmi),
        ("nmi_geometric", metrics.scores.nmi_geometric),
        ("ari", metrics.scores.ari),
    ] {
        if let Some(value) = value {
            sink.stat(name, json!(value));
        }
    }
    sink.stat("isolated_nodes", json!(metrics.isolated_nodes));
    sink.stat("connected_components", json!(metrics.connected_components));
    sink.stat("self_loops_dropped", json!(metrics.self_loops_dropped));
    sink.stat("eigen_method", json!(metrics.eigen_method));
    sink.stat("cluster_sizes", json!(metrics.cluster_sizes));
}
