//! `report/report.md`: the metrics as a table, then each figure with a caption that says
//! what its axes and colours mean (the PNGs carry no text).

use std::fmt::Write;

use crate::figures::{MAX_AFFINITY_BINS, MAX_EMBEDDING_POINTS};
use crate::outputs::Metrics;

/// The phases of a run, in order, as `metrics.json` times them.
pub const PHASES: [&str; 7] = [
    "read", "graph", "eigen", "kmeans", "metrics", "figures", "write",
];

pub const REPORT_DIR: &str = "report";

/// The report's figure files, relative to the stage (or output) folder.
pub const AFFINITY_PNG: &str = "report/affinity.png";
pub const CONFUSION_PNG: &str = "report/confusion.png";
pub const EMBEDDING_PNG: &str = "report/embedding.png";
pub const SPECTRUM_PNG: &str = "report/spectrum.png";
pub const REPORT_MD: &str = "report/report.md";

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
         The affinity matrix W with samples sorted by {order} (ties in index order): rows and \
         columns are samples in that order, top-left is the first. Samples are summed into at \
         most {MAX_AFFINITY_BINS}×{MAX_AFFINITY_BINS} bins; grey level is the log of a bin's \
         summed weight (white: no weight, black: the heaviest bin). Clusters that match the \
         {order}es show as dark blocks on the diagonal.\n"
    );
    if labelled {
        let _ = writeln!(
            md,
            "## Confusion matrix\n\n![confusion](confusion.png)\n\n\
             Rows are true classes in ascending id order; columns are clusters, ordered so that \
             the cluster matched to each class by the Hungarian algorithm sits on the diagonal \
             (unmatched clusters last). Colour is the fraction of the row's samples in that \
             cell, white 0 to dark blue 1. The counts are in metrics.json (`confusion`).\n"
        );
    }
    let _ = writeln!(
        md,
        "## Spectral embedding\n\n![embedding](embedding.png)\n\n\
         Each dot is a sample (a seeded random subset of at most {MAX_EMBEDDING_POINTS}): \
         x is its first and y its second spectral coordinate after row normalisation, both \
         from −1 (left/bottom) to 1 (right/top), grey lines at 0. Colour is the cluster \
         (cluster c: colour c mod 20 of matplotlib's tab20).\n"
    );
    let _ = writeln!(
        md,
        "## Spectrum\n\n![spectrum](spectrum.png)\n\n\
         The top {} eigenvalues of D^-1/2 W D^-1/2 in descending order, one bar each from left \
         to right; the y axis runs from min(0, smallest) at the bottom to 1 at the top, grey \
         lines every 0.25, black at 0. The first {} bars (the clusters) are blue; the red line \
         marks the chosen k, where a large drop means well-separated clusters.",
        metrics.eigenvalues.len(),
        metrics.n_clusters
    );
    md
}
