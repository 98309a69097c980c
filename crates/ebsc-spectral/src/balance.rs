//! Equal-size clusters (docs/method.md, `sizes = "equal"`): k-means whose assignment step
//! is an entropic optimal transport of the points onto the centres with equal column
//! marginals (Sinkhorn–Knopp, the equipartition of self-labelling methods).
//!
//! Each round computes the soft assignment `P_ik ∝ exp(−‖x_i − c_k‖² / ε) v_k`, with rows
//! summing to one and the cluster scalings `v` chosen so that every column sums to `n / k`,
//! then moves each centre to the `P`-weighted mean of the points. A point's cluster is its
//! largest `P_ik`, so sizes end close to, not exactly at, `n / k`. Started from the
//! k-means result; rounds stop when no label changes.
//!
//! Parallel over fixed chunks of points whose partial sums are added in chunk order: the
//! result is the same on any number of threads.

use rayon::prelude::*;

use crate::kmeans::add_in_order;

/// Points per parallel task.
const POINTS_PER_TASK: usize = 4096;

/// How far the cluster sizes may be from equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterSizes {
    /// Whatever k-means finds.
    #[default]
    Free,
    /// Held equal: for data whose classes are known to be the same size.
    Equal,
}

/// Settings of [`equal_size_kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceOptions {
    /// Entropic temperature `ε`, in squared-distance units (rows of a unit-norm embedding
    /// are at most 4 apart): smaller is closer to a hard assignment and slower to scale.
    pub epsilon: f64,
    /// Centre updates at most.
    pub max_rounds: usize,
    /// Sinkhorn scalings per round at most.
    pub max_scalings: usize,
    /// Scaling stops when every column sum is within this share of `n / k`.
    pub tolerance: f64,
}

impl Default for BalanceOptions {
    /// ε 0.05, 30 rounds, 2,000 scalings, columns within 0.5 %.
    fn default() -> Self {
        Self {
            epsilon: 0.05,
            max_rounds: 30,
            max_scalings: 2000,
            tolerance: 0.005,
        }
    }
}

/// What [`equal_size_kmeans`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Balanced {
    /// Cluster of each point, in `0..k`.
    pub assignments: Vec<u32>,
    /// `k × n_dims`, row-major.
    pub centres: Vec<f64>,
    /// Sum of squared distances of the points to their clusters' centres.
    pub inertia: f64,
    /// Centre updates done.
    pub rounds: usize,
    /// Whether the labels stopped changing before `max_rounds`.
    pub converged: bool,
}

/// Clusters `data` (`n × n_dims`, row-major) into the `k` clusters of `centres`
/// (`k × n_dims`, the k-means result it starts from) with sizes held equal.
///
/// Needs `n ≥ k ≥ 1`, finite data and centres (k-means has checked both).
pub fn equal_size_kmeans(
    data: &[f64],
    n_dims: usize,
    centres: &[f64],
    options: &BalanceOptions,
) -> Balanced {
    let k = centres.len() / n_dims;
    let n = data.len() / n_dims;
    let target = n as f64 / k as f64;
    let mut centres = centres.to_vec();
    let mut scaling = vec![1.0; k];
    let mut labels = vec![u32::MAX; n];
    let mut rounds = 0;
    let mut converged = false;
    while rounds < options.max_rounds {
        rounds += 1;
        let kernel = Kernel::new(data, n_dims, &centres, options.epsilon);
        for _ in 0..options.max_scalings {
            let columns = kernel.column_sums(&scaling);
            let worst = columns
                .iter()
                .map(|&s| (s - target).abs())
                .fold(0.0, f64::max);
            if worst <= options.tolerance * target {
                break;
            }
            for (v, s) in scaling.iter_mut().zip(&columns) {
                // A column that lost all its mass keeps its scaling; the others move.
                if *s > 0.0 {
                    *v *= target / s;
                }
            }
        }
        let (new_labels, new_centres) = kernel.assign_and_move(data, &scaling);
        centres = new_centres;
        let unchanged = new_labels == labels;
        labels = new_labels;
        if unchanged {
            converged = true;
            break;
        }
    }
    let inertia = inertia(data, n_dims, &centres, &labels);
    Balanced {
        assignments: labels,
        centres,
        inertia,
        rounds,
        converged,
    }
}

/// `G_ik = exp(−(‖x_i − c_k‖² − min_k ‖x_i − c_k‖²) / ε)`, `n × k` row-major: each row's
/// nearest centre has weight 1, so no row underflows to all zeros.
struct Kernel {
    weights: Vec<f64>,
    k: usize,
    n_dims: usize,
}

impl Kernel {
    fn new(data: &[f64], n_dims: usize, centres: &[f64], epsilon: f64) -> Kernel {
        let k = centres.len() / n_dims;
        let mut weights = vec![0.0; data.len() / n_dims * k];
        weights
            .par_chunks_mut(k)
            .zip(data.par_chunks(n_dims))
            .for_each(|(row, point)| {
                for (w, centre) in row.iter_mut().zip(centres.chunks_exact(n_dims)) {
                    *w = squared_distance(point, centre);
                }
                let nearest = row.iter().copied().fold(f64::INFINITY, f64::min);
                row.iter_mut()
                    .for_each(|w| *w = (-(*w - nearest) / epsilon).exp());
            });
        Kernel { weights, k, n_dims }
    }

    /// `Σ_i G_ik v_k / Σ_k' G_ik' v_k'`: each cluster's share of the points under `v`.
    fn column_sums(&self, scaling: &[f64]) -> Vec<f64> {
        let k = self.k;
        let partials: Vec<Vec<f64>> = self
            .weights
            .par_chunks(POINTS_PER_TASK * k)
            .map(|chunk| {
                let mut sums = vec![0.0; k];
                for row in chunk.chunks_exact(k) {
                    let total: f64 = row.iter().zip(scaling).map(|(g, v)| g * v).sum();
                    for ((s, g), v) in sums.iter_mut().zip(row).zip(scaling) {
                        *s += g * v / total;
                    }
                }
                sums
            })
            .collect();
        add_in_order(partials, k)
    }

    /// Each point's most likely cluster under `v`, and the centres as `P`-weighted means.
    fn assign_and_move(&self, data: &[f64], scaling: &[f64]) -> (Vec<u32>, Vec<f64>) {
        let (k, n_dims) = (self.k, self.n_dims);
        let labels: Vec<u32> = self
            .weights
            .par_chunks(k)
            .map(|row| {
                let mut best = 0;
                for j in 1..k {
                    if row[j] * scaling[j] > row[best] * scaling[best] {
                        best = j;
                    }
                }
                best as u32
            })
            .collect();
        // Per chunk: k weighted sums of the points, then the k total weights.
        let partials: Vec<Vec<f64>> = self
            .weights
            .par_chunks(POINTS_PER_TASK * k)
            .zip(data.par_chunks(POINTS_PER_TASK * n_dims))
            .map(|(weights, points)| {
                let mut sums = vec![0.0; k * n_dims + k];
                for (row, point) in weights.chunks_exact(k).zip(points.chunks_exact(n_dims)) {
                    let total: f64 = row.iter().zip(scaling).map(|(g, v)| g * v).sum();
                    for j in 0..k {
                        let p = row[j] * scaling[j] / total;
                        for (s, x) in sums[j * n_dims..(j + 1) * n_dims].iter_mut().zip(point) {
                            *s += p * x;
                        }
                        sums[k * n_dims + j] += p;
                    }
                }
                sums
            })
            .collect();
        let sums = add_in_order(partials, k * n_dims + k);
        let (weighted, mass) = sums.split_at(k * n_dims);
        let centres = weighted
            .chunks_exact(n_dims)
            .zip(mass)
            .flat_map(|(sum, &m)| sum.iter().map(move |s| if m > 0.0 { s / m } else { 0.0 }))
            .collect();
        (labels, centres)
    }
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn inertia(data: &[f64], n_dims: usize, centres: &[f64], labels: &[u32]) -> f64 {
    let partials: Vec<Vec<f64>> = data
        .par_chunks(POINTS_PER_TASK * n_dims)
        .zip(labels.par_chunks(POINTS_PER_TASK))
        .map(|(points, labels)| {
            let sum = points
                .chunks_exact(n_dims)
                .zip(labels)
                .map(|(x, &c)| {
                    let c = c as usize;
                    squared_distance(x, &centres[c * n_dims..(c + 1) * n_dims])
                })
                .sum();
            vec![sum]
        })
        .collect();
    add_in_order(partials, 1)[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::{KMeansOptions, kmeans};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Points around the given 2-d centres, `sizes[i]` of them around centre `i`.
    fn blobs(centres: &[[f64; 2]], sizes: &[usize], spread: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::new();
        for (c, &size) in centres.iter().zip(sizes) {
            for _ in 0..size {
                data.push(c[0] + spread * (rng.random::<f64>() - 0.5));
                data.push(c[1] + spread * (rng.random::<f64>() - 0.5));
            }
        }
        data
    }

    fn sizes(labels: &[u32], k: usize) -> Vec<usize> {
        let mut counts = vec![0; k];
        labels.iter().for_each(|&c| counts[c as usize] += 1);
        counts
    }

    #[test]
    fn separated_equal_clusters_are_kept() {
        let data = blobs(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], &[50, 50, 50], 0.2, 1);
        let start = kmeans(&data, 2, &KMeansOptions::new(3, 0)).unwrap();
        let balanced = equal_size_kmeans(&data, 2, &start.centres, &BalanceOptions::default());
        assert_eq!(balanced.assignments, start.assignments);
        assert!(balanced.converged);
        assert!((balanced.inertia - start.inertia).abs() < 1e-3 * start.inertia);
    }

    #[test]
    fn one_wide_cluster_gives_points_to_the_others() {
        // Two tight blobs of 40 on the left, one spread blob of 120 on the right, and
        // k-means' three centres where the three blobs are: sizes are 40, 40, 120. Held
        // equal, the wide blob gives a third of its points, the side nearest the others.
        let data = blobs(
            &[[-1.0, 0.5], [-1.0, -0.5], [0.6, 0.0]],
            &[40, 40, 120],
            0.6,
            2,
        );
        let centres = [-1.0, 0.5, -1.0, -0.5, 0.6, 0.0];
        let free = sizes(
            &data
                .chunks_exact(2)
                .map(|x| {
                    (0..3)
                        .min_by(|&a, &b| {
                            squared_distance(x, &centres[2 * a..2 * a + 2])
                                .total_cmp(&squared_distance(x, &centres[2 * b..2 * b + 2]))
                        })
                        .unwrap() as u32
                })
                .collect::<Vec<_>>(),
            3,
        );
        assert!(free[2] >= 100, "{free:?}");
        let balanced = equal_size_kmeans(&data, 2, &centres, &BalanceOptions::default());
        let held = sizes(&balanced.assignments, 3);
        for size in &held {
            assert!((60..=74).contains(size), "{held:?}");
        }
        // The wide blob keeps its right side: the points it gave away lie further left.
        let wide: Vec<u32> = balanced.assignments[80..].to_vec();
        let kept = (0..3u32)
            .max_by_key(|&c| wide.iter().filter(|&&w| w == c).count())
            .unwrap();
        let mean_x = |keep: bool| {
            let xs: Vec<f64> = (80..200)
                .filter(|&i| (balanced.assignments[i] == kept) == keep)
                .map(|i| data[2 * i])
                .collect();
            assert!(!xs.is_empty());
            xs.iter().sum::<f64>() / xs.len() as f64
        };
        assert!(mean_x(false) < mean_x(true));
    }

    #[test]
    fn same_result_on_one_thread_and_many() {
        // More than one chunk of points, so partial sums are added across chunks.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let data: Vec<f64> = (0..2 * 9000).map(|_| rng.random::<f64>()).collect();
        let start = kmeans(&data, 2, &KMeansOptions::new(4, 1)).unwrap();
        let options = BalanceOptions::default();
        let many = equal_size_kmeans(&data, 2, &start.centres, &options);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| equal_size_kmeans(&data, 2, &start.centres, &options));
        assert_eq!(many, one);
        let held = sizes(&many.assignments, 4);
        for size in &held {
            assert!(size.abs_diff(2250) <= 45, "{held:?}");
        }
    }
}
