//! One run of the stage, in named phases: read, graph, eigen + k-means, metrics, quality,
//! figures, write. Pipeline, standalone and baseline modes all come here; a [`Sink`] is
//! where a run writes (a stage folder with its manifest, or a plain folder).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ebsc_core::progress::format_duration;
use ebsc_core::{AtomicFile, StageRun};
use ebsc_io::Triplets;
use ebsc_io::artifacts::{Artifact, REPORT_DIR, cluster, train};
use ebsc_io::assignments::write_assignments;
use ebsc_plot::Figure;
use ebsc_spectral::{
    BuildReport, ClusteringScores, ContingencyTable, EigenMethod, SparseGraph, evaluate,
    matched_classes,
};

use crate::config::{ClusterConfig, ClusterCountSetting, RestartChoiceSetting};
use crate::gallery::Images;
use crate::input::{self, CountSource, GraphChecks, Mode};
use crate::lowest_cut::{self, CutRecord, CutSetting};
use crate::outputs::{Metrics, Scores};
use crate::quality::Quality;
use crate::referee::{self, RefereeKind, RefereeRecord, RefereeSetting, Verdict};
use crate::spectral::{self, Clustering};
use crate::{STAGE, figures, report};

/// The files a run reads.
pub struct Inputs {
    /// The affinity Parquet, or several graphs of the same samples to cluster their mean
    /// (`--affinity` repeated, or a pipeline's members; [`input::read_mean_affinity`]).
    /// Never empty.
    pub affinity: Vec<PathBuf>,
    pub labels: Option<PathBuf>,
    /// Prepare's `inputs.safetensors`, for the gallery when it holds images (absent or
    /// without an `images` tensor: no gallery).
    pub images: Option<PathBuf>,
    /// The train stage's `features.safetensors`, for `eigenvector_referee`: the run's own
    /// (its first member's) in pipeline mode, those of `--referee-dictionary` in standalone mode (several side
    /// by side); empty where the setting is absent.
    pub referee: Vec<PathBuf>,
    /// Several `referee` dictionaries each referee on their own and the strongest
    /// agreement decides (a pipeline's members, `--referee-apart`), rather than side by side.
    pub referee_apart: bool,
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

    /// A whole output from memory, written atomically.
    fn write_output(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let mut file = self.create_output(name)?;
        file.write_all(bytes)
            .with_context(|| format!("{}: cannot write", file.destination().display()))?;
        file.commit()
    }
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

/// Reads, checks, clusters, scores and writes every output, phase by phase; each phase
/// logs what it did and its time goes into `metrics.json`.
pub fn cluster_stage(
    sink: &mut dyn Sink,
    inputs: &Inputs,
    config: &ClusterConfig,
    seed: u64,
) -> anyhow::Result<()> {
    let mut timings = Timings(BTreeMap::new());
    let read = read_phase(sink, inputs, &mut timings)?;
    let n_eigenvectors = check_counts(config, read.n_samples, inputs)?;
    if let Some(warning) = config.eigenvector_warning() {
        sink.log(&warning);
    }
    let Read {
        labels,
        class_names,
        sources,
        triplets,
        n_samples,
        count_source,
    } = read;
    let checks = GraphChecks {
        n_samples,
        count_source,
        symmetrize: config.symmetrize,
        mode: inputs.mode,
    };
    // The graph takes the triplets' arrays, so they are not held beside it.
    let checked = graph_phase(sink, inputs, config, (triplets, &checks), &mut timings)?;
    let clustering = cluster_phase(
        sink,
        &checked.graph,
        config,
        n_eigenvectors,
        seed,
        &mut timings,
    )?;
    let (clustering, referee) = match &config.eigenvector_referee {
        Some(setting) => {
            let (clustering, record) = referee_phase(
                sink,
                &checked.graph,
                config,
                (setting, &inputs.referee, inputs.referee_apart),
                (clustering, n_eigenvectors),
                seed,
                &mut timings,
            )?;
            (clustering, Some(record))
        }
        None => (clustering, None),
    };
    let (clustering, cut) = match &config.eigenvector_cut {
        Some(setting) => {
            let (clustering, record) = cut_phase(
                sink,
                &checked.graph,
                config,
                setting,
                (clustering, n_eigenvectors),
                seed,
                &mut timings,
            );
            (clustering, Some(record))
        }
        None => (clustering, None),
    };
    let mut metrics = base_metrics(config, &checked, &clustering);
    metrics.eigenvector_referee = referee;
    metrics.eigenvector_cut = cut;
    let labels = labels.filter(|l| l.iter().any(Option::is_some));
    let matched = score_phase(
        sink,
        labels.as_deref(),
        &clustering,
        &mut metrics,
        &mut timings,
    )?;
    metrics.quality = quality_phase(
        sink,
        &checked.graph,
        &clustering,
        labels.as_deref(),
        seed,
        &mut timings,
    );
    let images = match &inputs.images {
        Some(path) => Images::open(path, n_samples)?,
        None => None,
    };
    let figures = figures_phase(
        sink,
        &figures::FigureData {
            name: &inputs.name,
            graph: &checked.graph,
            clustering: &clustering,
            labels: labels.as_deref(),
            class_names: &class_names,
            metrics: &metrics,
            matched: matched.as_deref(),
            seed,
            images: images.as_ref(),
        },
        &mut timings,
    )?;
    drop(checked);
    metrics.timings = write_phase(
        sink,
        &clustering,
        labels.as_deref(),
        sources.as_deref(),
        timings,
    )?;
    write_report(
        sink,
        inputs,
        &metrics,
        labels.is_some(),
        &class_names,
        sources.as_deref(),
        &figures,
    )?;
    record_stats(sink, &metrics);
    Ok(())
}

/// What the read phase found.
struct Read {
    labels: Option<Vec<Option<i32>>>,
    /// Class id → name, from `label_name` (empty without one).
    class_names: BTreeMap<i32, String>,
    /// Each sample's origin, from the labels file's `source` column (when it has one).
    sources: Option<Vec<Option<String>>>,
    triplets: Triplets,
    n_samples: usize,
    count_source: CountSource,
}

/// The labels (when given) and the affinity triplets; the sample count from the labels
/// file, or from the largest index without one.
fn read_phase(sink: &dyn Sink, inputs: &Inputs, timings: &mut Timings) -> anyhow::Result<Read> {
    let started = Instant::now();
    // The two files are read side by side; a bad labels file is reported first, as it
    // would be read first on its own.
    let (labels, triplets) = std::thread::scope(|scope| {
        let labels = inputs
            .labels
            .as_deref()
            .map(|path| scope.spawn(|| ebsc_io::labels::read_labels_file(path)));
        let triplets = input::read_mean_affinity(&inputs.affinity);
        (labels.map(ebsc_io::triplets::join_or_resume), triplets)
    });
    let (labels, class_names, sources) = match labels.transpose()? {
        Some(file) => (Some(file.labels), file.names, file.sources),
        None => (None, BTreeMap::new(), None),
    };
    let triplets = triplets?;
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
    Ok(Read {
        labels,
        class_names,
        sources,
        triplets,
        n_samples,
        count_source,
    })
}

/// The checked graph and what building it reported.
struct CheckedGraph {
    graph: SparseGraph,
    build: BuildReport,
    components: usize,
}

/// Builds the sparse graph (checks: indices, weights, symmetry) and warns about what
/// clustering it will not fix: self loops, isolated nodes, too many components.
fn graph_phase(
    sink: &dyn Sink,
    inputs: &Inputs,
    config: &ClusterConfig,
    (triplets, checks): (Triplets, &GraphChecks),
    timings: &mut Timings,
) -> anyhow::Result<CheckedGraph> {
    let started = Instant::now();
    let (graph, build) = input::build_mean_graph(&inputs.affinity, triplets, checks)?;
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
    Ok(CheckedGraph {
        graph,
        build,
        components,
    })
}

/// The eigensolver and k-means (`ebsc_spectral::spectral_clustering`), each timed.
fn cluster_phase(
    sink: &dyn Sink,
    graph: &SparseGraph,
    config: &ClusterConfig,
    n_eigenvectors: usize,
    seed: u64,
    timings: &mut Timings,
) -> anyhow::Result<Clustering> {
    let clustering = spectral::cluster(graph, config, n_eigenvectors, seed)?;
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
        "kmeans: {} clusters, {} restarts (kept: lowest {}), inertia {:.4} in {}",
        clustering.n_clusters,
        config.kmeans_restarts,
        match config.restart_choice {
            RestartChoiceSetting::Inertia => "inertia",
            RestartChoiceSetting::NormalizedCut => "normalised cut near the lowest inertia",
        },
        clustering.inertia,
        format_duration(clustering.kmeans_time)
    ));
    if let Some(equal) = clustering.equal_sizes {
        sink.log(&format!(
            "sizes: held equal in {} rounds after k-means, inertia {:.4}",
            equal.rounds, equal.inertia
        ));
    }
    Ok(clustering)
}

/// The referee's choice among the eigenvector counts ([`crate::referee`]): the count whose
/// partition agrees best with the referee's ([`referee::ask`]), or the recipe's where no
/// referee answers. Dictionaries judged `apart` each ask their own referee, and a count
/// scores its best agreement with any referee that answered.
fn referee_phase(
    sink: &dyn Sink,
    graph: &SparseGraph,
    config: &ClusterConfig,
    (setting, paths, apart): (&RefereeSetting, &[PathBuf], bool),
    (recipe, n_eigenvectors): (Clustering, usize),
    seed: u64,
    timings: &mut Timings,
) -> anyhow::Result<(Clustering, RefereeRecord)> {
    let started = Instant::now();
    anyhow::ensure!(
        !paths.is_empty(),
        "eigenvector_referee reads a trained dictionary: the run's in pipeline mode, \
         --referee-dictionary in standalone mode"
    );
    let n_clusters = recipe.n_clusters;
    let groups: Vec<&[PathBuf]> = if apart {
        paths.chunks(1).collect()
    } else {
        vec![paths]
    };
    let mut verdicts = Vec::with_capacity(groups.len());
    for group in &groups {
        let rows = referee::read_dictionaries(group, train::DICTIONARY_TENSOR, graph.n_nodes())?;
        verdicts.push(referee::ask(
            &rows,
            setting,
            &recipe.assignments,
            (n_clusters, n_eigenvectors),
            config,
            seed,
        ));
    }

    let shut = |agrees: f64| {
        format!(
            "k-means on the trained dictionary agrees {agrees:.3} with the recipe's partition, \
             below {}",
            setting.min_agreement.unwrap_or_default()
        )
    };
    let unasked = |kind: RefereeKind, kmeans_shut: Option<f64>| RefereeRecord {
        referee: kind,
        recipe_agreement: None,
        agreements: Vec::new(),
        chosen: n_eigenvectors,
        kmeans_agreement: kmeans_shut,
        failed_counts: Vec::new(),
        error: None,
        per_dictionary: Vec::new(),
    };
    // The referees that answered judge the counts; where none did, the first verdict says
    // why (a referee's index is its group's).
    let mut referees: Vec<(usize, RefereeKind, Vec<u32>, Option<f64>)> = Vec::new();
    let mut unanswered = None;
    for (i, verdict) in verdicts.into_iter().enumerate() {
        match verdict {
            Verdict::Referee {
                kind,
                partition,
                kmeans_shut,
            } => referees.push((i, kind, partition, kmeans_shut)),
            other => {
                unanswered.get_or_insert(other);
            }
        }
    }
    let (record, kept, note) = match (referees.is_empty(), unanswered) {
        (true, Some(Verdict::Shut(agrees))) => {
            let record = RefereeRecord {
                recipe_agreement: Some(agrees),
                agreements: vec![(n_eigenvectors, agrees)],
                ..unasked(RefereeKind::Kmeans, None)
            };
            let note = format!(" ({}: not consulted)", shut(agrees));
            (record, recipe, note)
        }
        (
            true,
            Some(Verdict::Unanswered {
                kind,
                error,
                kmeans_shut,
            }),
        ) => {
            let note = format!(" ({}: {error})", referee::dictionary_label(groups[0]));
            let record = RefereeRecord {
                error: Some(error),
                ..unasked(kind, kmeans_shut)
            };
            (record, recipe, note)
        }
        _ => {
            // Each referee's agreement with a partition; a count scores the best of them.
            let judge = |assignments: &[u32]| -> Vec<f64> {
                referees
                    .iter()
                    .map(|(_, _, partition, _)| referee::agreement(partition, assignments))
                    .collect()
            };
            let best = |scores: &[f64]| scores.iter().copied().fold(f64::MIN, f64::max);
            let recipe_scores = judge(&recipe.assignments);
            let recipe_agreement = best(&recipe_scores);
            let (clusterings, failed_counts) = other_counts(
                graph,
                config,
                (n_clusters, n_eigenvectors, setting.max_extra),
                seed,
            );
            let mut scores: Vec<(usize, Vec<f64>)> = clusterings
                .iter()
                .map(|(m, c)| (*m, judge(&c.assignments)))
                .collect();
            let mut tried: Vec<(usize, f64)> = scores.iter().map(|(m, s)| (*m, best(s))).collect();
            let chosen = referee::choose((n_eigenvectors, recipe_agreement), &tried);
            let kept = take_chosen(clusterings, chosen, recipe);
            scores.push((n_eigenvectors, recipe_scores));
            scores.sort_by_key(|(m, _)| *m);
            tried.push((n_eigenvectors, recipe_agreement));
            tried.sort_by_key(|&(m, _)| m);
            // The record names the referee that agreed best with the partition kept.
            let chosen_scores = &scores.iter().find(|(m, _)| *m == chosen).expect("scored").1;
            let winner = (0..referees.len()).fold(0, |w, i| {
                if chosen_scores[i] > chosen_scores[w] {
                    i
                } else {
                    w
                }
            });
            let (_, kind, _, kmeans_shut) = referees[winner];
            let mut note = kmeans_shut.map_or_else(String::new, |a| format!(" ({})", shut(a)));
            if groups.len() > 1 {
                note.push_str(&format!(
                    " (the best of {} dictionaries judged apart: {} agreed best)",
                    referees.len(),
                    groups[referees[winner].0][0].display()
                ));
            }
            for (m, error) in &failed_counts {
                note.push_str(&format!(" ({m} eigenvectors left out: {error})"));
            }
            let per_dictionary = if groups.len() > 1 {
                (0..referees.len())
                    .map(|i| scores.iter().map(|(m, s)| (*m, s[i])).collect())
                    .collect()
            } else {
                Vec::new()
            };
            let record = RefereeRecord {
                recipe_agreement: Some(recipe_agreement),
                agreements: tried,
                chosen,
                failed_counts,
                per_dictionary,
                ..unasked(kind, kmeans_shut)
            };
            (record, kept, note)
        }
    };
    let listed: Vec<String> = record
        .agreements
        .iter()
        .map(|(m, nmi)| format!("{m}: {nmi:.3}"))
        .collect();
    let referee = record.referee.describe(setting.knn_graph);
    let message = if record.error.is_some() {
        format!(
            "{referee} could not be computed; kept the recipe's {} eigenvectors{note}",
            record.chosen
        )
    } else {
        format!(
            "NMI with {referee} by eigenvector count ({}); kept {}{note}",
            listed.join(", "),
            record.chosen,
        )
    };
    timings.record(sink, "referee", started, message);
    Ok((kept, record))
}

/// The graph's partitions with `n_clusters` to `n_clusters + max_extra` eigenvectors but
/// the recipe's count (`n_eigenvectors`), clustered as the recipe was; a count whose
/// clustering fails is left out with its error. The referee and the cut choose among them.
fn other_counts(
    graph: &SparseGraph,
    config: &ClusterConfig,
    (n_clusters, n_eigenvectors, max_extra): (usize, usize, usize),
    seed: u64,
) -> (Vec<(usize, Clustering)>, referee::FailedCounts) {
    let counts = (n_clusters..=(n_clusters + max_extra).min(graph.n_nodes()))
        .filter(|&m| m != n_eigenvectors);
    referee::partitions_by_count(counts, |m| spectral::cluster(graph, config, m, seed))
}

/// The partition with `chosen` eigenvectors: one of `clusterings`, else the recipe's.
fn take_chosen(
    mut clusterings: Vec<(usize, Clustering)>,
    chosen: usize,
    recipe: Clustering,
) -> Clustering {
    match clusterings.iter().position(|&(m, _)| m == chosen) {
        Some(i) => clusterings.swap_remove(i).1,
        None => recipe,
    }
}

/// The count whose partition has the graph's lowest normalised cut ([`crate::lowest_cut`]),
/// among the recipe's and `n_clusters` to `n_clusters + max_extra`.
fn cut_phase(
    sink: &dyn Sink,
    graph: &SparseGraph,
    config: &ClusterConfig,
    setting: &CutSetting,
    (recipe, n_eigenvectors): (Clustering, usize),
    seed: u64,
    timings: &mut Timings,
) -> (Clustering, CutRecord) {
    let started = Instant::now();
    let n_clusters = recipe.n_clusters;
    let recipe_cut = lowest_cut::normalized_cut(graph, &recipe);
    let (clusterings, failed_counts) = other_counts(
        graph,
        config,
        (n_clusters, n_eigenvectors, setting.max_extra),
        seed,
    );
    let mut cuts: Vec<(usize, f64)> = clusterings
        .iter()
        .map(|(m, c)| (*m, lowest_cut::normalized_cut(graph, c)))
        .collect();
    let chosen = lowest_cut::choose((n_eigenvectors, recipe_cut), &cuts);
    let kept = take_chosen(clusterings, chosen, recipe);
    cuts.push((n_eigenvectors, recipe_cut));
    cuts.sort_by_key(|&(m, _)| m);
    let listed: Vec<String> = cuts
        .iter()
        .map(|(m, cut)| format!("{m}: {cut:.3}"))
        .collect();
    let mut note = String::new();
    for (m, error) in &failed_counts {
        note.push_str(&format!(" ({m} eigenvectors left out: {error})"));
    }
    timings.record(
        sink,
        "cut",
        started,
        format!(
            "normalised cut by eigenvector count ({}); kept {chosen}{note}",
            listed.join(", ")
        ),
    );
    let record = CutRecord {
        cuts,
        chosen,
        failed_counts,
    };
    (kept, record)
}

/// ACC/NMI/ARI into `metrics` when some labels are known; returns each cluster's matched
/// class.
fn score_phase(
    sink: &dyn Sink,
    labels: Option<&[Option<i32>]>,
    clustering: &Clustering,
    metrics: &mut Metrics,
    timings: &mut Timings,
) -> anyhow::Result<Option<Vec<Option<i32>>>> {
    let started = Instant::now();
    let Some(labels) = labels else {
        sink.log("no labels: assignments only, no scores");
        return Ok(None);
    };
    let (scores, table) = score_known(labels, &clustering.assignments)?;
    metrics.scores = Scores::new(&scores, &table);
    timings.record(sink, "metrics", started, score_summary(&scores, &table));
    Ok(Some(matched_classes(&table)))
}

/// The label-free measures and each cluster's representatives ([`crate::quality`]).
fn quality_phase(
    sink: &dyn Sink,
    graph: &SparseGraph,
    clustering: &Clustering,
    labels: Option<&[Option<i32>]>,
    seed: u64,
    timings: &mut Timings,
) -> Quality {
    let started = Instant::now();
    let quality = Quality::measure(
        graph,
        &clustering.assignments,
        clustering.n_clusters,
        &clustering.embedding,
        clustering.embedding_dims,
        &clustering.eigenvalues,
        labels,
        seed,
    );
    timings.record(sink, "quality", started, quality_summary(&quality));
    quality
}

/// The quality phase's log line.
fn quality_summary(quality: &Quality) -> String {
    format!(
        "cohesion {:.4}, normalised cut {:.4}, eigengap {} (suggests {} clusters), silhouette {:.4} on {} samples",
        quality.cohesion,
        quality.normalized_cut,
        quality
            .eigengap
            .map_or_else(|| "–".to_string(), |g| format!("{g:.4}")),
        quality.eigengap_n_clusters,
        quality.silhouette,
        quality.silhouette_samples
    )
}

fn figures_phase(
    sink: &dyn Sink,
    data: &figures::FigureData,
    timings: &mut Timings,
) -> anyhow::Result<Vec<(Artifact, Figure)>> {
    let started = Instant::now();
    let figures = figures::draw(data)?;
    timings.record(
        sink,
        "figures",
        started,
        format!("{} figures", figures.len()),
    );
    Ok(figures)
}

/// `assignments.parquet`, with each sample's label and source where known; returns the
/// phase timings, complete.
fn write_phase(
    sink: &mut dyn Sink,
    clustering: &Clustering,
    labels: Option<&[Option<i32>]>,
    sources: Option<&[Option<String>]>,
    mut timings: Timings,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let started = Instant::now();
    std::fs::create_dir_all(sink.dir().join(REPORT_DIR))
        .with_context(|| format!("{}: cannot create", sink.dir().display()))?;
    let name = cluster::ASSIGNMENTS.file;
    let mut file = sink.create_output(name)?;
    write_assignments(
        &mut file,
        &clustering.assignments,
        labels.unwrap_or(&[]),
        sources.unwrap_or(&[]),
    )
    .context(name)?;
    file.commit()?;
    timings.record(&*sink, "write", started, name.to_string());
    Ok(timings.0)
}

/// `metrics.json`, the figures and `report/report.md` (which lists each cluster's
/// representatives by `sources` when the labels file has them).
fn write_report(
    sink: &mut dyn Sink,
    inputs: &Inputs,
    metrics: &Metrics,
    labelled: bool,
    class_names: &BTreeMap<i32, String>,
    sources: Option<&[Option<String>]>,
    figures: &[(Artifact, Figure)],
) -> anyhow::Result<()> {
    sink.write_output(cluster::METRICS.file, metrics.to_json()?.as_bytes())?;
    for (artifact, figure) in figures {
        for (name, bytes) in figure.files(artifact.file) {
            sink.write_output(&name, bytes)?;
        }
    }
    // A previous run with labels (or images) may have left a confusion matrix (or a
    // gallery); it would describe another run.
    for optional in [cluster::CONFUSION_FIGURE, cluster::GALLERY_FIGURE] {
        if !figures
            .iter()
            .any(|(artifact, _)| artifact.file == optional.file)
        {
            for name in optional.files() {
                let _ = std::fs::remove_file(sink.dir().join(name));
            }
        }
    }
    let report_sources = report::Sources {
        affinity: input::affinity_label(&inputs.affinity),
        labels: inputs
            .labels
            .as_ref()
            .filter(|_| labelled)
            .map(|p| p.display().to_string()),
        class_names,
        gallery: figures
            .iter()
            .any(|(artifact, _)| artifact.file == cluster::GALLERY_FIGURE.file),
        samples: sources,
    };
    sink.write_output(
        cluster::REPORT.file,
        report::render(metrics, &report_sources).as_bytes(),
    )
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
    let counted_in = match &inputs.labels {
        Some(labels) => labels.display().to_string(),
        None => input::affinity_label(&inputs.affinity),
    };
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
    checked: &CheckedGraph,
    clustering: &Clustering,
) -> Metrics {
    let CheckedGraph {
        graph,
        build,
        components,
    } = checked;
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
        equal_size_rounds: clustering.equal_sizes.map(|e| e.rounds),
        graph_entries: graph.n_stored_entries(),
        self_loops_dropped: build.self_loops_dropped,
        duplicates_summed: build.duplicates_summed,
        symmetrized: build.symmetrized,
        isolated_nodes: graph.n_isolated_nodes(),
        connected_components: *components,
        quality: Quality::default(),
        eigenvector_referee: None,
        eigenvector_cut: None,
        timings: BTreeMap::new(),
    }
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
    sink.stat("silhouette", json!(metrics.quality.silhouette));
    sink.stat("normalized_cut", json!(metrics.quality.normalized_cut));
    sink.stat("isolated_nodes", json!(metrics.isolated_nodes));
    sink.stat("connected_components", json!(metrics.connected_components));
    sink.stat("self_loops_dropped", json!(metrics.self_loops_dropped));
    sink.stat("eigen_method", json!(metrics.eigen_method));
    sink.stat("cluster_sizes", json!(metrics.cluster_sizes));
}
