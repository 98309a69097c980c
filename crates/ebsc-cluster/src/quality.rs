//! How good a clustering looks without labels, and which samples show each cluster best
//! (`metrics.json`'s `quality`, the report's cluster table and the gallery):
//!
//! - per cluster: its size and *cohesion*, the share of its members' affinity weight
//!   (its volume `vol(c) = Σ_{i∈c} d_i`) that stays inside it, `W(c, c) / vol(c)`;
//! - the *normalised cut* `Σ_c cut(c, c̄) / vol(c) = Σ_c (1 − cohesion_c)` (Shi and Malik's
//!   k-way form: 0 for clusters with no edge between them, at most k);
//! - the *eigengap* `λ_k − λ_{k+1}` of `D^{-1/2} W D^{-1/2}` at the k used, and the k the
//!   largest gap among the computed eigenvalues suggests (k ≥ 2, the rule of
//!   `n_clusters = "auto"`, so with "auto" it is the k used);
//! - the *silhouette* on the row-normalised embedding on the top k eigenvectors (the
//!   spare ones k-means may also use left out, so runs of one k with different
//!   `n_eigenvectors` are measured in one space; over all settings it tracked ACC better
//!   than the silhouette in the k-means space: docs/quality.md), Euclidean (scikit-learn's
//!   definition; a
//!   cluster of one scores 0): exact up to [`SILHOUETTE_SAMPLES`] samples; above, that
//!   many seeded samples, each against every sample (`O(N·s)`) up to
//!   [`SILHOUETTE_REFERENCE`] and against a seeded subsample of that many beyond;
//! - with labels, each cluster's majority class and purity (that class's share of the
//!   cluster's labelled members).
//!
//! A cluster's *representatives* are its samples nearest its centre (the mean of its
//! members' rows) in the embedding k-means clustered (every computed eigenvector); its *least representative*
//! ones are those with the smallest share of their affinity weight inside it (ties: the
//! smaller weighted degree), the samples the graph pulls towards other clusters. Both
//! measures were tried for both ends (docs/quality.md): the weight share cannot rank the
//! top on its own (59% of the fashion run's samples tie at share 1, so the tie-break
//! decides), and with the degree as tie-break it let 1s into a 5 cluster and 9s into a 4
//! cluster on 400 MNIST images, where the centre distance showed clean rows (representatives
//! with the cluster's majority label: 0.95 against 0.84; fashion 0.76 against 0.86, digits
//! 0.99 both). At the tail the share found the misplaced samples more often (least
//! representative with another label: 0.80, 0.60, 0.50 on fashion, MNIST, digits, against
//! 0.50, 0.55, 0.35 for the farthest from the centre).

use ebsc_spectral::{ClusterWeights, SparseGraph, eigengap_at_least_two};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Samples whose silhouette is computed (all of them up to this many).
pub const SILHOUETTE_SAMPLES: usize = 3_000;
/// Samples each silhouette is measured against (all of them up to this many).
pub const SILHOUETTE_REFERENCE: usize = 20_000;
/// Representative samples kept per cluster.
pub const REPRESENTATIVES: usize = 8;
/// Least representative samples kept per cluster.
pub const LEAST_REPRESENTATIVE: usize = 2;
/// How representatives are ranked, as `metrics.json` says it.
pub const REPRESENTATIVES_BY: &str = "distance to the cluster's centre in the spectral embedding";
/// How the least representative samples are ranked, as `metrics.json` says it.
pub const LEAST_REPRESENTATIVE_BY: &str =
    "share of the sample's affinity weight inside its cluster, lowest first";

/// `metrics.json`'s `quality`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Share of all affinity weight that stays inside clusters, `Σ_c W(c, c) / vol(V)`.
    pub cohesion: f64,
    /// `Σ_c cut(c, c̄) / vol(c)`, in `[0, k]`.
    pub normalized_cut: f64,
    /// `λ_k − λ_{k+1}` at the k used; absent when only k eigenvalues were computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigengap: Option<f64>,
    /// The k of the largest gap `λ_k − λ_{k+1}` (k ≥ 2) among the computed eigenvalues.
    pub eigengap_n_clusters: usize,
    /// Eigenvalues the eigengap looked at (the clusters it can suggest are below this).
    pub eigenvalues_scanned: usize,
    /// Mean silhouette of the samples it was computed for, in `[-1, 1]`, on the
    /// row-normalised top-k eigenvectors.
    pub silhouette: f64,
    /// Samples whose silhouette was computed.
    pub silhouette_samples: usize,
    /// Samples each silhouette was measured against.
    pub silhouette_reference: usize,
    /// How representatives are chosen ([`REPRESENTATIVES_BY`]).
    pub representatives_by: String,
    /// How the least representative samples are chosen ([`LEAST_REPRESENTATIVE_BY`]).
    pub least_representative_by: String,
    pub clusters: Vec<ClusterQuality>,
}

/// One cluster's entry in [`Quality::clusters`], by cluster id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterQuality {
    pub size: usize,
    /// `W(c, c) / vol(c)`; absent for a cluster without any edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohesion: Option<f64>,
    /// Mean silhouette of its members among the samples it was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette: Option<f64>,
    /// The commonest known label among its members (the smallest on ties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_class: Option<i32>,
    /// The majority class's share of its labelled members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purity: Option<f64>,
    /// Its samples nearest its centre, nearest first.
    pub representatives: Vec<u32>,
    /// Its samples with the smallest share of their affinity weight inside it, smallest
    /// first (none of the representatives).
    pub least_representative: Vec<u32>,
}

impl Quality {
    /// Every measure of the clustering `assignments` (ids in `0..k`) of `graph`, whose
    /// row-normalised spectral embedding is `embedding` (`n × dims`).
    #[allow(clippy::too_many_arguments)]
    pub fn measure(
        graph: &SparseGraph,
        assignments: &[u32],
        k: usize,
        embedding: &[f64],
        dims: usize,
        eigenvalues: &[f64],
        labels: Option<&[Option<i32>]>,
        seed: u64,
    ) -> Quality {
        let weights = ClusterWeights::of(graph, assignments, k);
        let truncated;
        // On the top k eigenvectors: the same space whatever spare eigenvectors k-means used
        // (module docs).
        let (sil_embedding, sil_dims) = if k < dims {
            truncated = first_columns(embedding, dims, k);
            (&truncated[..], k)
        } else {
            (embedding, dims)
        };
        let silhouette = silhouette(
            sil_embedding,
            sil_dims,
            assignments,
            k,
            SILHOUETTE_SAMPLES,
            SILHOUETTE_REFERENCE,
            seed,
        );
        let distance = centre_distances(embedding, dims, assignments, k);
        let ranked = rank_by_centre(&distance, assignments, k);
        let outward = rank_by_outward_weight(
            &affinity_shares(graph, assignments),
            &graph.degrees(),
            assignments,
            k,
        );
        let majority = labels.map(|labels| majority_classes(labels, assignments, k));
        let mut sizes = vec![0usize; k];
        for &c in assignments {
            sizes[c as usize] += 1;
        }
        let clusters = (0..k)
            .map(|c| {
                let representatives = &ranked[c][..ranked[c].len().min(REPRESENTATIVES)];
                let least_representative = outward[c]
                    .iter()
                    .filter(|i| !representatives.contains(i))
                    .take(LEAST_REPRESENTATIVE)
                    .copied()
                    .collect();
                let (majority_class, purity) = match &majority {
                    Some(m) => m[c].map_or((None, None), |(class, p)| (Some(class), Some(p))),
                    None => (None, None),
                };
                ClusterQuality {
                    size: sizes[c],
                    cohesion: weights.cohesion(c),
                    silhouette: silhouette.per_cluster[c],
                    majority_class,
                    purity,
                    representatives: representatives.to_vec(),
                    least_representative,
                }
            })
            .collect();
        Quality {
            cohesion: weights.overall_cohesion(),
            normalized_cut: weights.normalized_cut(),
            eigengap: eigengap(eigenvalues, k),
            eigengap_n_clusters: eigengap_at_least_two(eigenvalues),
            eigenvalues_scanned: eigenvalues.len(),
            silhouette: silhouette.mean,
            silhouette_samples: silhouette.evaluated,
            silhouette_reference: silhouette.reference,
            representatives_by: REPRESENTATIVES_BY.into(),
            least_representative_by: LEAST_REPRESENTATIVE_BY.into(),
            clusters,
        }
    }
}

/// The first `k` columns of the `n × dims` rows, each row scaled to unit length again
/// (zero rows stay zero): the row-normalised embedding on the top k eigenvectors only.
pub fn first_columns(embedding: &[f64], dims: usize, k: usize) -> Vec<f64> {
    let mut out: Vec<f64> = embedding
        .chunks_exact(dims)
        .flat_map(|row| row[..k].iter().copied())
        .collect();
    for row in out.chunks_exact_mut(k) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    out
}

/// `λ_k − λ_{k+1}` when `k + 1` descending eigenvalues are given.
pub fn eigengap(eigenvalues: &[f64], k: usize) -> Option<f64> {
    (k >= 1 && eigenvalues.len() > k).then(|| eigenvalues[k - 1] - eigenvalues[k])
}

/// Each sample's share of its affinity weight inside its own cluster (0 for an isolated
/// node).
pub fn affinity_shares(graph: &SparseGraph, assignments: &[u32]) -> Vec<f64> {
    assignments
        .iter()
        .enumerate()
        .map(|(node, &c)| {
            let (cols, weights) = graph.row(node);
            let (mut inside, mut total) = (0f64, 0f64);
            for (&col, &w) in cols.iter().zip(weights) {
                total += f64::from(w);
                if assignments[col as usize] == c {
                    inside += f64::from(w);
                }
            }
            if total > 0.0 { inside / total } else { 0.0 }
        })
        .collect()
}

/// Each sample's Euclidean distance to its cluster's mean row of `embedding`.
pub fn centre_distances(embedding: &[f64], dims: usize, assignments: &[u32], k: usize) -> Vec<f64> {
    let mut centres = vec![0f64; k * dims];
    let mut counts = vec![0usize; k];
    for (row, &c) in embedding.chunks_exact(dims).zip(assignments) {
        counts[c as usize] += 1;
        for (sum, v) in centres[c as usize * dims..][..dims].iter_mut().zip(row) {
            *sum += v;
        }
    }
    for (centre, &count) in centres.chunks_exact_mut(dims).zip(&counts) {
        centre.iter_mut().for_each(|v| *v /= count.max(1) as f64);
    }
    embedding
        .chunks_exact(dims)
        .zip(assignments)
        .map(|(row, &c)| {
            let centre = &centres[c as usize * dims..][..dims];
            row.iter()
                .zip(centre)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// Each cluster's members, nearest its centre first (ties by index).
pub fn rank_by_centre(distance: &[f64], assignments: &[u32], k: usize) -> Vec<Vec<u32>> {
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &c) in assignments.iter().enumerate() {
        members[c as usize].push(i as u32);
    }
    for list in &mut members {
        list.sort_by(|&a, &b| {
            distance[a as usize]
                .total_cmp(&distance[b as usize])
                .then(a.cmp(&b))
        });
    }
    members
}

/// Each cluster's members, the smallest share of affinity weight inside it first; ties
/// (many samples of a k-NN graph have share 1, or 0 when isolated) go to the smaller
/// weighted degree, then the smaller index.
pub fn rank_by_outward_weight(
    shares: &[f64],
    degrees: &[f64],
    assignments: &[u32],
    k: usize,
) -> Vec<Vec<u32>> {
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &c) in assignments.iter().enumerate() {
        members[c as usize].push(i as u32);
    }
    for list in &mut members {
        list.sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            shares[a]
                .total_cmp(&shares[b])
                .then(degrees[a].total_cmp(&degrees[b]))
                .then(a.cmp(&b))
        });
    }
    members
}

/// Each cluster's commonest known label and its share of the cluster's labelled members;
/// `None` for a cluster without any.
pub fn majority_classes(
    labels: &[Option<i32>],
    assignments: &[u32],
    k: usize,
) -> Vec<Option<(i32, f64)>> {
    let mut counts: Vec<std::collections::BTreeMap<i32, usize>> = vec![Default::default(); k];
    for (label, &c) in labels.iter().zip(assignments) {
        if let Some(label) = label {
            *counts[c as usize].entry(*label).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|classes| {
            let total: usize = classes.values().sum();
            // The first maximum in class order: the smallest class on ties.
            let (class, count) = classes.iter().fold(
                None,
                |best: Option<(i32, usize)>, (&class, &count)| match best {
                    Some((_, top)) if top >= count => best,
                    _ => Some((class, count)),
                },
            )?;
            Some((class, count as f64 / total as f64))
        })
        .collect()
}

/// What [`silhouette`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    pub mean: f64,
    /// Mean over each cluster's evaluated members; `None` when it has none.
    pub per_cluster: Vec<Option<f64>>,
    pub evaluated: usize,
    pub reference: usize,
}

/// The mean silhouette (Euclidean) of the rows of `embedding` (`n × dims`) under
/// `assignments`: for sample i, `a` is its mean distance to the other members of its
/// cluster, `b` the smallest mean distance to another cluster's members, and
/// `s = (b − a) / max(a, b)`; 0 for a cluster of one (scikit-learn's convention). Computed
/// for a seeded subsample of `max_evaluated` samples, each against a seeded subsample of
/// `max_reference` (all samples when there are fewer), so `O(min(n, e) · min(n, r) · dims)`.
/// Each sample's value comes from its own loop over the reference in index order, so the
/// result does not depend on the number of threads.
pub fn silhouette(
    embedding: &[f64],
    dims: usize,
    assignments: &[u32],
    k: usize,
    max_evaluated: usize,
    max_reference: usize,
    seed: u64,
) -> Silhouette {
    let n = assignments.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5111_0e77e);
    let mut subsample = |m: usize| -> Vec<u32> {
        if n <= m {
            return (0..n as u32).collect();
        }
        let mut picked: Vec<u32> = rand::seq::index::sample(&mut rng, n, m)
            .into_iter()
            .map(|i| i as u32)
            .collect();
        picked.sort_unstable();
        picked
    };
    let evaluated = subsample(max_evaluated);
    let reference = subsample(max_reference);
    let row = |i: u32| &embedding[i as usize * dims..][..dims];
    let mut reference_counts = vec![0usize; k];
    for &j in &reference {
        reference_counts[assignments[j as usize] as usize] += 1;
    }
    let mut sizes = vec![0usize; k];
    for &c in assignments {
        sizes[c as usize] += 1;
    }
    let one = |i: u32| -> f64 {
        let own = assignments[i as usize] as usize;
        if sizes[own] <= 1 {
            return 0.0;
        }
        let x = row(i);
        let mut sums = vec![0f64; k];
        let mut self_in_reference = false;
        for &j in &reference {
            if j == i {
                self_in_reference = true;
                continue;
            }
            let distance = x
                .iter()
                .zip(row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            sums[assignments[j as usize] as usize] += distance;
        }
        let own_others = reference_counts[own] - usize::from(self_in_reference);
        if own_others == 0 {
            return 0.0;
        }
        let a = sums[own] / own_others as f64;
        let b = (0..k)
            .filter(|&c| c != own && reference_counts[c] > 0)
            .map(|c| sums[c] / reference_counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if !b.is_finite() {
            return 0.0;
        }
        let scale = a.max(b);
        if scale > 0.0 { (b - a) / scale } else { 0.0 }
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let chunk = evaluated.len().div_ceil(threads).max(1);
    let values: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = evaluated
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(|&i| one(i)).collect::<Vec<f64>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
            })
            .collect()
    });
    let (mut sums, mut counts) = (vec![0f64; k], vec![0usize; k]);
    for (&i, &s) in evaluated.iter().zip(&values) {
        let c = assignments[i as usize] as usize;
        sums[c] += s;
        counts[c] += 1;
    }
    let mean = if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    };
    Silhouette {
        mean,
        per_cluster: (0..k)
            .map(|c| (counts[c] > 0).then(|| sums[c] / counts[c] as f64))
            .collect(),
        evaluated: evaluated.len(),
        reference: reference.len(),
    }
}

#[cfg(test)]
mod tests {
    use ebsc_spectral::Symmetry;

    use super::*;

    /// Every edge of `pairs` in both directions, weight `w`.
    fn graph(n: usize, pairs: &[(u32, u32, f32)]) -> SparseGraph {
        let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for &(a, b, w) in pairs {
            rows.extend([a, b]);
            cols.extend([b, a]);
            values.extend([w, w]);
        }
        SparseGraph::from_triplets(n, &rows, &cols, &values, Symmetry::Require)
            .unwrap()
            .0
    }

    /// The edges of two triangles {0, 1, 2} and {3, 4, 5}, unit weights.
    const TRIANGLES: [(u32, u32, f32); 6] = [
        (0, 1, 1.0),
        (0, 2, 1.0),
        (1, 2, 1.0),
        (3, 4, 1.0),
        (3, 5, 1.0),
        (4, 5, 1.0),
    ];

    /// The two triangles, disconnected.
    fn two_cliques() -> SparseGraph {
        graph(6, &TRIANGLES)
    }

    #[test]
    fn a_bridge_and_a_wrong_split_cost_what_the_hand_count_says() {
        // The two triangles joined by the edge 2–3 of weight 1: each cluster's volume is
        // 6 + 1 = 7, of which 6 stays inside → cohesion 6/7, ncut 2 · 1/7.
        let mut pairs = TRIANGLES.to_vec();
        pairs.push((2, 3, 1.0));
        let bridged = graph(6, &pairs);
        let right = ClusterWeights::of(&bridged, &[0, 0, 0, 1, 1, 1], 2);
        assert!((right.cohesion(0).unwrap() - 6.0 / 7.0).abs() < 1e-12);
        assert!((right.normalized_cut() - 2.0 / 7.0).abs() < 1e-12);
        assert!((right.overall_cohesion() - 12.0 / 14.0).abs() < 1e-12);
        // Node 2 moved to the second cluster: {0, 1} keeps the edge 0–1 (2 of its volume
        // 4), {2, 3, 4, 5} keeps 2–3, 3–4, 3–5, 4–5 (8 of 10): ncut 2/4 + 2/10 = 0.7.
        let wrong = ClusterWeights::of(&bridged, &[0, 0, 1, 1, 1, 1], 2);
        assert_eq!(wrong.within, [2.0, 8.0]);
        assert_eq!(wrong.volume, [4.0, 10.0]);
        assert!((wrong.normalized_cut() - 0.7).abs() < 1e-12);
        // Shares: node 2 has 2 of its 3 edges in its (wrong) cluster's complement.
        let shares = affinity_shares(&bridged, &[0, 0, 1, 1, 1, 1]);
        assert!((shares[2] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(shares[4], 1.0);
    }

    #[test]
    fn eigengap_at_k_and_the_k_it_suggests() {
        // Two disconnected cliques: eigenvalues 1, 1, then -1/2 (a triangle's others).
        let eigenvalues = [1.0, 1.0, -0.5, -0.5];
        assert_eq!(eigengap(&eigenvalues, 2), Some(1.5));
        assert_eq!(eigengap(&eigenvalues, 4), None);
        assert_eq!(eigengap_at_least_two(&eigenvalues), 2);
    }

    #[test]
    fn silhouette_of_two_tight_pairs_by_hand() {
        // 1-D points 0, 1 (cluster 0) and 4, 6 (cluster 1).
        // 0: a = 1, b = (4 + 6)/2 = 5 → 4/5;   1: a = 1, b = (3 + 5)/2 = 4 → 3/4;
        // 4: a = 2, b = (4 + 3)/2 = 3.5 → 1.5/3.5 = 3/7;   6: a = 2, b = 5.5 → 3.5/5.5 = 7/11.
        let embedding = [0.0, 1.0, 4.0, 6.0];
        let s = silhouette(&embedding, 1, &[0, 0, 1, 1], 2, 100, 100, 0);
        let expected = [0.8, 0.75, 3.0 / 7.0, 7.0 / 11.0];
        let mean = expected.iter().sum::<f64>() / 4.0;
        assert!((s.mean - mean).abs() < 1e-12, "{} vs {mean}", s.mean);
        assert!((s.per_cluster[0].unwrap() - 0.775).abs() < 1e-12);
        assert_eq!((s.evaluated, s.reference), (4, 4));
    }

    #[test]
    fn silhouette_of_cliques_in_the_spectral_embedding_is_one() {
        // Two disconnected cliques embed (row-normalised) as two orthogonal unit vectors:
        // a = 0 and b = √2 for every sample, so s = 1; a lone third cluster scores 0.
        let embedding = [
            1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.6, 0.8,
        ];
        let s = silhouette(&embedding, 2, &[0, 0, 0, 1, 1, 1, 2], 3, 100, 100, 0);
        assert!((s.mean - 6.0 / 7.0).abs() < 1e-12, "{}", s.mean);
        assert_eq!(s.per_cluster[2], Some(0.0));
        assert_eq!(s.per_cluster[0], Some(1.0));
    }

    #[test]
    fn subsampled_silhouette_is_seeded_and_close() {
        // Three well-separated 2-D blobs of 400 points each.
        let (mut embedding, mut assignments) = (Vec::new(), Vec::new());
        for i in 0..1200u32 {
            let c = i % 3;
            let jitter = f64::from(i % 17) / 17.0 - 0.5;
            embedding.extend([f64::from(c) * 10.0 + jitter, jitter * 0.5]);
            assignments.push(c);
        }
        let exact = silhouette(&embedding, 2, &assignments, 3, 5000, 5000, 1);
        let sampled = silhouette(&embedding, 2, &assignments, 3, 300, 600, 1);
        assert_eq!((sampled.evaluated, sampled.reference), (300, 600));
        assert!((exact.mean - sampled.mean).abs() < 0.01);
        assert_eq!(
            sampled,
            silhouette(&embedding, 2, &assignments, 3, 300, 600, 1)
        );
    }

    #[test]
    fn first_columns_are_normalised_again() {
        let rows = [0.6, 0.0, 0.8, 0.0, 0.0, 1.0];
        assert_eq!(first_columns(&rows, 3, 2), [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn representatives_are_nearest_the_centre() {
        // Cluster 0 on a line at 0, 1, 2, 10 (mean 3.25); cluster 1 alone.
        let embedding = [0.0, 1.0, 2.0, 10.0, 50.0];
        let assignments = [0, 0, 0, 0, 1];
        let distance = centre_distances(&embedding, 1, &assignments, 2);
        assert_eq!(distance, [3.25, 2.25, 1.25, 6.75, 0.0]);
        let ranked = rank_by_centre(&distance, &assignments, 2);
        assert_eq!(ranked, [vec![2, 1, 0, 3], vec![4]]);
    }

    #[test]
    fn least_representative_have_the_most_weight_outside() {
        // The bridged triangles, node 2 wrongly in the second cluster: its share inside is
        // 1/3 (the edge 2–3 of three); nodes 3, 4 and 5 keep every edge (share 1), and of
        // those 4 and 5 have the smaller degree (2 against 3), in index order.
        let mut pairs = vec![(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (3, 4, 1.0)];
        pairs.extend([(3, 5, 1.0), (4, 5, 1.0), (2, 3, 1.0)]);
        let bridged = graph(6, &pairs);
        let assignments = [0, 0, 1, 1, 1, 1];
        let shares = affinity_shares(&bridged, &assignments);
        let ranked = rank_by_outward_weight(&shares, &bridged.degrees(), &assignments, 2);
        assert_eq!(ranked[1], [2, 4, 5, 3]);
        // Nodes 0 and 1: share 1/2 each, degree 2 each.
        assert_eq!(ranked[0], [0, 1]);
    }

    #[test]
    fn majority_class_and_purity_skip_unknown_labels() {
        let labels = [Some(1), Some(1), Some(2), None, None, Some(3), Some(2)];
        let assignments = [0, 0, 0, 0, 1, 2, 2];
        let majority = majority_classes(&labels, &assignments, 3);
        assert_eq!(majority[0], Some((1, 2.0 / 3.0)));
        assert_eq!(majority[1], None);
        // A tie between 2 and 3: the smaller class.
        assert_eq!(majority[2], Some((2, 0.5)));
    }

    #[test]
    fn measure_puts_it_together() {
        let graph = two_cliques();
        // Row-normalised embedding of two disconnected cliques.
        let embedding = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let assignments = [0, 0, 0, 1, 1, 1];
        let labels = [Some(7), Some(7), None, Some(8), Some(8), Some(7)];
        let q = Quality::measure(
            &graph,
            &assignments,
            2,
            &embedding,
            2,
            &[1.0, 1.0, -0.5],
            Some(&labels),
            0,
        );
        assert_eq!((q.cohesion, q.normalized_cut), (1.0, 0.0));
        assert_eq!((q.eigengap, q.eigengap_n_clusters), (Some(1.5), 2));
        assert_eq!(q.silhouette, 1.0);
        assert_eq!(q.clusters[0].size, 3);
        assert_eq!(q.clusters[0].representatives, [0, 1, 2]);
        assert!(q.clusters[0].least_representative.is_empty());
        assert_eq!(q.clusters[0].majority_class, Some(7));
        assert_eq!(q.clusters[0].purity, Some(1.0));
        assert_eq!(q.clusters[1].purity, Some(2.0 / 3.0));
        let unlabelled = Quality::measure(&graph, &assignments, 2, &embedding, 2, &[], None, 0);
        assert_eq!(unlabelled.clusters[1].majority_class, None);
        assert_eq!(unlabelled.eigengap, None);
        let json = serde_json::to_value(&unlabelled).unwrap();
        assert!(json["clusters"][1].get("purity").is_none());
    }
}
