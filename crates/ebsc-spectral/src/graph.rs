//! Sparse affinity graph `W` in CSR form, built from `(row, col, value)` triplets
//! (the columns of `affinity.parquet`, docs/artifacts.md).
//!
//! Building validates every triplet, drops self loops, sums duplicates, drops explicit
//! zeros and checks (or enforces) symmetry. Weights are stored as `f32`, as on disk;
//! degrees and every sum over a row are accumulated in `f64`.

use rayon::prelude::*;
use std::borrow::Cow;

/// Relative tolerance of the symmetry check: `|w_ij − w_ji| ≤ tol · max(w_ij, w_ji)`.
/// Pairs that differ within it are replaced by their mean, so the stored graph is
/// exactly symmetric either way.
pub const SYMMETRY_TOLERANCE: f64 = 1e-6;

/// Rows handled by one parallel task while building.
const ROWS_PER_TASK: usize = 4096;

/// Why a graph could not be built. Callers match on the variant to tell the user
/// which triplet is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("row, col and value columns differ in length ({rows}, {cols}, {values})")]
    LengthMismatch {
        rows: usize,
        cols: usize,
        values: usize,
    },
    #[error("{n_nodes} nodes do not fit u32 indices")]
    TooManyNodes { n_nodes: usize },
    #[error("entry ({row}, {col}) is out of range for a graph of {n} nodes")]
    IndexOutOfRange { row: u32, col: u32, n: usize },
    #[error("entry ({row}, {col}) has weight {value}; weights must be finite and non-negative")]
    InvalidWeight { row: u32, col: u32, value: f32 },
    #[error(
        "graph is not symmetric: w({row}, {col}) = {weight} but w({col}, {row}) = {transposed_weight}"
    )]
    NotSymmetric {
        row: u32,
        col: u32,
        weight: f32,
        transposed_weight: f32,
    },
}

/// What to do about `W ≠ Wᵀ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symmetry {
    /// Fail with [`GraphError::NotSymmetric`] on the first asymmetric pair (beyond
    /// [`SYMMETRY_TOLERANCE`]); a missing entry counts as weight zero.
    Require,
    /// Replace `W` by `(W + Wᵀ)/2`.
    Symmetrize,
}

/// What building did to the input, for the caller's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BuildReport {
    /// Triplets given.
    pub n_triplets: usize,
    /// Triplets with `row == col`, dropped.
    pub self_loops_dropped: usize,
    /// Triplets merged into an earlier one with the same `(row, col)`.
    pub duplicates_summed: usize,
    /// Entries whose (summed) weight was zero, dropped.
    pub zeros_dropped: usize,
    /// Whether symmetrising changed any weight (or, with [`Symmetry::Require`],
    /// whether pairs equal within tolerance were averaged).
    pub symmetrized: bool,
}

/// Symmetric sparse graph on `n_nodes` nodes, CSR with sorted columns per row,
/// no self loops, no explicit zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseGraph {
    n_nodes: usize,
    row_offsets: Vec<usize>,
    col_indices: Vec<u32>,
    weights: Vec<f32>,
}

impl SparseGraph {
    /// Builds the graph from triplet columns. See [`GraphError`] for what is rejected.
    pub fn from_triplets(
        n_nodes: usize,
        rows: &[u32],
        cols: &[u32],
        values: &[f32],
        symmetry: Symmetry,
    ) -> Result<(Self, BuildReport), GraphError> {
        Self::build(
            n_nodes,
            rows,
            Cow::Borrowed(cols),
            Cow::Borrowed(values),
            symmetry,
        )
    }

    /// [`Self::from_triplets`] taking the columns: triplets already in CSR order (the
    /// pipeline's Parquet files are) become the graph's arrays without a copy.
    pub fn from_owned_triplets(
        n_nodes: usize,
        rows: Vec<u32>,
        cols: Vec<u32>,
        values: Vec<f32>,
        symmetry: Symmetry,
    ) -> Result<(Self, BuildReport), GraphError> {
        Self::build(
            n_nodes,
            &rows,
            Cow::Owned(cols),
            Cow::Owned(values),
            symmetry,
        )
    }

    fn build(
        n_nodes: usize,
        rows: &[u32],
        cols: Cow<'_, [u32]>,
        values: Cow<'_, [f32]>,
        symmetry: Symmetry,
    ) -> Result<(Self, BuildReport), GraphError> {
        if rows.len() != cols.len() || rows.len() != values.len() {
            return Err(GraphError::LengthMismatch {
                rows: rows.len(),
                cols: cols.len(),
                values: values.len(),
            });
        }
        if n_nodes > u32::MAX as usize {
            return Err(GraphError::TooManyNodes { n_nodes });
        }
        let canonical = check_triplets(n_nodes, rows, &cols, &values)?;

        let mut report = BuildReport {
            n_triplets: rows.len(),
            ..BuildReport::default()
        };
        let mut graph = if canonical {
            // Already CSR order (the pipeline's Parquet files are sorted by schema):
            // nothing to sort, merge or drop.
            csr_from_sorted(n_nodes, rows, cols.into_owned(), values.into_owned())
        } else {
            let (mut graph, self_loops) = scatter_by_row(n_nodes, rows, &cols, &values);
            report.self_loops_dropped = self_loops;
            let (duplicates, zeros) = graph.sort_and_merge_rows();
            report.duplicates_summed = duplicates;
            report.zeros_dropped = zeros;
            graph
        };

        match symmetry {
            Symmetry::Require => {
                report.symmetrized = graph.require_symmetry()?;
            }
            Symmetry::Symmetrize => {
                if !graph.is_exactly_symmetric() {
                    // Not exactly symmetric, so averaging changes something: a missing
                    // partner is added, or two unequal partners both become their mean.
                    graph = graph.symmetrized();
                    report.symmetrized = true;
                }
            }
        }
        Ok((graph, report))
    }

    pub fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    /// Stored entries; each undirected edge counts twice.
    pub fn n_stored_entries(&self) -> usize {
        self.col_indices.len()
    }

    pub fn row_offsets(&self) -> &[usize] {
        &self.row_offsets
    }

    pub fn col_indices(&self) -> &[u32] {
        &self.col_indices
    }

    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Columns and weights of one row.
    pub fn row(&self, node: usize) -> (&[u32], &[f32]) {
        let range = self.row_offsets[node]..self.row_offsets[node + 1];
        (&self.col_indices[range.clone()], &self.weights[range])
    }

    /// Weighted degrees `d_i = Σ_j w_ij`, summed in f64.
    pub fn degrees(&self) -> Vec<f64> {
        (0..self.n_nodes)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|node| self.row(node).1.iter().map(|&w| f64::from(w)).sum())
            .collect()
    }

    /// Nodes without any edge.
    pub fn n_isolated_nodes(&self) -> usize {
        self.row_offsets.windows(2).filter(|w| w[0] == w[1]).count()
    }

    /// Number of connected components (an isolated node is a component).
    pub fn n_connected_components(&self) -> usize {
        self.component_labels().0
    }

    /// Connected components: their number, and each node's component id in
    /// `0..count`, numbered by smallest member.
    pub fn component_labels(&self) -> (usize, Vec<u32>) {
        let mut parent: Vec<u32> = (0..self.n_nodes as u32).collect();
        for node in 0..self.n_nodes {
            for &neighbour in self.row(node).0 {
                if (neighbour as usize) < node {
                    union(&mut parent, node as u32, neighbour);
                }
            }
        }
        let mut labels = vec![u32::MAX; self.n_nodes];
        let mut count = 0u32;
        for node in 0..self.n_nodes {
            let root = find(&mut parent, node as u32) as usize;
            if labels[root] == u32::MAX {
                labels[root] = count;
                count += 1;
            }
            labels[node] = labels[root];
        }
        (count as usize, labels)
    }

    /// The same graph with nodes renumbered: new node `r` is old node `new_to_old[r]`.
    pub fn permuted(&self, new_to_old: &[u32]) -> SparseGraph {
        assert_eq!(
            new_to_old.len(),
            self.n_nodes,
            "permutation has the wrong length"
        );
        let mut old_to_new = vec![0u32; self.n_nodes];
        for (new, &old) in new_to_old.iter().enumerate() {
            old_to_new[old as usize] = new as u32;
        }
        let mut row_offsets = Vec::with_capacity(self.n_nodes + 1);
        row_offsets.push(0);
        for &old in new_to_old {
            let degree = self.row(old as usize).0.len();
            row_offsets.push(row_offsets.last().copied().unwrap_or(0) + degree);
        }
        let mut col_indices = vec![0u32; self.col_indices.len()];
        let mut weights = vec![0f32; self.weights.len()];
        let mut first_row = 0;
        let pieces = row_task_slices(&row_offsets, &mut col_indices, &mut weights);
        let starts: Vec<usize> = pieces
            .iter()
            .map(|piece| {
                let start = first_row;
                first_row += piece.0.len() - 1;
                start
            })
            .collect();
        pieces
            .into_par_iter()
            .zip(starts)
            .for_each(|((offsets, cols, ws), first_new_row)| {
                let base = offsets[0];
                let mut entries: Vec<(u32, f32)> = Vec::new();
                for (local, bounds) in offsets.windows(2).enumerate() {
                    let old = new_to_old[first_new_row + local] as usize;
                    let (old_cols, old_weights) = self.row(old);
                    entries.clear();
                    entries.extend(
                        old_cols
                            .iter()
                            .zip(old_weights)
                            .map(|(&c, &w)| (old_to_new[c as usize], w)),
                    );
                    entries.sort_unstable_by_key(|e| e.0);
                    for (k, (c, w)) in entries.iter().enumerate() {
                        cols[bounds[0] - base + k] = *c;
                        ws[bounds[0] - base + k] = *w;
                    }
                }
            });
        SparseGraph {
            n_nodes: self.n_nodes,
            row_offsets,
            col_indices,
            weights,
        }
    }

    /// Sorts each row by column, sums duplicates and drops zeros, compacting the
    /// arrays. Returns (duplicates merged, zeros dropped).
    fn sort_and_merge_rows(&mut self) -> (usize, usize) {
        let row_lengths: Vec<(usize, usize, usize)> =
            row_task_slices(&self.row_offsets, &mut self.col_indices, &mut self.weights)
                .into_par_iter()
                .flat_map_iter(|(offsets, cols, weights)| {
                    let base = offsets[0];
                    offsets
                        .windows(2)
                        .map(|w| {
                            let range = w[0] - base..w[1] - base;
                            sort_and_merge_row(&mut cols[range.clone()], &mut weights[range])
                        })
                        .collect::<Vec<_>>()
                })
                .collect();

        let mut write = 0;
        let (mut duplicates, mut zeros) = (0, 0);
        let mut new_offsets = Vec::with_capacity(self.n_nodes + 1);
        new_offsets.push(0);
        for (node, &(kept, merged, dropped)) in row_lengths.iter().enumerate() {
            let start = self.row_offsets[node];
            self.col_indices.copy_within(start..start + kept, write);
            self.weights.copy_within(start..start + kept, write);
            write += kept;
            new_offsets.push(write);
            duplicates += merged;
            zeros += dropped;
        }
        self.col_indices.truncate(write);
        self.weights.truncate(write);
        self.col_indices.shrink_to_fit();
        self.weights.shrink_to_fit();
        self.row_offsets = new_offsets;
        (duplicates, zeros)
    }

    /// Checks `W = Wᵀ` within tolerance; averages pairs that differ within it.
    /// Returns whether any weight changed. An exactly symmetric graph (the pipeline's
    /// own files) is recognised without a transpose; otherwise each row is compared with
    /// the same row of the transpose (both sorted), so it streams instead of searching.
    fn require_symmetry(&mut self) -> Result<bool, GraphError> {
        if self.is_exactly_symmetric() {
            return Ok(false);
        }
        let transpose = self.transposed();
        let first_bad = (0..self.n_nodes)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .find_map_first(|row| {
                let (cols, weights) = self.row(row);
                let (t_cols, t_weights) = transpose.row(row);
                let mut t = 0;
                cols.iter().zip(weights).find_map(|(&col, &weight)| {
                    while t < t_cols.len() && t_cols[t] < col {
                        t += 1;
                    }
                    let transposed_weight = if t < t_cols.len() && t_cols[t] == col {
                        t_weights[t]
                    } else {
                        0.0
                    };
                    (!nearly_equal(weight, transposed_weight)).then_some(GraphError::NotSymmetric {
                        row: row as u32,
                        col,
                        weight,
                        transposed_weight,
                    })
                })
            });
        if let Some(error) = first_bad {
            return Err(error);
        }
        // Every stored entry has a partner with a nearly equal weight (explicit zeros
        // were dropped, so a missing partner fails above): both patterns are equal
        // and the arrays line up entry by entry.
        self.weights
            .par_iter_mut()
            .zip(transpose.weights.par_iter())
            .for_each(|(w, &t)| *w = mean_f32(*w, t));
        Ok(true)
    }

    /// Whether `W = Wᵀ` exactly (same pattern, equal weights), found without building
    /// `Wᵀ`, whose scattered writes cost most of the graph phase on large graphs.
    ///
    /// The entries above the diagonal, `(i, j, w)` with `i < j`, must be those below it
    /// read as `(j, i, w)`. Each side is summed as a multiset of 128-bit hashes (two
    /// independent 64-bit mixes of the entry, added with wraparound, so any order of
    /// addition gives the same sums): unequal sums prove the graph asymmetric; equal sums
    /// leave a chance of about 2^-128 that it is not. Needs rows free of duplicates and
    /// self loops, as built.
    fn is_exactly_symmetric(&self) -> bool {
        let sums = (0..self.n_nodes)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|row| {
                // [upper: first hash, second hash, lower: first hash, second hash]
                let mut sums = [0u64; 4];
                let (cols, weights) = self.row(row);
                for (&col, &weight) in cols.iter().zip(weights) {
                    let (low, high, side) = if col as usize > row {
                        (row as u64, u64::from(col), 0)
                    } else {
                        (u64::from(col), row as u64, 2)
                    };
                    let position = (low << 32) | high;
                    let bits = u64::from(weight.to_bits());
                    let first = mix64(position ^ mix64(bits ^ 0x9e37_79b9_7f4a_7c15));
                    let second = mix64(mix64(position ^ 0xd6e8_feb8_6659_fd93) ^ bits);
                    sums[side] = sums[side].wrapping_add(first);
                    sums[side + 1] = sums[side + 1].wrapping_add(second);
                }
                sums
            })
            .reduce(
                || [0u64; 4],
                |a, b| std::array::from_fn(|i| a[i].wrapping_add(b[i])),
            );
        sums[0] == sums[2] && sums[1] == sums[3]
    }

    /// `(W + Wᵀ)/2` on the union of both patterns.
    fn symmetrized(&self) -> SparseGraph {
        let transpose = self.transposed();
        let rows: Vec<(Vec<u32>, Vec<f32>)> = (0..self.n_nodes)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|node| merge_rows_mean(self.row(node), transpose.row(node)))
            .collect();
        let mut row_offsets = Vec::with_capacity(self.n_nodes + 1);
        row_offsets.push(0);
        let total: usize = rows.iter().map(|r| r.0.len()).sum();
        let mut col_indices = Vec::with_capacity(total);
        let mut weights = Vec::with_capacity(total);
        for (cols, ws) in rows {
            col_indices.extend_from_slice(&cols);
            weights.extend_from_slice(&ws);
            row_offsets.push(col_indices.len());
        }
        SparseGraph {
            n_nodes: self.n_nodes,
            row_offsets,
            col_indices,
            weights,
        }
    }

    /// `Wᵀ` (columns come out sorted because rows are visited in order). The rows of
    /// `Wᵀ` are split into one contiguous range per thread; each task scans all of
    /// `W` and places only the entries of its range, so the random writes, which set
    /// the cost, are shared out and the result does not depend on the split.
    fn transposed(&self) -> SparseGraph {
        let n = self.n_nodes;
        let n_parts = rayon::current_num_threads().clamp(1, n.max(1));
        let parts: Vec<std::ops::Range<usize>> = (0..n_parts)
            .map(|p| p * n / n_parts..(p + 1) * n / n_parts)
            .collect();
        // Per part: offsets of its rows of Wᵀ, relative to the part's first entry.
        let part_offsets: Vec<Vec<usize>> = parts
            .par_iter()
            .map(|range| {
                let mut counts = vec![0usize; range.len() + 1];
                for &col in &self.col_indices {
                    if range.contains(&(col as usize)) {
                        counts[col as usize - range.start + 1] += 1;
                    }
                }
                for i in 0..range.len() {
                    counts[i + 1] += counts[i];
                }
                counts
            })
            .collect();
        let mut row_offsets = Vec::with_capacity(n + 1);
        row_offsets.push(0);
        for offsets in &part_offsets {
            let base = row_offsets.last().copied().unwrap_or(0);
            row_offsets.extend(offsets[1..].iter().map(|&o| base + o));
        }
        let mut col_indices = vec![0u32; self.col_indices.len()];
        let mut weights = vec![0f32; self.weights.len()];
        let mut tasks = Vec::with_capacity(n_parts);
        let (mut cols_rest, mut weights_rest) = (&mut col_indices[..], &mut weights[..]);
        for (range, offsets) in parts.iter().zip(&part_offsets) {
            let len = offsets[range.len()];
            let (cols_here, cols_tail) = std::mem::take(&mut cols_rest).split_at_mut(len);
            let (weights_here, weights_tail) = std::mem::take(&mut weights_rest).split_at_mut(len);
            tasks.push((range.clone(), offsets, cols_here, weights_here));
            cols_rest = cols_tail;
            weights_rest = weights_tail;
        }
        tasks
            .into_par_iter()
            .for_each(|(range, offsets, cols_out, weights_out)| {
                let mut next = offsets[..range.len()].to_vec();
                for row in 0..n {
                    let (cols, ws) = self.row(row);
                    for (&col, &w) in cols.iter().zip(ws) {
                        if range.contains(&(col as usize)) {
                            let slot = &mut next[col as usize - range.start];
                            cols_out[*slot] = row as u32;
                            weights_out[*slot] = w;
                            *slot += 1;
                        }
                    }
                }
            });
        SparseGraph {
            n_nodes: n,
            row_offsets,
            col_indices,
            weights,
        }
    }
}

/// First invalid triplet, in input order.
fn validate_triplets(
    n_nodes: usize,
    rows: &[u32],
    cols: &[u32],
    values: &[f32],
) -> Result<(), GraphError> {
    let bad = (0..rows.len())
        .into_par_iter()
        .with_min_len(1 << 16)
        .find_map_first(|t| {
            let (row, col, value) = (rows[t], cols[t], values[t]);
            if row as usize >= n_nodes || col as usize >= n_nodes {
                Some(GraphError::IndexOutOfRange {
                    row,
                    col,
                    n: n_nodes,
                })
            } else if !value.is_finite() || value < 0.0 {
                Some(GraphError::InvalidWeight { row, col, value })
            } else {
                None
            }
        });
    bad.map_or(Ok(()), Err)
}

/// One pass over the triplets: every index below `n_nodes` and every weight finite and
/// non-negative (else the first offending triplet, from [`validate_triplets`]), and
/// whether they are canonical: strictly increasing `(row, col)`, no self loops, no zeros.
fn check_triplets(
    n_nodes: usize,
    rows: &[u32],
    cols: &[u32],
    values: &[f32],
) -> Result<bool, GraphError> {
    const CHUNK: usize = 1 << 16;
    let (valid, canonical) = rows
        .par_chunks(CHUNK)
        .zip(cols.par_chunks(CHUNK))
        .zip(values.par_chunks(CHUNK))
        .enumerate()
        .map(|(chunk, ((r, c), v))| {
            let (mut valid, mut canonical) = (true, true);
            for t in 0..r.len() {
                let (row, col, value) = (r[t], c[t], v[t]);
                valid &= (row as usize) < n_nodes
                    && (col as usize) < n_nodes
                    && value.is_finite()
                    && value >= 0.0;
                canonical &= row != col && value != 0.0;
            }
            // Order within the chunk, and against the previous chunk's last triplet.
            let start = (chunk * CHUNK).max(1);
            let end = chunk * CHUNK + r.len();
            let ordered = (start..end).all(|t| (rows[t - 1], cols[t - 1]) < (rows[t], cols[t]));
            (valid, canonical && ordered)
        })
        .reduce(|| (true, true), |a, b| (a.0 && b.0, a.1 && b.1));
    if !valid {
        validate_triplets(n_nodes, rows, cols, values)?;
    }
    Ok(canonical)
}

/// CSR straight from canonical triplets ([`check_triplets`]): row offsets by binary
/// search of the sorted row column, columns and weights copied as they are.
fn csr_from_sorted(n_nodes: usize, rows: &[u32], cols: Vec<u32>, values: Vec<f32>) -> SparseGraph {
    let row_offsets = (0..n_nodes + 1)
        .into_par_iter()
        .with_min_len(ROWS_PER_TASK)
        .map(|node| rows.partition_point(|&r| (r as usize) < node))
        .collect();
    SparseGraph {
        n_nodes,
        row_offsets,
        col_indices: cols,
        weights: values,
    }
}

/// Counting sort of the triplets by row, self loops left out. Columns within a row
/// are still in input order.
fn scatter_by_row(
    n_nodes: usize,
    rows: &[u32],
    cols: &[u32],
    values: &[f32],
) -> (SparseGraph, usize) {
    let mut row_offsets = vec![0usize; n_nodes + 1];
    let mut self_loops = 0;
    for (&row, &col) in rows.iter().zip(cols) {
        if row == col {
            self_loops += 1;
        } else {
            row_offsets[row as usize + 1] += 1;
        }
    }
    for i in 0..n_nodes {
        row_offsets[i + 1] += row_offsets[i];
    }
    let n_entries = row_offsets[n_nodes];
    let mut next = row_offsets.clone();
    let mut col_indices = vec![0u32; n_entries];
    let mut weights = vec![0f32; n_entries];
    for ((&row, &col), &value) in rows.iter().zip(cols).zip(values) {
        if row != col {
            let slot = &mut next[row as usize];
            col_indices[*slot] = col;
            weights[*slot] = value;
            *slot += 1;
        }
    }
    let graph = SparseGraph {
        n_nodes,
        row_offsets,
        col_indices,
        weights,
    };
    (graph, self_loops)
}

/// Row-aligned pieces of the CSR arrays, about [`ROWS_PER_TASK`] rows each, so rows
/// can be rewritten in parallel. Each piece: (its `n+1` offsets, columns, weights).
fn row_task_slices<'a>(
    row_offsets: &'a [usize],
    mut cols: &'a mut [u32],
    mut weights: &'a mut [f32],
) -> Vec<(&'a [usize], &'a mut [u32], &'a mut [f32])> {
    let n_rows = row_offsets.len() - 1;
    let mut pieces = Vec::with_capacity(n_rows / ROWS_PER_TASK + 1);
    let mut start_row = 0;
    while start_row < n_rows {
        let end_row = (start_row + ROWS_PER_TASK).min(n_rows);
        let len = row_offsets[end_row] - row_offsets[start_row];
        let (head_cols, tail_cols) = std::mem::take(&mut cols).split_at_mut(len);
        let (head_weights, tail_weights) = std::mem::take(&mut weights).split_at_mut(len);
        pieces.push((&row_offsets[start_row..=end_row], head_cols, head_weights));
        cols = tail_cols;
        weights = tail_weights;
        start_row = end_row;
    }
    pieces
}

/// Sorts one row by column, sums duplicates in f64, moves zeros out; the kept entries
/// end up at the front. Returns (kept, duplicates merged, zeros dropped).
fn sort_and_merge_row(cols: &mut [u32], weights: &mut [f32]) -> (usize, usize, usize) {
    if cols.is_empty() {
        return (0, 0, 0);
    }
    let mut entries: Vec<(u32, f32)> = cols.iter().copied().zip(weights.iter().copied()).collect();
    entries.sort_by_key(|e| e.0);
    let (mut kept, mut duplicates, mut zeros) = (0, 0, 0);
    let mut i = 0;
    while i < entries.len() {
        let col = entries[i].0;
        let mut sum = 0f64;
        let mut j = i;
        while j < entries.len() && entries[j].0 == col {
            sum += f64::from(entries[j].1);
            j += 1;
        }
        duplicates += j - i - 1;
        if sum == 0.0 {
            zeros += 1;
        } else {
            cols[kept] = col;
            weights[kept] = sum as f32;
            kept += 1;
        }
        i = j;
    }
    (kept, duplicates, zeros)
}

/// Union of two sorted rows with weight `(a + b)/2`, a missing entry counting as 0.
fn merge_rows_mean(a: (&[u32], &[f32]), b: (&[u32], &[f32])) -> (Vec<u32>, Vec<f32>) {
    let (mut cols, mut weights) = (
        Vec::with_capacity(a.0.len().max(b.0.len())),
        Vec::with_capacity(a.0.len().max(b.0.len())),
    );
    let (mut i, mut j) = (0, 0);
    while i < a.0.len() || j < b.0.len() {
        let col_a = a.0.get(i).copied().unwrap_or(u32::MAX);
        let col_b = b.0.get(j).copied().unwrap_or(u32::MAX);
        let col = col_a.min(col_b);
        let mut weight_a = 0.0;
        let mut weight_b = 0.0;
        if col_a == col {
            weight_a = a.1[i];
            i += 1;
        }
        if col_b == col {
            weight_b = b.1[j];
            j += 1;
        }
        cols.push(col);
        weights.push(mean_f32(weight_a, weight_b));
    }
    (cols, weights)
}

/// MurmurHash3's 64-bit finaliser: a bijection whose every output bit depends on every
/// input bit.
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// `(a + b)/2` computed in f64: symmetric in its arguments, so the result is too.
fn mean_f32(a: f32, b: f32) -> f32 {
    ((f64::from(a) + f64::from(b)) * 0.5) as f32
}

fn nearly_equal(a: f32, b: f32) -> bool {
    let (a, b) = (f64::from(a), f64::from(b));
    (a - b).abs() <= SYMMETRY_TOLERANCE * a.max(b)
}

fn find(parent: &mut [u32], mut node: u32) -> u32 {
    while parent[node as usize] != node {
        let grandparent = parent[parent[node as usize] as usize];
        parent[node as usize] = grandparent;
        node = grandparent;
    }
    node
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (root_a, root_b) = (find(parent, a), find(parent, b));
    if root_a != root_b {
        // Smaller id becomes the root: keeps numbering independent of edge order.
        let (low, high) = (root_a.min(root_b), root_a.max(root_b));
        parent[high as usize] = low;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(
        n: usize,
        triplets: &[(u32, u32, f32)],
        symmetry: Symmetry,
    ) -> Result<(SparseGraph, BuildReport), GraphError> {
        let rows: Vec<u32> = triplets.iter().map(|t| t.0).collect();
        let cols: Vec<u32> = triplets.iter().map(|t| t.1).collect();
        let values: Vec<f32> = triplets.iter().map(|t| t.2).collect();
        SparseGraph::from_triplets(n, &rows, &cols, &values, symmetry)
    }

    #[test]
    fn builds_csr_drops_self_loops_and_sums_duplicates() {
        let triplets = [
            (1, 0, 1.0),
            (0, 1, 0.5),
            (0, 1, 0.5), // duplicate: (0,1) sums to 1.0
            (2, 2, 7.0), // self loop
            (2, 1, 2.0),
            (1, 2, 2.0),
            (3, 0, 0.0), // explicit zeros, symmetric
            (0, 3, 0.0),
        ];
        let (graph, report) = build(5, &triplets, Symmetry::Require).unwrap();
        assert_eq!(graph.row_offsets(), &[0, 1, 3, 4, 4, 4]);
        assert_eq!(graph.col_indices(), &[1, 0, 2, 1]);
        assert_eq!(graph.weights(), &[1.0, 1.0, 2.0, 2.0]);
        assert_eq!(
            report,
            BuildReport {
                n_triplets: 8,
                self_loops_dropped: 1,
                duplicates_summed: 1,
                zeros_dropped: 2,
                symmetrized: false,
            }
        );
        assert_eq!(graph.degrees(), vec![1.0, 3.0, 2.0, 0.0, 0.0]);
        // Nodes 3 and 4 have no edge left.
        assert_eq!(graph.n_isolated_nodes(), 2);
        // {0,1,2}, {3}, {4}
        assert_eq!(graph.n_connected_components(), 3);
        assert_eq!(graph.component_labels().1, vec![0, 0, 0, 1, 2]);
    }

    #[test]
    fn symmetrize_averages_with_transpose() {
        let triplets = [(0, 1, 2.0), (1, 0, 1.0), (1, 2, 4.0)];
        let (graph, report) = build(3, &triplets, Symmetry::Symmetrize).unwrap();
        // w01 = w10 = (2+1)/2 = 1.5; w12 = w21 = (4+0)/2 = 2
        assert_eq!(graph.row(0), (&[1u32][..], &[1.5f32][..]));
        assert_eq!(graph.row(1), (&[0u32, 2][..], &[1.5f32, 2.0][..]));
        assert_eq!(graph.row(2), (&[1u32][..], &[2.0f32][..]));
        assert!(report.symmetrized);

        let (_, report) = build(2, &[(0, 1, 1.0), (1, 0, 1.0)], Symmetry::Symmetrize).unwrap();
        assert!(!report.symmetrized);
    }

    #[test]
    fn require_averages_pairs_equal_within_tolerance() {
        let (graph, report) =
            build(2, &[(0, 1, 1.0), (1, 0, 1.0 + 1e-7)], Symmetry::Require).unwrap();
        assert_eq!(graph.weights()[0], graph.weights()[1]);
        assert!(report.symmetrized);
    }

    #[test]
    fn each_error_variant() {
        assert_eq!(
            SparseGraph::from_triplets(3, &[0, 1], &[1], &[1.0, 1.0], Symmetry::Require)
                .unwrap_err(),
            GraphError::LengthMismatch {
                rows: 2,
                cols: 1,
                values: 2
            }
        );
        assert_eq!(
            SparseGraph::from_triplets(1 << 33, &[], &[], &[], Symmetry::Require).unwrap_err(),
            GraphError::TooManyNodes { n_nodes: 1 << 33 }
        );
        assert_eq!(
            build(3, &[(0, 1, 1.0), (0, 3, 1.0)], Symmetry::Require).unwrap_err(),
            GraphError::IndexOutOfRange {
                row: 0,
                col: 3,
                n: 3
            }
        );
        assert_eq!(
            build(3, &[(5, 0, 1.0)], Symmetry::Symmetrize).unwrap_err(),
            GraphError::IndexOutOfRange {
                row: 5,
                col: 0,
                n: 3
            }
        );
        assert_eq!(
            build(3, &[(0, 1, -1.0)], Symmetry::Require).unwrap_err(),
            GraphError::InvalidWeight {
                row: 0,
                col: 1,
                value: -1.0
            }
        );
        assert!(matches!(
            build(3, &[(0, 1, f32::NAN)], Symmetry::Require).unwrap_err(),
            GraphError::InvalidWeight { row: 0, col: 1, value } if value.is_nan()
        ));
        assert!(matches!(
            build(3, &[(0, 1, f32::INFINITY)], Symmetry::Symmetrize).unwrap_err(),
            GraphError::InvalidWeight { .. }
        ));
        assert_eq!(
            build(3, &[(0, 1, 1.0), (1, 0, 2.0)], Symmetry::Require).unwrap_err(),
            GraphError::NotSymmetric {
                row: 0,
                col: 1,
                weight: 1.0,
                transposed_weight: 2.0
            }
        );
        // A missing partner counts as zero.
        assert_eq!(
            build(3, &[(2, 1, 1.0)], Symmetry::Require).unwrap_err(),
            GraphError::NotSymmetric {
                row: 2,
                col: 1,
                weight: 1.0,
                transposed_weight: 0.0
            }
        );
    }

    #[test]
    fn permuting_renumbers_nodes() {
        // Path 0 — 1 — 2 (weights 1, 2); new order [2, 0, 1]: old 2 → 0, 0 → 1, 1 → 2.
        let (graph, _) = build(
            3,
            &[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 2.0), (2, 1, 2.0)],
            Symmetry::Require,
        )
        .unwrap();
        let permuted = graph.permuted(&[2, 0, 1]);
        assert_eq!(permuted.row(0), (&[2u32][..], &[2.0f32][..]));
        assert_eq!(permuted.row(1), (&[2u32][..], &[1.0f32][..]));
        assert_eq!(permuted.row(2), (&[0u32, 1][..], &[2.0f32, 1.0][..]));
    }

    #[test]
    fn many_rows_across_parallel_tasks() {
        // A ring of 10,000 nodes given in both directions, in reverse order, twice.
        let n = 10_000u32;
        let mut triplets = Vec::new();
        for i in (0..n).rev() {
            let j = (i + 1) % n;
            triplets.push((i, j, 1.0));
            triplets.push((j, i, 1.0));
            triplets.push((i, j, 1.0));
            triplets.push((j, i, 1.0));
        }
        let (graph, report) = build(n as usize, &triplets, Symmetry::Require).unwrap();
        assert_eq!(report.duplicates_summed, 2 * n as usize);
        assert_eq!(graph.n_stored_entries(), 2 * n as usize);
        assert!(graph.degrees().iter().all(|&d| d == 4.0));
        assert_eq!(graph.row(0).0, &[1, n - 1]);
        assert_eq!(graph.n_connected_components(), 1);
    }

    /// Sorted triplets of a random symmetric graph (a 3-block SBM): canonical input.
    fn sorted_sbm() -> Vec<(u32, u32, f32)> {
        let (t, _) = crate::synthetic::stochastic_block_model(&[300, 200, 100], 0.1, 0.01, 5);
        let mut triplets: Vec<(u32, u32, f32)> = (0..t.rows.len())
            .map(|e| (t.rows[e], t.cols[e], t.values[e]))
            .collect();
        triplets.sort_by_key(|&(r, c, _)| (r, c));
        triplets
    }

    #[test]
    fn sorted_input_builds_the_same_graph_as_shuffled_input() {
        let sorted = sorted_sbm();
        let rows: Vec<u32> = sorted.iter().map(|t| t.0).collect();
        let cols: Vec<u32> = sorted.iter().map(|t| t.1).collect();
        let values: Vec<f32> = sorted.iter().map(|t| t.2).collect();
        assert!(check_triplets(600, &rows, &cols, &values).unwrap());
        let (fast, fast_report) = build(600, &sorted, Symmetry::Require).unwrap();
        // Owned columns give the same graph.
        let (owned, owned_report) =
            SparseGraph::from_owned_triplets(600, rows, cols, values, Symmetry::Require).unwrap();
        assert_eq!(owned, fast);
        assert_eq!(owned_report, fast_report);
        // Reversed order is not canonical: the general path (scatter, sort, merge).
        let reversed: Vec<_> = sorted.iter().rev().copied().collect();
        let (general, general_report) = build(600, &reversed, Symmetry::Require).unwrap();
        assert_eq!(fast, general);
        assert_eq!(fast_report, general_report);
        assert_eq!(fast.n_stored_entries(), sorted.len());
    }

    #[test]
    fn triplet_check_sees_across_its_chunks() {
        // One entry per row, (t, t + 1): canonical, over two chunks of the check.
        let n = 70_001;
        let rows: Vec<u32> = (0..n as u32 - 1).collect();
        let cols: Vec<u32> = (1..n as u32).collect();
        let mut values = vec![1.0f32; n - 1];
        assert!(check_triplets(n, &rows, &cols, &values).unwrap());
        // A repeat exactly where the second chunk starts is not canonical.
        let (mut rows_repeat, mut cols_repeat) = (rows.clone(), cols.clone());
        rows_repeat[1 << 16] = rows_repeat[(1 << 16) - 1];
        cols_repeat[1 << 16] = cols_repeat[(1 << 16) - 1];
        assert!(!check_triplets(n, &rows_repeat, &cols_repeat, &values).unwrap());
        // A bad weight in the second chunk is reported as itself.
        values[69_000] = f32::NAN;
        match check_triplets(n, &rows, &cols, &values) {
            Err(GraphError::InvalidWeight { row, col, .. }) => {
                assert_eq!((row, col), (69_000, 69_001))
            }
            other => panic!("expected an invalid weight, got {other:?}"),
        }
    }

    #[test]
    fn sorted_input_with_duplicates_self_loops_or_zeros_takes_the_general_path() {
        // (0,1) twice (sums to 2), a self loop on 1, a zero on (1,2)/(2,1).
        let triplets = [
            (0, 1, 1.0),
            (0, 1, 1.0),
            (1, 0, 2.0),
            (1, 1, 5.0),
            (1, 2, 0.0),
            (2, 1, 0.0),
        ];
        let rows: Vec<u32> = triplets.iter().map(|t| t.0).collect();
        let cols: Vec<u32> = triplets.iter().map(|t| t.1).collect();
        let values: Vec<f32> = triplets.iter().map(|t| t.2).collect();
        assert!(!check_triplets(3, &rows, &cols, &values).unwrap());
        let (graph, report) = build(3, &triplets, Symmetry::Require).unwrap();
        assert_eq!(report.duplicates_summed, 1);
        assert_eq!(report.self_loops_dropped, 1);
        assert_eq!(report.zeros_dropped, 2);
        assert_eq!(graph.row(0), (&[1u32][..], &[2.0f32][..]));
        assert_eq!(graph.row(1), (&[0u32][..], &[2.0f32][..]));
        assert_eq!(graph.row(2).0.len(), 0);
        // Sorted but asymmetric: the fast path still runs the symmetry check.
        assert_eq!(
            build(
                3,
                &[(0, 1, 1.0), (0, 2, 1.0), (1, 0, 1.0)],
                Symmetry::Require
            )
            .unwrap_err(),
            GraphError::NotSymmetric {
                row: 0,
                col: 2,
                weight: 1.0,
                transposed_weight: 0.0
            }
        );
    }

    #[test]
    fn the_exact_symmetry_check_agrees_with_the_transpose() {
        let sorted = sorted_sbm();
        let graph_of = |triplets: &[(u32, u32, f32)]| {
            let rows: Vec<u32> = triplets.iter().map(|t| t.0).collect();
            let cols = triplets.iter().map(|t| t.1).collect();
            let values = triplets.iter().map(|t| t.2).collect();
            csr_from_sorted(600, &rows, cols, values)
        };
        let symmetric = graph_of(&sorted);
        assert!(symmetric.is_exactly_symmetric());
        assert_eq!(symmetric.transposed(), symmetric);

        // One weight one rounding off its partner: nearly, not exactly, symmetric.
        let mut nudged = sorted.clone();
        nudged[7].2 = f32::from_bits(nudged[7].2.to_bits() + 1);
        // One entry without its partner.
        let mut dropped = sorted.clone();
        dropped.remove(11);
        // Two upper entries trading weights: the same weights and the same pattern, paired
        // wrongly.
        let mut traded = sorted.clone();
        let (a, b) = (0..traded.len())
            .filter(|&e| traded[e].0 < traded[e].1)
            .take(2)
            .collect::<Vec<_>>()
            .try_into()
            .map(|[a, b]: [usize; 2]| (a, b))
            .unwrap();
        traded[a].2 = 0.25;
        traded[b].2 = 0.75;
        let partner = |e: usize| {
            sorted
                .iter()
                .position(|t| (t.0, t.1) == (sorted[e].1, sorted[e].0))
                .unwrap()
        };
        traded[partner(a)].2 = 0.75;
        traded[partner(b)].2 = 0.25;
        for (name, triplets) in [("nudged", nudged), ("dropped", dropped), ("traded", traded)] {
            let graph = graph_of(&triplets);
            assert_ne!(graph.transposed(), graph, "{name}");
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                assert!(!pool.install(|| graph.is_exactly_symmetric()), "{name}");
            }
        }
    }

    #[test]
    fn parallel_transpose_matches_a_serial_one_on_any_thread_count() {
        // An asymmetric graph: every other entry of the SBM dropped.
        let triplets: Vec<_> = sorted_sbm().into_iter().step_by(2).collect();
        let rows: Vec<u32> = triplets.iter().map(|t| t.0).collect();
        let cols: Vec<u32> = triplets.iter().map(|t| t.1).collect();
        let values: Vec<f32> = triplets.iter().map(|t| t.2).collect();
        let graph = csr_from_sorted(600, &rows, cols, values);
        let mut transposed_triplets: Vec<(u32, u32, f32)> =
            triplets.iter().map(|&(r, c, w)| (c, r, w)).collect();
        transposed_triplets.sort_by_key(|&(r, c, _)| (r, c));
        let t_rows: Vec<u32> = transposed_triplets.iter().map(|t| t.0).collect();
        let t_cols: Vec<u32> = transposed_triplets.iter().map(|t| t.1).collect();
        let t_values: Vec<f32> = transposed_triplets.iter().map(|t| t.2).collect();
        let expected = csr_from_sorted(600, &t_rows, t_cols, t_values);
        for threads in [1, 2, 3, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(
                pool.install(|| graph.transposed()),
                expected,
                "{threads} threads"
            );
        }
        // And on a graph smaller than the thread count.
        let tiny = csr_from_sorted(2, &[0], vec![1], vec![3.0]);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(7)
            .build()
            .unwrap();
        let t = pool.install(|| tiny.transposed());
        assert_eq!(t.row(1), (&[0u32][..], &[3.0f32][..]));
        assert_eq!(t.row(0).0.len(), 0);
    }
}
