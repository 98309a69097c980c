//! How much of each cluster's affinity weight stays inside it, and the normalised cut
//! `Σ_c cut(c, c̄) / vol(c) = Σ_c (1 − W(c, c) / vol(c))` (Shi and Malik's k-way form: 0 for
//! clusters with no edge between them, at most k). Spectral clustering is a relaxation of
//! this cut, so the cluster stage also uses it to choose among k-means restarts
//! ([`crate::pipeline::RestartChoice`]).

use rayon::prelude::*;

use crate::graph::SparseGraph;
use crate::kmeans::add_in_order;

/// Each cluster's inner weight `W(c, c)` (both directions of an edge) and volume.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterWeights {
    pub within: Vec<f64>,
    pub volume: Vec<f64>,
}

impl ClusterWeights {
    /// Sums over the nodes in parallel, in fixed chunks added in order: the same
    /// numbers on any number of threads.
    pub fn of(graph: &SparseGraph, assignments: &[u32], k: usize) -> ClusterWeights {
        const NODES_PER_TASK: usize = 16_384;
        let partials: Vec<Vec<f64>> = assignments
            .par_chunks(NODES_PER_TASK)
            .enumerate()
            .map(|(chunk, clusters)| {
                // within in 0..k, volume in k..2k.
                let mut sums = vec![0f64; 2 * k];
                for (offset, &c) in clusters.iter().enumerate() {
                    let (cols, weights) = graph.row(chunk * NODES_PER_TASK + offset);
                    for (&col, &w) in cols.iter().zip(weights) {
                        let w = f64::from(w);
                        sums[k + c as usize] += w;
                        if assignments[col as usize] == c {
                            sums[c as usize] += w;
                        }
                    }
                }
                sums
            })
            .collect();
        let mut sums = add_in_order(partials, 2 * k);
        let volume = sums.split_off(k);
        ClusterWeights {
            within: sums,
            volume,
        }
    }

    /// `W(c, c) / vol(c)`, `None` for a cluster with no edge.
    pub fn cohesion(&self, c: usize) -> Option<f64> {
        (self.volume[c] > 0.0).then(|| self.within[c] / self.volume[c])
    }

    /// `Σ_c W(c, c) / Σ_c vol(c)` (1 for a graph without edges: nothing leaves).
    pub fn overall_cohesion(&self) -> f64 {
        let volume: f64 = self.volume.iter().sum();
        if volume > 0.0 {
            self.within.iter().sum::<f64>() / volume
        } else {
            1.0
        }
    }

    /// `Σ_c (vol(c) − W(c, c)) / vol(c)`; clusters without edges add nothing.
    pub fn normalized_cut(&self) -> f64 {
        (0..self.volume.len())
            .filter_map(|c| self.cohesion(c))
            .map(|cohesion| 1.0 - cohesion)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Symmetry;

    #[test]
    fn disconnected_cliques_are_fully_cohesive_with_no_cut() {
        // Two triangles, every edge in both directions with weight 1.
        let pairs = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)];
        let rows: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        let cols: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [b, a]).collect();
        let graph = SparseGraph::from_triplets(6, &rows, &cols, &[1.0; 12], Symmetry::Require)
            .unwrap()
            .0;
        let weights = ClusterWeights::of(&graph, &[0, 0, 0, 1, 1, 1], 2);
        assert_eq!(weights.within, [6.0, 6.0]);
        assert_eq!(weights.volume, [6.0, 6.0]);
        assert_eq!(weights.cohesion(0), Some(1.0));
        assert_eq!(weights.overall_cohesion(), 1.0);
        assert_eq!(weights.normalized_cut(), 0.0);
    }
}
