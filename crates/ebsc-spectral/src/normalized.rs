//! The normalised affinity `S = D^{-1/2} W D^{-1/2}` (docs/method.md, stage `cluster`)
//! as an operator on dense blocks, never formed as a matrix except on request.
//!
//! Its spectrum lies in `[-1, 1]`; an isolated node has a row (and column) of zeros.

use crate::graph::SparseGraph;
use crate::simd;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Mutex;

/// Rows per parallel task of the sparse × dense product.
const ROWS_PER_TASK: usize = 1024;

/// Panel size the sparse × dense product aims for (see
/// [`NormalizedAffinity::apply_block_with`]); wider blocks take several passes, but a
/// panel is never narrower than one cache line of values (see [`panel_width`]).
pub const PANEL_BYTES: usize = 64 << 20;

/// Stored entries ahead whose panel row is prefetched. The gathers are random and
/// each stalls on a cache miss; prefetching lets the misses overlap (1M nodes, 20
/// entries per row, f32 gathers: 0.43 → 0.15 s per 12-wide product,
/// `examples/spmm_throughput.rs`).
const PREFETCH_DISTANCE: usize = 24;

/// Hints the CPU to load the cache line holding `values[0]`.
#[inline(always)]
fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: a prefetch is a hint; it never faults and reads nothing back, and the
    // pointer comes from a live slice.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            values.as_ptr().cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Precision of the block rows gathered by the sparse × dense product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f64: results exact to rounding.
    Double,
    /// f32 gathers, f64 sums: half the memory traffic, relative error ~1e-7.
    Single,
}

/// Columns per panel for an `n`-row block of `width` columns of `value_size`-byte values:
/// as few panels as fit [`PANEL_BYTES`], each at least one 64-byte cache line wide.
///
/// Every stored entry gathers a whole cache line of its panel row whatever the width, and
/// every panel is one more pass over all entries. Without the floor, a 10M-node graph got
/// 1-column f32 panels (64 MiB / 40 MB): twelve passes per product, each using 4 bytes of
/// the 64 it fetched, and the eigensolver took 48× its 1M-node time instead of ~10×.
fn panel_width(n: usize, width: usize, value_size: usize) -> usize {
    let per_line = 64 / value_size;
    let max_panel_width = (PANEL_BYTES / (value_size * n.max(1))).max(per_line);
    let n_panels = width.div_ceil(max_panel_width);
    width.div_ceil(n_panels)
}

/// Element type of a gathered panel, and of the blocks the product reads and writes:
/// `f32` or `f64` (sealed: the product's sums assume one of the two).
pub trait PanelValue: sealed::Sealed + Copy + Default + Send + Sync + 'static {
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl PanelValue for f64 {
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl PanelValue for f32 {
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

/// `S = D^{-1/2} W D^{-1/2}` over a borrowed graph.
#[derive(Debug)]
pub struct NormalizedAffinity<'g> {
    graph: &'g SparseGraph,
    inv_sqrt_degrees: Vec<f64>,
    /// Panel storage kept between products: a fresh `n × width` buffer per product
    /// cost the eigensolver its page faults and zeroing on every iteration.
    panels: Mutex<PanelStorage>,
}

impl Clone for NormalizedAffinity<'_> {
    fn clone(&self) -> Self {
        Self {
            graph: self.graph,
            inv_sqrt_degrees: self.inv_sqrt_degrees.clone(),
            panels: Mutex::default(),
        }
    }
}

/// Reusable panel buffers, one per gather precision.
#[derive(Debug, Default)]
struct PanelStorage {
    double: Vec<f64>,
    single: Vec<f32>,
}

impl<'g> NormalizedAffinity<'g> {
    pub fn new(graph: &'g SparseGraph) -> Self {
        let inv_sqrt_degrees = graph
            .degrees()
            .into_iter()
            .map(|d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
            .collect();
        Self {
            graph,
            inv_sqrt_degrees,
            panels: Mutex::default(),
        }
    }

    pub fn n_nodes(&self) -> usize {
        self.graph.n_nodes()
    }

    /// `d_i^{-1/2}`, zero for isolated nodes.
    pub fn inv_sqrt_degrees(&self) -> &[f64] {
        &self.inv_sqrt_degrees
    }

    /// `out[:, :width] = S · x[:, :width]` in f64, for row-major blocks with `stride`
    /// values per row (`width ≤ stride`); columns of `out` past `width` are left alone.
    pub fn apply_block(&self, x: &[f64], out: &mut [f64], stride: usize, width: usize) {
        self.apply_block_with(x, out, stride, width, Precision::Double);
    }

    /// [`Self::apply_block`] with a choice of gather precision, for blocks of f64 or
    /// f32 values.
    ///
    /// The product is memory-bound: every stored entry gathers one row of the block
    /// from a random place, so the bytes per row set the speed. The block is first
    /// copied as `D^{-1/2} x` into a panel of f64 or f32 rows padded to whole cache
    /// lines, in as few column panels as fit [`PANEL_BYTES`]; sums are f64 either way.
    pub fn apply_block_with<B: PanelValue>(
        &self,
        x: &[B],
        out: &mut [B],
        stride: usize,
        width: usize,
        precision: Precision,
    ) {
        let n = self.n_nodes();
        assert!(
            width <= stride,
            "block width {width} exceeds its stride {stride}"
        );
        assert_eq!(x.len(), n * stride, "input block has the wrong size");
        assert_eq!(out.len(), n * stride, "output block has the wrong size");
        if width == 0 || n == 0 {
            return;
        }
        // A poisoned lock only means another product panicked mid-way; the buffer
        // is overwritten before use either way.
        let mut panels = self
            .panels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match precision {
            Precision::Double => {
                self.apply_in_panels::<B, f64>(x, out, stride, width, &mut panels.double);
            }
            Precision::Single => {
                self.apply_in_panels::<B, f32>(x, out, stride, width, &mut panels.single);
            }
        }
    }

    fn apply_in_panels<B: PanelValue, P: PanelValue>(
        &self,
        x: &[B],
        out: &mut [B],
        stride: usize,
        width: usize,
        storage: &mut Vec<P>,
    ) {
        let n = self.n_nodes();
        let per_line = 64 / size_of::<P>();
        let panel_width = panel_width(n, width, size_of::<P>());
        let panel_stride = panel_width.div_ceil(per_line) * per_line;
        // Room to start the panel on a cache-line boundary. Every value the product
        // reads is written by `scaled_panel` first, so old contents do not matter.
        let needed = n * panel_stride + per_line;
        if storage.len() < needed {
            storage.resize(needed, P::default());
        }
        let misalignment = (storage.as_ptr() as usize / size_of::<P>()) % per_line;
        let offset = (per_line - misalignment) % per_line;
        let panel = &mut storage[offset..offset + n * panel_stride];
        let mut start = 0;
        while start < width {
            let columns = start..(start + panel_width).min(width);
            self.scaled_panel(x, stride, columns.clone(), panel, panel_stride);
            let panel = &*panel;
            macro_rules! fixed_width {
                ($($w:literal)*) => {
                    match columns.len() {
                        $($w => self.panel_product::<B, P, $w>(panel, panel_stride, out, stride, columns.start),)*
                        _ => self.panel_product_dynamic(panel, panel_stride, out, stride, columns),
                    }
                };
            }
            fixed_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
            start += panel_width;
        }
    }

    /// `panel[i, ..] = d_i^{-1/2} x[i, columns]`.
    fn scaled_panel<B: PanelValue, P: PanelValue>(
        &self,
        x: &[B],
        stride: usize,
        columns: Range<usize>,
        panel: &mut [P],
        panel_stride: usize,
    ) {
        panel
            .par_chunks_mut(panel_stride * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, rows)| {
                simd::wide(
                    #[inline(always)]
                    || {
                        let first_row = task * ROWS_PER_TASK;
                        for (local, panel_row) in rows.chunks_exact_mut(panel_stride).enumerate() {
                            let row = first_row + local;
                            let scale = self.inv_sqrt_degrees[row];
                            let x_row =
                                &x[row * stride + columns.start..row * stride + columns.end];
                            for (p, &v) in panel_row.iter_mut().zip(x_row) {
                                *p = P::from_f64(scale * v.to_f64());
                            }
                        }
                    },
                )
            });
    }

    /// `out[i, first_column..+W] = d_i^{-1/2} Σ_j w_ij panel[j, ..W]`, for a panel of
    /// compile-time width `W`.
    fn panel_product<B: PanelValue, P: PanelValue, const W: usize>(
        &self,
        panel: &[P],
        panel_stride: usize,
        out: &mut [B],
        stride: usize,
        first_column: usize,
    ) {
        let offsets = self.graph.row_offsets();
        let cols = self.graph.col_indices();
        let weights = self.graph.weights();
        out.par_chunks_mut(stride * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out_rows)| {
                simd::wide(
                    #[inline(always)]
                    || {
                        let first_row = task * ROWS_PER_TASK;
                        for (local, out_row) in out_rows.chunks_exact_mut(stride).enumerate() {
                            let row = first_row + local;
                            let mut sum = [0.0f64; W];
                            for e in offsets[row]..offsets[row + 1] {
                                if let Some(&ahead) = cols.get(e + PREFETCH_DISTANCE) {
                                    let ahead = &panel[ahead as usize * panel_stride..];
                                    prefetch(ahead);
                                    if W * size_of::<P>() > 64 {
                                        prefetch(&ahead[64 / size_of::<P>()..]);
                                    }
                                }
                                let weight = f64::from(weights[e]);
                                let source = cols[e] as usize * panel_stride;
                                let values: &[P; W] = panel[source..source + W]
                                    .try_into()
                                    .expect("a panel row holds W values");
                                for (s, &v) in sum.iter_mut().zip(values) {
                                    *s += weight * v.to_f64();
                                }
                            }
                            let scale = self.inv_sqrt_degrees[row];
                            for (o, s) in
                                out_row[first_column..first_column + W].iter_mut().zip(sum)
                            {
                                *o = B::from_f64(scale * s);
                            }
                        }
                    },
                )
            });
    }

    /// [`Self::panel_product`] for a panel width known only at run time.
    fn panel_product_dynamic<B: PanelValue, P: PanelValue>(
        &self,
        panel: &[P],
        panel_stride: usize,
        out: &mut [B],
        stride: usize,
        columns: Range<usize>,
    ) {
        let offsets = self.graph.row_offsets();
        let cols = self.graph.col_indices();
        let weights = self.graph.weights();
        let width = columns.len();
        out.par_chunks_mut(stride * ROWS_PER_TASK)
            .enumerate()
            .for_each_init(Vec::new, |sums: &mut Vec<f64>, (task, out_rows)| {
                let first_row = task * ROWS_PER_TASK;
                for (local, out_row) in out_rows.chunks_exact_mut(stride).enumerate() {
                    let row = first_row + local;
                    sums.clear();
                    sums.resize(width, 0.0);
                    for e in offsets[row]..offsets[row + 1] {
                        if let Some(&ahead) = cols.get(e + PREFETCH_DISTANCE) {
                            let ahead = &panel[ahead as usize * panel_stride..];
                            for line in (0..width).step_by(64 / size_of::<P>()) {
                                prefetch(&ahead[line..]);
                            }
                        }
                        let weight = f64::from(weights[e]);
                        let source = cols[e] as usize * panel_stride;
                        for (s, &v) in sums.iter_mut().zip(&panel[source..source + width]) {
                            *s += weight * v.to_f64();
                        }
                    }
                    let scale = self.inv_sqrt_degrees[row];
                    for (o, &s) in out_row[columns.clone()].iter_mut().zip(sums.iter()) {
                        *o = B::from_f64(scale * s);
                    }
                }
            });
    }

    /// Frees the panel buffers kept between products (they hold `n ×` the panel
    /// width), so a caller done with products does not carry them into its peak.
    pub fn release_panels(&self) {
        let mut panels = self
            .panels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *panels = PanelStorage::default();
    }

    /// `S` as a dense `n × n` matrix (for the dense eigensolver on small graphs).
    pub(crate) fn to_dense(&self) -> faer::Mat<f64> {
        let n = self.n_nodes();
        let mut dense = faer::Mat::<f64>::zeros(n, n);
        for row in 0..n {
            let (cols, weights) = self.graph.row(row);
            for (&col, &w) in cols.iter().zip(weights) {
                let col = col as usize;
                dense[(row, col)] =
                    self.inv_sqrt_degrees[row] * f64::from(w) * self.inv_sqrt_degrees[col];
            }
        }
        dense
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Symmetry;

    #[test]
    fn path_graph_by_hand() {
        // Path 0 — 1 — 2 with weights 1 and 4; node 3 isolated.
        // Degrees 1, 5, 4. S01 = 1/√(1·5), S12 = 4/√(5·4) = 2/√5.
        let (graph, _) = SparseGraph::from_triplets(
            4,
            &[0, 1, 1, 2],
            &[1, 0, 2, 1],
            &[1.0, 1.0, 4.0, 4.0],
            Symmetry::Require,
        )
        .unwrap();
        let operator = NormalizedAffinity::new(&graph);
        let s01 = 1.0 / 5f64.sqrt();
        let s12 = 2.0 / 5f64.sqrt();
        let dense = operator.to_dense();
        assert!((dense[(0, 1)] - s01).abs() < 1e-15);
        assert!((dense[(2, 1)] - s12).abs() < 1e-15);
        assert_eq!(dense[(3, 3)], 0.0);

        // Block of two columns, stride 3 (third column untouched).
        let x = [
            1.0, 10.0, -7.0, 2.0, 20.0, -7.0, 3.0, 30.0, -7.0, 4.0, 40.0, -7.0,
        ];
        let mut out = [99.0; 12];
        operator.apply_block(&x, &mut out, 3, 2);
        let expected = [
            s01 * 2.0,
            s01 * 20.0,
            99.0,
            s01 * 1.0 + s12 * 3.0,
            s01 * 10.0 + s12 * 30.0,
            99.0,
            s12 * 2.0,
            s12 * 20.0,
            99.0,
            0.0,
            0.0,
            99.0,
        ];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
    }

    #[test]
    fn panels_are_at_least_a_cache_line_wide() {
        // Up to 1M nodes a 12-wide f32 block fits one 64 MiB panel.
        assert_eq!(panel_width(1_000_000, 12, 4), 12);
        // 10M nodes: 64 MiB holds one f32 column, but the floor keeps one 16-wide panel.
        assert_eq!(panel_width(10_000_000, 12, 4), 12);
        // f64: eight values per line, so two balanced 6-wide panels (one line each).
        assert_eq!(panel_width(10_000_000, 12, 8), 6);
        // Wider blocks still split into the fewest line-wide panels.
        assert_eq!(panel_width(100_000_000, 36, 4), 12);
        assert_eq!(panel_width(10, 3, 8), 3);
    }
}
