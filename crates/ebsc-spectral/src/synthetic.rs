//! Synthetic graphs with planted clusters, for tests, examples and benchmarks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Graph triplets `(rows[t], cols[t], values[t])`, both directions of every edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triplets {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub values: Vec<f32>,
}

impl Triplets {
    fn push_edge(&mut self, a: u32, b: u32) {
        self.rows.extend([a, b]);
        self.cols.extend([b, a]);
        self.values.extend([1.0, 1.0]);
    }
}

/// Stochastic block model: nodes `0..Σ sizes` in consecutive blocks, each pair joined
/// (weight 1) with probability `p_in` inside a block and `p_out` across blocks.
/// Returns the triplets and each node's block.
pub fn stochastic_block_model(
    block_sizes: &[usize],
    p_in: f64,
    p_out: f64,
    seed: u64,
) -> (Triplets, Vec<i32>) {
    let labels: Vec<i32> = block_sizes
        .iter()
        .enumerate()
        .flat_map(|(b, &size)| std::iter::repeat_n(b as i32, size))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut triplets = Triplets::default();
    for i in 0..labels.len() {
        for j in i + 1..labels.len() {
            let p = if labels[i] == labels[j] { p_in } else { p_out };
            if rng.random::<f64>() < p {
                triplets.push_edge(i as u32, j as u32);
            }
        }
    }
    (triplets, labels)
}

/// Planted partition on `n_nodes` nodes with uniformly random cluster labels: each
/// node draws `partners_per_node` partners, a uniformly random member of its own
/// cluster with probability `within_fraction`, else of another cluster. Both edge
/// directions are emitted (weight 1; repeated pairs and self loops are left for the
/// graph builder), so the mean degree is about `2 · partners_per_node`.
pub fn planted_partition(
    n_nodes: usize,
    n_clusters: usize,
    partners_per_node: usize,
    within_fraction: f64,
    seed: u64,
) -> (Triplets, Vec<i32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<i32> = (0..n_nodes)
        .map(|_| rng.random_range(0..n_clusters) as i32)
        .collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_clusters];
    for (node, &label) in labels.iter().enumerate() {
        members[label as usize].push(node as u32);
    }
    let n_edges = n_nodes * partners_per_node;
    let mut triplets = Triplets {
        rows: Vec::with_capacity(2 * n_edges),
        cols: Vec::with_capacity(2 * n_edges),
        values: Vec::with_capacity(2 * n_edges),
    };
    for (node, &label) in labels.iter().enumerate() {
        let own = label as usize;
        for _ in 0..partners_per_node {
            let cluster = if n_clusters == 1 || rng.random::<f64>() < within_fraction {
                own
            } else {
                // Uniform over the other clusters.
                let other = rng.random_range(0..n_clusters - 1);
                if other >= own { other + 1 } else { other }
            };
            let candidates = &members[cluster];
            if candidates.is_empty() {
                continue;
            }
            let partner = candidates[rng.random_range(0..candidates.len())];
            triplets.push_edge(node as u32, partner);
        }
    }
    (triplets, labels)
}
