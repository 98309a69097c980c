//! `report/report.md`: the metrics as a table, then each figure (PNG, with its SVG beside
//! it) and a short note on how to read it; the figures carry their own titles, axes and
//! legends.

use std::fmt::Write;

use crate::figures::{MAX_AFFINITY_BINS, MAX_EMBEDDING_POINTS};
use crate::outputs::Metrics;

/// The phases of a run, in order, as `metrics.json` times them.
pub const PHASES: [&str; 7] = [
    "read", "graph", "eigen", "kmeans", "metrics", "figures", "write",
];

/// Where the inputs came from, for the report's first lines.
pub struct Sources {
    pub affinity: String,
    pub labels: Option<String>,
}

pub fn render(metrics: &Metrics, sources: &Sources) -> String {
    let mut md = String::new();
    let labelled = metrics.scores.acc.is_some();
    let _ = writeln!(md, "# Spectral clustering report\n");
    let _ = writeln!(md, "- affinity: `{}`", sources.affinity);
    match &sources.labels {
        Some(labels) => {
            let _ = writeln!(md, "- labels: `{labels}`");
        }
        None => {
            let _ = writeln!(md, "- labels: none (no scores)");
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "| metric | value |\n|---|---|");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(md, "| {name} | {value} |");
    };
    row("samples", metrics.n_samples.to_string());
    row(
        "clusters",
        match metrics.eigengap_n_clusters {
            Some(k) => format!("{k} (auto: largest eigengap)"),
            None => metrics.n_clusters.to_string(),
        },
    );
    row("eigenvectors", metrics.n_eigenvectors.to_string());
    if let (Some(n), Some(acc), Some(nmi), Some(nmi_g), Some(ari)) = (
        metrics.scores.n_labelled,
        metrics.scores.acc,
        metrics.scores.nmi,
        metrics.scores.nmi_geometric,
        metrics.scores.ari,
    ) {
        row("labelled samples (scored)", n.to_string());
        row("ACC (Hungarian)", format!("{acc:.4}"));
        row("NMI (arithmetic, scikit-learn)", format!("{nmi:.4}"));
        row("NMI (geometric, SENet)", format!("{nmi_g:.4}"));
        row("ARI", format!("{ari:.4}"));
    }
    row(
        "graph entries (both directions)",
        metrics.graph_entries.to_string(),
    );
    row("self loops dropped", metrics.self_loops_dropped.to_string());
    row("isolated nodes", metrics.isolated_nodes.to_string());
    row(
        "connected components",
        metrics.connected_components.to_string(),
    );
    row(
        "eigensolver",
        format!(
            "{} ({} iterations, largest residual {:.2e})",
            metrics.eigen_method, metrics.eigen_iterations, metrics.eigen_max_residual
        ),
    );
    row(
        "k-means",
        format!(
            "inertia {:.4}, {} iterations",
            metrics.kmeans_inertia, metrics.kmeans_iterations
        ),
    );
    // Phases in the order they run; any other recorded phase after them.
    let mut phases: Vec<&String> = metrics.timings.keys().collect();
    phases.sort_by_key(|p| PHASES.iter().position(|q| q == p).unwrap_or(PHASES.len()));
    for phase in phases {
        row(
            &format!("time: {phase}"),
            format!("{:.2} s", metrics.timings[phase]),
        );
    }
    let _ = writeln!(md);

    let order = if labelled { "true class" } else { "cluster" };
    let _ = writeln!(
        md,
        "## Affinity\n\n![affinity](affinity.png)\n\n\
         [SVG](affinity.svg). W with the samples sorted by {order}, summed into at most \
         {MAX_AFFINITY_BINS}×{MAX_AFFINITY_BINS} bins and shaded by the log of each bin's \
         weight; red lines separate the {order}es. A good graph is dark inside the diagonal \
         blocks and white outside them.\n"
    );
    if labelled {
        let _ = writeln!(
            md,
            "## Confusion matrix\n\n![confusion](confusion.png)\n\n\
             [SVG](confusion.svg). Each true class against the clusters, each cluster under \
             the class the Hungarian match gave it (unmatched clusters last), the count in \
             every cell and the shade its fraction of the class. Off-diagonal counts are \
             the errors ACC counts.\n"
        );
    }
    let _ = writeln!(
        md,
        "## Spectral embedding\n\n![embedding](embedding.png)\n\n\
         [SVG](embedding.svg). The row-normalised spectral embedding (a seeded subset of at \
         most {MAX_EMBEDDING_POINTS} samples) under the linear map that puts each cluster's \
         mean on a circle, coloured by cluster. Tight, separate groups mean k-means had an \
         easy job; samples strung between two groups are the ones the graph mixes.\n"
    );
    let _ = writeln!(
        md,
        "## Spectrum\n\n![spectrum](spectrum.png)\n\n\
         [SVG](spectrum.svg). The top {} eigenvalues of D^-1/2 W D^-1/2, the first k = {} \
         (the clusters) in blue, the chosen k dashed and the largest eigengap in orange. \
         k well-separated clusters give k eigenvalues near 1 and then a large drop.",
        metrics.eigenvalues.len(),
        metrics.n_clusters
    );
    md
}
