//! The factor of ridge (least-squares) self-expression over a dictionary, shared by the
//! affinity stage's `refine = "ridge"` (every sample over every other one) and the
//! assignment of new samples to such a pipeline (docs/method.md, "Inference" and
//! "Out-of-sample assignment").
//!
//! With the rows of X the dictionary (`[n, dim]`, f64 on the CPU) and μ = 1/γ, both need
//! (XXᵀ + μI)⁻¹. Where the dictionary has at least as many columns as rows it is computed as
//! it stands, through its Cholesky factor; otherwise through the `dim × dim` matrix
//! M = XᵀX + μI (Woodbury), kept as X M⁻¹, so that memory stays O(n·dim).

use tch::{Device, Kind, Tensor};

/// (XXᵀ + μI)⁻¹, or what it is computed from.
pub enum RidgeFactor {
    /// Z = (XXᵀ + μI)⁻¹ itself, `[n, n]`.
    Direct(Tensor),
    /// X M⁻¹ with M = XᵀX + μI, `[n, dim]`: Z = (I − X M⁻¹ Xᵀ) / μ.
    Woodbury { x_m_inv: Tensor, mu: f64 },
}

impl RidgeFactor {
    /// The factor of dictionary `x` (`[n, dim]`, f64) for the ridge weight `gamma`.
    pub fn new(x: &Tensor, gamma: f64) -> anyhow::Result<RidgeFactor> {
        let (n, dim) = (x.size()[0], x.size()[1]);
        let mu = 1.0 / gamma;
        if n <= dim {
            let a = x.matmul(&x.tr()) + Tensor::eye(n, (Kind::Double, Device::Cpu)) * mu;
            let factor = a.f_linalg_cholesky(false)?;
            Ok(RidgeFactor::Direct(factor.f_cholesky_inverse(false)?))
        } else {
            let m = x.tr().matmul(x) + Tensor::eye(dim, (Kind::Double, Device::Cpu)) * mu;
            let factor = m.f_linalg_cholesky(false)?;
            // M is symmetric, so X M⁻¹ = (M⁻¹ Xᵀ)ᵀ.
            let x_m_inv = x.tr().f_cholesky_solve(&factor, false)?.tr().contiguous();
            Ok(RidgeFactor::Woodbury { x_m_inv, mu })
        }
    }

    /// Rows `range` of Z = (XXᵀ + μI)⁻¹, `[len, n]`, for the dictionary `x` the factor was
    /// made from.
    pub fn z_rows(&self, x: &Tensor, range: std::ops::Range<usize>) -> Tensor {
        let (start, len) = (range.start as i64, range.len() as i64);
        match self {
            RidgeFactor::Direct(z) => z.narrow(0, start, len),
            RidgeFactor::Woodbury { x_m_inv, mu } => {
                let left = x_m_inv.narrow(0, start, len);
                let block = -left.matmul(&x.tr());
                // The identity's part of the block: 1 on the block's own diagonal.
                let _ = block
                    .narrow(1, start, len)
                    .diagonal(0, 0, 1)
                    .g_add_scalar_(1.0);
                block / *mu
            }
        }
    }

    /// The ridge coefficients of new samples `q` (`[b, dim]`, f64) over the dictionary `x`
    /// the factor was made from: `c = argmin γ/2‖q − Xᵀc‖² + ½‖c‖² = (XXᵀ + μI)⁻¹ X q`,
    /// `[b, n]`. (With the Woodbury factor, (XXᵀ + μI)⁻¹ X = X M⁻¹.)
    pub fn coefficients(&self, x: &Tensor, q: &Tensor) -> Tensor {
        match self {
            // Z is symmetric: (Z X q)ᵀ = qᵀ Xᵀ Z.
            RidgeFactor::Direct(z) => q.matmul(&x.tr()).matmul(z),
            RidgeFactor::Woodbury { x_m_inv, .. } => q.matmul(&x_m_inv.tr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic `[n, dim]` f64 dictionary.
    fn dictionary(n: i64, dim: i64) -> Tensor {
        let values: Vec<f64> = (0..n * dim)
            .map(|i| ((i as f64 * 0.618).sin() * 43.7).fract())
            .collect();
        Tensor::from_slice(&values).view([n, dim])
    }

    #[test]
    fn new_samples_get_the_minimiser_of_the_ridge_objective_by_either_factor() {
        // The gradient of γ/2‖q − Xᵀc‖² + ½‖c‖² vanishes at the coefficients: γX(Xᵀc − q) + c = 0.
        let gamma = 20.0;
        for (n, dim) in [(6, 10), (12, 5)] {
            let x = dictionary(n, dim);
            let q = dictionary(3, dim) * 0.7;
            let factor = RidgeFactor::new(&x, gamma).unwrap();
            assert_eq!(matches!(factor, RidgeFactor::Direct(_)), n <= dim);
            let c = factor.coefficients(&x, &q);
            assert_eq!(c.size(), vec![3, n]);
            let gradient = (c.matmul(&x) - &q).matmul(&x.tr()) * gamma + &c;
            let worst = gradient.abs().max().double_value(&[]);
            assert!(worst < 1e-9, "{worst}");
        }
    }
}
