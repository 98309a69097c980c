//! Least-squares self-expression over every other sample, in closed form
//! (docs/method.md "Inference", `refine = "ridge"`).
//!
//! Each row's coefficients minimise the self-expression loss with the ℓ2 penalty alone,
//! over every other sample of the dictionary:
//!
//! ```text
//! c_i = argmin_c  γ/2·‖d_i − Σ_{j≠i} c_j d_j‖² + ½‖c‖²
//! ```
//!
//! (the elastic-net solve at λ = 0; Lu et al.'s LSR, ECCV 2012). With the rows of X the
//! dictionary, μ = 1/γ and Z = (XXᵀ + μI)⁻¹, the minimiser is `c_ij = −Z_ij / Z_ii` (j ≠ i):
//! the Lagrangian of `min ‖d_i − Xᵀc‖² + μ‖c‖²` s.t. `c_i = 0` gives `c = e_i − Z e_i / Z_ii`.
//! Where the dictionary has fewer columns than rows, Z comes from the D×D matrix
//! M = XᵀX + μI (Woodbury): `Z = (I − X M⁻¹ Xᵀ) / μ`, a block of rows at a time, so memory
//! stays O(N·D + block·N) (the factor is `ebsc_nn::ridge`'s, which the assignment of new
//! samples shares). Coordinate descent, which the elastic-net solve uses, needs
//! hundreds of sweeps without the ℓ1 term on such data (500 s on 2,432 samples); the
//! closed form takes a second.

use std::ops::Range;

use ebsc_io::Triplets;
use ebsc_nn::ridge::RidgeFactor;
use tch::{Kind, Tensor};

use crate::solve::strongest;

/// Rows of Z computed at once: block × N doubles.
const BLOCK_ROWS: usize = 1024;

/// The ridge coefficients of `rows`, each row's `keep` largest |c| that are not zero, sorted
/// by (row, col). `dictionary` is row-major `[n, dim]`; `gamma` the weight of the
/// reconstruction error.
pub fn ridge_rows(
    dictionary: &[f32],
    dim: usize,
    gamma: f64,
    rows: Range<usize>,
    keep: usize,
) -> anyhow::Result<Triplets> {
    let n = dictionary.len().checked_div(dim).unwrap_or(0);
    let mut out = Triplets::default();
    if n == 0 || rows.is_empty() {
        return Ok(out);
    }
    let x = Tensor::from_slice(dictionary)
        .to_kind(Kind::Double)
        .view([n as i64, dim as i64]);
    let factor = RidgeFactor::new(&x, gamma)?;
    let mut start = rows.start;
    while start < rows.end {
        let stop = (start + BLOCK_ROWS).min(rows.end);
        let block = factor.z_rows(&x, start..stop);
        let block = Vec::<f64>::try_from(block.contiguous().view([-1]))?;
        for (r, i) in (start..stop).enumerate() {
            let z = &block[r * n..(r + 1) * n];
            let z_ii = z[i];
            let coefficients = z.iter().enumerate().map(|(j, &z_ij)| {
                let c = if j == i { 0.0 } else { -z_ij / z_ii };
                (j as u32, c)
            });
            for (col, value) in strongest(coefficients, keep) {
                out.push(i as u32, col, value);
            }
        }
        start = stop;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::{ElasticNet, Lambda, refine_rows};

    /// `n` rows of a deterministic pseudo-random dictionary of width `dim`, unit norm.
    fn scattered(n: usize, dim: usize) -> Vec<f32> {
        let mut d: Vec<f32> = (0..n * dim)
            .map(|i| ((i as f32 * 0.618).sin() * 43.7).fract())
            .collect();
        for row in d.chunks_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        d
    }

    /// Every row with every other row as a candidate.
    fn all_candidates(n: usize) -> Triplets {
        let mut c = Triplets::default();
        for row in 0..n as u32 {
            for col in (0..n as u32).filter(|&col| col != row) {
                c.push(row, col, 1.0);
            }
        }
        c
    }

    fn assert_close(a: &Triplets, b: &Triplets, tolerance: f32) {
        assert_eq!((&a.rows, &a.cols), (&b.rows, &b.cols));
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!((x - y).abs() < tolerance, "{x} vs {y}");
        }
    }

    #[test]
    fn equals_the_elastic_net_solve_without_its_l1_term() {
        // 12 samples in R^30 (the direct inverse) and 30 samples in R^8 (Woodbury): the
        // closed form is the minimiser that coordinate descent converges to at λ = 0.
        for (n, dim) in [(12, 30), (30, 8)] {
            let d = scattered(n, dim);
            let gamma = 5.0;
            let ridge = ridge_rows(&d, dim, gamma, 0..n, 6).unwrap();
            let weights = ElasticNet {
                gamma,
                lambda: Lambda::One(0.0),
            };
            let descent = refine_rows(&all_candidates(n), &d, dim, weights, 6);
            assert_eq!(ridge.len(), 6 * n);
            assert_close(&ridge, &descent, 1e-4);
        }
    }

    #[test]
    fn a_range_of_rows_is_the_same_rows_of_the_whole() {
        let (n, dim) = (30, 8);
        let d = scattered(n, dim);
        let whole = ridge_rows(&d, dim, 50.0, 0..n, 4).unwrap();
        let part = ridge_rows(&d, dim, 50.0, 10..17, 4).unwrap();
        let from = whole.rows.iter().position(|&r| r == 10).unwrap();
        let to = whole.rows.iter().position(|&r| r == 17).unwrap();
        assert_eq!(part.rows, whole.rows[from..to]);
        assert_eq!(part.cols, whole.cols[from..to]);
        assert_close(
            &part,
            &Triplets {
                rows: whole.rows[from..to].to_vec(),
                cols: whole.cols[from..to].to_vec(),
                values: whole.values[from..to].to_vec(),
            },
            1e-6,
        );
    }

    #[test]
    fn samples_of_independent_subspaces_express_only_their_own() {
        // Two orthogonal planes of R^4, three unit points on each: LSR's coefficients are
        // block-diagonal on independent subspaces (Lu et al., Theorem 2).
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let d = vec![
            1.0, 0.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, 0.0, //
            s, s, 0.0, 0.0, //
            0.0, 0.0, 1.0, 0.0, //
            0.0, 0.0, 0.0, 1.0, //
            0.0, 0.0, s, -s, //
        ];
        let c = ridge_rows(&d, 4, 50.0, 0..6, 5).unwrap();
        for ((&row, &col), &value) in c.rows.iter().zip(&c.cols).zip(&c.values) {
            assert_eq!(row < 3, col < 3, "row {row} col {col}: {value}");
            assert_ne!(row, col);
        }
        // Each keeps both other points of its plane.
        assert_eq!(c.len(), 12);
    }
}
