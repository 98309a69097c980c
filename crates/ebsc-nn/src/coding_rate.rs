//! How spread out a set of representations is: the total coding rate that the train stage
//! maximises against collapse, and the effective rank that its collapse alarm watches
//! (docs/method.md, "Keeping the dictionary spread out").
//!
//! - Total coding rate (Ma et al. 2007; as PRO-DSC uses it against collapse):
//!   `R(Z) = ½·logdet(I_D + D/(n·ε)·ZᵀZ)` for `n` rows of width `D`. It grows with the
//!   volume the rows span; identical rows give its minimum.
//! - Effective rank (Roy & Vetterli 2007): `exp(H(p))` with `p_k = σ_k / Σσ` the normalised
//!   singular values of the matrix. `r` orthonormal rows give `r`; one direction gives 1.

use tch::{Kind, Tensor};

/// `R(Z) = ½·logdet(I + D/(n·ε)·ZᵀZ)` of `z` `[n, D]`, a scalar with gradients, in f32.
pub fn total_coding_rate(z: &Tensor, eps: f64) -> Tensor {
    let size = z.size();
    let (n, dim) = (size[0], size[1]);
    let z = z.to_kind(Kind::Float);
    let gram = z.tr().matmul(&z); // [D, D]
    let scale = dim as f64 / (n.max(1) as f64 * eps);
    let identity = Tensor::eye(dim, (Kind::Float, z.device()));
    // The matrix is symmetric positive definite: its Cholesky factor gives a stable logdet.
    let factor = (identity + gram * scale).linalg_cholesky(false);
    factor.diagonal(0, 0, 1).log().sum(Kind::Float) // ½·logdet = Σ log diag(L)
}

/// Effective rank of `x` `[n, D]`: `exp` of the entropy of its normalised singular values.
/// 0 for an all-zero matrix.
pub fn effective_rank(x: &Tensor) -> f64 {
    let _guard = tch::no_grad_guard();
    let x = x.to_kind(Kind::Double);
    let (_, singular, _) = x.svd(true, false);
    let total = singular.sum(Kind::Double).double_value(&[]);
    if total <= 0.0 || !total.is_finite() {
        return 0.0;
    }
    let p = &singular / total;
    // 0·log 0 = 0: clamp before the log, the product is then exactly 0 for p = 0.
    let entropy = -(&p * p.clamp_min(1e-300).log())
        .sum(Kind::Double)
        .double_value(&[]);
    entropy.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_rate_by_hand() {
        // Z = I_2 (n = 2, D = 2), ε = 0.5: I + 2/(2·0.5)·I = 3·I → ½·logdet = ½·2·ln 3 = ln 3.
        let z = Tensor::eye(2, (Kind::Float, tch::Device::Cpu));
        let r = total_coding_rate(&z, 0.5).double_value(&[]);
        assert!((r - 3f64.ln()).abs() < 1e-6, "{r}");
        // Two identical unit rows (1, 0), ε = 0.5: ZᵀZ = diag(2, 0) → I + 2·diag(2, 0) =
        // diag(5, 1) → ½·ln 5, less than the spread pair's ln 3 = ½·ln 9.
        let same = Tensor::from_slice(&[1f32, 0., 1., 0.]).view([2, 2]);
        let r = total_coding_rate(&same, 0.5).double_value(&[]);
        assert!((r - 0.5 * 5f64.ln()).abs() < 1e-6, "{r}");
    }

    #[test]
    fn coding_rate_pushes_rows_apart() {
        // The gradient of −R at two nearby rows points them away from each other.
        let z = Tensor::from_slice(&[1f32, 0.1, 1., -0.1])
            .view([2, 2])
            .set_requires_grad(true);
        (-total_coding_rate(&z, 0.1)).backward();
        let g: Vec<f32> = Vec::try_from(z.grad().reshape([-1])).unwrap();
        // Descending −R moves row 0's second coordinate up and row 1's down.
        assert!(g[1] < 0.0 && g[3] > 0.0, "{g:?}");
    }

    #[test]
    fn effective_rank_by_hand() {
        let eye = Tensor::eye(3, (Kind::Float, tch::Device::Cpu));
        assert!((effective_rank(&eye) - 3.0).abs() < 1e-9);
        // Rank one: every row the same direction.
        let ones = Tensor::ones([5, 4], (Kind::Float, tch::Device::Cpu));
        assert!((effective_rank(&ones) - 1.0).abs() < 1e-9);
        // Singular values (3, 1): p = (0.75, 0.25), H = −(0.75 ln 0.75 + 0.25 ln 0.25)
        // = 0.562335, exp(H) = 1.754765.
        let d = Tensor::from_slice(&[3f32, 0., 0., 1.]).view([2, 2]);
        assert!((effective_rank(&d) - 1.754_765).abs() < 1e-5);
        let zero = Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu));
        assert_eq!(effective_rank(&zero), 0.0);
    }
}
