//! Tall-skinny dense blocks (`n × width`, `width` ≤ a few dozen) and the few products
//! the iterative eigensolver needs: `Aᵀ B` Gram matrices and in-place `[A B …] · M`
//! updates. Rows are split into fixed chunks handled in parallel, each chunk a small
//! faer matrix product; partial sums are added in chunk order, so results do not
//! depend on the number of threads.

use crate::normalized::PanelValue;
use faer::reborrow::ReborrowMut;
use faer::traits::{Conjugate, RealField};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_CHUNK: usize = 2048;

/// What a block holds: f64, or f32 where the solver's tolerance allows, for half the
/// memory traffic and twice the SIMD width. Small matrices (Gram matrices, coefficients)
/// are f64 either way.
pub(crate) trait BlockValue: PanelValue + RealField + Conjugate<Canonical = Self> {
    /// Relative rounding of one value.
    const EPSILON: f64;
}

impl BlockValue for f32 {
    const EPSILON: f64 = f32::EPSILON as f64;
}

impl BlockValue for f64 {
    const EPSILON: f64 = f64::EPSILON;
}

/// `n_rows × width` row-major block stored with `stride ≥ width` values per row, so
/// its width can change without moving rows.
#[derive(Debug, Clone)]
pub(crate) struct Block<T> {
    pub data: Vec<T>,
    pub n_rows: usize,
    pub stride: usize,
    pub width: usize,
}

impl<T: BlockValue> Block<T> {
    pub fn zeros(n_rows: usize, stride: usize, width: usize) -> Self {
        assert!(width <= stride, "block width exceeds its stride");
        Self {
            data: vec![T::default(); n_rows * stride],
            n_rows,
            stride,
            width,
        }
    }

    /// Standard normal entries, drawn row by row from `rng`.
    pub fn random(n_rows: usize, width: usize, rng: &mut impl Rng) -> Self {
        let data = (0..n_rows * width)
            .map(|_| T::from_f64(rng.sample::<f64, _>(StandardNormal)))
            .collect();
        Self {
            data,
            n_rows,
            stride: width,
            width,
        }
    }

    /// The first `width` columns as a dense row-major `n × width` vector.
    pub fn to_row_major(&self, width: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.n_rows * width);
        for row in self.data.chunks_exact(self.stride) {
            out.extend(row[..width].iter().map(|v| v.to_f64()));
        }
        out
    }

    fn chunk_view(chunk: &[T], stride: usize, width: usize) -> MatRef<'_, T> {
        let rows = chunk.len() / stride;
        MatRef::from_row_major_slice_with_stride(chunk, rows, width, stride)
    }

    fn chunk_view_mut(chunk: &mut [T], stride: usize, width: usize) -> MatMut<'_, T> {
        let rows = chunk.len() / stride;
        // Not `from_row_major_slice_with_stride_mut`: in faer 0.24.4 it builds a
        // column-major view (row stride 1), unlike its `MatRef` namesake.
        MatMut::from_column_major_slice_with_stride_mut(chunk, width, rows, stride).transpose_mut()
    }
}

/// `[L_0 L_1 …]ᵀ [R_0 R_1 …]`. With `upper_only`, only blocks `(a, b)` with `a ≤ b`
/// are computed and the rest are mirrored (for `Qᵀ S Q`, symmetric by construction).
/// Each chunk's product is in `T`; chunks are added in f64.
pub(crate) fn gram<T: BlockValue>(
    left: &[&Block<T>],
    right: &[&Block<T>],
    upper_only: bool,
) -> Mat<f64> {
    let n_rows = left[0].n_rows;
    let left_offsets = column_offsets(left);
    let right_offsets = column_offsets(right);
    let (total_left, total_right) = (left_offsets[left.len()], right_offsets[right.len()]);
    let n_chunks = n_rows.div_ceil(ROWS_PER_CHUNK);

    let partials: Vec<Mat<T>> = (0..n_chunks)
        .into_par_iter()
        .map(|chunk| {
            let rows = chunk * ROWS_PER_CHUNK..((chunk + 1) * ROWS_PER_CHUNK).min(n_rows);
            let mut partial = Mat::<T>::zeros(total_left, total_right);
            for (a, l) in left.iter().enumerate() {
                for (b, r) in right.iter().enumerate() {
                    if (upper_only && a > b) || l.width == 0 || r.width == 0 {
                        continue;
                    }
                    let lhs = Block::chunk_view(
                        &l.data[rows.start * l.stride..rows.end * l.stride],
                        l.stride,
                        l.width,
                    );
                    let rhs = Block::chunk_view(
                        &r.data[rows.start * r.stride..rows.end * r.stride],
                        r.stride,
                        r.width,
                    );
                    let dst = partial.as_mut().submatrix_mut(
                        left_offsets[a],
                        right_offsets[b],
                        l.width,
                        r.width,
                    );
                    faer::linalg::matmul::matmul(
                        dst,
                        Accum::Replace,
                        lhs.transpose(),
                        rhs,
                        T::from_f64(1.0),
                        Par::Seq,
                    );
                }
            }
            partial
        })
        .collect();

    let mut total = Mat::<f64>::zeros(total_left, total_right);
    for partial in &partials {
        for j in 0..total_right {
            for i in 0..total_left {
                total[(i, j)] += partial[(i, j)].to_f64();
            }
        }
    }
    if upper_only {
        for (a, l) in left.iter().enumerate() {
            for b in 0..a {
                for i in 0..l.width {
                    for j in 0..right[b].width {
                        let (row, col) = (left_offsets[a] + i, right_offsets[b] + j);
                        total[(row, col)] = total[(col, row)];
                    }
                }
            }
        }
    }
    total
}

/// In-place update `[T_0 T_1 … | I_0 I_1 …] · M`: the concatenated columns of the
/// `targets` (old values) and `inputs` times `coefficients`, whose column blocks of
/// `new_widths[t]` columns become the new contents of `targets[t]`.
pub(crate) fn combine_in_place<T: BlockValue>(
    targets: &mut [&mut Block<T>],
    inputs: &[&Block<T>],
    coefficients: MatRef<'_, f64>,
    new_widths: &[usize],
) {
    let coefficients = Mat::<T>::from_fn(coefficients.nrows(), coefficients.ncols(), |i, j| {
        T::from_f64(coefficients[(i, j)])
    });
    let coefficients = coefficients.as_ref();
    assert_eq!(targets.len(), new_widths.len());
    let n_rows = targets[0].n_rows;
    let target_widths: Vec<usize> = targets.iter().map(|t| t.width).collect();
    let target_strides: Vec<usize> = targets.iter().map(|t| t.stride).collect();
    let scratch_width: usize = target_widths.iter().sum();
    let input_width: usize = inputs.iter().map(|b| b.width).sum();
    assert_eq!(coefficients.nrows(), scratch_width + input_width);
    assert_eq!(coefficients.ncols(), new_widths.iter().sum::<usize>());
    for (t, &w) in new_widths.iter().enumerate() {
        assert!(
            w <= target_strides[t],
            "new width exceeds the block's stride"
        );
    }

    // Chunk every target block the same way, then hand out one set of chunks per task.
    let mut per_target: Vec<std::vec::IntoIter<&mut [T]>> = targets
        .iter_mut()
        .map(|t| {
            let stride = t.stride;
            t.data
                .chunks_mut(ROWS_PER_CHUNK * stride)
                .collect::<Vec<_>>()
                .into_iter()
        })
        .collect();
    let n_chunks = n_rows.div_ceil(ROWS_PER_CHUNK);
    let tasks: Vec<(usize, Vec<&mut [T]>)> = (0..n_chunks)
        .map(|chunk| {
            let chunks = per_target
                .iter_mut()
                .map(|it| it.next().expect("every target has the same number of rows"))
                .collect();
            (chunk, chunks)
        })
        .collect();
    drop(per_target);

    tasks
        .into_par_iter()
        .for_each_init(Vec::new, |scratch: &mut Vec<T>, (chunk, mut outs)| {
            let rows = chunk * ROWS_PER_CHUNK..((chunk + 1) * ROWS_PER_CHUNK).min(n_rows);
            let n_chunk_rows = rows.len();
            // Copy the targets' old values aside, row-major n_chunk_rows × scratch_width.
            scratch.clear();
            scratch.resize(n_chunk_rows * scratch_width.max(1), T::default());
            let mut offset = 0;
            for (t, out) in outs.iter().enumerate() {
                for (i, row) in out.chunks_exact(target_strides[t]).enumerate() {
                    let dst = &mut scratch[i * scratch_width + offset..][..target_widths[t]];
                    dst.copy_from_slice(&row[..target_widths[t]]);
                }
                offset += target_widths[t];
            }
            let old = MatRef::from_row_major_slice(&scratch[..], n_chunk_rows, scratch_width);
            let mut new_col = 0;
            for (t, out) in outs.iter_mut().enumerate() {
                let mut dst = Block::chunk_view_mut(out, target_strides[t], new_widths[t]);
                let coeff_cols = new_col..new_col + new_widths[t];
                new_col += new_widths[t];
                if new_widths[t] == 0 {
                    continue;
                }
                let mut accum = Accum::Replace;
                if scratch_width > 0 {
                    faer::linalg::matmul::matmul(
                        dst.rb_mut(),
                        accum,
                        old,
                        coefficients
                            .subcols(coeff_cols.start, coeff_cols.len())
                            .subrows(0, scratch_width),
                        T::from_f64(1.0),
                        Par::Seq,
                    );
                    accum = Accum::Add;
                }
                let mut input_row = scratch_width;
                for input in inputs {
                    if input.width > 0 {
                        let lhs = Block::chunk_view(
                            &input.data[rows.start * input.stride..rows.end * input.stride],
                            input.stride,
                            input.width,
                        );
                        let coeff = coefficients
                            .subcols(coeff_cols.start, coeff_cols.len())
                            .subrows(input_row, input.width);
                        faer::linalg::matmul::matmul(
                            dst.rb_mut(),
                            accum,
                            lhs,
                            coeff,
                            T::from_f64(1.0),
                            Par::Seq,
                        );
                        accum = Accum::Add;
                    }
                    input_row += input.width;
                }
                if accum == Accum::Replace {
                    dst.fill(T::default());
                }
            }
        });
    for (t, &w) in new_widths.iter().enumerate() {
        targets[t].width = w;
    }
}

fn column_offsets<T>(blocks: &[&Block<T>]) -> Vec<usize> {
    let mut offsets = vec![0];
    for b in blocks {
        offsets.push(offsets.last().copied().unwrap_or(0) + b.width);
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// In f64, whatever the block's type.
    fn naive_gram<T: BlockValue>(a: &Block<T>, b: &Block<T>) -> Mat<f64> {
        Mat::from_fn(a.width, b.width, |i, j| {
            (0..a.n_rows)
                .map(|r| a.data[r * a.stride + i].to_f64() * b.data[r * b.stride + j].to_f64())
                .sum()
        })
    }

    /// Checks `gram` and `combine_in_place` on blocks of `T` against naive f64 sums of
    /// the same values; `relative` bounds the error against the size of the terms.
    fn check_products<T: BlockValue>(relative: f64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 5000; // three chunks, the last one partial
        let x = Block::<T>::random(n, 3, &mut rng);
        let mut y = Block::<T>::zeros(n, 4, 2);
        let r = Block::<T>::random(n, 2, &mut rng);
        for i in 0..n {
            y.data[i * 4] = r.data[i * 2];
            y.data[i * 4 + 1] = r.data[i * 2 + 1];
        }
        // Entries are standard normal: a Gram entry sums n terms of size ~1.
        let gram_tolerance = relative * n as f64;
        let g = gram(&[&x, &y], &[&x, &y], false);
        let expected_xy = naive_gram(&x, &y);
        for i in 0..3 {
            for j in 0..2 {
                assert!((g[(i, 3 + j)] - expected_xy[(i, j)]).abs() < gram_tolerance);
                assert!((g[(3 + j, i)] - expected_xy[(i, j)]).abs() < gram_tolerance);
            }
        }
        let upper = gram(&[&x, &y], &[&x, &y], true);
        assert!((&upper - &g).norm_max() < gram_tolerance);

        // y ← [y x] · M with M 5×3: y becomes 3 wide.
        let m = Mat::from_fn(5, 3, |i, j| (i as f64) - 2.0 * (j as f64));
        let (old_y, old_x) = (y.clone(), x.clone());
        combine_in_place(&mut [&mut y], &[&x], m.as_ref(), &[3]);
        assert_eq!(y.width, 3);
        for row in [0, 2047, 2048, 4999] {
            for j in 0..3 {
                let terms: Vec<f64> = (0..2)
                    .map(|c| old_y.data[row * 4 + c].to_f64() * m[(c, j)])
                    .chain((0..3).map(|c| old_x.data[row * 3 + c].to_f64() * m[(2 + c, j)]))
                    .collect();
                let expected: f64 = terms.iter().sum();
                let size: f64 = terms.iter().map(|t| t.abs()).sum();
                let got = y.data[row * 4 + j].to_f64();
                assert!(
                    (got - expected).abs() <= relative * size.max(1.0),
                    "row {row} col {j}: {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn gram_and_combine_match_naive_products() {
        check_products::<f64>(1e-13);
    }

    #[test]
    fn f32_blocks_match_naive_products_to_f32_rounding() {
        check_products::<f32>(1e-6);
    }
}
