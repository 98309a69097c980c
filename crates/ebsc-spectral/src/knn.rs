//! The cosine k-nearest-neighbour graph of dense feature rows: the "spectral clustering on
//! a kNN graph of the features" baseline, with no self-expression. Blocked: one block of
//! query rows against every row is one matrix product, so memory is O(block × N), never
//! N × N.

use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

/// Bytes of similarities held at once (one block of queries against every row).
const BLOCK_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnnError {
    #[error("{len} values are not a whole number of rows of {n_dims}")]
    ShapeMismatch { len: usize, n_dims: usize },
    #[error("k = {k} neighbours needs at least {} rows; there are {n_rows}", k + 1)]
    TooFewRows { k: usize, n_rows: usize },
    #[error("k must be at least 1")]
    ZeroK,
    #[error("row {row} holds a value that is not finite")]
    NotFinite { row: usize },
}

/// Each row's `k` nearest other rows by cosine similarity, most similar first; ties keep
/// the lower row index. A row of zero norm is similar to nothing (similarity 0 to all),
/// so it gets the first `k` other rows by index.
pub fn cosine_knn(features: &[f32], n_dims: usize, k: usize) -> Result<Vec<Vec<u32>>, KnnError> {
    let n = features.len() / n_dims.max(1);
    cosine_knn_in_blocks(features, n_dims, k, (BLOCK_BYTES / (4 * n.max(1))).max(1))
}

/// [`cosine_knn`] with `block` query rows per matrix product.
fn cosine_knn_in_blocks(
    features: &[f32],
    n_dims: usize,
    k: usize,
    block: usize,
) -> Result<Vec<Vec<u32>>, KnnError> {
    if k == 0 {
        return Err(KnnError::ZeroK);
    }
    if n_dims == 0 || !features.len().is_multiple_of(n_dims) {
        return Err(KnnError::ShapeMismatch {
            len: features.len(),
            n_dims,
        });
    }
    let n = features.len() / n_dims;
    if n <= k {
        return Err(KnnError::TooFewRows { k, n_rows: n });
    }
    let unit = unit_rows(features, n_dims)?;
    let all = MatRef::from_row_major_slice(&unit, n, n_dims);
    let block = block.clamp(1, n);
    let mut neighbours = Vec::with_capacity(n);
    // similarities[:, q] = all · unit_q: each query's column is contiguous.
    let mut similarities = Mat::<f32>::zeros(n, block);
    for start in (0..n).step_by(block) {
        let end = (start + block).min(n);
        let queries = all.subrows(start, end - start);
        let mut dst = similarities.as_mut().subcols_mut(0, end - start);
        faer::linalg::matmul::matmul(
            dst.as_mut(),
            Accum::Replace,
            all,
            queries.transpose(),
            1.0,
            Par::rayon(0),
        );
        let block_neighbours: Vec<Vec<u32>> = (0..end - start)
            .into_par_iter()
            .map(|q| top_k(similarities.col_as_slice(q), start + q, k))
            .collect();
        neighbours.extend(block_neighbours);
    }
    Ok(neighbours)
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
fn unit_rows(features: &[f32], n_dims: usize) -> Result<Vec<f32>, KnnError> {
    let mut unit = features.to_vec();
    for (row, values) in unit.chunks_exact_mut(n_dims).enumerate() {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(KnnError::NotFinite { row });
        }
        let norm = values
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for v in values {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
    }
    Ok(unit)
}

/// The `k` largest entries of `scores` other than `own`, largest first, lower index on
/// ties. A sorted list of k, scanned in index order: almost every score fails the first
/// comparison, so this is one pass.
fn top_k(scores: &[f32], own: usize, k: usize) -> Vec<u32> {
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (j, &s) in scores.iter().enumerate() {
        if j == own || (best.len() == k && s <= best[k - 1].0) {
            continue;
        }
        // After every entry with a score ≥ s: earlier (lower) indices win ties.
        let at = best.partition_point(|&(b, _)| b >= s);
        best.insert(at, (s, j as u32));
        best.truncate(k);
    }
    best.into_iter().map(|(_, j)| j).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_by_angle_not_length() {
        // (1, 0), (5, 1) at 11°, (0, 2) at 90°, (−1, 4) at 104°, and a zero row.
        let rows = [1.0, 0.0, 5.0, 1.0, 0.0, 2.0, -1.0, 4.0, 0.0, 0.0];
        let knn = cosine_knn(&rows, 2, 2).unwrap();
        // Row 0: cos 0.98 to row 1; then rows 2 and 4 tie at 0 (row 3: −0.24): the
        // lower index wins.
        assert_eq!(knn[0], vec![1, 2]);
        // Row 1: 0.98 to row 0, 0.196 to row 2, 0 to row 4, −0.047 to row 3.
        assert_eq!(knn[1], vec![0, 2]);
        // Row 2: 0.97 to row 3, 0.196 to row 1 (lengths do not matter).
        assert_eq!(knn[2], vec![3, 1]);
        // Row 3: 0.97 to row 2, then the zero row's 0 beats row 1's −0.047.
        assert_eq!(knn[3], vec![2, 4]);
        // The zero row: similarity 0 to all, so the first two by index.
        assert_eq!(knn[4], vec![0, 1]);
    }

    #[test]
    fn equals_brute_force_in_any_block_size() {
        // 300 pseudo-random rows in 5 dims, against a plain double loop.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let (n, d, k) = (300, 5, 7);
        let rows: Vec<f32> = (0..n * d).map(|_| next()).collect();
        let knn = cosine_knn(&rows, d, k).unwrap();
        // Uneven blocks (300 = 4 × 71 + 16) give the same lists.
        assert_eq!(cosine_knn_in_blocks(&rows, d, k, 71).unwrap(), knn);
        let unit = unit_rows(&rows, d).unwrap();
        for i in 0..n {
            let mut scored: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let dot = (0..d)
                        .map(|t| f64::from(unit[i * d + t]) * f64::from(unit[j * d + t]))
                        .sum::<f64>();
                    (dot, j)
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let expected: Vec<u32> = scored[..k].iter().map(|&(_, j)| j as u32).collect();
            assert_eq!(knn[i], expected, "row {i}");
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(
            cosine_knn(&[1.0; 5], 2, 1),
            Err(KnnError::ShapeMismatch { len: 5, n_dims: 2 })
        );
        assert_eq!(
            cosine_knn(&[1.0; 4], 2, 2),
            Err(KnnError::TooFewRows { k: 2, n_rows: 2 })
        );
        assert_eq!(cosine_knn(&[1.0; 4], 2, 0), Err(KnnError::ZeroK));
        assert_eq!(
            cosine_knn(&[1.0, 2.0, f32::NAN, 0.0, 1.0, 1.0], 2, 1),
            Err(KnnError::NotFinite { row: 1 })
        );
    }
}
