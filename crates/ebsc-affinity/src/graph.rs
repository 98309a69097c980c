//! From the sparse coefficient matrix C (top-k rows) to the affinity graph W
//! (docs/method.md "Inference"): optional per-row perplexity calibration, optional row L2
//! normalisation, then
//! - `symmetric`: `W = (|C| + |C|ᵀ)/2`;
//! - `knn`: each row's `knn_k` nearest rows of C by cosine similarity (connectivity 1),
//!   symmetrised as `(A + Aᵀ)/2` (SENet's graph on digits).
//!
//! Inputs and outputs are triplets sorted by (row, col).

use ebsc_io::Triplets;
use rayon::prelude::*;

/// Divides each row by its L2 norm (rows of zero norm stay zero).
pub fn normalize_rows(c: &mut Triplets) {
    for range in row_ranges(&c.rows) {
        let norm = c.values[range.clone()]
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for v in &mut c.values[range] {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
    }
}

/// Raises each row's kept |c| to the power `p_i ≥ 0` at which the row's weights
/// `w_j = |c_j|^p_i / Σ_l |c_l|^p_i` have perplexity `exp(H(w)) = min(perplexity, the row's
/// nonzeros)`. For Gibbs coefficients `exp(−E/T)` that is a temperature `T/p_i` of the row's
/// own, as t-SNE calibrates its kernel: every sample spreads its weight over the same
/// effective number of atoms, wherever it lies; a row that would need a power above
/// [`MAX_POWER`] gets that power. Signs are kept, zeros stay zero and each row's largest |c|
/// becomes 1. Returns the powers, one a row that has entries.
pub fn calibrate_perplexity(c: &mut Triplets, perplexity: f64) -> Vec<f64> {
    let ranges = row_ranges(&c.rows);
    let mut powers = Vec::with_capacity(ranges.len());
    for range in ranges {
        let values = &mut c.values[range];
        // Each log-coefficient's gap below the row's largest (≤ 0; −∞ for zeros).
        let mut gaps: Vec<f64> = values.iter().map(|v| f64::from(v.abs()).ln()).collect();
        let top = gaps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            continue; // an all-zero row
        }
        gaps.iter_mut().for_each(|g| *g -= top);
        let nonzeros = gaps.iter().filter(|g| g.is_finite()).count();
        let power = row_power(&gaps, perplexity.min(nonzeros as f64).ln());
        for (v, &gap) in values.iter_mut().zip(&gaps) {
            let magnitude = if gap.is_finite() {
                (power * gap).exp()
            } else {
                0.0
            };
            *v = (magnitude as f32).copysign(*v);
        }
        powers.push(power);
    }
    powers
}

/// Entropy of the weights `exp(p·gap_j)` normalised; zeros (gap −∞) take no weight.
fn weights_entropy(gaps: &[f64], power: f64) -> f64 {
    let (mut sum, mut weighted) = (0.0, 0.0);
    for &gap in gaps.iter().filter(|g| g.is_finite()) {
        let w = (power * gap).exp();
        sum += w;
        weighted += w * gap;
    }
    // H = −Σ (w/s)·ln(w/s) = ln s − p·Σ w·gap / s.
    sum.ln() - power * weighted / sum
}

/// The largest power a row gets: its temperature at most 16 times below the energy's. A row
/// whose kept coefficients are nearly equal (near-duplicate atoms, a dense spot) ranks its
/// atoms by differences of a few percent; sharpening those without bound turns rounding into
/// structure (RESULTS.md, "A temperature for each row": capped at 8, 16 or 64, 13 runs gave
/// the same partitions; capped at 32 or not at all, one of them flipped to a worse one).
pub const MAX_POWER: f64 = 16.0;

/// The power in [0, MAX_POWER] whose weights have entropy `target` (entropy falls as the
/// power rises): 0 where even equal weights are not spread enough, MAX_POWER where it
/// cannot sharpen them enough, bisection otherwise.
fn row_power(gaps: &[f64], target: f64) -> f64 {
    if weights_entropy(gaps, 0.0) <= target {
        return 0.0;
    }
    if weights_entropy(gaps, MAX_POWER) >= target {
        return MAX_POWER;
    }
    let (mut low, mut high) = (0.0, MAX_POWER);
    for _ in 0..60 {
        let middle = 0.5 * (low + high);
        if weights_entropy(gaps, middle) > target {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

/// `(|C| + |C|ᵀ)/2`, duplicates summed.
pub fn symmetric(c: &Triplets) -> Triplets {
    let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(2 * c.len());
    for ((&r, &col), &v) in c.rows.iter().zip(&c.cols).zip(&c.values) {
        let half = v.abs() / 2.0;
        entries.push((r, col, half));
        entries.push((col, r, half));
    }
    from_entries(entries)
}

/// The `k` nearest rows of C by cosine similarity (rows need not be normalised), each
/// edge weight 1, then `(A + Aᵀ)/2`. Only rows sharing a column have a similarity; a row
/// with fewer such rows gets fewer neighbours. Ties keep the lower row index.
pub fn knn(c: &Triplets, n_samples: usize, k: usize) -> Triplets {
    let rows = row_ranges(&c.rows);
    let mut row_of = vec![None; n_samples];
    for range in &rows {
        row_of[c.rows[range.start] as usize] = Some(range.clone());
    }
    let norms: Vec<f64> = (0..n_samples)
        .map(|i| match &row_of[i] {
            Some(r) => c.values[r.clone()]
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                .sqrt(),
            None => 0.0,
        })
        .collect();
    // Column j → the rows with a coefficient on j (an inverted index: C·Cᵀ row by row).
    let mut column_offsets = vec![0usize; n_samples + 1];
    for &col in &c.cols {
        column_offsets[col as usize + 1] += 1;
    }
    for j in 0..n_samples {
        column_offsets[j + 1] += column_offsets[j];
    }
    let mut fill = column_offsets.clone();
    let mut column_rows = vec![(0u32, 0f32); c.len()];
    for ((&r, &col), &v) in c.rows.iter().zip(&c.cols).zip(&c.values) {
        column_rows[fill[col as usize]] = (r, v);
        fill[col as usize] += 1;
    }

    let neighbours: Vec<Vec<u32>> = (0..n_samples)
        .into_par_iter()
        .map_init(
            || (vec![0f64; n_samples], vec![false; n_samples], Vec::new()),
            |(dot, seen, touched), i| {
                let Some(range) = &row_of[i] else {
                    return Vec::new();
                };
                for (&col, &v) in c.cols[range.clone()].iter().zip(&c.values[range.clone()]) {
                    let j = col as usize;
                    for &(other, w) in &column_rows[column_offsets[j]..column_offsets[j + 1]] {
                        let other = other as usize;
                        if other != i {
                            if !seen[other] {
                                seen[other] = true;
                                touched.push(other);
                            }
                            dot[other] += f64::from(v) * f64::from(w);
                        }
                    }
                }
                let mut scored: Vec<(f64, u32)> = touched
                    .iter()
                    .map(|&o| (dot[o] / (norms[i] * norms[o]), o as u32))
                    .collect();
                for &o in touched.iter() {
                    dot[o] = 0.0;
                    seen[o] = false;
                }
                touched.clear();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                scored.truncate(k);
                scored.into_iter().map(|(_, o)| o).collect()
            },
        )
        .collect();
    let mut entries = Vec::with_capacity(2 * n_samples * k);
    for (i, list) in neighbours.iter().enumerate() {
        for &o in list {
            entries.push((i as u32, o, 0.5));
            entries.push((o, i as u32, 0.5));
        }
    }
    from_entries(entries)
}

/// Sorts by (row, col) and sums duplicates.
fn from_entries(mut entries: Vec<(u32, u32, f32)>) -> Triplets {
    entries.par_sort_unstable_by_key(|&(r, c, _)| (r, c));
    Triplets::from_sorted_entries(entries)
}

/// The index ranges of each row's entries in triplets sorted by row.
pub fn row_ranges(rows: &[u32]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i] != rows[start] {
            if i > start {
                ranges.push(start..i);
            }
            start = i;
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triplets(entries: &[(u32, u32, f32)]) -> Triplets {
        entries.iter().copied().collect()
    }

    #[test]
    fn normalize_rows_by_hand() {
        // Row 0: [3, -4] → [0.6, -0.8]; row 2: [2] → [1].
        let mut c = triplets(&[(0, 1, 3.0), (0, 2, -4.0), (2, 0, 2.0)]);
        normalize_rows(&mut c);
        assert_eq!(c.values, vec![0.6, -0.8, 1.0]);
    }

    #[test]
    fn symmetric_by_hand() {
        // C = [[0, -2], [1, 0]] → W = (|C| + |C|ᵀ)/2 = [[0, 1.5], [1.5, 0]].
        let w = symmetric(&triplets(&[(0, 1, -2.0), (1, 0, 1.0)]));
        assert_eq!(w, triplets(&[(0, 1, 1.5), (1, 0, 1.5)]));
    }

    #[test]
    fn knn_by_hand() {
        // Rows of C: 0 = e2, 1 = e2 + e3 (cos with 0: 1/√2), 2 = e3, 3 = e0.
        // k = 1: 0 → 1, 1 → 0 (tie with 2 at 1/√2 keeps the lower), 2 → 1, 3 → nobody.
        // A = {0→1, 1→0, 2→1}; (A + Aᵀ)/2: (0,1) = 1, (1,0) = 1, (1,2) = 0.5, (2,1) = 0.5.
        let c = triplets(&[
            (0, 2, 1.0),
            (1, 2, 1.0),
            (1, 3, 1.0),
            (2, 3, 1.0),
            (3, 0, 1.0),
        ]);
        let w = knn(&c, 4, 1);
        assert_eq!(
            w,
            triplets(&[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 0.5), (2, 1, 0.5)])
        );
    }

    /// exp(H) of a row's |values| normalised.
    fn perplexity_of(values: &[f32]) -> f64 {
        let sum: f64 = values.iter().map(|v| f64::from(v.abs())).sum();
        let entropy: f64 = values
            .iter()
            .map(|v| f64::from(v.abs()) / sum)
            .filter(|q| *q > 0.0)
            .map(|q| -q * q.ln())
            .sum();
        entropy.exp()
    }

    #[test]
    fn perplexity_calibration_by_hand() {
        // Weights [1, e^−1] have entropy H(σ(1)) = 0.582203…, perplexity 1.789978…
        // (σ(1) = 0.7310586). Calibrated to that perplexity the row [1, e^−1] keeps power 1,
        // and the row [1, e^−2] (log gap 2) gets power 1/2: [1, e^−1] again. Row 3's zero
        // stays zero and its signs are kept.
        let target = 1.789_978_f64;
        let e1 = (-1f32).exp();
        let e2 = (-2f32).exp();
        let mut c = triplets(&[
            (0, 1, 1.0),
            (0, 2, e1),
            (1, 0, 2.0 * e2),
            (1, 2, 2.0),
            (2, 0, 0.5),
            (2, 1, 0.25),
            (3, 0, -0.5),
            (3, 1, 0.0),
            (3, 2, 0.1),
        ]);
        let mut three = c.clone();
        let powers = calibrate_perplexity(&mut c, target);
        assert!((powers[0] - 1.0).abs() < 1e-5, "{powers:?}");
        assert!((powers[1] - 0.5).abs() < 1e-5, "{powers:?}");
        assert!((c.values[0] - 1.0).abs() < 1e-6 && (c.values[1] - e1).abs() < 1e-5);
        assert!((c.values[2] - e1).abs() < 1e-5 && (c.values[3] - 1.0).abs() < 1e-6);
        assert!(c.values[6] < 0.0 && c.values[7] == 0.0 && c.values[8] > 0.0);
        // Perplexity 3 asked of rows with 2 nonzeros: as spread as they can be, equal.
        calibrate_perplexity(&mut three, 3.0);
        assert_eq!(&three.values[4..6], &[1.0, 1.0]);
        assert_eq!(&three.values[6..9], &[-1.0, 0.0, 1.0]);
    }

    #[test]
    fn calibrated_rows_reach_the_perplexity_asked() {
        // Gibbs-like rows of 20 with very different spreads all end at perplexity 7.
        let mut entries = Vec::new();
        for row in 0..5u32 {
            let scale = 0.05 * f64::from(row + 1).powi(3);
            for j in 0..20u32 {
                let gap = -scale * f64::from(j) * (1.0 + 0.1 * f64::from(j % 3));
                entries.push((row, j + 30, gap.exp() as f32));
            }
        }
        let mut c = triplets(&entries);
        calibrate_perplexity(&mut c, 7.0);
        for range in row_ranges(&c.rows) {
            let p = perplexity_of(&c.values[range]);
            assert!((p - 7.0).abs() < 1e-3, "{p}");
        }
        // Equal coefficients cannot be sharpened: they stay equal. Coefficients 1 % apart
        // would need a power near 100 for perplexity 2: they stop at MAX_POWER, as spread
        // as exp(16 · ln 0.99) = 0.851 leaves them.
        let mut flat = triplets(&[(0, 1, 0.3), (0, 2, 0.3), (0, 3, 0.3)]);
        calibrate_perplexity(&mut flat, 2.0);
        assert_eq!(flat.values, vec![1.0, 1.0, 1.0]);
        let mut close = triplets(&[(0, 1, 1.0), (0, 2, 0.99), (0, 3, 0.98)]);
        assert_eq!(calibrate_perplexity(&mut close, 2.0), vec![MAX_POWER]);
        assert!(
            (close.values[1] - 0.99f32.powi(16)).abs() < 1e-5,
            "{:?}",
            close.values
        );
        assert!(perplexity_of(&close.values) > 2.5);
    }

    #[test]
    fn row_ranges_skip_missing_rows() {
        assert_eq!(row_ranges(&[0, 0, 3, 5, 5]), vec![0..2, 2..3, 3..5]);
        assert!(row_ranges(&[]).is_empty());
    }
}
