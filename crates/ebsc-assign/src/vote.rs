//! A sample's cluster from its coefficients over the landmarks: the cluster with the
//! largest summed `|c|`, and its share of the row's `|c|` as the confidence.

use ebsc_io::Triplets;

/// The cluster and confidence of each of `n_rows` rows of `coefficients` (rows `0..n_rows`,
/// columns landmarks), with `clusters[j]` landmark j's cluster. Ties go to the lower
/// cluster. A row without coefficients gets `None` (its caller decides).
pub fn vote(
    coefficients: &Triplets,
    n_rows: usize,
    clusters: &[u32],
    n_clusters: usize,
) -> Vec<Option<(u32, f32)>> {
    let mut out = vec![None; n_rows];
    let mut weights = vec![0f64; n_clusters];
    let mut entry = 0;
    while entry < coefficients.len() {
        let row = coefficients.rows[entry] as usize;
        weights.iter_mut().for_each(|w| *w = 0.0);
        let mut total = 0f64;
        while entry < coefficients.len() && coefficients.rows[entry] as usize == row {
            let weight = f64::from(coefficients.values[entry].abs());
            weights[clusters[coefficients.cols[entry] as usize] as usize] += weight;
            total += weight;
            entry += 1;
        }
        if total > 0.0 {
            let (best, weight) =
                weights
                    .iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |(bi, bw), (i, &w)| {
                        if w > bw { (i, w) } else { (bi, bw) }
                    });
            out[row] = Some((best as u32, (weight / total) as f32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heaviest_cluster_wins_with_its_share() {
        // Landmarks 0, 1 in cluster 0; 2, 3 in cluster 1.
        let clusters = [0, 0, 1, 1];
        let mut c = Triplets::default();
        // Row 0: 0.2 + 0.2 in cluster 0 against 0.6 (signed −0.6) in cluster 1.
        c.push(0, 0, 0.2);
        c.push(0, 1, 0.2);
        c.push(0, 2, -0.6);
        // Row 1: nothing. Row 2: a tie goes to the lower cluster.
        c.push(2, 1, 0.5);
        c.push(2, 3, 0.5);
        let votes = vote(&c, 3, &clusters, 2);
        assert_eq!(votes[0], Some((1, 0.6)));
        assert_eq!(votes[1], None);
        assert_eq!(votes[2], Some((0, 0.5)));
    }
}
