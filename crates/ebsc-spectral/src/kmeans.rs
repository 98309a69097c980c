//! k-means: greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with
//! scikit-learn's `2 + ln k` local trials) and Lloyd iterations, best inertia over
//! seeded restarts (docs/method.md, `kmeans_restarts`).
//!
//! Parallel over fixed chunks of points whose partial sums are added in chunk
//! order: a seed gives the same result on any number of threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::borrow::Cow;

use crate::simd;

/// Points per parallel task.
const POINTS_PER_TASK: usize = 4096;

/// Coordinates k-means accepts: `f32` or `f64` (arithmetic is done in `f64`).
pub trait Coordinate: Copy + Send + Sync + 'static {
    fn to_f64(self) -> f64;

    /// The data in `f64`: borrowed where it already is, else converted once, so
    /// that no pass over the data converts it again.
    fn as_f64_slice(data: &[Self]) -> Cow<'_, [f64]>;
}

impl Coordinate for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn as_f64_slice(data: &[Self]) -> Cow<'_, [f64]> {
        Cow::Owned(data.par_iter().map(|&v| f64::from(v)).collect())
    }
}

impl Coordinate for f64 {
    fn to_f64(self) -> f64 {
        self
    }

    fn as_f64_slice(data: &[Self]) -> Cow<'_, [f64]> {
        Cow::Borrowed(data)
    }
}

/// k-means settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansOptions {
    pub n_clusters: usize,
    /// Independent seedings; the lowest inertia wins.
    pub restarts: usize,
    /// Lloyd iterations per restart.
    pub max_iterations: usize,
    /// Stop when the summed squared centre shift is at most `tolerance` times the
    /// mean per-dimension variance of the data (scikit-learn's rule), or when no
    /// label changes.
    pub tolerance: f64,
    /// Restart `r` draws from ChaCha8 seeded with `seed`, stream `r`.
    pub seed: u64,
}

impl KMeansOptions {
    /// 10 restarts, 300 iterations, tolerance 1e-4 (scikit-learn's defaults).
    pub fn new(n_clusters: usize, seed: u64) -> Self {
        Self {
            n_clusters,
            restarts: 10,
            max_iterations: 300,
            tolerance: 1e-4,
            seed,
        }
    }
}

/// Why k-means could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    #[error("data of length {len} is not a whole number of {n_dims}-dimensional points")]
    ShapeMismatch { len: usize, n_dims: usize },
    #[error("{n_points} points cannot form {n_clusters} clusters")]
    TooFewPoints { n_points: usize, n_clusters: usize },
    #[error("point {point} has a non-finite coordinate")]
    NonFinite { point: usize },
    #[error("k-means needs at least one cluster, one restart and one iteration")]
    NothingToDo,
}

/// One k-means restart's result ([`kmeans`] returns the best one).
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansResult {
    /// Cluster of each point, in `0..n_clusters`.
    pub assignments: Vec<u32>,
    /// `n_clusters × n_dims`, row-major.
    pub centres: Vec<f64>,
    /// Sum of squared distances to the assigned centres.
    pub inertia: f64,
    /// Lloyd iterations of this restart.
    pub iterations: usize,
    /// Which restart this is (its stream of the seed).
    pub restart: usize,
    /// Whether this restart met the tolerance before `max_iterations`.
    pub converged: bool,
}

/// Clusters `data` (`n × n_dims`, row-major); the restart with the lowest inertia wins
/// (the earliest on ties).
pub fn kmeans<T: Coordinate>(
    data: &[T],
    n_dims: usize,
    options: &KMeansOptions,
) -> Result<KMeansResult, KMeansError> {
    let mut best: Option<KMeansResult> = None;
    kmeans_restarts(data, n_dims, options, 0..options.restarts, |result| {
        if best.as_ref().is_none_or(|b| result.inertia < b.inertia) {
            best = Some(result);
        }
    })?;
    best.ok_or(KMeansError::NothingToDo)
}

/// Runs the given restarts of [`kmeans`] (restart `r` draws from stream `r` of the seed, so
/// one restart can be run again on its own) and hands each result to `each`, in order.
/// Spectral clustering judges restarts by more than their inertia this way.
pub fn kmeans_restarts<T: Coordinate, R>(
    data: &[T],
    n_dims: usize,
    options: &KMeansOptions,
    restarts: std::ops::Range<usize>,
    mut each: impl FnMut(KMeansResult) -> R,
) -> Result<Vec<R>, KMeansError> {
    let k = options.n_clusters;
    if k == 0 || options.restarts == 0 || options.max_iterations == 0 || n_dims == 0 {
        return Err(KMeansError::NothingToDo);
    }
    if !data.len().is_multiple_of(n_dims) {
        return Err(KMeansError::ShapeMismatch {
            len: data.len(),
            n_dims,
        });
    }
    let n = data.len() / n_dims;
    if n < k {
        return Err(KMeansError::TooFewPoints {
            n_points: n,
            n_clusters: k,
        });
    }
    if let Some(position) = data.par_iter().position_first(|v| !v.to_f64().is_finite()) {
        return Err(KMeansError::NonFinite {
            point: position / n_dims,
        });
    }
    let data = T::as_f64_slice(data);
    let points = Points::new(&data, n_dims);
    let absolute_tolerance = options.tolerance * points.mean_variance();

    Ok(restarts
        .map(|restart| {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream(restart as u64);
            let centres = points.kmeans_plus_plus(k, &mut rng);
            let mut result = points.lloyd(centres, k, options.max_iterations, absolute_tolerance);
            result.restart = restart;
            each(result)
        })
        .collect())
}

/// Adds per-chunk partial sums of length `len` in chunk order, so that a result does not
/// depend on how many threads computed the chunks.
pub(crate) fn add_in_order(partials: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    let mut total = vec![0.0; len];
    for partial in partials {
        for (t, p) in total.iter_mut().zip(partial) {
            *t += p;
        }
    }
    total
}

/// Row-major points, with their squared norms, and the operations k-means needs.
struct Points<'a> {
    data: &'a [f64],
    n_dims: usize,
    squared_norms: Vec<f64>,
}

impl<'a> Points<'a> {
    fn new(data: &'a [f64], n_dims: usize) -> Self {
        let squared_norms = data
            .par_chunks(n_dims)
            .map(|p| p.iter().map(|v| v * v).sum())
            .collect();
        Self {
            data,
            n_dims,
            squared_norms,
        }
    }

    fn n_points(&self) -> usize {
        self.data.len() / self.n_dims
    }

    fn point(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_dims..(i + 1) * self.n_dims]
    }

    /// Chunks of [`POINTS_PER_TASK`] points with their squared norms, in parallel.
    fn chunks(&self) -> impl IndexedParallelIterator<Item = (&[f64], &[f64])> {
        self.data
            .par_chunks(POINTS_PER_TASK * self.n_dims)
            .zip(self.squared_norms.par_chunks(POINTS_PER_TASK))
    }

    /// Mean over dimensions of the per-dimension variance.
    fn mean_variance(&self) -> f64 {
        let n = self.n_points() as f64;
        let d = self.n_dims;
        let totals = self.chunked_sums(|chunk| {
            let mut s = vec![0.0; 2 * d];
            for point in chunk.chunks_exact(d) {
                for (j, v) in point.iter().enumerate() {
                    s[j] += v;
                    s[d + j] += v * v;
                }
            }
            s
        });
        let (sums, squares) = totals.split_at(d);
        (0..d)
            .map(|j| {
                let mean = sums[j] / n;
                (squares[j] / n - mean * mean).max(0.0)
            })
            .sum::<f64>()
            / d as f64
    }

    /// Applies `per_chunk` to fixed chunks of points in parallel and adds the
    /// returned vectors in chunk order.
    fn chunked_sums(&self, per_chunk: impl Fn(&[f64]) -> Vec<f64> + Sync + Send) -> Vec<f64> {
        let partials: Vec<Vec<f64>> = self
            .data
            .par_chunks(POINTS_PER_TASK * self.n_dims)
            .map(per_chunk)
            .collect();
        let len = partials.first().map_or(0, Vec::len);
        add_in_order(partials, len)
    }

    /// Greedy k-means++: each new centre is the best of `2 + ⌊ln k⌋` candidates drawn
    /// with probability proportional to the squared distance to the nearest centre.
    ///
    /// One pass over the data per new centre scores every candidate and keeps its
    /// distances; a second, light pass folds the winner's distances into the nearest-centre
    /// distances and their per-chunk totals, from which the next candidates are drawn.
    fn kmeans_plus_plus(&self, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let n = self.n_points();
        let d = self.n_dims;
        let n_trials = 2 + (k as f64).ln().floor() as usize;
        let mut centres = Vec::with_capacity(k * d);
        centres.extend(self.point(rng.random_range(0..n)));
        let mut potential = Potential::new(n);
        let mut trial_distances = vec![0.0; n * n_trials];
        self.score_candidates(&centres, &potential.closest, &mut trial_distances[..n]);
        potential.take(&trial_distances[..n], 1, 0);

        let mut candidates = Vec::with_capacity(n_trials * d);
        for _ in 1..k {
            candidates.clear();
            for _ in 0..n_trials {
                let target = rng.random::<f64>() * potential.total();
                candidates.extend(self.point(potential.sample(target)));
            }
            let scores =
                self.score_candidates(&candidates, &potential.closest, &mut trial_distances);
            let best = (0..n_trials)
                .min_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(0);
            potential.take(&trial_distances, n_trials, best);
            centres.extend_from_slice(&candidates[best * d..(best + 1) * d]);
        }
        centres
    }

    /// For each candidate (`count × d`, row-major), `Σ_i min(closest_i, ‖x_i − c‖²)`;
    /// the squared distances go to `distances` (`n × count`, row-major).
    fn score_candidates(
        &self,
        candidates: &[f64],
        closest: &[f64],
        distances: &mut [f64],
    ) -> Vec<f64> {
        let d = self.n_dims;
        let count = candidates.len() / d;
        let candidates = Centres::new(candidates, count, d);
        let partials: Vec<Vec<f64>> = self
            .chunks()
            .zip(closest.par_chunks(POINTS_PER_TASK))
            .zip(distances.par_chunks_mut(POINTS_PER_TASK * count))
            .map_init(ChunkScratch::default, |scratch, ((chunk, closest), out)| {
                simd::wide(
                    #[inline(always)]
                    || {
                        let squared = scratch.distances(chunk, d, &candidates);
                        out.copy_from_slice(squared);
                        let mut sums = vec![0.0; count];
                        for (row, &current) in squared.chunks_exact(count).zip(closest) {
                            for (s, &dist) in sums.iter_mut().zip(row) {
                                *s += current.min(dist);
                            }
                        }
                        sums
                    },
                )
            })
            .collect();
        add_in_order(partials, count)
    }

    /// Lloyd iterations from `centres` until labels stop changing, the centres move
    /// less than `tolerance`, or `max_iterations`.
    fn lloyd(
        &self,
        mut centres: Vec<f64>,
        k: usize,
        max_iterations: usize,
        tolerance: f64,
    ) -> KMeansResult {
        let n = self.n_points();
        let mut labels = vec![u32::MAX; n];
        let mut distances = vec![0.0; n];
        let mut iterations = 0;
        let mut converged = false;
        let mut labels_match_centres = false;
        while iterations < max_iterations {
            iterations += 1;
            let changed = self.assign(&centres, k, &mut labels, &mut distances);
            if changed == 0 {
                converged = true;
                labels_match_centres = true;
                break;
            }
            let new_centres = self.updated_centres(&labels, &distances, k);
            let shift: f64 = new_centres
                .iter()
                .zip(&centres)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            centres = new_centres;
            if shift <= tolerance {
                converged = true;
                break;
            }
        }
        if !labels_match_centres {
            self.assign(&centres, k, &mut labels, &mut distances);
        }
        let inertia = sum_in_chunks(&distances);
        KMeansResult {
            assignments: labels,
            centres,
            inertia,
            iterations,
            restart: 0,
            converged,
        }
    }

    /// Assigns every point to its nearest centre (first one on ties), storing the
    /// squared distance; returns how many labels changed.
    fn assign(
        &self,
        centres: &[f64],
        k: usize,
        labels: &mut [u32],
        distances: &mut [f64],
    ) -> usize {
        let d = self.n_dims;
        let centres = Centres::new(centres, k, d);
        self.chunks()
            .zip(labels.par_chunks_mut(POINTS_PER_TASK))
            .zip(distances.par_chunks_mut(POINTS_PER_TASK))
            .map_init(
                ChunkScratch::default,
                |scratch, ((chunk, labels), distances)| {
                    simd::wide(
                        #[inline(always)]
                        || {
                            let squared = scratch.distances(chunk, d, &centres);
                            let mut changed = 0;
                            for ((row, label), distance) in squared
                                .chunks_exact(k)
                                .zip(labels.iter_mut())
                                .zip(distances.iter_mut())
                            {
                                let mut best = (f64::INFINITY, 0u32);
                                for (c, &dist) in row.iter().enumerate() {
                                    if dist < best.0 {
                                        best = (dist, c as u32);
                                    }
                                }
                                if *label != best.1 {
                                    changed += 1;
                                    *label = best.1;
                                }
                                *distance = best.0;
                            }
                            changed
                        },
                    )
                },
            )
            .sum()
    }

    /// Means of the assigned points; an empty cluster is re-seeded at the point
    /// farthest from its centre (the next farthest for a second empty one, …).
    fn updated_centres(&self, labels: &[u32], distances: &[f64], k: usize) -> Vec<f64> {
        let d = self.n_dims;
        let sums = self.chunked_sums_with_labels(labels, k);
        let mut centres = vec![0.0; k * d];
        let mut empty = Vec::new();
        for c in 0..k {
            let count = sums[k * d + c];
            if count == 0.0 {
                empty.push(c);
                continue;
            }
            for j in 0..d {
                centres[c * d + j] = sums[c * d + j] / count;
            }
        }
        if !empty.is_empty() {
            for (c, point) in empty.into_iter().zip(farthest_points(distances, k)) {
                centres[c * d..(c + 1) * d].copy_from_slice(self.point(point));
            }
        }
        centres
    }

    /// Per-cluster coordinate sums (`k × d`) followed by per-cluster counts (`k`).
    fn chunked_sums_with_labels(&self, labels: &[u32], k: usize) -> Vec<f64> {
        let d = self.n_dims;
        let partials: Vec<Vec<f64>> = self
            .data
            .par_chunks(POINTS_PER_TASK * d)
            .zip(labels.par_chunks(POINTS_PER_TASK))
            .map(|(chunk, labels)| {
                let mut sums = vec![0.0; k * d + k];
                for (point, &label) in chunk.chunks_exact(d).zip(labels) {
                    let c = label as usize;
                    for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(point) {
                        *s += v;
                    }
                    sums[k * d + c] += 1.0;
                }
                sums
            })
            .collect();
        add_in_order(partials, k * d + k)
    }
}

/// k-means++ sampling weights: each point's squared distance to its nearest centre,
/// with totals per chunk of [`POINTS_PER_TASK`] points so that a draw walks the chunk
/// totals and then one chunk, with no prefix sum over all points.
struct Potential {
    closest: Vec<f64>,
    chunk_totals: Vec<f64>,
}

impl Potential {
    /// No centre yet: every distance is infinite.
    fn new(n: usize) -> Self {
        Self {
            closest: vec![f64::INFINITY; n],
            chunk_totals: Vec::new(),
        }
    }

    fn total(&self) -> f64 {
        self.chunk_totals.iter().sum()
    }

    /// Lowers each distance to column `column` of `distances` (`n × columns`) and
    /// recomputes the chunk totals.
    fn take(&mut self, distances: &[f64], columns: usize, column: usize) {
        self.closest
            .par_chunks_mut(POINTS_PER_TASK)
            .zip(distances.par_chunks(POINTS_PER_TASK * columns))
            .map(|(closest, rows)| {
                let mut total = 0.0;
                for (c, row) in closest.iter_mut().zip(rows.chunks_exact(columns)) {
                    *c = c.min(row[column]);
                    total += *c;
                }
                total
            })
            .collect_into_vec(&mut self.chunk_totals);
    }

    /// The first point whose running sum of distances exceeds `target` (the last
    /// point when rounding leaves none), so a point is drawn with probability
    /// proportional to its distance for `target` uniform in `[0, total)`.
    fn sample(&self, target: f64) -> usize {
        let mut before = 0.0;
        for (chunk, &total) in self.chunk_totals.iter().enumerate() {
            if before + total > target {
                let start = chunk * POINTS_PER_TASK;
                let mut running = before;
                for (i, &v) in self.closest[start..]
                    .iter()
                    .take(POINTS_PER_TASK)
                    .enumerate()
                {
                    running += v;
                    if running > target {
                        return start + i;
                    }
                }
            }
            before += total;
        }
        self.closest.len() - 1
    }
}

/// Centres (`count × d`, row-major) with their squared norms.
struct Centres<'a> {
    coordinates: MatRef<'a, f64>,
    squared_norms: Vec<f64>,
    count: usize,
}

impl<'a> Centres<'a> {
    fn new(flat: &'a [f64], count: usize, d: usize) -> Self {
        Self {
            coordinates: MatRef::from_row_major_slice(flat, count, d),
            squared_norms: flat
                .chunks_exact(d)
                .map(|c| c.iter().map(|v| v * v).sum())
                .collect(),
            count,
        }
    }
}

/// Per-task buffer for [`ChunkScratch::distances`].
#[derive(Default)]
struct ChunkScratch {
    products: Vec<f64>,
}

impl ChunkScratch {
    /// Squared distances of each point of `chunk` (points with their squared norms)
    /// to each centre (`rows × count`, row-major) as `‖x‖² − 2 x·c + ‖c‖²`, the cross
    /// terms one matrix product; clamped at zero against rounding.
    #[inline(always)]
    fn distances(
        &mut self,
        (points, point_norms): (&[f64], &[f64]),
        d: usize,
        centres: &Centres<'_>,
    ) -> &[f64] {
        let rows = point_norms.len();
        let count = centres.count;
        self.products.clear();
        self.products.resize(rows * count, 0.0);
        let points = MatRef::from_row_major_slice(points, rows, d);
        let products = MatMut::from_column_major_slice_mut(&mut self.products[..], count, rows)
            .transpose_mut();
        matmul(
            products,
            Accum::Replace,
            points,
            centres.coordinates.transpose(),
            1.0,
            Par::Seq,
        );
        for (row, &norm) in self.products.chunks_exact_mut(count).zip(point_norms) {
            for (value, &centre_norm) in row.iter_mut().zip(&centres.squared_norms) {
                *value = (norm - 2.0 * *value + centre_norm).max(0.0);
            }
        }
        &self.products
    }
}

/// Indices of the `count` largest distances, largest first (lowest index on ties).
fn farthest_points(distances: &[f64], count: usize) -> Vec<usize> {
    let mut best: Vec<(f64, usize)> = Vec::with_capacity(count + 1);
    for (i, &dist) in distances.iter().enumerate() {
        if best.len() < count || dist > best[best.len() - 1].0 {
            let position = best.partition_point(|&(b, _)| b >= dist);
            best.insert(position, (dist, i));
            best.truncate(count);
        }
    }
    best.into_iter().map(|(_, i)| i).collect()
}

fn sum_in_chunks(values: &[f64]) -> f64 {
    let partials: Vec<f64> = values
        .par_chunks(POINTS_PER_TASK)
        .map(|chunk| chunk.iter().sum::<f64>())
        .collect();
    partials.into_iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;
    use rand_distr::{Distribution, Normal};

    /// `n_per_blob` points around each of `centres` (2-D), unit Gaussian noise.
    fn blobs(centres: &[[f64; 2]], n_per_blob: usize, seed: u64) -> (Vec<f32>, Vec<i32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).unwrap();
        let (mut data, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..n_per_blob {
            for (b, centre) in centres.iter().enumerate() {
                data.push((centre[0] + noise.sample(&mut rng)) as f32);
                data.push((centre[1] + noise.sample(&mut rng)) as f32);
                labels.push(b as i32);
            }
        }
        (data, labels)
    }

    const CORNERS: [[f64; 2]; 4] = [[-10.0, -10.0], [-10.0, 10.0], [10.0, -10.0], [10.0, 10.0]];

    #[test]
    fn separated_blobs_are_recovered() {
        let (data, labels) = blobs(&CORNERS, 250, 1);
        let result = kmeans(&data, 2, &KMeansOptions::new(4, 3)).unwrap();
        let (scores, _) = evaluate(&labels, &result.assignments).unwrap();
        assert_eq!(scores.accuracy, 1.0);
        assert!(result.converged);
        // Inertia ≈ 1000 points × E‖noise‖² = 1000 × 2.
        assert!(
            (result.inertia / 2000.0 - 1.0).abs() < 0.15,
            "{}",
            result.inertia
        );
        // f64 input gives the same clustering.
        let data64: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
        let result64 = kmeans(&data64, 2, &KMeansOptions::new(4, 3)).unwrap();
        assert_eq!(result64.assignments, result.assignments);
    }

    #[test]
    fn deterministic_for_a_seed_on_any_thread_count() {
        // Overlapping blobs, so restarts differ and the best one matters.
        let centres = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [1.0, 1.0]];
        let (data, _) = blobs(&centres, 1000, 2);
        let options = KMeansOptions::new(5, 42);
        let first = kmeans(&data, 2, &options).unwrap();
        let single_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let second = single_thread.install(|| kmeans(&data, 2, &options).unwrap());
        assert_eq!(first, second);
        let other_seed = kmeans(&data, 2, &KMeansOptions::new(5, 43)).unwrap();
        assert_ne!(first.centres, other_seed.centres);
    }

    #[test]
    fn best_restart_has_lowest_inertia() {
        let centres = [[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 3.0]];
        let (data, _) = blobs(&centres, 200, 5);
        let best = kmeans(&data, 2, &KMeansOptions::new(4, 9)).unwrap();
        let wide = f32::as_f64_slice(&data);
        for restart in 0..10 {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            rng.set_stream(restart);
            let points = Points::new(&wide, 2);
            let tolerance = 1e-4 * points.mean_variance();
            let seeds = points.kmeans_plus_plus(4, &mut rng);
            let single = points.lloyd(seeds, 4, 300, tolerance);
            assert!(best.inertia <= single.inertia);
        }
    }

    #[test]
    fn empty_cluster_is_reseeded_at_farthest_point() {
        // Two tight groups and one far outlier; a centre far from everything gets no
        // points on the first assignment and is moved onto the outlier.
        let data = [0.0f64, 0.0, 0.1, 0.0, 5.0, 0.0, 5.1, 0.0, 50.0, 0.0];
        let points = Points::new(&data, 2);
        let start = vec![0.05, 0.0, 5.05, 0.0, -1000.0, 0.0];
        let result = points.lloyd(start, 3, 10, 0.0);
        assert_eq!(result.assignments, vec![0, 0, 1, 1, 2]);
        assert_eq!(&result.centres[4..], &[50.0, 0.0]);
        assert!((result.inertia - 4.0 * 0.05f64.powi(2)).abs() < 1e-9);
        assert_eq!(farthest_points(&[1.0, 5.0, 3.0, 5.0], 3), vec![1, 3, 2]);
    }

    #[test]
    fn errors() {
        let options = KMeansOptions::new(2, 0);
        assert_eq!(
            kmeans(&[1.0f32, 2.0, 3.0], 2, &options).unwrap_err(),
            KMeansError::ShapeMismatch { len: 3, n_dims: 2 }
        );
        assert_eq!(
            kmeans(&[1.0f32, 2.0], 2, &options).unwrap_err(),
            KMeansError::TooFewPoints {
                n_points: 1,
                n_clusters: 2
            }
        );
        assert_eq!(
            kmeans(&[1.0f64, 2.0, f64::NAN, 0.0], 2, &options).unwrap_err(),
            KMeansError::NonFinite { point: 1 }
        );
        assert_eq!(
            kmeans(&[1.0f32, 2.0], 1, &KMeansOptions::new(0, 0)).unwrap_err(),
            KMeansError::NothingToDo
        );
    }
}
