//! SimCLR's NT-Xent loss (normalised temperature-scaled cross entropy).

use tch::{Kind, Tensor};

/// NT-Xent over two views: `z1`, `z2` are `[B, D]`, rows L2-normalised, row `i` of each a
/// view of sample `i`. Each of the 2B views must pick its twin out of the other 2B − 1 by
/// cosine similarity / `temperature`; the loss is the mean cross entropy over all 2B views.
/// Computed in f32 whatever the input precision (the logits of a bf16 forward would
/// lose the small differences the loss is about).
pub fn nt_xent(z1: &Tensor, z2: &Tensor, temperature: f64) -> Tensor {
    let b = z1.size()[0];
    let z = Tensor::cat(&[z1, z2], 0).to_kind(Kind::Float);
    let logits = z.matmul(&z.tr()) / temperature;
    // A view is not its own candidate.
    let eye = Tensor::eye(2 * b, (Kind::Bool, z.device()));
    let logits = logits.masked_fill(&eye, f64::NEG_INFINITY);
    // View i's twin is i + B for the first half, i − B for the second: (i + B) mod 2B.
    let targets = (Tensor::arange(2 * b, (Kind::Int64, z.device())) + b).remainder(2 * b);
    logits.cross_entropy_for_logits(&targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, 2])
    }

    #[test]
    fn four_views_by_hand() {
        // Views (1,0), (0,1) and identical twins, τ = 1: each view sees its twin at
        // similarity 1 and two others at 0, so every term is −1 + ln(e + 2) = 0.5514447.
        let a = t(&[[1.0, 0.0], [0.0, 1.0]]);
        let loss = nt_xent(&a, &a, 1.0).double_value(&[]);
        assert!(
            (loss - ((1f64.exp() + 2.0).ln() - 1.0)).abs() < 1e-6,
            "{loss}"
        );

        // Twins (0.6,0.8) and (0.8,0.6), τ = 0.5 → logits 2·cos. View 0 = (1,0):
        // others 0, 1.2 (twin), 1.6 → 1.2 is the target; view 1 likewise; views 2, 3 see
        // 1.2 (twin), 1.6, 1.92. Mean = −1.2 + [ln(1 + e^1.2 + e^1.6)
        // + ln(e^1.2 + e^1.6 + e^1.92)] / 2 = −1.2 + (2.22714 + 2.71433)/2 = 1.27071.
        let b = t(&[[0.6, 0.8], [0.8, 0.6]]);
        let loss = nt_xent(&a, &b, 0.5).double_value(&[]);
        let e = f64::exp;
        let want = -1.2 + ((1.0 + e(1.2) + e(1.6)).ln() + (e(1.2) + e(1.6) + e(1.92)).ln()) / 2.0;
        assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
        assert!((want - 1.270_714).abs() < 1e-5);
    }

    #[test]
    fn gradients_flow_to_both_views() {
        let a = t(&[[1.0, 0.0], [0.0, 1.0]]).set_requires_grad(true);
        let b = t(&[[0.6, 0.8], [0.8, 0.6]]).set_requires_grad(true);
        nt_xent(&a, &b, 0.5).backward();
        assert!(a.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(b.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
