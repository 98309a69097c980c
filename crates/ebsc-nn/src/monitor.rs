//! kNN accuracy on labels: a diagnostic of how well features separate the classes,
//! never used for training.

use tch::{Kind, Tensor};

use crate::encoders::l2_normalize;

/// Leave-one-out k-nearest-neighbour accuracy under cosine similarity, with each
/// neighbour's vote weighted by its similarity. `labels[i] < 0` marks an unlabelled sample:
/// it neither votes nor is scored. Queries go in blocks, so memory is O(block·N).
pub fn knn_accuracy(features: &Tensor, labels: &[i64], k: i64) -> f64 {
    let _guard = tch::no_grad_guard();
    let device = features.device();
    let keep: Vec<i64> = (0..labels.len() as i64)
        .filter(|&i| labels[i as usize] >= 0)
        .collect();
    if keep.len() < 2 {
        return f64::NAN;
    }
    let index = Tensor::from_slice(&keep).to_device(device);
    let f = l2_normalize(&features.to_kind(Kind::Float).index_select(0, &index));
    let y: Vec<i64> = keep.iter().map(|&i| labels[i as usize]).collect();
    let classes = y.iter().max().map_or(1, |m| m + 1);
    let y = Tensor::from_slice(&y).to_device(device);
    let n = keep.len() as i64;
    let k = k.clamp(1, n - 1);
    let block = 1024i64;
    let mut correct = 0i64;
    let mut start = 0;
    while start < n {
        let len = block.min(n - start);
        let sim = f.narrow(0, start, len).matmul(&f.tr());
        // Leave one out: a sample is not its own neighbour.
        let own = Tensor::arange_start(start, start + len, (Kind::Int64, device)).view([len, 1]);
        let sim = sim.scatter_value(1, &own, f64::NEG_INFINITY);
        let (top, idx) = sim.topk(k, 1, true, true);
        let votes = y.index_select(0, &idx.flatten(0, -1)).view([len, k]);
        let weights = (top + 1.0).clamp_min(0.0);
        let tally =
            Tensor::zeros([len, classes], (Kind::Float, device)).scatter_add(1, &votes, &weights);
        let predicted = tally.argmax(1, false);
        let truth = y.narrow(0, start, len);
        correct += predicted
            .eq_tensor(&truth)
            .sum(Kind::Int64)
            .int64_value(&[]);
        start += len;
    }
    correct as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_clusters_score_one_and_a_misplaced_point_is_counted() {
        // Class 0 near (1,0), class 1 near (0,1); k = 2.
        let f = Tensor::from_slice(&[
            1.0f32, 0.0, 0.9, 0.1, 0.95, 0.05, 0.0, 1.0, 0.1, 0.9, 0.05, 0.95,
        ])
        .view([6, 2]);
        assert_eq!(knn_accuracy(&f, &[0, 0, 0, 1, 1, 1], 2), 1.0);
        // Label the last point p5 = (0.05, 0.95) as 0. Votes weigh 1 + cos. p5's neighbours
        // p3 = (0, 1), p4 = (0.1, 0.9) are class 1: wrong. p3's are p5 (cos 0.9986, class 0)
        // and p4 (0.9939, class 1): 0 wins, wrong; p4's are p5 (0.9983) and p3 (0.9939):
        // wrong too. Class 0's three points are right: 3 of 6.
        assert_eq!(knn_accuracy(&f, &[0, 0, 0, 1, 1, 0], 2), 0.5);
        // Unlabelled samples are left out.
        assert_eq!(knn_accuracy(&f, &[0, 0, 0, 1, 1, -1], 2), 1.0);
    }
}
