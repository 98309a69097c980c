//! A joint solve over each row's candidates (docs/method.md "Inference", `refine`).
//!
//! The energy scores every pair on its own; a sample's best expression is a property of
//! its candidates together (two near-duplicate atoms should share one coefficient, an atom
//! that adds nothing new should get none). So with `refine = "elastic-net"` the energy
//! only picks each row's `refine_candidates` best atoms, and the coefficients over them are
//! the minimiser of the elastic-net self-expression loss (the per-sample `L_se` of
//! training, and EnSC's objective restricted to those atoms):
//!
//! ```text
//! c_i = argmin_c  γ/2·‖d_i − Σ_j c_j d_j‖² + λ‖c‖₁ + (1−λ)/2·‖c‖²      (j over the candidates)
//! ```
//!
//! solved by cyclic coordinate descent on the candidates' Gram matrix, O(K²) a sweep. With
//! two λ (`refine_lambda = [0.2, 0.9]`) both solves run over the same candidates and a
//! row's coefficients are their mean, which rebuilds the sample about as well as either: the
//! sparse solve's few strongest atoms keep a row inside its subspace where subspaces
//! overlap, the dense solve's spread keeps a class of few points for its dimensions in one
//! piece (docs/method.md "Inference"). The
//! products come from one Gram matrix of the whole dictionary (N²/2 products of length D,
//! once) or from each row's candidates (K²/2 a row), whichever takes fewer: with many
//! candidates over a small set (400 of 400 faces) the rows' matrices would compute every
//! product hundreds of times. Both use the same dot product, so they give the same bits.

use ebsc_io::Triplets;
use rayon::prelude::*;

use crate::graph::row_ranges;

/// The elastic-net weights of the solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElasticNet {
    /// γ: weight of the reconstruction error.
    pub gamma: f64,
    pub lambda: Lambda,
}

/// λ in [0, 1], the share of the ℓ1 penalty against the squared ℓ2 one: of one solve, or
/// of two whose coefficients are averaged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lambda {
    One(f64),
    MeanOf([f64; 2]),
}

impl Lambda {
    pub fn values(&self) -> &[f64] {
        match self {
            Lambda::One(lambda) => std::slice::from_ref(lambda),
            Lambda::MeanOf(lambdas) => lambdas,
        }
    }
}

/// As `refine_lambda` is written: `0.9`, or `[0.2, 0.9]`.
impl std::fmt::Display for Lambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lambda::One(lambda) => write!(f, "{lambda}"),
            Lambda::MeanOf([a, b]) => write!(f, "[{a}, {b}]"),
        }
    }
}

/// Coordinate-descent sweeps at most; most rows settle within a few dozen.
const MAX_SWEEPS: usize = 300;
/// A sweep that moves no coefficient by more than this ends the solve.
const TOLERANCE: f64 = 1e-7;
/// The whole dictionary's Gram matrix is only built up to this many rows (f64, N² × 8
/// bytes: 200 MB at 5,000).
const SHARED_GRAM_MAX_ROWS: usize = 5_000;

/// Where a row's inner products come from.
enum Products<'a> {
    /// The whole dictionary's Gram matrix, `[n, n]` row-major.
    Shared { gram: Vec<f64>, n: usize },
    /// Computed for each row's candidates from the dictionary, row-major `[n, dim]`.
    PerRow { dictionary: &'a [f32], dim: usize },
}

impl<'a> Products<'a> {
    /// The shared Gram matrix when it takes fewer products than the rows' own matrices
    /// and fits [`SHARED_GRAM_MAX_ROWS`].
    fn choose(dictionary: &'a [f32], dim: usize, row_lengths: &[usize]) -> Products<'a> {
        if dim == 0 {
            return Products::PerRow { dictionary, dim };
        }
        let n = dictionary.len() / dim;
        let per_row: usize = row_lengths.iter().map(|&k| k * (k + 1) / 2 + k).sum();
        if n <= SHARED_GRAM_MAX_ROWS && n * (n + 1) / 2 < per_row {
            Products::shared(dictionary, dim)
        } else {
            Products::PerRow { dictionary, dim }
        }
    }

    fn shared(dictionary: &[f32], dim: usize) -> Products<'a> {
        let n = dictionary.len() / dim;
        let atom = |j: usize| &dictionary[j * dim..(j + 1) * dim];
        // Each row's products with itself and the rows after it, then mirrored.
        let mut gram = vec![0.0f64; n * n];
        gram.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for (j, g) in row.iter_mut().enumerate().skip(i) {
                *g = dot(atom(i), atom(j));
            }
        });
        for i in 0..n {
            for j in 0..i {
                gram[i * n + j] = gram[j * n + i];
            }
        }
        Products::Shared { gram, n }
    }

    /// The candidates' Gram matrix `[k, k]` and their products with `row`'s own atom.
    fn of_row(&self, row: usize, candidates: &[u32]) -> (Vec<f64>, Vec<f64>) {
        match self {
            Products::Shared { gram: all, n } => {
                let k = candidates.len();
                let mut gram = vec![0.0f64; k * k];
                let mut b = vec![0.0f64; k];
                for (a, &ca) in candidates.iter().enumerate() {
                    let ca = ca as usize;
                    b[a] = all[ca * n + row];
                    for (c, &cc) in candidates.iter().enumerate() {
                        gram[a * k + c] = all[ca * n + cc as usize];
                    }
                }
                (gram, b)
            }
            Products::PerRow { dictionary, dim } => {
                let target = &dictionary[row * dim..(row + 1) * dim];
                products_with(dictionary, *dim, candidates, target)
            }
        }
    }
}

/// The candidates' Gram matrix `[k, k]` and their products with `target`, from the
/// row-major `[n, dim]` dictionary.
fn products_with(
    dictionary: &[f32],
    dim: usize,
    candidates: &[u32],
    target: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let k = candidates.len();
    let mut gram = vec![0.0f64; k * k];
    let mut b = vec![0.0f64; k];
    let atom = |j: usize| &dictionary[j * dim..(j + 1) * dim];
    for a in 0..k {
        let xa = atom(candidates[a] as usize);
        b[a] = dot(xa, target);
        for c in a..k {
            let g = dot(xa, atom(candidates[c] as usize));
            gram[a * k + c] = g;
            gram[c * k + a] = g;
        }
    }
    (gram, b)
}

/// The elastic-net solve of a sample outside the dictionary (`ebsc-assign`'s new samples)
/// over `candidates`, rows of the row-major `[n, dim]` dictionary: the same solve as
/// [`refine_rows`] gives its rows. The `keep` largest |c| that are not zero, in column
/// order.
pub fn solve_for(
    target: &[f32],
    candidates: &[u32],
    dictionary: &[f32],
    dim: usize,
    weights: ElasticNet,
    keep: usize,
) -> Vec<(u32, f32)> {
    let (gram, b) = products_with(dictionary, dim, candidates, target);
    kept_solution(&gram, &b, candidates, weights, keep)
}

/// Re-weights every row of `c` (sorted by row, then column) by the elastic-net solve over
/// its columns, and keeps each row's `keep` largest |c| that are not zero. `dictionary` is
/// row-major `[n, dim]`. The output is sorted by (row, col).
pub fn refine_rows(
    c: &Triplets,
    dictionary: &[f32],
    dim: usize,
    weights: ElasticNet,
    keep: usize,
) -> Triplets {
    let ranges = row_ranges(&c.rows);
    let lengths: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
    let products = Products::choose(dictionary, dim, &lengths);
    refine_with(c, &ranges, &products, weights, keep)
}

fn refine_with(
    c: &Triplets,
    ranges: &[std::ops::Range<usize>],
    products: &Products<'_>,
    weights: ElasticNet,
    keep: usize,
) -> Triplets {
    let solved: Vec<Vec<(u32, f32)>> = ranges
        .par_iter()
        .map(|range| {
            let row = c.rows[range.start] as usize;
            let candidates = &c.cols[range.clone()];
            let (gram, b) = products.of_row(row, candidates);
            kept_solution(&gram, &b, candidates, weights, keep)
        })
        .collect();
    let mut out = Triplets::default();
    for (range, entries) in ranges.iter().zip(solved) {
        let row = c.rows[range.start];
        for (col, value) in entries {
            out.push(row, col, value);
        }
    }
    out
}

/// The row's solve over its candidates, of which the `keep` largest |c| are kept.
fn kept_solution(
    gram: &[f64],
    b: &[f64],
    candidates: &[u32],
    weights: ElasticNet,
    keep: usize,
) -> Vec<(u32, f32)> {
    let coefficients = solve(gram, b, weights);
    strongest(candidates.iter().copied().zip(coefficients), keep)
}

/// The elastic-net coefficients over `k` candidates, from their Gram matrix `[k, k]` and
/// their products `b` with the target: of the one λ, or the mean of both λ's.
fn solve(gram: &[f64], b: &[f64], weights: ElasticNet) -> Vec<f64> {
    match weights.lambda {
        Lambda::One(lambda) => coordinate_descent(gram, b, weights.gamma, lambda),
        Lambda::MeanOf(lambdas) => {
            let [first, second] = lambdas.map(|l| coordinate_descent(gram, b, weights.gamma, l));
            first
                .iter()
                .zip(&second)
                .map(|(x, y)| (x + y) / 2.0)
                .collect()
        }
    }
}

/// The coefficients of one elastic-net solve (weights γ and λ) by cyclic coordinate
/// descent.
fn coordinate_descent(gram: &[f64], b: &[f64], gamma: f64, lambda: f64) -> Vec<f64> {
    let k = b.len();
    let mut coefficients = vec![0.0f64; k];
    // gram · coefficients, kept up to date as coordinates move.
    let mut gram_c = vec![0.0f64; k];
    for _ in 0..MAX_SWEEPS {
        let mut largest_move = 0.0f64;
        for j in 0..k {
            let g_jj = gram[j * k + j];
            let old = coefficients[j];
            let z = gamma * (b[j] - gram_c[j] + g_jj * old);
            let new = soft_threshold(z, lambda) / (gamma * g_jj + (1.0 - lambda));
            let delta = new - old;
            if delta != 0.0 {
                coefficients[j] = new;
                for (gc, g) in gram_c.iter_mut().zip(&gram[j * k..(j + 1) * k]) {
                    *gc += delta * g;
                }
                largest_move = largest_move.max(delta.abs());
            }
        }
        if largest_move < TOLERANCE {
            break;
        }
    }
    coefficients
}

fn soft_threshold(z: f64, threshold: f64) -> f64 {
    z.signum() * (z.abs() - threshold).max(0.0)
}

/// In f64, over eight independent partial sums so the compiler can keep them in vector
/// registers (a single running sum is a serial chain: the Gram matrix of 400 candidates
/// took several times longer).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 8;
    let mut partial = [0.0f64; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            partial[lane] += f64::from(x[lane]) * f64::from(y[lane]);
        }
    }
    partial.iter().sum::<f64>() + tail
}

/// The `keep` largest non-zero |c| with their columns, in column order (ties: the lower
/// column first).
pub(crate) fn strongest(
    coefficients: impl Iterator<Item = (u32, f64)>,
    keep: usize,
) -> Vec<(u32, f32)> {
    let mut entries: Vec<(u32, f64)> = coefficients.filter(|(_, c)| *c != 0.0).collect();
    let by_strength =
        |a: &(u32, f64), b: &(u32, f64)| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0));
    if entries.len() > keep && keep > 0 {
        entries.select_nth_unstable_by(keep - 1, by_strength);
    }
    entries.truncate(keep);
    entries.sort_by_key(|e| e.0);
    entries
        .into_iter()
        .map(|(col, c)| (col, c as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row's solve through the per-row products, which must equal the shared Gram
    /// matrix's to the bit.
    fn solve_row(
        row: usize,
        candidates: &[u32],
        dictionary: &[f32],
        dim: usize,
        weights: ElasticNet,
    ) -> Vec<f64> {
        let per_row = Products::PerRow { dictionary, dim }.of_row(row, candidates);
        let shared = Products::shared(dictionary, dim).of_row(row, candidates);
        assert_eq!(per_row, shared);
        solve(&per_row.0, &per_row.1, weights)
    }

    /// `n` rows of a deterministic pseudo-random dictionary of width `dim`.
    fn scattered(n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|i| ((i as f32 * 0.618).sin() * 43.7).fract())
            .collect()
    }

    #[test]
    fn a_sample_outside_the_dictionary_gets_the_solve_its_rows_get() {
        // A row's own atom as the target, over that row's candidates: the same entries as
        // the row's solve in refine_rows, to the bit.
        let (n, dim) = (30, 9);
        let d = scattered(n, dim);
        let mut c = Triplets::default();
        for row in 0..n as u32 {
            for col in (0..n as u32).filter(|&col| col != row && (col + row) % 3 != 0) {
                c.push(row, col, 1.0);
            }
        }
        let weights = ElasticNet {
            gamma: 50.0,
            lambda: Lambda::One(0.2),
        };
        let refined = refine_rows(&c, &d, dim, weights, 5);
        for range in row_ranges(&c.rows) {
            let row = c.rows[range.start] as usize;
            let target = &d[row * dim..(row + 1) * dim];
            let solved = solve_for(target, &c.cols[range], &d, dim, weights, 5);
            let expected: Vec<(u32, f32)> = refined
                .rows
                .iter()
                .zip(refined.cols.iter().zip(&refined.values))
                .filter(|(r, _)| **r as usize == row)
                .map(|(_, (&col, &value))| (col, value))
                .collect();
            assert_eq!(solved, expected, "row {row}");
            assert!(!solved.is_empty());
        }
    }

    #[test]
    fn the_shared_gram_matrix_gives_the_same_coefficients_as_the_rows_own() {
        let (n, dim) = (40, 13);
        let d = scattered(n, dim);
        let mut c = Triplets::default();
        for row in 0..n as u32 {
            // Every other row as a candidate, in an order that differs from row to row.
            for step in 1..n as u32 {
                let col = (row + step * 7) % n as u32;
                if col != row && col % 2 == row % 2 {
                    c.push(row, col, 1.0);
                }
            }
        }
        let ranges = row_ranges(&c.rows);
        let weights = ElasticNet {
            gamma: 50.0,
            lambda: Lambda::One(0.9),
        };
        let per_row = Products::PerRow {
            dictionary: &d,
            dim,
        };
        let shared = Products::shared(&d, dim);
        let a = refine_with(&c, &ranges, &per_row, weights, 5);
        let b = refine_with(&c, &ranges, &shared, weights, 5);
        assert!(!a.values.is_empty());
        assert_eq!((a.rows, a.cols, a.values), (b.rows, b.cols, b.values));
    }

    #[test]
    fn the_shared_gram_matrix_is_chosen_when_it_takes_fewer_products() {
        let d = scattered(100, 4);
        let is_shared = |lengths: &[usize]| {
            matches!(
                Products::choose(&d, 4, lengths),
                Products::Shared { n: 100, .. }
            )
        };
        // 100 rows of 99 candidates: 100 × 5,049 products a row against 5,050 in all.
        assert!(is_shared(&[99; 100]));
        // 100 rows of 5: 2,000 products against 5,050.
        assert!(!is_shared(&[5; 100]));
        // Beyond the cap the rows' own matrices, however many products they take.
        let large = scattered(SHARED_GRAM_MAX_ROWS + 1, 1);
        assert!(matches!(
            Products::choose(&large, 1, &vec![400; SHARED_GRAM_MAX_ROWS + 1]),
            Products::PerRow { .. }
        ));
    }

    /// Unit vectors e_0, e_1 and their normalised sum, in R^3, plus an unrelated e_2.
    fn dictionary() -> Vec<f32> {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        vec![
            1.0, 0.0, 0.0, // 0: e_0
            0.0, 1.0, 0.0, // 1: e_1
            s, s, 0.0, // 2: (e_0 + e_1)/√2
            0.0, 0.0, 1.0, // 3: e_2
        ]
    }

    #[test]
    fn the_lane_split_dot_product_matches_a_plain_sum() {
        for len in [0, 1, 7, 8, 9, 17, 64, 785] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-12, "{len}");
        }
    }

    #[test]
    fn matches_the_closed_form_of_ridge_when_lambda_is_zero() {
        // λ = 0 is ridge: c = γ (γ G + I)⁻¹ b. Target e_0+e_1 normalised, atoms e_0, e_1:
        // G = I, b = (s, s), so c = γ s / (γ + 1) for both.
        let d = dictionary();
        let gamma = 9.0;
        let c = solve_row(
            2,
            &[0, 1],
            &d,
            3,
            ElasticNet {
                gamma,
                lambda: Lambda::One(0.0),
            },
        );
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let expected = gamma * s / (gamma + 1.0);
        for v in c {
            assert!((v - expected).abs() < 1e-5, "{v} vs {expected}");
        }
    }

    #[test]
    fn two_lambdas_give_the_mean_of_their_solves_over_the_same_candidates() {
        let (n, dim) = (20, 6);
        let d = scattered(n, dim);
        let candidates: Vec<u32> = (1..n as u32).collect();
        let with = |lambda| {
            solve_row(
                0,
                &candidates,
                &d,
                dim,
                ElasticNet {
                    gamma: 50.0,
                    lambda,
                },
            )
        };
        let (sparse, dense) = (with(Lambda::One(0.9)), with(Lambda::One(0.2)));
        let mean = with(Lambda::MeanOf([0.2, 0.9]));
        // The ℓ1 term zeroes more of the sparse solve; the mean holds the union.
        let nonzero = |c: &[f64]| c.iter().filter(|v| **v != 0.0).count();
        assert!(nonzero(&sparse) < nonzero(&dense), "{sparse:?} {dense:?}");
        for ((m, s), d) in mean.iter().zip(&sparse).zip(&dense) {
            assert_eq!(*m, (s + d) / 2.0);
            assert_eq!(*m != 0.0, *s != 0.0 || *d != 0.0);
        }
    }

    #[test]
    fn an_orthogonal_atom_gets_no_weight() {
        // e_2 is orthogonal to the target: its coordinate never leaves the soft threshold.
        let d = dictionary();
        let c = solve_row(
            2,
            &[0, 1, 3],
            &d,
            3,
            ElasticNet {
                gamma: 50.0,
                lambda: Lambda::One(0.9),
            },
        );
        assert!(c[0] > 0.5 && c[1] > 0.5, "{c:?}");
        assert_eq!(c[2], 0.0);
    }

    #[test]
    fn a_duplicate_atom_shares_the_weight_instead_of_doubling_it() {
        // Target e_0 with candidates e_0 (row 0 itself is not a candidate: use a copy).
        let mut d = dictionary();
        d.extend_from_slice(&[1.0, 0.0, 0.0]); // 4: a copy of e_0
        let weights = ElasticNet {
            gamma: 50.0,
            lambda: Lambda::One(0.5),
        };
        let c = solve_row(0, &[4, 2], &d, 3, weights);
        // The exact copy explains e_0 alone; the diagonal atom gets less.
        assert!(c[0] > c[1], "{c:?}");
        // Optimality (KKT) of the first coordinate, which is active:
        // γ (b − G c)_0 − (1−λ) c_0 = λ sign(c_0).
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let g_c0 = c[0] + s * c[1];
        let kkt = 50.0 * (1.0 - g_c0) - 0.5 * c[0];
        assert!((kkt - 0.5).abs() < 1e-4, "{kkt}");
    }

    #[test]
    fn refine_keeps_the_strongest_nonzero_coefficients_per_row() {
        let d = dictionary();
        let mut c = Triplets::default();
        for (row, cols) in [(2u32, [0u32, 1, 3]), (3, [0, 1, 2])] {
            for col in cols {
                c.push(row, col, 1.0);
            }
        }
        let weights = ElasticNet {
            gamma: 50.0,
            lambda: Lambda::One(0.9),
        };
        let out = refine_rows(&c, &d, 3, weights, 2);
        // Row 2 keeps e_0 and e_1; row 3 (e_2) is orthogonal to all its candidates.
        assert_eq!(out.rows, vec![2, 2]);
        assert_eq!(out.cols, vec![0, 1]);
        assert!(out.values.iter().all(|v| *v > 0.5));
    }

    #[test]
    fn keeps_the_strongest_and_breaks_ties_by_column() {
        let kept = strongest(
            [(0, 0.5), (1, -0.9), (2, 0.0), (3, 0.5), (4, 0.1)].into_iter(),
            3,
        );
        assert_eq!(kept, vec![(0, 0.5), (1, -0.9), (3, 0.5)]);
        let kept = strongest([(0, 0.5), (1, -0.9), (3, 0.5)].into_iter(), 2);
        assert_eq!(kept, vec![(0, 0.5), (1, -0.9)]);
    }
}
