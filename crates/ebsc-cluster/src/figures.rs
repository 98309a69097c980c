//! The report's figures, each as PNG and SVG (`ebsc-plot`), titled with the run's name
//! and scores:
//!
//! - `affinity`: `W` with samples sorted by class (by cluster without labels), summed
//!   into at most [`MAX_AFFINITY_BINS`]² bins, log-shaded, class boundaries drawn and named;
//! - `confusion`: classes (named from `label_name`) in rows, clusters in columns ordered
//!   by their Hungarian match, the count in each cell;
//! - `embedding`: the row-normalised spectral embedding, linearly projected so that the
//!   cluster means sit on a circle (a seeded subsample of at most
//!   [`MAX_EMBEDDING_POINTS`]), coloured by cluster;
//! - `spectrum`: the eigenvalues with the chosen k and the largest eigengap marked;
//! - `gallery` (image data only): each cluster's most and least representative samples
//!   ([`crate::gallery`]).
//!
//! This module turns the run's data into charts; drawing is `ebsc-plot`'s.

use std::collections::BTreeMap;

use ebsc_io::artifacts::{Artifact, cluster};
use ebsc_plot::{BlockMatrix, ConfusionChart, Figure, Group, Scatter, SpectrumChart};
use ebsc_spectral::{SparseGraph, eigengap_at_least_two};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::outputs::{Confusion, Metrics};
use crate::spectral::Clustering;

/// Largest side of the affinity picture, in bins (an SVG cell per non-empty bin).
pub const MAX_AFFINITY_BINS: usize = 200;
/// Samples drawn at most in the embedding scatter.
pub const MAX_EMBEDDING_POINTS: usize = 10_000;

/// What the figures are drawn from.
pub struct FigureData<'a> {
    /// The run's name for the titles (the pipeline, or the output folder).
    pub name: &'a str,
    pub graph: &'a SparseGraph,
    pub clustering: &'a Clustering,
    pub labels: Option<&'a [Option<i32>]>,
    /// Class id → name, from the labels file's `label_name` (may be empty).
    pub class_names: &'a BTreeMap<i32, String>,
    pub metrics: &'a Metrics,
    /// `matched[c]`: the class the Hungarian match gave cluster `c`.
    pub matched: Option<&'a [Option<i32>]>,
    pub seed: u64,
    /// Prepare's images, for the gallery; `None` for feature data or without them.
    pub images: Option<&'a crate::gallery::Images>,
}

/// A figure's artifact and how to draw it.
type Job<'a> = (
    Artifact,
    Box<dyn Fn() -> anyhow::Result<Figure> + Sync + 'a>,
);

/// Every figure the run has, with the artifact it is written as, in report order.
/// Each is drawn on its own thread: rasterising and PNG/SVG encoding are serial work.
pub fn draw(data: &FigureData) -> anyhow::Result<Vec<(Artifact, Figure)>> {
    let mut jobs: Vec<Job> = vec![(
        cluster::AFFINITY_FIGURE,
        Box::new(|| ebsc_plot::render(&affinity_chart(data))),
    )];
    if let (Some(confusion), Some(matched)) = (&data.metrics.scores.confusion, data.matched) {
        jobs.push((
            cluster::CONFUSION_FIGURE,
            Box::new(move || ebsc_plot::render(&confusion_chart(data, confusion, matched))),
        ));
    }
    jobs.push((
        cluster::EMBEDDING_FIGURE,
        Box::new(|| ebsc_plot::render(&embedding_chart(data))),
    ));
    jobs.push((
        cluster::SPECTRUM_FIGURE,
        Box::new(|| ebsc_plot::render(&spectrum_chart(data))),
    ));
    if let Some(images) = data.images {
        jobs.push((
            cluster::GALLERY_FIGURE,
            Box::new(move || {
                ebsc_plot::render(&crate::gallery::chart(&crate::gallery::GalleryData {
                    name: data.name,
                    quality: &data.metrics.quality,
                    images,
                    class_names: data.class_names,
                })?)
            }),
        ));
    }
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .iter()
            .map(|(artifact, job)| (*artifact, scope.spawn(job)))
            .collect();
        running
            .into_iter()
            .map(|(artifact, thread)| {
                let figure = thread.join().map_err(|payload| {
                    anyhow::anyhow!(
                        "drawing {} panicked: {}",
                        artifact.file,
                        ebsc_io::triplets::panic_message(payload.as_ref())
                    )
                })??;
                Ok((artifact, figure))
            })
            .collect()
    })
}

/// " — ACC 0.9706 · NMI 0.9353 · ARI 0.9363", or nothing without labels.
fn scores_suffix(metrics: &Metrics) -> String {
    match (metrics.scores.acc, metrics.scores.nmi, metrics.scores.ari) {
        (Some(acc), Some(nmi), Some(ari)) => {
            format!(" — ACC {acc:.4} · NMI {nmi:.4} · ARI {ari:.4}")
        }
        _ => String::new(),
    }
}

pub(crate) fn class_name(names: &BTreeMap<i32, String>, class: i32) -> String {
    match names.get(&class) {
        Some(name) if name != &class.to_string() => name.clone(),
        _ => class.to_string(),
    }
}

/// Each sample's group: its class, unknown labels last; its cluster without labels.
fn sample_groups(data: &FigureData) -> Vec<i64> {
    match data.labels {
        Some(labels) => labels
            .iter()
            .map(|l| l.map_or(i64::MAX, i64::from))
            .collect(),
        None => data
            .clustering
            .assignments
            .iter()
            .map(|&c| i64::from(c))
            .collect(),
    }
}

/// Each sample's position when samples are sorted by `group` (stable; ties keep index
/// order).
pub fn grouped_positions(group: &[i64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..group.len() as u32).collect();
    order.sort_by_key(|&i| group[i as usize]);
    let mut position = vec![0u32; group.len()];
    for (rank, &node) in order.iter().enumerate() {
        position[node as usize] = rank as u32;
    }
    position
}

/// `W` reordered by `group`, summed into `bins × bins` bins (row-major), `bins ≤
/// MAX_AFFINITY_BINS`.
pub fn affinity_bins(graph: &SparseGraph, group: &[i64]) -> (usize, Vec<f64>) {
    let n = graph.n_nodes().max(1);
    let bins = n.min(MAX_AFFINITY_BINS);
    // Each node's bin, computed once: the loop below meets every node ~degree times.
    let bin: Vec<u32> = grouped_positions(group)
        .into_iter()
        .map(|position| (position as usize * bins / n) as u32)
        .collect();
    let mut sums = vec![0f64; bins * bins];
    for (node, &node_bin) in bin.iter().enumerate() {
        let row = &mut sums[node_bin as usize * bins..(node_bin as usize + 1) * bins];
        let (cols, weights) = graph.row(node);
        for (&col, &weight) in cols.iter().zip(weights) {
            row[bin[col as usize] as usize] += f64::from(weight);
        }
    }
    (bins, sums)
}

/// The runs of equal values in sorted `group`, as sample-rank ranges.
pub fn group_runs(group: &[i64]) -> Vec<(i64, usize, usize)> {
    let mut sorted = group.to_vec();
    sorted.sort_unstable();
    let mut runs: Vec<(i64, usize, usize)> = Vec::new();
    for (rank, &g) in sorted.iter().enumerate() {
        match runs.last_mut() {
            Some(last) if last.0 == g => last.2 = rank + 1,
            _ => runs.push((g, rank, rank + 1)),
        }
    }
    runs
}

fn affinity_chart(data: &FigureData) -> BlockMatrix {
    let group = sample_groups(data);
    let (bins, sums) = affinity_bins(data.graph, &group);
    let labelled = data.labels.is_some();
    let groups = group_runs(&group)
        .into_iter()
        .map(|(g, start, end)| Group {
            name: match (labelled, g) {
                (true, i64::MAX) => "unknown".into(),
                (true, g) => class_name(data.class_names, g as i32),
                (false, g) => format!("cluster {g}"),
            },
            start,
            end,
        })
        .collect();
    BlockMatrix {
        title: format!("{}: affinity W{}", data.name, scores_suffix(data.metrics)),
        sorted_by: if labelled { "true class" } else { "cluster" }.into(),
        n_samples: data.graph.n_nodes(),
        bins,
        sums,
        groups,
    }
}

/// Columns of the confusion matrix in drawing order: the cluster matched to each
/// class in class order, then unmatched clusters. `matched[c]` is cluster `c`'s class.
pub fn matched_column_order(confusion: &Confusion, matched: &[Option<i32>]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(confusion.clusters.len());
    for class in &confusion.classes {
        if let Some(c) = matched.iter().position(|m| m.as_ref() == Some(class)) {
            order.push(c);
        }
    }
    for c in 0..confusion.clusters.len() {
        if !order.contains(&c) {
            order.push(c);
        }
    }
    order
}

fn confusion_chart(
    data: &FigureData,
    confusion: &Confusion,
    matched: &[Option<i32>],
) -> ConfusionChart {
    let order = matched_column_order(confusion, matched);
    ConfusionChart {
        title: format!(
            "{}: confusion matrix{}",
            data.name,
            scores_suffix(data.metrics)
        ),
        row_names: confusion
            .classes
            .iter()
            .map(|&c| class_name(data.class_names, c))
            .collect(),
        column_names: order
            .iter()
            .map(|&c| confusion.clusters[c].to_string())
            .collect(),
        counts: confusion
            .counts
            .iter()
            .map(|row| order.iter().map(|&c| row[c]).collect())
            .collect(),
    }
}

/// The 2-D map of the embedding: the least-squares linear map `P` (`dims × 2`) that sends
/// each cluster's mean to its point on the unit circle (cluster `c` of `k` at angle
/// 2πc/k), `P = Mᵀ (M Mᵀ + εI)⁻¹ T` for the `k × dims` means `M` and targets `T`.
/// Clusters that the spectral step separated land around the circle; samples between two
/// clusters land between their points.
pub fn circle_projection(embedding: &[f64], dims: usize, clusters: &[u32], k: usize) -> Vec<f64> {
    let k = k.max(1);
    let mut means = vec![0f64; k * dims];
    let mut counts = vec![0usize; k];
    for (i, &c) in clusters.iter().enumerate() {
        let c = c as usize % k;
        counts[c] += 1;
        for d in 0..dims {
            means[c * dims + d] += embedding[i * dims + d];
        }
    }
    for c in 0..k {
        for d in 0..dims {
            means[c * dims + d] /= counts[c].max(1) as f64;
        }
    }
    // Gram matrix of the means, regularised so that empty or repeated means stay solvable.
    let mut gram = vec![0f64; k * k];
    for a in 0..k {
        for b in 0..k {
            gram[a * k + b] = (0..dims)
                .map(|d| means[a * dims + d] * means[b * dims + d])
                .sum();
        }
    }
    let trace: f64 = (0..k).map(|a| gram[a * k + a]).sum();
    let ridge = (trace / k as f64).max(1e-12) * 1e-6;
    for a in 0..k {
        gram[a * k + a] += ridge;
    }
    let mut targets = vec![0f64; k * 2];
    for c in 0..k {
        let angle = std::f64::consts::TAU * c as f64 / k as f64;
        targets[c * 2] = angle.cos();
        targets[c * 2 + 1] = angle.sin();
    }
    let solved = solve(gram, targets, k, 2);
    let mut projection = vec![0f64; dims * 2];
    for d in 0..dims {
        for j in 0..2 {
            projection[d * 2 + j] = (0..k)
                .map(|c| means[c * dims + d] * solved[c * 2 + j])
                .sum();
        }
    }
    projection
}

/// Solves `A X = B` (`A` n×n, `B` n×m, row-major) by Gaussian elimination with partial
/// pivoting; a singular pivot leaves its row of `X` at zero.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize, m: usize) -> Vec<f64> {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        if a[pivot * n + col].abs() < 1e-300 {
            continue;
        }
        for j in 0..n {
            a.swap(col * n + j, pivot * n + j);
        }
        for j in 0..m {
            b.swap(col * m + j, pivot * m + j);
        }
        for row in col + 1..n {
            let factor = a[row * n + col] / a[col * n + col];
            for j in col..n {
                a[row * n + j] -= factor * a[col * n + j];
            }
            for j in 0..m {
                b[row * m + j] -= factor * b[col * m + j];
            }
        }
    }
    let mut x = vec![0f64; n * m];
    for row in (0..n).rev() {
        let diagonal = a[row * n + row];
        if diagonal.abs() < 1e-300 {
            continue;
        }
        for j in 0..m {
            let rest: f64 = (row + 1..n).map(|c| a[row * n + c] * x[c * m + j]).sum();
            x[row * m + j] = (b[row * m + j] - rest) / diagonal;
        }
    }
    x
}

fn embedding_chart(data: &FigureData) -> Scatter {
    let clustering = data.clustering;
    let (dims, k) = (clustering.embedding_dims, clustering.n_clusters.max(1));
    let n = clustering.assignments.len();
    let projection = circle_projection(&clustering.embedding, dims, &clustering.assignments, k);
    // A seeded subsample in random order, so that no cluster is always drawn on top.
    let mut rng = ChaCha8Rng::seed_from_u64(data.seed);
    let drawn = rand::seq::index::sample(&mut rng, n, n.min(MAX_EMBEDDING_POINTS));
    let points = drawn
        .iter()
        .map(|i| {
            let row = &clustering.embedding[i * dims..(i + 1) * dims];
            let coordinate = |j: usize| {
                row.iter()
                    .enumerate()
                    .map(|(d, v)| v * projection[d * 2 + j])
                    .sum::<f64>()
            };
            (
                coordinate(0),
                coordinate(1),
                clustering.assignments[i] as usize,
            )
        })
        .collect();
    let mut sizes = vec![0usize; k];
    for &c in &clustering.assignments {
        sizes[c as usize % k] += 1;
    }
    let group_names = (0..k)
        .map(|c| {
            let class = data
                .matched
                .and_then(|m| m.get(c).copied().flatten())
                .map(|class| format!(" → {}", class_name(data.class_names, class)));
            format!("cluster {c}{} ({})", class.unwrap_or_default(), sizes[c])
        })
        .collect();
    let shown = if n > MAX_EMBEDDING_POINTS {
        format!("{} of {n} samples", MAX_EMBEDDING_POINTS)
    } else {
        format!("{n} samples")
    };
    Scatter {
        title: format!(
            "{}: spectral embedding, {shown}{}",
            data.name,
            scores_suffix(data.metrics)
        ),
        x_label: "projection 1 (cluster means placed on a circle)".into(),
        y_label: "projection 2".into(),
        points,
        group_names,
    }
}

fn spectrum_chart(data: &FigureData) -> SpectrumChart {
    let eigenvalues = data.clustering.eigenvalues.clone();
    let gap = (eigenvalues.len() >= 2).then(|| eigengap_at_least_two(&eigenvalues));
    SpectrumChart {
        title: format!("{}: spectrum of the normalised affinity", data.name),
        chosen_k: data.clustering.n_clusters,
        eigengap_at: gap,
        eigenvalues,
    }
}

#[cfg(test)]
mod tests {
    use ebsc_spectral::Symmetry;

    use super::*;

    /// Two blocks {0,2} and {1,3}, interleaved in index order.
    fn two_blocks() -> SparseGraph {
        let (rows, cols) = (vec![0, 2, 1, 3], vec![2, 0, 3, 1]);
        SparseGraph::from_triplets(4, &rows, &cols, &[1.0; 4], Symmetry::Require)
            .unwrap()
            .0
    }

    #[test]
    fn affinity_is_block_diagonal_after_reordering() {
        let (bins, sums) = affinity_bins(&two_blocks(), &[0, 1, 0, 1]);
        assert_eq!(bins, 4);
        // Sorted by class: positions 0,1 = class 0 and 2,3 = class 1; the edges fall in
        // bins (0,1), (1,0), (2,3), (3,2): inside the diagonal blocks.
        let mut expected = vec![0.0; 16];
        for (r, c) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
            expected[r * 4 + c] = 1.0;
        }
        assert_eq!(sums, expected);
        assert_eq!(group_runs(&[0, 1, 0, 1]), vec![(0, 0, 2), (1, 2, 4)]);
    }

    #[test]
    fn affinity_bins_are_capped() {
        let n = 2500u32;
        let rows: Vec<u32> = (0..n).collect();
        let cols: Vec<u32> = (0..n).map(|i| i ^ 1).collect();
        let graph = SparseGraph::from_triplets(
            n as usize,
            &rows,
            &cols,
            &vec![1.0; n as usize],
            Symmetry::Require,
        )
        .unwrap()
        .0;
        let (bins, sums) = affinity_bins(&graph, &vec![0; n as usize]);
        assert_eq!(bins, MAX_AFFINITY_BINS);
        // Every weight lands somewhere: the bins sum to the graph's total weight.
        assert_eq!(sums.iter().sum::<f64>(), f64::from(n));
    }

    #[test]
    fn confusion_column_order() {
        let confusion = Confusion {
            classes: vec![0, 1],
            clusters: vec![0, 1, 2],
            counts: vec![vec![0, 10, 0], vec![5, 0, 5]],
        };
        let order = matched_column_order(&confusion, &[Some(1), Some(0), None]);
        assert_eq!(order, vec![1, 0, 2]);
    }

    #[test]
    fn circle_projection_places_means_on_the_circle() {
        // Three clusters on three orthogonal axes of a 4-D embedding, with spread.
        let dims = 4;
        let mut embedding = Vec::new();
        let mut clusters = Vec::new();
        for c in 0..3u32 {
            for s in 0..5 {
                let mut row = vec![0.0; dims];
                row[c as usize] = 1.0;
                row[3] = (s as f64 - 2.0) * 0.1;
                embedding.extend(row);
                clusters.push(c);
            }
        }
        let p = circle_projection(&embedding, dims, &clusters, 3);
        for c in 0..3 {
            // The mean of cluster c is e_c (the spread averages out).
            let mapped = (p[c * 2], p[c * 2 + 1]);
            let angle = std::f64::consts::TAU * c as f64 / 3.0;
            assert!((mapped.0 - angle.cos()).abs() < 1e-4, "{c}: {mapped:?}");
            assert!((mapped.1 - angle.sin()).abs() < 1e-4, "{c}: {mapped:?}");
        }
    }

    #[test]
    fn solve_matches_a_hand_worked_system() {
        // [2 1; 1 3] x = [3; 5] → x = [0.8; 1.4].
        let x = solve(vec![2.0, 1.0, 1.0, 3.0], vec![3.0, 5.0], 2, 1);
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
    }
}
