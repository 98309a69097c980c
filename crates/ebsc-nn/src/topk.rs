//! Blocked top-k coefficients over all N×N pairs (docs/method.md "Inference"), and of
//! new samples against a fixed dictionary (out-of-sample assignment: the same scan, no
//! diagonal to mask).
//!
//! ```text
//! for each row block (queries u[r0..r1]):
//!   for each column block (keys v[c0..c1]):
//!     s = u_rows · v_colsᵀ            [R, C], one matrix product (libtorch)
//!     diagonal → "no coefficient"     (c_ii = 0)
//!     (gibbs) running log-sum-exp of s/T per row
//!     scan s per row, keep the top_k by |c|   (Rust, rows in parallel)
//!   map the kept s to c, sort by column, append
//! ```
//! Memory is O(N·top_k + block²), never N×N. Ranking on `s` is exact: `|c|` is a
//! non-decreasing function of `|s|` for `shrink` and of `s` for `gibbs`. Ties keep the lower
//! column, so the result equals a dense sort by (|c| desc, col asc).

use std::ops::Range;
use std::time::Instant;

use crate::coefficients::CoefficientKind;
use ebsc_io::Triplets;
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// The coefficient map with the trained model's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoefficientMap {
    pub kind: CoefficientKind,
    /// b of `shrink`.
    pub threshold: f32,
    /// m, the towers' output width.
    pub out_dim: i64,
    /// T of `gibbs`.
    pub temperature: f64,
}

impl CoefficientMap {
    /// The same map with every scored atom in the running: the shrink threshold at 0 (Gibbs
    /// unchanged). For candidates that another solve weighs, where only their order counts:
    /// a threshold learned above every score would leave a row none.
    pub fn ranking_every_score(self) -> CoefficientMap {
        CoefficientMap {
            threshold: 0.0,
            ..self
        }
    }

    /// The value a masked (diagonal) entry of `s` gets: never ranked.
    fn masked_value(&self) -> f64 {
        match self.kind {
            CoefficientKind::Shrink => 0.0,
            CoefficientKind::Gibbs => f64::NEG_INFINITY,
        }
    }

    /// `c` from `s` (and, for gibbs, the row's log partition function over all atoms).
    fn coefficient(&self, s: f32, log_partition: f64) -> f32 {
        match self.kind {
            CoefficientKind::Shrink => {
                s.signum() * (s.abs() - self.threshold).max(0.0) / self.out_dim as f32
            }
            CoefficientKind::Gibbs => {
                (f64::from(s) / self.temperature - log_partition).exp() as f32
            }
        }
    }
}

/// The running top-k of one row: unsorted, with the position of its weakest entry.
#[derive(Debug, Clone)]
struct RowTop {
    keys: Vec<f32>,
    cols: Vec<u32>,
    values: Vec<f32>,
    weakest: usize,
    /// An entry must beat this to enter: the floor while filling, then the weakest key.
    bar: f32,
}

impl RowTop {
    fn new(k: usize, floor: f32) -> RowTop {
        RowTop {
            keys: Vec::with_capacity(k),
            cols: Vec::with_capacity(k),
            values: Vec::with_capacity(k),
            weakest: 0,
            bar: floor,
        }
    }

    fn offer(&mut self, k: usize, key: f32, col: u32, value: f32) {
        if self.keys.len() < k {
            self.keys.push(key);
            self.cols.push(col);
            self.values.push(value);
            if self.keys.len() == k {
                self.find_weakest();
            }
            return;
        }
        self.keys[self.weakest] = key;
        self.cols[self.weakest] = col;
        self.values[self.weakest] = value;
        self.find_weakest();
    }

    /// The smallest key; among equal keys the highest column, so lower columns stay.
    fn find_weakest(&mut self) {
        let mut weakest = 0;
        for i in 1..self.keys.len() {
            let (k, w) = (self.keys[i], self.keys[weakest]);
            if k < w || (k == w && self.cols[i] > self.cols[weakest]) {
                weakest = i;
            }
        }
        self.weakest = weakest;
        self.bar = self.keys[weakest];
    }

    /// Offers every entry of one row of a block (columns from `first_col`).
    ///
    /// Most entries lose to the bar once the row has k, so the row is checked in chunks
    /// first: the chunk's largest key, as an order-preserving integer (an integer max
    /// vectorises, a float max does not), against the bar's. Only a chunk that beats it is
    /// looked at entry by entry.
    fn scan(&mut self, k: usize, row: &[f32], first_col: u32, kind: CoefficientKind) {
        // One copy of the loop per map, so the key is inlined (and the pre-check
        // vectorised) rather than called through a function pointer for every entry.
        match kind {
            CoefficientKind::Shrink => self.scan_with(k, row, first_col, abs_key, f32::abs),
            CoefficientKind::Gibbs => self.scan_with(k, row, first_col, signed_key, |s| s),
        }
    }

    /// [`Self::scan`] for the key `key` (ranked as the integer `key_bits`).
    #[inline(always)]
    fn scan_with(
        &mut self,
        k: usize,
        row: &[f32],
        first_col: u32,
        key_bits: impl Fn(f32) -> i32,
        key: impl Fn(f32) -> f32,
    ) {
        for (chunk_index, chunk) in row.chunks(SCAN_CHUNK).enumerate() {
            let bar = key_bits(self.bar);
            let best = chunk
                .iter()
                .fold(i32::MIN, |best, &s| best.max(key_bits(s)));
            if best <= bar {
                continue;
            }
            let base = first_col + (chunk_index * SCAN_CHUNK) as u32;
            for (j, &s) in chunk.iter().enumerate() {
                let key = key(s);
                // Strict `>`: an entry equal to the bar loses to the earlier (lower) column.
                if key > self.bar {
                    self.offer(k, key, base + j as u32, s);
                }
            }
        }
    }
}

/// Entries per chunk of the scan's pre-check.
const SCAN_CHUNK: usize = 32;

/// `|s|` as an integer with the same order (non-negative floats order as their bits).
fn abs_key(s: f32) -> i32 {
    (s.to_bits() & 0x7fff_ffff) as i32
}

/// `s` as an integer with the same order, for floats of either sign (−∞ lowest).
fn signed_key(s: f32) -> i32 {
    let bits = s.to_bits() as i32;
    // Negative floats order backwards as integers: flip their magnitude bits.
    bits ^ (((bits >> 31) as u32) >> 1) as i32
}

/// Timing of the blocked loop, for the manifest and the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockedTiming {
    /// Seconds in the matrix products (libtorch).
    pub product_seconds: f64,
    /// Seconds copying products out of libtorch (only off the CPU: there the scan reads
    /// libtorch's buffer) and computing the Gibbs log-sum-exp.
    pub copy_seconds: f64,
    /// Seconds scanning for the top k.
    pub scan_seconds: f64,
    pub total_seconds: f64,
    /// 2·rows·N·m: the products' floating-point operations.
    pub flops: f64,
}

/// Columns per product, at most: `block_size` rows against 2048 columns made the products
/// faster than square 4096 blocks and the scan no slower (N = 70,000, m = 256: blocked loop
/// 21.5 → 18.3 s), as a product of this size stays in the last-level cache for the scan.
const COLUMN_TILE: usize = 2048;

/// The top-`top_k` coefficients by `|c|` of the rows `rows` of `C`, over all N columns, as
/// triplets sorted by (row, col) without zeros. `u`: the `[rows.len(), m]` tower outputs of
/// `rows`; `v`: `[N, m]`, every row's. Rows go `block_size` at a time, against columns in
/// tiles of at most `block_size` and [`COLUMN_TILE`].
/// `on_rows` hears how many rows each finished block held (for a progress bar).
pub fn top_k_coefficients(
    u: &Tensor,
    v: &Tensor,
    rows: Range<usize>,
    map: &CoefficientMap,
    top_k: usize,
    block_size: usize,
    on_rows: impl FnMut(usize),
) -> (Triplets, BlockedTiming) {
    let column_tile = block_size.min(COLUMN_TILE);
    top_k_in_tiles(
        u,
        v,
        rows,
        map,
        top_k,
        (block_size, column_tile),
        true,
        on_rows,
    )
}

/// The top-`top_k` coefficients by `|c|` of queries that are not atoms of the dictionary
/// (new samples scored against it): `u` `[Q, m]` the queries' tower outputs, `v` `[N, m]`
/// the dictionary's; rows `0..Q` in the triplets, no entry masked. Otherwise as
/// [`top_k_coefficients`]. A query's row can differ in the last bits with the shape of the
/// block it sits in: callers that need the same bits keep their blocks on one grid.
pub fn top_k_of_queries(
    u: &Tensor,
    v: &Tensor,
    map: &CoefficientMap,
    top_k: usize,
    block_size: usize,
    on_rows: impl FnMut(usize),
) -> (Triplets, BlockedTiming) {
    let column_tile = block_size.min(COLUMN_TILE);
    let queries = 0..u.size()[0] as usize;
    top_k_in_tiles(
        u,
        v,
        queries,
        map,
        top_k,
        (block_size, column_tile),
        false,
        on_rows,
    )
}

/// [`top_k_coefficients`] with the column tile given; `self_expressive`: row i is atom i
/// too, so its own entry is masked (`c_ii = 0`).
#[allow(clippy::too_many_arguments)]
fn top_k_in_tiles(
    u: &Tensor,
    v: &Tensor,
    rows: Range<usize>,
    map: &CoefficientMap,
    top_k: usize,
    (block_size, column_tile): (usize, usize),
    self_expressive: bool,
    mut on_rows: impl FnMut(usize),
) -> (Triplets, BlockedTiming) {
    let started = Instant::now();
    let n = v.size()[0] as usize;
    let m = v.size()[1];
    let mut timing = BlockedTiming::default();
    let mut triplets = Triplets::default();
    let (max_rows, max_cols) = (block_size.min(rows.len()), column_tile.min(n));
    // On the CPU the scan reads the product where libtorch wrote it; from another device
    // each block is copied here first.
    let on_cpu = u.device() == Device::Cpu;
    let mut buffer = if on_cpu {
        Vec::new()
    } else {
        vec![0f32; max_rows * max_cols]
    };
    // One product tensor, reused: a fresh block² allocation per product costs page faults.
    let mut product = Tensor::empty(
        [max_rows as i64, max_cols as i64],
        (Kind::Float, u.device()),
    );
    let floor = match map.kind {
        CoefficientKind::Shrink => map.threshold,
        CoefficientKind::Gibbs => f32::NEG_INFINITY,
    };

    for r0 in rows.clone().step_by(block_size) {
        let r1 = (r0 + block_size).min(rows.end);
        let n_rows = r1 - r0;
        let u_block = u.narrow(0, (r0 - rows.start) as i64, n_rows as i64);
        let mut tops = vec![RowTop::new(top_k, floor); n_rows];
        let mut log_partition = vec![f64::NEG_INFINITY; n_rows];
        for c0 in (0..n).step_by(column_tile) {
            let c1 = (c0 + column_tile).min(n);
            let n_cols = c1 - c0;
            let clock = Instant::now();
            let v_block = v.narrow(0, c0 as i64, n_cols as i64);
            if product.size() != [n_rows as i64, n_cols as i64] {
                product = Tensor::empty([n_rows as i64, n_cols as i64], (Kind::Float, u.device()));
            }
            let s = u_block.mm_out(&product, &v_block.tr()); // [R, C] negative energies
            if self_expressive && r0 < c1 && c0 < r1 {
                // Global row i sits at local (i − r0, i − c0) = (a, a + r0 − c0): torch's
                // diagonal at offset r0 − c0.
                let _ = s
                    .diagonal(r0 as i64 - c0 as i64, 0, 1)
                    .fill_(map.masked_value());
            }
            let _ = s.size(); // the product is complete before the clock reads (CPU: eager)
            timing.product_seconds += clock.elapsed().as_secs_f64();
            timing.flops += 2.0 * n_rows as f64 * n_cols as f64 * m as f64;

            let clock = Instant::now();
            if map.kind == CoefficientKind::Gibbs {
                let block_lse: Vec<f32> =
                    Vec::try_from((&s / map.temperature).logsumexp([1], false).to(Device::Cpu))
                        .expect("a CPU f32 vector converts to Vec<f32>");
                for (total, part) in log_partition.iter_mut().zip(block_lse) {
                    *total = log_add_exp(*total, f64::from(part));
                }
            }
            let block: &[f32] = if on_cpu {
                cpu_values(&s)
            } else {
                let block = &mut buffer[..n_rows * n_cols];
                s.to(Device::Cpu).copy_data(block, n_rows * n_cols);
                block
            };
            timing.copy_seconds += clock.elapsed().as_secs_f64();

            let clock = Instant::now();
            block
                .par_chunks(n_cols)
                .zip(tops.par_iter_mut())
                .for_each(|(row, top)| top.scan(top_k, row, c0 as u32, map.kind));
            timing.scan_seconds += clock.elapsed().as_secs_f64();
        }
        for (local, top) in tops.into_iter().enumerate() {
            let mut kept: Vec<(u32, f32)> = top
                .cols
                .iter()
                .zip(&top.values)
                .map(|(&col, &s)| (col, map.coefficient(s, log_partition[local])))
                .filter(|&(_, c)| c != 0.0)
                .collect();
            kept.sort_unstable_by_key(|&(col, _)| col);
            for (col, c) in kept {
                triplets.push((r0 + local) as u32, col, c);
            }
        }
        on_rows(n_rows);
    }
    timing.total_seconds = started.elapsed().as_secs_f64();
    (triplets, timing)
}

/// The values of a contiguous CPU f32 tensor, borrowed for as long as the tensor handle is.
fn cpu_values(tensor: &Tensor) -> &[f32] {
    assert!(
        tensor.device() == Device::Cpu && tensor.kind() == Kind::Float && tensor.is_contiguous(),
        "cpu_values needs a contiguous CPU f32 tensor"
    );
    let len = tensor.numel();
    if len == 0 {
        return &[];
    }
    #[allow(unsafe_code)]
    // SAFETY: checked above: the storage is host memory holding `len` contiguous f32
    // values from `data_ptr`. It lives while `tensor` does, which the returned borrow
    // ties the slice to, and the caller writes the storage again (the next product) only
    // after the slice is gone.
    unsafe {
        std::slice::from_raw_parts(tensor.data_ptr().cast::<f32>(), len)
    }
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let high = a.max(b);
    if high == f64::NEG_INFINITY {
        return high;
    }
    high + ((a - high).exp() + (b - high).exp()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coefficients::{gibbs, shrink};

    /// Dense reference: the full N×N map, then per row a sort by (|c| desc, col asc).
    fn dense(u: &Tensor, v: &Tensor, map: &CoefficientMap, top_k: usize) -> Triplets {
        let n = v.size()[0];
        let s = u.matmul(&v.tr());
        let eye = Tensor::eye(n, (Kind::Bool, Device::Cpu));
        let c = match map.kind {
            CoefficientKind::Shrink => {
                shrink(&s, &Tensor::from(map.threshold), map.out_dim).masked_fill(&eye, 0.0)
            }
            CoefficientKind::Gibbs => gibbs(&s, &eye.logical_not(), map.temperature),
        };
        let values: Vec<f32> = Vec::try_from(c.reshape([-1])).unwrap();
        let mut out = Triplets::default();
        for (i, row) in values.chunks(n as usize).enumerate() {
            let mut order: Vec<usize> = (0..row.len()).filter(|&j| row[j] != 0.0).collect();
            order.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()).then(a.cmp(&b)));
            order.truncate(top_k);
            order.sort_unstable();
            for j in order {
                out.push(i as u32, j as u32, row[j]);
            }
        }
        out
    }

    fn assert_same(blocked: &Triplets, dense: &Triplets, tolerance: f32) {
        assert_eq!(blocked.rows, dense.rows);
        assert_eq!(blocked.cols, dense.cols);
        for (a, b) in blocked.values.iter().zip(&dense.values) {
            assert!((a - b).abs() <= tolerance * b.abs().max(1e-3), "{a} vs {b}");
        }
    }

    fn towers(n: i64, m: i64) -> (Tensor, Tensor) {
        tch::manual_seed(11);
        let u = Tensor::randn([n, m], (Kind::Float, Device::Cpu)).tanh();
        let v = Tensor::randn([n, m], (Kind::Float, Device::Cpu)).tanh();
        (u, v)
    }

    #[test]
    fn blocked_top_k_equals_dense_top_k_on_500_samples() {
        let (u, v) = towers(500, 16);
        for (kind, threshold) in [
            (CoefficientKind::Shrink, 0.5f32),
            (CoefficientKind::Shrink, 0.0),
            (CoefficientKind::Gibbs, 0.0),
        ] {
            let map = CoefficientMap {
                kind,
                threshold,
                out_dim: 16,
                temperature: 0.5,
            };
            let reference = dense(&u, &v, &map, 7);
            assert_eq!(reference.len(), 500 * 7);
            // A block size that divides nothing, one larger than N, and a tiny one; column
            // tiles narrower than the row blocks, dividing them or not.
            for tiles in [(64, 64), (777, 777), (5, 5), (64, 16), (777, 100)] {
                let mut seen = 0;
                let (blocked, timing) =
                    top_k_in_tiles(&u, &v, 0..500, &map, 7, tiles, true, |r| seen += r);
                assert_eq!(seen, 500);
                assert_same(&blocked, &reference, 1e-4);
                assert_eq!(timing.flops, 2.0 * 500.0 * 500.0 * 16.0);
            }
        }
    }

    #[test]
    fn a_threshold_above_every_score_keeps_nothing_and_rows_are_a_sub_range() {
        let (u, v) = towers(40, 4);
        let map = CoefficientMap {
            kind: CoefficientKind::Shrink,
            threshold: 10.0, // |s| ≤ m = 4 with tanh outputs
            out_dim: 4,
            temperature: 1.0,
        };
        let (none, _) = top_k_coefficients(&u, &v, 0..40, &map, 3, 16, |_| {});
        assert!(none.is_empty());
        let map = CoefficientMap {
            threshold: 0.0,
            ..map
        };
        let (all, _) = top_k_coefficients(&u, &v, 0..40, &map, 3, 16, |_| {});
        let (part, _) = top_k_coefficients(&u.narrow(0, 10, 15), &v, 10..25, &map, 3, 16, |_| {});
        let start = all.rows.iter().position(|&r| r == 10).unwrap();
        let end = all.rows.iter().position(|&r| r == 25).unwrap();
        assert_eq!(part.rows, all.rows[start..end]);
        assert_eq!(part.cols, all.cols[start..end]);
    }

    #[test]
    fn queries_keep_their_own_atom_and_do_not_depend_on_the_block() {
        let (u, v) = towers(30, 4);
        let map = CoefficientMap {
            kind: CoefficientKind::Gibbs,
            threshold: 0.0,
            out_dim: 4,
            temperature: 0.5,
        };
        // The dictionary's own rows as queries: the diagonal is not masked, so each row
        // differs from the self-expressive one only where its own atom ranks.
        let (queries, _) = top_k_of_queries(&u, &v, &map, 30, 7, |_| {});
        assert_eq!(queries.len(), 30 * 30);
        let (masked, _) = top_k_coefficients(&u, &v, 0..30, &map, 30, 7, |_| {});
        assert_eq!(masked.len(), 30 * 29);
        // Rows 10..20 alone, scored in blocks of their own: the same atoms, the same
        // values to rounding (the products' shapes differ, so not always the same bits).
        let (part, _) = top_k_of_queries(&u.narrow(0, 10, 10), &v, &map, 5, 3, |_| {});
        let (all, _) = top_k_of_queries(&u, &v, &map, 5, 16, |_| {});
        let start = all.rows.iter().position(|&r| r == 10).unwrap();
        let end = all.rows.iter().position(|&r| r == 20).unwrap();
        assert_eq!(part.cols, all.cols[start..end]);
        for (a, b) in part.values.iter().zip(&all.values[start..end]) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{a} vs {b}");
        }
        // On the same grid of blocks (a block of 10 from row 10), the same bits.
        let (grid, _) = top_k_of_queries(&u, &v, &map, 5, 10, |_| {});
        let (part, _) = top_k_of_queries(&u.narrow(0, 10, 10), &v, &map, 5, 10, |_| {});
        assert_eq!(part.values, grid.values[start..end]);
    }

    #[test]
    fn integer_keys_order_as_the_floats_do() {
        // Every pair compares as f32::total_cmp does (which puts −0 below +0).
        let values = [
            f32::NEG_INFINITY,
            -3.5,
            -1.0,
            -0.0,
            0.0,
            1e-30,
            0.25,
            2.0,
            f32::INFINITY,
        ];
        for a in values {
            for b in values {
                assert_eq!(
                    signed_key(a).cmp(&signed_key(b)),
                    a.total_cmp(&b),
                    "{a} {b}"
                );
                let (x, y) = (a.abs(), b.abs());
                assert_eq!(abs_key(a).cmp(&abs_key(b)), x.total_cmp(&y), "{a} {b}");
            }
        }
    }

    #[test]
    fn log_add_exp_by_hand() {
        // ln(e^0 + e^0) = ln 2; −∞ is the identity.
        assert!((log_add_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-12);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 1.5), 1.5);
    }
}
