//! The assignment of a range of input rows: encode a block into dictionary space, score it
//! against the landmarks with the trained energy and the affinity stage's coefficient map
//! (top-k by `|c|`), or solve its ridge coefficients over them where the affinity stage did
//! (`refine = "ridge"`; with `refine_candidates_by = "ridge"` the elastic-net solve over the
//! largest of them as well), and vote. Blocks sit on one grid of `block` rows (default
//! [`BLOCK`]) from row 0 whatever range is asked for, so a shard computes its rows with the
//! same bits as a whole run.

use std::ops::Range;
use std::time::Instant;

use ebsc_affinity::graph::row_ranges;
use ebsc_affinity::solve::solve_for;
use ebsc_io::Triplets;
use ebsc_nn::coefficients::CoefficientKind;
use ebsc_nn::dictionary::embed_batch;
use ebsc_nn::topk::{CoefficientMap, top_k_of_queries};
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use crate::input::NewInputs;
use crate::trained::{LandmarkElasticNet, LandmarkRidge, Trained};
use crate::vote::vote;

/// Rows per block by default: the unit of scoring and sharding.
pub const BLOCK: usize = 4096;
/// Rows per encoder pass inside a block (on the same grid): a convnet's activations for
/// 4096 images are hundreds of MB; 512 at a time stay in the allocator's reused blocks.
const ENCODE_BATCH: usize = 512;

/// Seconds spent, for the throughput line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub read_seconds: f64,
    pub encode_seconds: f64,
    pub score_seconds: f64,
}

/// Clusters and confidences of `rows` (which start on the grid of `block` rows).
pub fn assign_rows(
    trained: &Trained,
    inputs: &NewInputs,
    rows: Range<usize>,
    block: usize,
    device: Device,
    mut on_rows: impl FnMut(usize),
) -> anyhow::Result<(Vec<u32>, Vec<f32>, Timing)> {
    debug_assert!(rows.start.is_multiple_of(block) || rows.is_empty());
    let mut timing = Timing::default();
    let mut clusters = Vec::with_capacity(rows.len());
    let mut confidences = Vec::with_capacity(rows.len());
    for start in rows.clone().step_by(block) {
        let end = (start + block).min(rows.end);
        let mut queries = Vec::new();
        for first in (start..end).step_by(ENCODE_BATCH) {
            let last = (first + ENCODE_BATCH).min(end);
            let clock = Instant::now();
            let x = inputs.batch(first..last, device)?;
            timing.read_seconds += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            let d = embed_batch(&trained.encoder, trained.source, &x);
            queries.push(match trained.ridge {
                Some(_) => d,
                None => tch::no_grad(|| trained.energy.net.scoring_queries(&d)),
            });
            timing.encode_seconds += clock.elapsed().as_secs_f64();
        }
        let u = tch::Tensor::cat(&queries, 0);

        let clock = Instant::now();
        let votes = match &trained.ridge {
            Some(ridge) => ridge_votes(trained, ridge, &u, end - start)?,
            None => energy_votes(trained, &u, end - start),
        };
        // A row with no vote left (an all-zero sample on the ridge solve): cluster 0, with
        // no confidence.
        for v in votes {
            let (cluster, confidence) = v.unwrap_or((0, 0.0));
            clusters.push(cluster);
            confidences.push(confidence);
        }
        timing.score_seconds += clock.elapsed().as_secs_f64();
        on_rows(end - start);
    }
    Ok((clusters, confidences, timing))
}

/// The votes of `n_rows` atoms `d` by their ridge coefficients over the landmarks, or by the
/// elastic-net solve over the largest of them where the affinity stage weighed its rows so.
fn ridge_votes(
    trained: &Trained,
    ridge: &LandmarkRidge,
    d: &Tensor,
    n_rows: usize,
) -> anyhow::Result<Vec<Option<(u32, f32)>>> {
    let d = d.to_device(Device::Cpu);
    let ridge_c = ridge
        .factor
        .coefficients(&ridge.landmarks, &d.to_kind(Kind::Double));
    let c = match &ridge.elastic_net {
        None => strongest(&ridge_c, trained.top_k)?,
        Some(elastic_net) => {
            let candidates = strongest(&ridge_c, elastic_net.candidates)?;
            let targets = Vec::<f32>::try_from(d.to_kind(Kind::Float).contiguous().view([-1]))?;
            elastic_net_rows(&candidates, &targets, elastic_net, trained.top_k)
        }
    };
    Ok(vote(&c, n_rows, &trained.clusters, trained.n_clusters))
}

/// Each row's `keep` strongest coefficients of the elastic-net solve of its atom (row-major
/// `targets`) over its candidates (triplets sorted by row, then column).
fn elastic_net_rows(
    candidates: &Triplets,
    targets: &[f32],
    elastic_net: &LandmarkElasticNet,
    keep: usize,
) -> Triplets {
    let dim = elastic_net.dim;
    let ranges = row_ranges(&candidates.rows);
    let solved: Vec<Vec<(u32, f32)>> = ranges
        .par_iter()
        .map(|range| {
            let row = candidates.rows[range.start] as usize;
            solve_for(
                &targets[row * dim..(row + 1) * dim],
                &candidates.cols[range.clone()],
                &elastic_net.atoms,
                dim,
                elastic_net.weights,
                keep,
            )
        })
        .collect();
    let mut out = Triplets::default();
    for (range, entries) in ranges.iter().zip(solved) {
        for (col, value) in entries {
            out.push(candidates.rows[range.start], col, value);
        }
    }
    out
}

/// The votes of `n_rows` scoring queries `u` by the energy's top `top_k` over the
/// landmarks.
fn energy_votes(trained: &Trained, u: &Tensor, n_rows: usize) -> Vec<Option<(u32, f32)>> {
    let map = trained.energy.map;
    let (c, _) = top_k_of_queries(
        u,
        &trained.landmark_keys,
        &map,
        trained.top_k,
        BLOCK,
        |_| {},
    );
    let mut votes = vote(&c, n_rows, &trained.clusters, trained.n_clusters);
    // A row whose coefficients all vanish (a shrink threshold above every score):
    // the cluster of its best-scoring landmark, with no confidence.
    let empty: Vec<i64> = (0..votes.len())
        .filter(|&i| votes[i].is_none())
        .map(|i| i as i64)
        .collect();
    if !empty.is_empty() {
        let best = CoefficientMap {
            kind: CoefficientKind::Gibbs,
            temperature: 1.0,
            ..map
        };
        let index = Tensor::from_slice(&empty).to_device(u.device());
        let (top, _) = top_k_of_queries(
            &u.index_select(0, &index),
            &trained.landmark_keys,
            &best,
            1,
            BLOCK,
            |_| {},
        );
        for (row, col) in top.rows.iter().zip(&top.cols) {
            votes[empty[*row as usize] as usize] = Some((trained.clusters[*col as usize], 0.0));
        }
    }
    votes
}

/// Each row's `keep` largest `|c|` of a dense `[rows, landmarks]` block, as triplets sorted
/// by (row, column).
fn strongest(c: &Tensor, keep: usize) -> anyhow::Result<Triplets> {
    let keep = keep.min(c.size()[1] as usize);
    let (_, columns) = c.abs().topk(keep as i64, 1, true, false);
    let (columns, _) = columns.sort(1, false);
    let values = c.gather(1, &columns, false).to_kind(Kind::Float);
    let columns = Vec::<i64>::try_from(columns.contiguous().view([-1]))?;
    let values = Vec::<f32>::try_from(values.contiguous().view([-1]))?;
    let mut out = Triplets::default();
    for (entry, (&col, &value)) in columns.iter().zip(&values).enumerate() {
        out.push((entry / keep) as u32, col as u32, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongest_keeps_each_rows_largest_magnitudes_by_column() {
        let c = Tensor::from_slice(&[0.1f64, -0.9, 0.5, 0.0, 0.3, 0.2, -0.4, 0.1]).view([2, 4]);
        let kept = strongest(&c, 2).unwrap();
        assert_eq!(kept.rows, vec![0, 0, 1, 1]);
        assert_eq!(kept.cols, vec![1, 2, 0, 2]);
        assert_eq!(kept.values, vec![-0.9, 0.5, 0.3, -0.4]);
    }
}
