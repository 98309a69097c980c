//! Seconds per sparse × dense product `S · X` (the eigensolver's inner cost) on a
//! planted-partition graph (10 clusters, ~20 entries per row), for the node order as
//! generated (random with respect to the clusters) and the ideal order (sorted by
//! planted cluster, the best locality an ordering could give), in both gather
//! precisions.
//!
//! ```text
//! cargo run --release -p ebsc-spectral --example spmm_throughput -- 1000000
//! ```

use ebsc_spectral::synthetic::planted_partition;
use ebsc_spectral::{NormalizedAffinity, Precision, SparseGraph, Symmetry};
use std::time::Instant;

const WIDTH: usize = 12;
const REPEATS: u32 = 5;

fn seconds_per_product(graph: &SparseGraph, precision: Precision) -> f64 {
    let operator = NormalizedAffinity::new(graph);
    let n = graph.n_nodes();
    let x: Vec<f64> = (0..n * WIDTH)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
        .collect();
    let mut out = vec![0.0; n * WIDTH];
    operator.apply_block_with(&x, &mut out, WIDTH, WIDTH, precision); // warm-up
    let started = Instant::now();
    for _ in 0..REPEATS {
        operator.apply_block_with(&x, &mut out, WIDTH, WIDTH, precision);
    }
    started.elapsed().as_secs_f64() / f64::from(REPEATS)
}

fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1_000_000,
    };
    let (triplets, labels) = planted_partition(n, 10, 10, 0.9, 0);
    let (graph, _) = SparseGraph::from_triplets(
        n,
        &triplets.rows,
        &triplets.cols,
        &triplets.values,
        Symmetry::Symmetrize,
    )?;
    let mut ideal_order: Vec<u32> = (0..n as u32).collect();
    ideal_order.sort_by_key(|&node| labels[node as usize]);
    let ideal = graph.permuted(&ideal_order);

    println!(
        "N = {n}, {} stored entries, block width {WIDTH}",
        graph.n_stored_entries()
    );
    println!("| order | f32 gathers (s) | f64 gathers (s) |");
    println!("|---|---|---|");
    for (name, g) in [("generated", &graph), ("ideal", &ideal)] {
        println!(
            "| {name} | {:.3} | {:.3} |",
            seconds_per_product(g, Precision::Single),
            seconds_per_product(g, Precision::Double)
        );
    }
    Ok(())
}
