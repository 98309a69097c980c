//! The mini-batch self-expressive losses of docs/method.md ("Mini-batch training"):
//!
//! ```text
//! L_se  = mean_i [ γ/2·‖d_i − Σ_j c_ij d_j‖² + λ‖c_i‖₁ + (1−λ)/2·‖c_i‖² ]
//! L_ebm = mean_i [ −log( exp(−E(d_i,d_i⁺)/T) / Σ_{j ∈ atoms ∪ {i⁺}} exp(−E(d_i,d_j)/T) ) ]
//! ```
//!
//! The atoms of query `i` are the batch's representations except `i` itself and its twin
//! view `i⁺` (which would make reconstruction trivial), followed by the rows of an optional
//! queue (momentum-encoder representations, no gradient). A batch without twins (SENet's
//! single view) has no `L_ebm`.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::coefficients::{CoefficientKind, gibbs, shrink, threshold_ceiling};
use crate::energy::EnergyNet;

/// The loss weights and the coefficient map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SelfExpressiveWeights {
    pub coefficients: CoefficientKind,
    /// γ: weight of the reconstruction error.
    pub gamma: f64,
    /// λ: share of ℓ1 in the elastic-net penalty on the coefficients.
    pub lambda: f64,
    /// T: temperature of the Gibbs map and of `L_ebm`.
    pub temperature: f64,
}

/// What one batch gives: the two losses, the coefficients and which entries were atoms.
#[derive(Debug)]
pub struct SelfExpressiveOutput {
    /// Scalar `L_se`.
    pub se_loss: Tensor,
    /// Scalar `L_ebm`; `None` without twin views.
    pub ebm_loss: Option<Tensor>,
    /// `[n, n + Q]` coefficients, zero outside the atoms.
    pub coefficients: Tensor,
    /// `[n, n + Q]` bool, true where column j is an atom of row i.
    pub atoms: Tensor,
    /// The shrink map's: the most its threshold may be after this step
    /// ([`threshold_ceiling`]); `None` for the Gibbs map.
    pub threshold_ceiling: Option<Tensor>,
}

/// `[n, n + queue]` bool: every column but `i` and `twins[i]` (when given).
pub fn atom_mask(n: i64, queue: i64, twins: Option<&[i64]>, device: tch::Device) -> Tensor {
    let rows = Tensor::arange(n, (Kind::Int64, device));
    let mut excluded = Tensor::zeros([n, n + queue], (Kind::Bool, device));
    let _ = excluded.index_put_(&[Some(&rows), Some(&rows)], &Tensor::from(true), false);
    if let Some(twins) = twins {
        let twin = Tensor::from_slice(twins).to_device(device);
        let _ = excluded.index_put_(&[Some(&rows), Some(&twin)], &Tensor::from(true), false);
    }
    excluded.logical_not()
}

/// Twin indices for a batch stacked as `[view 1 of B samples; view 2 of the same B]`.
pub fn stacked_twins(batch_size: i64) -> Vec<i64> {
    (0..2 * batch_size)
        .map(|i| (i + batch_size) % (2 * batch_size))
        .collect()
}

/// Computes `L_se` and (with twins) `L_ebm` for the batch representations `d` `[n, D]`,
/// with `queue` `[Q, D]` appended to the atoms. `threshold` is the shrink map's `b`.
pub fn self_expressive_losses(
    net: &EnergyNet,
    threshold: &Tensor,
    weights: &SelfExpressiveWeights,
    d: &Tensor,
    twins: Option<&[i64]>,
    queue: Option<&Tensor>,
) -> SelfExpressiveOutput {
    let n = d.size()[0];
    let dictionary = match queue {
        Some(q) => Tensor::cat(&[d, q], 0), // [n + Q, D]
        None => d.shallow_clone(),
    };
    let n_queue = dictionary.size()[0] - n;
    let s = net.negative_energies(d, &dictionary); // [n, n + Q]
    let atoms = atom_mask(n, n_queue, twins, d.device());

    let coefficients = match weights.coefficients {
        CoefficientKind::Shrink => shrink(&s, threshold, net.out_dim()) * atoms.to_kind(s.kind()),
        CoefficientKind::Gibbs => gibbs(&s, &atoms, weights.temperature),
    };
    let reconstruction = coefficients.matmul(&dictionary); // [n, D]
    let residual = (d - reconstruction)
        .square()
        .sum_dim_intlist(1, false, Kind::Float); // [n]
    let l1 = coefficients.abs().sum_dim_intlist(1, false, Kind::Float);
    let l2 = coefficients.square().sum_dim_intlist(1, false, Kind::Float);
    let per_row = residual * (weights.gamma / 2.0)
        + l1 * weights.lambda
        + l2 * ((1.0 - weights.lambda) / 2.0);
    let se_loss = per_row.mean(Kind::Float);

    let ebm_loss = twins.map(|twins| {
        // Logits over atoms ∪ {i⁺}: everything but the query itself.
        let self_only = atom_mask(n, n_queue, None, d.device());
        let logits =
            (&s / weights.temperature).masked_fill(&self_only.logical_not(), f64::NEG_INFINITY);
        let target = Tensor::from_slice(twins).to_device(d.device());
        logits.cross_entropy_for_logits(&target)
    });
    let threshold_ceiling =
        (weights.coefficients == CoefficientKind::Shrink).then(|| threshold_ceiling(&s, &atoms));
    SelfExpressiveOutput {
        se_loss,
        ebm_loss,
        coefficients,
        atoms,
        threshold_ceiling,
    }
}

/// Mean number of non-zero coefficients per row.
pub fn mean_nonzeros(coefficients: &Tensor) -> f64 {
    let n = coefficients.size()[0].max(1) as f64;
    let count = coefficients.ne(0.0).sum(Kind::Float).double_value(&[]);
    count / n
}

/// Share of `|c|` mass on atoms with the row's own label (a diagnostic only); labels < 0 are
/// unknown and left out. `None` when no known-label row has any mass.
pub fn same_label_share(
    coefficients: &Tensor,
    row_labels: &[i64],
    atom_labels: &[i64],
) -> Option<f64> {
    let device = coefficients.device();
    let rows = Tensor::from_slice(row_labels)
        .to_device(device)
        .unsqueeze(1); // [n, 1]
    let cols = Tensor::from_slice(atom_labels)
        .to_device(device)
        .unsqueeze(0); // [1, a]
    let known = rows.ge(0).logical_and(&cols.ge(0)); // [n, a]
    let mass = coefficients.abs().detach() * known.to_kind(Kind::Float);
    let total = mass.sum(Kind::Double).double_value(&[]);
    let same = (mass * rows.eq_tensor(&cols).to_kind(Kind::Float))
        .sum(Kind::Double)
        .double_value(&[]);
    (total > 0.0).then(|| same / total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::EnergyShape;
    use tch::{Device, nn};

    fn matrix(t: &Tensor) -> Vec<Vec<f64>> {
        let size = t.size();
        let flat: Vec<f64> = Vec::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap();
        flat.chunks(size[1] as usize).map(|r| r.to_vec()).collect()
    }

    /// The losses written out entry by entry, in f64, from the towers' outputs.
    fn dense_reference(
        u: &[Vec<f64>],
        v: &[Vec<f64>],
        dict: &[Vec<f64>],
        b: f64,
        w: &SelfExpressiveWeights,
        twins: &[usize],
    ) -> (f64, f64) {
        let n = u.len();
        let m = u[0].len() as f64;
        let (mut se, mut ebm) = (0.0, 0.0);
        for i in 0..n {
            let s: Vec<f64> = v
                .iter()
                .map(|vj| u[i].iter().zip(vj).map(|(a, b)| a * b).sum())
                .collect();
            let is_atom = |j: usize| j != i && j != twins[i];
            let c: Vec<f64> = match w.coefficients {
                CoefficientKind::Shrink => (0..s.len())
                    .map(|j| {
                        if is_atom(j) {
                            s[j].signum() * (s[j].abs() - b).max(0.0) / m
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                CoefficientKind::Gibbs => {
                    let z: f64 = (0..s.len())
                        .filter(|&j| is_atom(j))
                        .map(|j| (s[j] / w.temperature).exp())
                        .sum();
                    (0..s.len())
                        .map(|j| {
                            if is_atom(j) {
                                (s[j] / w.temperature).exp() / z
                            } else {
                                0.0
                            }
                        })
                        .collect()
                }
            };
            let mut residual = 0.0;
            for (k, target) in dict[i].iter().enumerate() {
                let r: f64 = c.iter().zip(dict).map(|(cj, dj)| cj * dj[k]).sum();
                residual += (target - r).powi(2);
            }
            let l1: f64 = c.iter().map(|x| x.abs()).sum();
            let l2: f64 = c.iter().map(|x| x * x).sum();
            se += w.gamma / 2.0 * residual + w.lambda * l1 + (1.0 - w.lambda) / 2.0 * l2;
            let z: f64 = (0..s.len())
                .filter(|&j| j != i)
                .map(|j| (s[j] / w.temperature).exp())
                .sum();
            ebm += -((s[twins[i]] / w.temperature).exp() / z).ln();
        }
        (se / n as f64, ebm / n as f64)
    }

    fn check(kind: CoefficientKind, with_queue: bool) {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let shape = EnergyShape {
            input_dim: 3,
            hidden: vec![4],
            out_dim: 5,
        };
        let net = EnergyNet::new(&vs.root(), &shape, 0.0);
        let weights = SelfExpressiveWeights {
            coefficients: kind,
            gamma: 200.0,
            lambda: 0.9,
            temperature: 0.5,
        };
        // B = 3 samples, two views each, rows on the unit sphere; a queue of 2.
        let d = Tensor::randn([6, 3], (Kind::Float, Device::Cpu));
        let d = &d / d.norm_scalaropt_dim(2, [1], true);
        let queue = with_queue.then(|| Tensor::randn([2, 3], (Kind::Float, Device::Cpu)));
        let twins = stacked_twins(3);
        assert_eq!(twins, vec![3, 4, 5, 0, 1, 2]);
        let b = Tensor::from_slice(&[0.05f32]);
        let out = self_expressive_losses(&net, &b, &weights, &d, Some(&twins), queue.as_ref());

        let dict = match &queue {
            Some(q) => Tensor::cat(&[&d, q], 0),
            None => d.shallow_clone(),
        };
        let u = matrix(&net.queries(&d));
        let v = matrix(&net.keys(&dict));
        let twins: Vec<usize> = twins.iter().map(|&t| t as usize).collect();
        let (se, ebm) = dense_reference(&u, &v, &matrix(&dict), 0.05, &weights, &twins);
        let got_se = out.se_loss.double_value(&[]);
        let got_ebm = out.ebm_loss.unwrap().double_value(&[]);
        assert!(
            (got_se - se).abs() < 1e-4 * se.abs().max(1.0),
            "{got_se} vs {se}"
        );
        assert!((got_ebm - ebm).abs() < 1e-5, "{got_ebm} vs {ebm}");
        // Self and twin never carry a coefficient.
        let c = matrix(&out.coefficients);
        for (i, row) in c.iter().enumerate() {
            assert_eq!(row[i], 0.0);
            assert_eq!(row[twins[i]], 0.0);
        }
    }

    #[test]
    fn shrink_losses_equal_the_dense_computation() {
        check(CoefficientKind::Shrink, false);
        check(CoefficientKind::Shrink, true);
    }

    #[test]
    fn gibbs_losses_equal_the_dense_computation() {
        check(CoefficientKind::Gibbs, false);
        check(CoefficientKind::Gibbs, true);
    }

    #[test]
    fn atom_mask_by_hand() {
        // n = 2, twins [1, 0], one queue column: only the queue column is an atom.
        let mask = atom_mask(2, 1, Some(&[1, 0]), Device::Cpu);
        let got: Vec<bool> = Vec::try_from(mask.reshape([-1])).unwrap();
        assert_eq!(got, vec![false, false, true, false, false, true]);
        let single = atom_mask(2, 0, None, Device::Cpu);
        let got: Vec<bool> = Vec::try_from(single.reshape([-1])).unwrap();
        assert_eq!(got, vec![false, true, true, false]);
    }

    #[test]
    fn diagnostics_by_hand() {
        // Row 0 (label 0): |c| = [0, 0.3, 0.1] on labels [0, 0, 1] → same-label 0.3 of 0.4.
        // Row 1 (label unknown): left out. Non-zeros: 2 + 1 = 3 over 2 rows = 1.5.
        let c = Tensor::from_slice(&[0f32, -0.3, 0.1, 0.5, 0., 0.]).view([2, 3]);
        assert!((mean_nonzeros(&c) - 1.5).abs() < 1e-12);
        let share = same_label_share(&c, &[0, -1], &[0, 0, 1]).unwrap();
        assert!((share - 0.75).abs() < 1e-6, "{share}");
        assert_eq!(same_label_share(&c, &[-1, -1], &[0, 0, 1]), None);
    }
}
