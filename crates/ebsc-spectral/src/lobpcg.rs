//! LOBPCG (Knyazev 2001) for the largest eigenpairs of `S`, with the basis choices of
//! Hetmaniuk & Lehoucq (2006) and Duersch et al. (2018):
//! - the Rayleigh–Ritz basis `[X P W]` is kept orthonormal: the residuals `W` are
//!   projected off `X` and `P` and orthonormalised by SVQB (Gram matrix eigen-
//!   decomposition, dependent directions dropped), with a second pass when the first
//!   removed most of a column;
//! - the new `P` is the part of the Ritz coefficients outside `X`, orthonormalised
//!   in the small space, so `P ⟂ X` and `P` is orthonormal without touching `n`-rows;
//! - soft locking: converged columns stay in `X` but add no residual to `W`;
//! - `S X`, `S P` are updated by the same small combinations as `X`, `P`; only `S W`
//!   costs a sparse product. Convergence is confirmed with an explicit `S X`.
//!
//! Memory: six `n × (k + guard)` blocks (`X, SX, P, SP, W, SW`), nothing `n × n`.
//!
//! Precision: at tolerances of [`SINGLE_PRECISION_TOLERANCE`] and above the blocks are
//! f32 (sums of products over rows, the small Rayleigh–Ritz and SVQB problems, and the
//! residual norms stay f64): rounding of ~1e-7 per value is far below the tolerance, and
//! the dense block work, the larger part of the solver, moves half the bytes.

use crate::block::{Block, BlockValue, combine_in_place, gram};
use crate::eigen::{EigenError, EigenMethod, EigenOptions, Eigenpairs};
use crate::normalized::{NormalizedAffinity, Precision};
use crate::simd;
use faer::{Mat, MatRef, Side};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// A column whose squared norm falls below this after projection is taken as
/// lying in the span of the basis already, and dropped.
const NEGLIGIBLE_SQUARED_NORM: f64 = 1e-20;
/// SVQB drops directions whose eigenvalue in the unit-diagonal Gram matrix is below
/// this fraction of the largest one, or below [`SVQB_DROP_ROUNDINGS`] roundings of the
/// block's values, if that is more: a Gram matrix of f32 blocks resolves no finer.
const SVQB_DROP: f64 = 1e-12;
const SVQB_DROP_ROUNDINGS: f64 = 100.0;
/// A second projection pass runs when the first left less than this much of a
/// column's squared norm (it then lost orthogonality to rounding).
const REORTHOGONALIZE_BELOW: f64 = 0.5;
/// Blocks are f32, and sparse products gather f32 rows (f64 sums), when the tolerance
/// is at least this: their relative error, ~1e-7, is then far below it.
const SINGLE_PRECISION_TOLERANCE: f64 = 1e-6;
/// Products of `S` applied to the random start before the first iteration. From a
/// random block LOBPCG spends its first iterations finding the span of the top
/// eigenvectors (5 of 12 on a planted partition of 70,000 nodes, before any residual
/// falls); each product scales every eigen-direction by its eigenvalue, so the
/// wanted ones gain on the rest, for one sparse product where an iteration also costs
/// Gram products and block combinations.
const START_POWER_STEPS: usize = 6;
/// The start is orthonormalised after this many products: directions whose eigenvalues
/// differ by a factor `r` drift apart by `r³` in between, and SVQB on f32 blocks keeps
/// them for `r` down to ~0.15 (`r⁶` above its drop threshold of 100 f32 roundings);
/// a block whose `m`-th eigenvalue is smaller still keeps the random start.
const START_STEPS_PER_ORTHONORMALIZATION: usize = 3;
/// Rows per parallel task of the residual computation.
const ROWS_PER_TASK: usize = 2048;

/// LOBPCG for the top `k` eigenpairs, from the start of [`initial_block`].
pub(crate) fn lobpcg(
    operator: &NormalizedAffinity<'_>,
    k: usize,
    options: &EigenOptions,
) -> Result<Eigenpairs, EigenError> {
    // One decision for both: f32 blocks go with f32 gathers, f64 blocks with f64 ones.
    if options.tolerance >= SINGLE_PRECISION_TOLERANCE {
        lobpcg_in::<f32>(operator, k, options, Precision::Single)
    } else {
        lobpcg_in::<f64>(operator, k, options, Precision::Double)
    }
}

/// [`lobpcg`] with blocks of `T` and sparse-product gathers of `precision`.
fn lobpcg_in<T: BlockValue>(
    operator: &NormalizedAffinity<'_>,
    k: usize,
    options: &EigenOptions,
    precision: Precision,
) -> Result<Eigenpairs, EigenError> {
    let n = operator.n_nodes();
    let m = k + options.guard_vectors;
    let tolerance = options.tolerance;

    // X: orthonormal, then rotated to Ritz vectors of its own span.
    let mut ax = Block::zeros(n, m, m);
    let mut x: Block<T> = start_block(operator, m, options.seed, precision, &mut ax);
    orthonormalize_against(&mut x, &[]);
    orthonormalize_against(&mut x, &[]);
    operator.apply_block_with(&x.data, &mut ax.data, m, m, precision);
    let g = gram(&[&x], &[&ax], true);
    let (mut theta, y) = eigen_descending(g.as_ref(), m);
    combine_in_place(&mut [&mut x], &[], y.as_ref(), &[m]);
    combine_in_place(&mut [&mut ax], &[], y.as_ref(), &[m]);

    let mut w = Block::zeros(n, m, 0);
    let mut aw = Block::zeros(n, m, 0);
    let mut p = Block::zeros(n, m, 0);
    let mut ap = Block::zeros(n, m, 0);
    let mut norms = residuals_into(&x, &ax, &theta, &mut w);
    let mut iterations_done = 0;

    for iteration in 0..options.max_iterations {
        if max_of(&norms[..k]) <= tolerance {
            // The implicitly updated S X drifts; confirm with an explicit product (in
            // f32 gathers only where their error is far below the tolerance).
            operator.apply_block_with(&x.data, &mut ax.data, m, m, precision);
            norms = residuals_into(&x, &ax, &theta, &mut w);
            if max_of(&norms[..k]) <= tolerance {
                operator.release_panels();
                return Ok(Eigenpairs {
                    eigenvalues: theta[..k].to_vec(),
                    eigenvectors: x.to_row_major(k),
                    n_nodes: n,
                    k,
                    method: EigenMethod::Lobpcg,
                    iterations: iteration,
                    max_residual: max_of(&norms[..k]),
                });
            }
        }

        // W: the residuals of the unconverged columns, scaled to unit norm.
        let active: Vec<usize> = (0..m).filter(|&j| norms[j] > tolerance).collect();
        let select = Mat::from_fn(m, active.len(), |row, col| {
            if active[col] == row {
                1.0 / norms[row]
            } else {
                0.0
            }
        });
        next_search_directions(&mut w, select.as_ref(), &[&x, &p]);
        if w.width == 0 {
            break; // stagnation: the residuals lie in the current basis
        }
        aw.width = w.width;
        operator.apply_block_with(&w.data, &mut aw.data, m, w.width, precision);

        // Rayleigh–Ritz on the orthonormal basis [X P W].
        let g = gram(&[&x, &p, &w], &[&ax, &ap, &aw], true);
        let (values, all_vectors) = eigen_descending(g.as_ref(), g.nrows());
        theta = values[..m].to_vec();
        let ritz = all_vectors.subcols(0, m);
        let directions = p_directions(ritz, m, &active);
        let p_width = directions.ncols();
        let coefficients = Mat::from_fn(g.nrows(), m + p_width, |row, col| {
            if col < m {
                ritz[(row, col)]
            } else {
                directions[(row, col - m)]
            }
        });
        combine_in_place(
            &mut [&mut x, &mut p],
            &[&w],
            coefficients.as_ref(),
            &[m, p_width],
        );
        combine_in_place(
            &mut [&mut ax, &mut ap],
            &[&aw],
            coefficients.as_ref(),
            &[m, p_width],
        );
        norms = residuals_into(&x, &ax, &theta, &mut w);
        iterations_done = iteration + 1;
    }
    // Report the true residual, not the drifted one.
    operator.apply_block_with(&x.data, &mut ax.data, m, m, precision);
    operator.release_panels();
    let norms = residuals_into(&x, &ax, &theta, &mut w);
    Err(EigenError::NotConverged {
        iterations: iterations_done,
        max_residual: max_of(&norms[..k]),
    })
}

/// [`initial_block`] turned towards the top eigenvectors by [`START_POWER_STEPS`]
/// products of `S` (subspace iteration: orthonormalised every
/// [`START_STEPS_PER_ORTHONORMALIZATION`] products); `scratch` is an `n × m` block.
///
/// Where the products leave fewer than `m` independent columns (an `S` of low rank), the
/// random start is returned instead, so LOBPCG always starts from a full block.
fn start_block<T: BlockValue>(
    operator: &NormalizedAffinity<'_>,
    m: usize,
    seed: u64,
    precision: Precision,
    scratch: &mut Block<T>,
) -> Block<T> {
    let mut x = initial_block(operator, m, seed);
    for step in 1..=START_POWER_STEPS {
        operator.apply_block_with(&x.data, &mut scratch.data, m, m, precision);
        std::mem::swap(&mut x.data, &mut scratch.data);
        if step % START_STEPS_PER_ORTHONORMALIZATION == 0 {
            orthonormalize_against(&mut x, &[]);
            if x.width < m {
                return initial_block(operator, m, seed);
            }
        }
    }
    x
}

/// The starting block: random normal columns (ChaCha8 from `seed`), the first
/// replaced by `D^{1/2} 1`, the top eigenvector of a connected graph (of each
/// component's block of the spectrum otherwise), which saves that pair's iterations.
///
/// A start from label-propagation communities (`D^{1/2} 1_C` per community) was
/// tried and removed: on planted partitions the propagation merged clusters and
/// saved one iteration, less than its own cost.
fn initial_block<T: BlockValue>(
    operator: &NormalizedAffinity<'_>,
    m: usize,
    seed: u64,
) -> Block<T> {
    let n = operator.n_nodes();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Block::random(n, m, &mut rng);
    for (x_row, &inv_sqrt_degree) in x.data.chunks_exact_mut(m).zip(operator.inv_sqrt_degrees()) {
        x_row[0] = T::from_f64(if inv_sqrt_degree > 0.0 {
            1.0 / inv_sqrt_degree
        } else {
            0.0
        });
    }
    x
}

/// `W = S X − X diag(θ)` (all columns of `X`); returns the column norms.
fn residuals_into<T: BlockValue>(
    x: &Block<T>,
    ax: &Block<T>,
    theta: &[f64],
    w: &mut Block<T>,
) -> Vec<f64> {
    let (stride, width) = (x.stride, x.width);
    w.width = width;
    let chunk = ROWS_PER_TASK * stride;
    let partials: Vec<Vec<f64>> = w
        .data
        .par_chunks_mut(chunk)
        .zip(x.data.par_chunks(chunk))
        .zip(ax.data.par_chunks(chunk))
        .map(|((w_rows, x_rows), ax_rows)| {
            simd::wide(
                #[inline(always)]
                || {
                    let mut squares = vec![0.0; width];
                    for ((w_row, x_row), ax_row) in w_rows
                        .chunks_exact_mut(stride)
                        .zip(x_rows.chunks_exact(stride))
                        .zip(ax_rows.chunks_exact(stride))
                    {
                        for j in 0..width {
                            let r = ax_row[j].to_f64() - theta[j] * x_row[j].to_f64();
                            w_row[j] = T::from_f64(r);
                            squares[j] += r * r;
                        }
                    }
                    squares
                },
            )
        })
        .collect();
    let mut squares = vec![0.0; width];
    for partial in partials {
        for (s, p) in squares.iter_mut().zip(partial) {
            *s += p;
        }
    }
    squares.into_iter().map(f64::sqrt).collect()
}

/// `W ← W · select` projected off the orthonormal `bases` and orthonormalised.
///
/// Residuals are nearly orthogonal to `X` already, so the projection usually removes
/// little. Then one pass over the rows gives both the overlaps `O = Bᵀ W` and `Wᵀ W`,
/// the projected Gram matrix follows in the small space as `Wᵀ W − Oᵀ O` (exact for
/// orthonormal `B`, and accurate while little cancels), and one more pass applies the
/// selection, projection and SVQB together. Where the projection removes more, the
/// explicit passes of [`orthonormalize_against`] take over.
fn next_search_directions<T: BlockValue>(
    w: &mut Block<T>,
    select: MatRef<'_, f64>,
    bases: &[&Block<T>],
) {
    let bases: Vec<&Block<T>> = bases.iter().copied().filter(|b| b.width > 0).collect();
    let width = select.ncols();
    if width == 0 {
        w.width = 0;
        return;
    }
    let base_width: usize = bases.iter().map(|b| b.width).sum();
    let mut left = bases.clone();
    left.push(w);
    let products = gram(&left, &[w], false);
    let overlaps = products.subrows(0, base_width) * select;
    let selected = select.transpose() * products.subrows(base_width, w.width) * select;
    let projected = &selected - overlaps.transpose() * &overlaps;
    let kept_most =
        (0..width).all(|j| projected[(j, j)] >= REORTHOGONALIZE_BELOW * selected[(j, j)]);
    let transform = if kept_most {
        svqb(projected.as_ref(), block_drop::<T>())
    } else {
        Mat::identity(width, width)
    };
    let from_w = select * &transform;
    let from_bases = &overlaps * &transform;
    let coefficients = Mat::from_fn(w.width + base_width, transform.ncols(), |row, col| {
        if row < w.width {
            from_w[(row, col)]
        } else {
            -from_bases[(row - w.width, col)]
        }
    });
    let new_width = coefficients.ncols();
    combine_in_place(&mut [&mut *w], &bases, coefficients.as_ref(), &[new_width]);
    if !kept_most {
        orthonormalize_against(w, &bases);
    }
}

/// Projects `block` off the orthonormal `bases` and orthonormalises it (SVQB),
/// dropping dependent columns; a second pass when the first removed a lot.
fn orthonormalize_against<T: BlockValue>(block: &mut Block<T>, bases: &[&Block<T>]) {
    let bases: Vec<&Block<T>> = bases.iter().copied().filter(|b| b.width > 0).collect();
    for _pass in 0..2 {
        let width = block.width;
        if width == 0 {
            return;
        }
        if !bases.is_empty() {
            let overlaps = gram(&bases, &[block], false);
            let projection = Mat::from_fn(width + overlaps.nrows(), width, |row, col| {
                if row < width {
                    f64::from(u8::from(row == col))
                } else {
                    -overlaps[(row - width, col)]
                }
            });
            combine_in_place(&mut [&mut *block], &bases, projection.as_ref(), &[width]);
        }
        let g = gram(&[block], &[block], false);
        let smallest_diagonal = (0..width).map(|j| g[(j, j)]).fold(f64::INFINITY, f64::min);
        let largest_diagonal = (0..width).map(|j| g[(j, j)]).fold(0.0, f64::max);
        let transform = svqb(g.as_ref(), block_drop::<T>());
        let new_width = transform.ncols();
        combine_in_place(&mut [&mut *block], &[], transform.as_ref(), &[new_width]);
        if smallest_diagonal >= REORTHOGONALIZE_BELOW * largest_diagonal {
            return;
        }
    }
}

/// The SVQB drop threshold for the Gram matrix of a block of `T`.
fn block_drop<T: BlockValue>() -> f64 {
    SVQB_DROP.max(SVQB_DROP_ROUNDINGS * T::EPSILON)
}

/// SVQB (Stathopoulos & Wu 2002): `T` with `(B T)ᵀ (B T) = I` for the block `B`
/// whose Gram matrix is `g`; directions whose eigenvalue (unit diagonal) is below
/// `drop` times the largest are numerically dependent and dropped, so `T` may have
/// fewer columns than `g`.
fn svqb(g: MatRef<'_, f64>, drop: f64) -> Mat<f64> {
    let width = g.nrows();
    let kept: Vec<usize> = (0..width)
        .filter(|&j| g[(j, j)] > NEGLIGIBLE_SQUARED_NORM)
        .collect();
    if kept.is_empty() {
        return Mat::zeros(width, 0);
    }
    let scale: Vec<f64> = kept.iter().map(|&j| 1.0 / g[(j, j)].sqrt()).collect();
    let scaled = Mat::from_fn(kept.len(), kept.len(), |a, b| {
        scale[a] * g[(kept[a], kept[b])] * scale[b]
    });
    let (values, vectors) = eigen_descending(scaled.as_ref(), kept.len());
    let largest = values[0].max(0.0);
    let directions: Vec<usize> = (0..values.len())
        .filter(|&c| values[c] > drop * largest)
        .collect();
    let mut transform = Mat::zeros(width, directions.len());
    for (c, &d) in directions.iter().enumerate() {
        let inv_sqrt = 1.0 / values[d].sqrt();
        for (a, &row) in kept.iter().enumerate() {
            transform[(row, c)] = scale[a] * vectors[(a, d)] * inv_sqrt;
        }
    }
    transform
}

/// New search directions in the small space: the Ritz coefficients of the active
/// columns with their `X` part removed, made orthonormal to all Ritz coefficients
/// and to each other (Hetmaniuk & Lehoucq's basis for `P`).
fn p_directions(ritz: MatRef<'_, f64>, x_rows: usize, active: &[usize]) -> Mat<f64> {
    let s = ritz.nrows();
    let mut z = Mat::from_fn(s, active.len(), |row, col| {
        if row < x_rows {
            0.0
        } else {
            ritz[(row, active[col])]
        }
    });
    for _pass in 0..2 {
        let overlap = ritz.transpose() * &z;
        z -= ritz * &overlap;
    }
    let g = z.transpose() * &z;
    let transform = svqb(g.as_ref(), SVQB_DROP);
    z * transform
}

/// Eigenpairs of the symmetric `g`, largest `count` first.
fn eigen_descending(g: MatRef<'_, f64>, count: usize) -> (Vec<f64>, Mat<f64>) {
    let size = g.nrows();
    let symmetric = Mat::from_fn(size, size, |i, j| 0.5 * (g[(i, j)] + g[(j, i)]));
    // The dense solver on a tiny well-scaled symmetric matrix does not fail; if it
    // ever did, zeros would make LOBPCG stagnate and report NotConverged.
    let Ok(eigen) = symmetric.self_adjoint_eigen(Side::Lower) else {
        return (vec![0.0; count], Mat::zeros(size, count));
    };
    let values = eigen.S().column_vector();
    let vectors = eigen.U();
    let order: Vec<usize> = (size - count..size).rev().collect();
    let descending_values = order.iter().map(|&j| values[j]).collect();
    let descending_vectors = Mat::from_fn(size, count, |i, c| vectors[(i, order[c])]);
    (descending_values, descending_vectors)
}

fn max_of(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eigen::{EigenMethod, top_eigenpairs};
    use crate::graph::{SparseGraph, Symmetry};
    use crate::synthetic::planted_partition;

    /// The smallest singular value of `Vᵀ Q` for the orthonormal `n × k` eigenvectors
    /// `V` and an orthonormal block `Q`: 1 when `Q` spans all of them, near 0 when it
    /// misses one.
    fn captured(eigenvectors: &[f64], k: usize, block: &Block<f64>) -> f64 {
        let product = Mat::from_fn(k, block.width, |i, j| {
            (0..block.n_rows)
                .map(|r| eigenvectors[r * k + i] * block.data[r * block.stride + j])
                .sum::<f64>()
        });
        product
            .singular_values()
            .unwrap()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn the_start_block_nearly_spans_the_top_eigenvectors() {
        // 6 planted clusters: 6 eigenvalues near 0.9, the rest of the spectrum below ~0.6.
        let (n, k, m) = (1500, 6, 8);
        let (triplets, _) = planted_partition(n, k, 10, 0.9, 3);
        let (graph, _) = SparseGraph::from_triplets(
            n,
            &triplets.rows,
            &triplets.cols,
            &triplets.values,
            Symmetry::Require,
        )
        .unwrap();
        let operator = NormalizedAffinity::new(&graph);
        let dense = EigenOptions {
            method: EigenMethod::Dense,
            ..EigenOptions::default()
        };
        let top = top_eigenpairs(&operator, k, &dense).unwrap();

        let mut scratch = Block::zeros(n, m, m);
        let mut start: Block<f64> = start_block(&operator, m, 0, Precision::Double, &mut scratch);
        orthonormalize_against(&mut start, &[]);
        let mut random: Block<f64> = initial_block(&operator, m, 0);
        orthonormalize_against(&mut random, &[]);
        let (from_start, from_random) = (
            captured(&top.eigenvectors, k, &start),
            captured(&top.eigenvectors, k, &random),
        );
        assert_eq!(start.width, m);
        assert!(from_start > 0.95, "start captures {from_start}");
        assert!(from_random < 0.3, "random block captures {from_random}");
    }

    #[test]
    fn a_low_rank_operator_keeps_the_random_start() {
        // Two complete bipartite components K(5, 200): S has rank 4 (eigenvalues ±1 per
        // component), so products of S leave 4 independent columns of the 5 asked for.
        let (rows, cols): (Vec<u32>, Vec<u32>) = [0u32, 205]
            .into_iter()
            .flat_map(|offset| {
                (0..5u32).flat_map(move |a| {
                    (5..205u32)
                        .flat_map(move |b| [(offset + a, offset + b), (offset + b, offset + a)])
                })
            })
            .unzip();
        let values = vec![1.0f32; rows.len()];
        let (graph, _) =
            SparseGraph::from_triplets(410, &rows, &cols, &values, Symmetry::Require).unwrap();
        let operator = NormalizedAffinity::new(&graph);
        let mut scratch = Block::zeros(410, 5, 5);
        let start: Block<f64> = start_block(&operator, 5, 0, Precision::Double, &mut scratch);
        let random: Block<f64> = initial_block(&operator, 5, 0);
        assert_eq!(start.data, random.data);

        let options = EigenOptions {
            method: EigenMethod::Lobpcg,
            tolerance: 1e-10,
            ..EigenOptions::default()
        };
        let pairs = top_eigenpairs(&operator, 3, &options).unwrap();
        assert!(pairs.max_residual <= 1e-10);
        for (value, expected) in pairs.eigenvalues.iter().zip([1.0, 1.0, 0.0]) {
            assert!((value - expected).abs() < 1e-9, "{:?}", pairs.eigenvalues);
        }
    }
}
