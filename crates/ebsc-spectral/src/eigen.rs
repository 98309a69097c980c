//! Top `k` eigenpairs (largest algebraic) of the normalised affinity `S`
//! (docs/method.md): a dense symmetric solver for small graphs, LOBPCG above
//! `dense_threshold` nodes (see `lobpcg.rs`; faer's sparse eigensolver hung on weak
//! clusters, docs/method.md).

use crate::lobpcg;
use crate::normalized::NormalizedAffinity;
use faer::Side;

/// Which solver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EigenMethod {
    /// Dense up to `dense_threshold` nodes, LOBPCG above.
    Auto,
    /// Form `S` densely (`n × n` memory) and solve it whole.
    Dense,
    /// Iterative, never allocates anything `n × n`.
    Lobpcg,
}

/// Eigensolver settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EigenOptions {
    pub method: EigenMethod,
    /// Largest graph solved densely by [`EigenMethod::Auto`].
    pub dense_threshold: usize,
    /// Convergence when every wanted pair has `‖S x − θ x‖ ≤ tolerance` (`‖x‖ = 1`;
    /// `S`'s spectrum lies in `[-1, 1]`, so this is relative to the eigenvalue scale).
    /// From 1e-6 up, LOBPCG's sparse products gather f32 values (f64 sums, relative
    /// error ~1e-7, half the memory traffic); below it, f64.
    pub tolerance: f64,
    /// LOBPCG iteration cap.
    pub max_iterations: usize,
    /// Extra block columns beyond the `k` wanted; they speed up convergence of the
    /// `k`-th pair when `λ_k` and `λ_{k+1}` are close.
    pub guard_vectors: usize,
    /// Seed of the initial random block.
    pub seed: u64,
}

impl Default for EigenOptions {
    fn default() -> Self {
        Self {
            method: EigenMethod::Auto,
            dense_threshold: 2000,
            tolerance: 1e-4,
            max_iterations: 1000,
            guard_vectors: 2,
            seed: 0,
        }
    }
}

/// Why no eigenpairs came back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EigenError {
    #[error("asked for {requested} eigenpairs of a graph with {n_nodes} nodes")]
    InvalidCount { requested: usize, n_nodes: usize },
    #[error(
        "eigensolver did not converge in {iterations} iterations (largest residual {max_residual:.3e})"
    )]
    NotConverged {
        iterations: usize,
        max_residual: f64,
    },
    #[error("dense symmetric eigensolver failed to converge")]
    DenseFailed,
}

/// The top `k` eigenpairs of `S`.
#[derive(Debug, Clone, PartialEq)]
pub struct Eigenpairs {
    /// Descending.
    pub eigenvalues: Vec<f64>,
    /// `n × k` row-major; column `j` belongs to `eigenvalues[j]`, unit norm, sign
    /// chosen so that its largest-magnitude entry is positive.
    pub eigenvectors: Vec<f64>,
    pub n_nodes: usize,
    pub k: usize,
    /// Solver that ran ([`EigenMethod::Dense`] or [`EigenMethod::Lobpcg`]).
    pub method: EigenMethod,
    /// LOBPCG iterations (0 for the dense solver).
    pub iterations: usize,
    /// Largest `‖S x − θ x‖` among the returned pairs.
    pub max_residual: f64,
}

/// The `k` largest eigenpairs of `S`.
pub fn top_eigenpairs(
    operator: &NormalizedAffinity<'_>,
    k: usize,
    options: &EigenOptions,
) -> Result<Eigenpairs, EigenError> {
    let n_nodes = operator.n_nodes();
    if k == 0 || k > n_nodes {
        return Err(EigenError::InvalidCount {
            requested: k,
            n_nodes,
        });
    }
    let block_width = k + options.guard_vectors;
    // LOBPCG's basis [X P W] needs 3·block_width independent columns.
    let iterative_possible = n_nodes >= 4 * block_width;
    let method = match options.method {
        EigenMethod::Auto if n_nodes <= options.dense_threshold || !iterative_possible => {
            EigenMethod::Dense
        }
        EigenMethod::Lobpcg if !iterative_possible => EigenMethod::Dense,
        EigenMethod::Auto => EigenMethod::Lobpcg,
        chosen => chosen,
    };
    let mut pairs = match method {
        EigenMethod::Lobpcg => lobpcg::lobpcg(operator, k, options)?,
        _ => dense_eigenpairs(operator, k)?,
    };
    normalize_signs(&mut pairs.eigenvectors, n_nodes, k);
    Ok(pairs)
}

/// All eigenpairs of the dense `S`, the top `k` kept.
fn dense_eigenpairs(operator: &NormalizedAffinity<'_>, k: usize) -> Result<Eigenpairs, EigenError> {
    let n = operator.n_nodes();
    let dense = operator.to_dense();
    let eigen = dense
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| EigenError::DenseFailed)?;
    let values = eigen.S().column_vector();
    let vectors = eigen.U();
    // faer sorts ascending: the top k are the last k, reversed.
    let order: Vec<usize> = (n - k..n).rev().collect();
    let eigenvalues: Vec<f64> = order.iter().map(|&j| values[j]).collect();
    let mut eigenvectors = vec![0.0; n * k];
    for (c, &j) in order.iter().enumerate() {
        for i in 0..n {
            eigenvectors[i * k + c] = vectors[(i, j)];
        }
    }
    let max_residual = max_residual(operator, &eigenvectors, &eigenvalues);
    Ok(Eigenpairs {
        eigenvalues,
        eigenvectors,
        n_nodes: n,
        k,
        method: EigenMethod::Dense,
        iterations: 0,
        max_residual,
    })
}

/// `max_j ‖S x_j − θ_j x_j‖` for a row-major `n × k` block.
pub(crate) fn max_residual(
    operator: &NormalizedAffinity<'_>,
    vectors: &[f64],
    values: &[f64],
) -> f64 {
    let k = values.len();
    let mut product = vec![0.0; vectors.len()];
    operator.apply_block(vectors, &mut product, k, k);
    let mut squares = vec![0.0; k];
    for (p_row, x_row) in product.chunks_exact(k).zip(vectors.chunks_exact(k)) {
        for j in 0..k {
            let r = p_row[j] - values[j] * x_row[j];
            squares[j] += r * r;
        }
    }
    squares.into_iter().fold(0.0, |m, s| m.max(s.sqrt()))
}

/// Flips each column so that its largest-magnitude entry (first one on ties) is
/// positive: eigenvectors are defined up to sign, results should not be.
fn normalize_signs(vectors: &mut [f64], n: usize, k: usize) {
    for j in 0..k {
        let mut best = (0.0f64, 0usize);
        for i in 0..n {
            let v = vectors[i * k + j];
            if v.abs() > best.0 {
                best = (v.abs(), i);
            }
        }
        if vectors[best.1 * k + j] < 0.0 {
            for i in 0..n {
                vectors[i * k + j] = -vectors[i * k + j];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{SparseGraph, Symmetry};
    use crate::synthetic::planted_partition;
    use faer::Mat;
    use rand::{Rng, SeedableRng};

    /// Planted partition with random weights in (0.1, 1], the same on both
    /// directions of an edge; `within_fraction = 0` with one cluster is a plain
    /// random graph.
    fn random_graph(n: usize, n_blocks: usize, within_fraction: f64, seed: u64) -> SparseGraph {
        let (mut triplets, _) = planted_partition(n, n_blocks, 4, within_fraction, seed);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 100);
        for pair in triplets.values.chunks_exact_mut(2) {
            let w = rng.random_range(0.1..=1.0);
            pair.fill(w);
        }
        SparseGraph::from_triplets(
            n,
            &triplets.rows,
            &triplets.cols,
            &triplets.values,
            Symmetry::Require,
        )
        .unwrap()
        .0
    }

    fn options(method: EigenMethod) -> EigenOptions {
        EigenOptions {
            method,
            tolerance: 1e-10,
            max_iterations: 3000,
            ..EigenOptions::default()
        }
    }

    /// Largest principal angle between the spans of two orthonormal `n × k` blocks:
    /// `acos` of the smallest singular value of `Aᵀ B`.
    fn largest_principal_angle(a: &[f64], b: &[f64], k: usize) -> f64 {
        let n = a.len() / k;
        let product = Mat::from_fn(k, k, |i, j| {
            (0..n).map(|r| a[r * k + i] * b[r * k + j]).sum::<f64>()
        });
        let singular_values = product.singular_values().unwrap();
        let smallest = singular_values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        smallest.min(1.0).acos()
    }

    /// `(n, blocks, within_fraction, k, seed)` of [`random_graph`] cases the iterative
    /// solver is checked on against the dense one.
    const RANDOM_GRAPHS: [(usize, usize, f64, usize, u64); 3] = [
        (300, 4, 0.8, 4, 1),
        (1000, 1, 0.0, 3, 2),
        (2000, 10, 0.8, 10, 4),
    ];

    #[test]
    fn lobpcg_matches_dense_on_random_graphs() {
        for (n, n_blocks, within_fraction, k, seed) in RANDOM_GRAPHS {
            let graph = random_graph(n, n_blocks, within_fraction, seed);
            let operator = NormalizedAffinity::new(&graph);
            let dense = top_eigenpairs(&operator, k, &options(EigenMethod::Dense)).unwrap();
            let iterative = top_eigenpairs(&operator, k, &options(EigenMethod::Lobpcg)).unwrap();
            assert_eq!(dense.method, EigenMethod::Dense);
            assert_eq!(iterative.method, EigenMethod::Lobpcg);
            for (d, i) in dense.eigenvalues.iter().zip(&iterative.eigenvalues) {
                assert!(
                    (d - i).abs() <= 1e-8 * d.abs(),
                    "n={n}: eigenvalue {d} vs {i}"
                );
            }
            let angle = largest_principal_angle(&dense.eigenvectors, &iterative.eigenvectors, k);
            assert!(angle < 1e-6, "n={n}: largest principal angle {angle:e}");
            assert!(iterative.max_residual <= 1e-10);
            assert!(dense.max_residual <= 1e-10);
        }
    }

    #[test]
    fn lobpcg_at_the_default_tolerance_matches_dense() {
        // The default tolerance runs the solver on f32 blocks: residuals, eigenvalues
        // and the spanned subspace must still meet it.
        let defaults = EigenOptions::default();
        assert!(
            defaults.tolerance >= 1e-6,
            "the f32 path is not the default"
        );
        for (n, n_blocks, within_fraction, k, seed) in RANDOM_GRAPHS {
            let graph = random_graph(n, n_blocks, within_fraction, seed);
            let operator = NormalizedAffinity::new(&graph);
            let dense = top_eigenpairs(&operator, k, &options(EigenMethod::Dense)).unwrap();
            let iterative = top_eigenpairs(
                &operator,
                k,
                &EigenOptions {
                    method: EigenMethod::Lobpcg,
                    ..defaults.clone()
                },
            )
            .unwrap();
            assert!(iterative.max_residual <= defaults.tolerance);
            for (d, i) in dense.eigenvalues.iter().zip(&iterative.eigenvalues) {
                // Eigenvalue errors go as the squared residual: seen ≤ 6e-7.
                assert!((d - i).abs() <= 1e-5, "n={n}: eigenvalue {d} vs {i}");
            }
            let angle = largest_principal_angle(&dense.eigenvectors, &iterative.eigenvectors, k);
            // Seen ≤ 1.5e-3: the residual over the gap to the next eigenvalue.
            assert!(angle < 1e-2, "n={n}: largest principal angle {angle:e}");
        }
    }

    #[test]
    fn lobpcg_matches_dense_with_isolated_nodes_and_two_components() {
        // Two planted graphs side by side (two components), then 7 isolated nodes:
        // eigenvalue 1 twice, isolated nodes contribute zero rows and eigenvalue 0.
        let first = random_graph(400, 2, 0.9, 8);
        let second = random_graph(400, 2, 0.9, 9);
        let (mut rows, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (offset, graph) in [(0u32, &first), (400, &second)] {
            for row in 0..graph.n_nodes() {
                let (c, w) = graph.row(row);
                rows.extend(std::iter::repeat_n(row as u32 + offset, c.len()));
                cols.extend(c.iter().map(|&c| c + offset));
                values.extend_from_slice(w);
            }
        }
        let (graph, _) =
            SparseGraph::from_triplets(807, &rows, &cols, &values, Symmetry::Require).unwrap();
        assert_eq!(graph.n_isolated_nodes(), 7);
        assert_eq!(graph.n_connected_components(), 9);
        let operator = NormalizedAffinity::new(&graph);
        let dense = top_eigenpairs(&operator, 4, &options(EigenMethod::Dense)).unwrap();
        let iterative = top_eigenpairs(&operator, 4, &options(EigenMethod::Lobpcg)).unwrap();
        assert!((dense.eigenvalues[1] - 1.0).abs() < 1e-12);
        for (d, i) in dense.eigenvalues.iter().zip(&iterative.eigenvalues) {
            assert!((d - i).abs() <= 1e-8 * d.abs(), "eigenvalue {d} vs {i}");
        }
        let angle = largest_principal_angle(&dense.eigenvectors, &iterative.eigenvectors, 4);
        assert!(angle < 1e-6, "largest principal angle {angle:e}");
        // Isolated nodes have zero rows in every eigenvector of a non-zero eigenvalue.
        assert!(
            iterative.eigenvectors[800 * 4..]
                .iter()
                .all(|v| v.abs() < 1e-9)
        );
    }

    #[test]
    fn lobpcg_is_deterministic_for_a_seed() {
        let graph = random_graph(800, 3, 0.8, 5);
        let operator = NormalizedAffinity::new(&graph);
        let opts = EigenOptions {
            method: EigenMethod::Lobpcg,
            ..EigenOptions::default()
        };
        let first = top_eigenpairs(&operator, 3, &opts).unwrap();
        let single_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let second = single_thread.install(|| top_eigenpairs(&operator, 3, &opts).unwrap());
        assert_eq!(first, second);
    }

    #[test]
    fn iteration_cap_reports_not_converged() {
        let graph = random_graph(1000, 1, 0.0, 6);
        let operator = NormalizedAffinity::new(&graph);
        let capped = EigenOptions {
            max_iterations: 2,
            ..options(EigenMethod::Lobpcg)
        };
        match top_eigenpairs(&operator, 5, &capped) {
            Err(EigenError::NotConverged {
                iterations,
                max_residual,
            }) => {
                assert_eq!(iterations, 2);
                assert!(max_residual > 1e-10 && max_residual.is_finite());
            }
            other => panic!("expected NotConverged, got {other:?}"),
        }
    }

    #[test]
    fn dense_by_hand_on_triangle_and_two_components() {
        // Triangle with unit weights: D = 2I, S = (J − I)/2, eigenvalues 1, −½, −½;
        // the top eigenvector is (1, 1, 1)/√3.
        let (graph, _) = SparseGraph::from_triplets(
            3,
            &[0, 1, 1, 2, 2, 0],
            &[1, 0, 2, 1, 0, 2],
            &[1.0; 6],
            Symmetry::Require,
        )
        .unwrap();
        let pairs = top_eigenpairs(
            &NormalizedAffinity::new(&graph),
            2,
            &EigenOptions::default(),
        )
        .unwrap();
        assert!((pairs.eigenvalues[0] - 1.0).abs() < 1e-14);
        assert!((pairs.eigenvalues[1] + 0.5).abs() < 1e-14);
        for i in 0..3 {
            assert!((pairs.eigenvectors[i * 2] - 1.0 / 3f64.sqrt()).abs() < 1e-14);
        }

        // Two disjoint edges: eigenvalue 1 twice (one per component), then −1 twice.
        let (graph, _) = SparseGraph::from_triplets(
            4,
            &[0, 1, 2, 3],
            &[1, 0, 3, 2],
            &[1.0; 4],
            Symmetry::Require,
        )
        .unwrap();
        let pairs = top_eigenpairs(
            &NormalizedAffinity::new(&graph),
            3,
            &EigenOptions::default(),
        )
        .unwrap();
        assert!((pairs.eigenvalues[0] - 1.0).abs() < 1e-14);
        assert!((pairs.eigenvalues[1] - 1.0).abs() < 1e-14);
        assert!((pairs.eigenvalues[2] + 1.0).abs() < 1e-14);
    }

    #[test]
    fn invalid_counts() {
        let graph = random_graph(50, 1, 0.0, 7);
        let operator = NormalizedAffinity::new(&graph);
        for k in [0, 51] {
            assert_eq!(
                top_eigenpairs(&operator, k, &EigenOptions::default()).unwrap_err(),
                EigenError::InvalidCount {
                    requested: k,
                    n_nodes: 50
                }
            );
        }
    }
}
