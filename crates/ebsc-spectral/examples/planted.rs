//! Times spectral clustering on a planted-partition graph: 10 clusters, about 20
//! neighbours per node, 90% of them inside the node's cluster.
//!
//! `cargo run --release -p ebsc-spectral --example planted -- [n_nodes] [seed]`
//! Details on stderr, one result line on stdout (wall and CPU seconds per phase).
//! For experiments, `EBSC_WITHIN` sets the fraction of neighbours inside the
//! cluster (weak clusters below ~0.4), `EBSC_TOL` and `EBSC_GUARD` the eigensolver's
//! tolerance and guard vectors.

use ebsc_spectral::synthetic::planted_partition;
use ebsc_spectral::{
    EigenOptions, KMeansOptions, NormalizedAffinity, SparseGraph, Symmetry, evaluate, kmeans,
    normalize_rows, top_eigenpairs,
};
use std::time::Instant;

const N_CLUSTERS: usize = 10;

/// CPU seconds (user + system, all threads) this process has used so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s); 0 where that file does not exist.
/// Printed beside wall time because a busy machine stretches wall time only.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which ends at the last ')'): utime and stime
    // are the 12th and 13th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n_nodes: usize = args.next().map_or(Ok(70_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(0), |a| a.parse())?;
    let tolerance: f64 = std::env::var("EBSC_TOL").map_or(Ok(1e-4), |v| v.parse())?;
    let guard_vectors: usize = std::env::var("EBSC_GUARD")
        .map_or(Ok(EigenOptions::default().guard_vectors), |v| v.parse())?;

    let started = Instant::now();
    let within_fraction: f64 = std::env::var("EBSC_WITHIN").map_or(Ok(0.9), |v| v.parse())?;
    let (triplets, labels) = planted_partition(n_nodes, N_CLUSTERS, 10, within_fraction, seed);
    let generate_time = started.elapsed();
    let started = Instant::now();
    let cpu_before_build = cpu_seconds();
    let (graph, report) = SparseGraph::from_triplets(
        n_nodes,
        &triplets.rows,
        &triplets.cols,
        &triplets.values,
        Symmetry::Require,
    )?;
    drop(triplets);
    let build_time = started.elapsed();
    let build_cpu = cpu_seconds() - cpu_before_build;
    eprintln!(
        "graph: {n_nodes} nodes, {} entries, {} components, {report:?}; generated in {:.2}s, built in {:.2}s",
        graph.n_stored_entries(),
        graph.n_connected_components(),
        generate_time.as_secs_f64(),
        build_time.as_secs_f64()
    );

    let started = Instant::now();
    let cpu_before_eigen = cpu_seconds();
    let operator = NormalizedAffinity::new(&graph);
    let options = EigenOptions {
        tolerance,
        guard_vectors,
        seed,
        ..EigenOptions::default()
    };
    let pairs = top_eigenpairs(&operator, N_CLUSTERS, &options)?;
    let eigen_time = started.elapsed();
    let eigen_cpu = cpu_seconds() - cpu_before_eigen;
    eprintln!(
        "eigen: {:?} {} iterations, max residual {:.2e}, {:.2}s; eigenvalues {:.4?}",
        pairs.method,
        pairs.iterations,
        pairs.max_residual,
        eigen_time.as_secs_f64(),
        pairs.eigenvalues
    );

    let started = Instant::now();
    let cpu_before_kmeans = cpu_seconds();
    let mut embedding = pairs.eigenvectors;
    normalize_rows(&mut embedding, N_CLUSTERS);
    let coordinates: Vec<f32> = embedding.iter().map(|&v| v as f32).collect();
    let clustering = kmeans(
        &coordinates,
        N_CLUSTERS,
        &KMeansOptions::new(N_CLUSTERS, seed),
    )?;
    let kmeans_time = started.elapsed();
    let kmeans_cpu = cpu_seconds() - cpu_before_kmeans;
    eprintln!(
        "kmeans: 10 restarts, best {} iterations, inertia {:.4}, {:.2}s",
        clustering.iterations,
        clustering.inertia,
        kmeans_time.as_secs_f64()
    );

    let (scores, _) = evaluate(&labels, &clustering.assignments)?;
    println!(
        "n={n_nodes} wall: build={:.3}s eigen={:.3}s kmeans={:.3}s eigen+kmeans={:.3}s | cpu: build={:.3}s eigen={:.3}s kmeans={:.3}s | NMI={:.4} ACC={:.4}",
        build_time.as_secs_f64(),
        eigen_time.as_secs_f64(),
        kmeans_time.as_secs_f64(),
        (eigen_time + kmeans_time).as_secs_f64(),
        build_cpu,
        eigen_cpu,
        kmeans_cpu,
        scores.nmi_arithmetic,
        scores.accuracy
    );
    Ok(())
}
