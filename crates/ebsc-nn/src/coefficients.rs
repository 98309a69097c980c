//! Coefficient maps from negative energies `s = −E` to self-expressive coefficients
//! (docs/method.md, config `coefficients`):
//! - `shrink`: `c_ij = (1/m)·sign(s_ij)·max(|s_ij| − b, 0)`, signed and sparse (SENet's form),
//!   with a learnable threshold `b ≥ 0`;
//! - `gibbs`: `c_ij = softmax_j(s_ij / T)` over the atoms, non-negative, each row sums to 1.
//!
//! Both are pure functions of tensors, used by training (on a batch) and by the affinity
//! stage (on blocks of all N×N pairs) alike.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};

/// Which map, as named in the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoefficientKind {
    Shrink,
    Gibbs,
}

impl std::fmt::Display for CoefficientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CoefficientKind::Shrink => "shrink",
            CoefficientKind::Gibbs => "gibbs",
        })
    }
}

/// `(1/m)·sign(s)·max(|s| − b, 0)`, elementwise; `b` a scalar tensor (≥ 0).
pub fn shrink(s: &Tensor, threshold: &Tensor, out_dim: i64) -> Tensor {
    let magnitude = (s.abs() - threshold).relu();
    s.sign() * magnitude / out_dim as f64
}

/// `softmax_j(s_ij / T)` over the entries where `atoms` is true; other entries get 0.
/// A row with no atom is all zeros rather than NaN.
pub fn gibbs(s: &Tensor, atoms: &Tensor, temperature: f64) -> Tensor {
    let logits = (s / temperature).masked_fill(&atoms.logical_not(), f64::NEG_INFINITY);
    let c = logits.softmax(-1, Kind::Float);
    c.masked_fill(&atoms.logical_not(), 0.0)
}

/// The highest threshold the shrink map keeps training with on scores `s` `[n, a]` whose
/// atoms are `atoms`: the median over rows of the row's largest `|s|` (a scalar without
/// gradient), so that at least half the rows keep an atom. A threshold above every score
/// zeroes every coefficient, and then neither it nor the energy gets a gradient back: ORL's
/// faces read as a 32×32 pixel table lost every coefficient that way on one seed of three.
/// Healthy runs keep nearly every atom (794 of 798 a row there) and never reach it.
pub fn threshold_ceiling(s: &Tensor, atoms: &Tensor) -> Tensor {
    tch::no_grad(|| {
        s.abs()
            .masked_fill(&atoms.logical_not(), 0.0)
            .amax([1].as_slice(), false)
            .median()
    })
}

/// The shrink map's learnable threshold `b`, kept at or above zero and, where a batch's
/// scores gave one, at or under their [`threshold_ceiling`].
#[derive(Debug)]
pub struct Threshold {
    raw: Tensor,
    /// The ceiling of the next [`Threshold::project`], from the last batch's scores.
    ceiling: Option<Tensor>,
}

impl Threshold {
    /// A scalar parameter `threshold` under `p`, starting at `initial` (≥ 0).
    pub fn new(p: &nn::Path, initial: f64) -> Threshold {
        let raw = p.var("threshold", &[1], nn::Init::Const(initial.max(0.0)));
        Threshold { raw, ceiling: None }
    }

    /// Bounds the next [`Threshold::project`] by `ceiling` ([`threshold_ceiling`] of the
    /// batch just scored); `None` leaves it unbounded above.
    pub fn bound_next_projection(&mut self, ceiling: Option<&Tensor>) {
        self.ceiling = ceiling.map(Tensor::shallow_clone);
    }

    /// `b`: the parameter clamped at zero. Clamp's gradient passes at the boundary, so
    /// `b` can leave 0 again; [`Threshold::project`] keeps the stored value there too.
    pub fn value(&self) -> Tensor {
        self.raw.clamp_min(0.0)
    }

    /// Projects the stored parameter back onto `0 ≤ b ≤ ceiling` (call after an optimizer
    /// step); the ceiling is used once.
    pub fn project(&mut self) {
        let ceiling = self.ceiling.take();
        tch::no_grad(|| {
            if let Some(ceiling) = ceiling {
                let _ = self
                    .raw
                    .clamp_max_tensor_(&ceiling.to_kind(self.raw.kind()));
            }
            let _ = self.raw.clamp_min_(0.0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
    }

    fn close(got: &[f64], expected: &[f64]) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} vs {expected:?}");
        }
    }

    #[test]
    fn shrink_by_hand() {
        // m = 4, b = 0.5: s = [2, -1, 0.3, -0.5, 0] →
        // [1.5/4, -0.5/4, 0, 0, 0] = [0.375, -0.125, 0, 0, 0].
        let s = Tensor::from_slice(&[2f32, -1., 0.3, -0.5, 0.]);
        let c = shrink(&s, &Tensor::from_slice(&[0.5f32]), 4);
        close(&values(&c), &[0.375, -0.125, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn gibbs_by_hand_with_masked_atoms() {
        // T = 0.5, row [ln 2 · 0.5, 0, 9 (masked)] → logits [ln 2, 0] → [2/3, 1/3, 0].
        let s = Tensor::from_slice(&[0.5f32 * 2f32.ln(), 0., 9.]).view([1, 3]);
        let atoms = Tensor::from_slice(&[true, true, false]).view([1, 3]);
        close(&values(&gibbs(&s, &atoms, 0.5)), &[2. / 3., 1. / 3., 0.]);
        // A row without atoms is zero, not NaN.
        let none = Tensor::from_slice(&[false, false, false]).view([1, 3]);
        close(&values(&gibbs(&s, &none, 0.5)), &[0., 0., 0.]);
    }

    #[test]
    fn threshold_stays_non_negative_and_learns_from_zero() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut b = Threshold::new(&vs.root(), 0.0);
        // d/db of Σ shrink(s) at b = 0 for s = [2] with m = 1 is -1: the gradient passes.
        let s = Tensor::from_slice(&[2f32]);
        let loss = shrink(&s, &b.value(), 1).sum(Kind::Float);
        loss.backward();
        close(&values(&b.raw.grad()), &[-1.0]);
        tch::no_grad(|| {
            let _ = b.raw.fill_(-0.3);
        });
        close(&values(&b.value()), &[0.0]);
        b.project();
        close(&values(&b.raw), &[0.0]);
    }

    #[test]
    fn threshold_stays_under_the_median_row_maximum() {
        // Rows' largest |s| over their atoms: 0.8 (the 5.0 is no atom), 0.4 and 0.2: the
        // ceiling is their median, 0.4.
        let s =
            Tensor::from_slice(&[0.8f32, -0.1, 5.0, -0.4, 0.1, 0.0, 0.2, 0.0, 0.0]).view([3, 3]);
        let atoms = Tensor::from_slice(&[true, true, false, true, true, true, true, true, true])
            .view([3, 3]);
        let ceiling = threshold_ceiling(&s, &atoms);
        close(&values(&ceiling), &[0.4]);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut b = Threshold::new(&vs.root(), 0.9);
        b.bound_next_projection(Some(&ceiling));
        b.project();
        close(&values(&b.raw), &[0.4]);
        // Used once: the next projection is bounded below only, and a threshold under its
        // ceiling stays as it is.
        tch::no_grad(|| {
            let _ = b.raw.fill_(0.7);
        });
        b.project();
        close(&values(&b.raw), &[0.7]);
        b.bound_next_projection(Some(&ceiling));
        tch::no_grad(|| {
            let _ = b.raw.fill_(0.35);
        });
        b.project();
        close(&values(&b.raw), &[0.35]);
    }
}
