//! `report/report.md`: the metrics as a table, then each figure (PNG, with its SVG beside
//! it) and a short note on how to read it; the figures carry their own titles, axes and
//! legends.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::figures::{MAX_AFFINITY_BINS, MAX_EMBEDDING_POINTS, class_name};
use crate::gallery::MAX_GALLERY_CLUSTERS;
use crate::outputs::Metrics;
use crate::quality::{LEAST_REPRESENTATIVE, REPRESENTATIVES};

/// The phases of a run, in order, as `metrics.json` times them.
pub const PHASES: [&str; 8] = [
    "read", "graph", "eigen", "kmeans", "metrics", "quality", "figures", "write",
];

/// Where the inputs came from, for the report's first lines, and what else the report
/// shows.
pub struct Sources<'a> {
    pub affinity: String,
    pub labels: Option<String>,
    /// Class id → name, for the clusters' majority classes (may be empty).
    pub class_names: &'a BTreeMap<i32, String>,
    /// Whether `gallery.png` was drawn (image data).
    pub gallery: bool,
    /// Each sample's `source` (from samples.parquet), to name the representatives by.
    pub samples: Option<&'a [Option<String>]>,
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
    quality_rows(metrics, &mut row);
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
            "inertia {:.4}, {} iterations{}",
            metrics.kmeans_inertia,
            metrics.kmeans_iterations,
            metrics
                .equal_size_rounds
                .map(|rounds| format!(", then sizes held equal in {rounds} rounds"))
                .unwrap_or_default()
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
    if sources.gallery {
        let _ = writeln!(
            md,
            "\n## Gallery\n\n![gallery](gallery.png)\n\n\
             [SVG](gallery.svg). One row per cluster (at most the {MAX_GALLERY_CLUSTERS} \
             largest): its size, cohesion and silhouette (with labels, its majority class and \
             purity), its {REPRESENTATIVES} most representative samples and, after the red \
             rule, its {LEAST_REPRESENTATIVE} least representative ones. A cluster whose \
             representatives look alike and whose least representative samples still belong \
             is a cluster you can name; odd ones at the end of a row are where it frays."
        );
    }
    clusters_section(&mut md, metrics, sources);
    md
}

/// The label-free measures as rows of the metrics table.
fn quality_rows(metrics: &Metrics, row: &mut impl FnMut(&str, String)) {
    let quality = &metrics.quality;
    if quality.clusters.is_empty() {
        return;
    }
    row(
        "cohesion (share of affinity weight inside clusters)",
        format!("{:.4}", quality.cohesion),
    );
    row(
        "normalised cut (Σ cut / volume, 0 to k)",
        format!("{:.4}", quality.normalized_cut),
    );
    row(
        "eigengap λk − λk+1",
        match quality.eigengap {
            Some(gap) => format!("{gap:.4}"),
            None => "– (only k eigenvalues computed: set extra_eigenvectors)".into(),
        },
    );
    row(
        "clusters the largest eigengap suggests",
        format!(
            "{} (of the top {} eigenvalues)",
            quality.eigengap_n_clusters, quality.eigenvalues_scanned
        ),
    );
    let sampled = if quality.silhouette_samples < metrics.n_samples
        || quality.silhouette_reference < metrics.n_samples
    {
        format!(
            " ({} samples against {})",
            quality.silhouette_samples, quality.silhouette_reference
        )
    } else {
        String::new()
    };
    row(
        "silhouette (top-k spectral embedding)",
        format!("{:.4}{sampled}", quality.silhouette),
    );
}

/// Every cluster: size, cohesion, silhouette, with labels its majority class and purity,
/// and its representatives; by source when the samples have one.
fn clusters_section(md: &mut String, metrics: &Metrics, sources: &Sources) {
    let clusters = &metrics.quality.clusters;
    if clusters.is_empty() {
        return;
    }
    let labelled = clusters.iter().any(|c| c.majority_class.is_some());
    let _ = writeln!(
        md,
        "\n## Clusters\n\n\
         Cohesion: the share of the cluster's affinity weight that stays inside it (1: no \
         edge leaves it). Silhouette: on the row-normalised top-k eigenvectors, Euclidean, \
         from −1 to 1. Representatives: the samples nearest the cluster's centre in the \
         embedding k-means clustered, nearest first; least representative: the smallest share of their \
         affinity weight inside the cluster (the samples the graph pulls elsewhere), \
         smallest first.\n"
    );
    let (class_head, class_rule) = if labelled {
        (" majority class | purity |", "---|---:|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        md,
        "| cluster | size | cohesion | silhouette |{class_head} representatives | least representative |\n\
         |---:|---:|---:|---:|{class_rule}---|---|"
    );
    let number = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
    let list = |samples: &[u32]| {
        samples
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (c, cluster) in clusters.iter().enumerate() {
        let class = if labelled {
            format!(
                " {} | {} |",
                cluster
                    .majority_class
                    .map_or_else(|| "–".to_string(), |k| class_name(sources.class_names, k)),
                cluster
                    .purity
                    .map_or_else(|| "–".to_string(), |p| format!("{:.1}%", p * 100.0))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "| {c} | {} | {} | {} |{class} {} | {} |",
            cluster.size,
            number(cluster.cohesion),
            number(cluster.silhouette),
            list(&cluster.representatives),
            list(&cluster.least_representative)
        );
    }
    let Some(samples) = sources.samples else {
        return;
    };
    let shown: Vec<&str> = clusters
        .iter()
        .flat_map(|c| c.representatives.iter().chain(&c.least_representative))
        .filter_map(|&i| samples.get(i as usize).and_then(Option::as_deref))
        .collect();
    let prefix = shared_prefix(&shown);
    let _ = writeln!(
        md,
        "\n### Representatives by source\n\n\
         The same samples by their `source` in samples.parquet{}.\n",
        if prefix.is_empty() {
            String::new()
        } else {
            format!(", each after `{}`", prefix.replace('`', "'"))
        }
    );
    let named = |list: &[u32]| {
        list.iter()
            .map(
                |&i| match samples.get(i as usize).and_then(Option::as_deref) {
                    Some(source) => format!("`{}`", source[prefix.len()..].replace('`', "'")),
                    None => format!("#{i}"),
                },
            )
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (c, cluster) in clusters.iter().enumerate() {
        let least = if cluster.least_representative.is_empty() {
            String::new()
        } else {
            format!("; least: {}", named(&cluster.least_representative))
        };
        let _ = writeln!(
            md,
            "- cluster {c}: {}{least}",
            named(&cluster.representatives)
        );
    }
}

/// The longest prefix of every source that ends in `/` or `#` (a shared folder, or a
/// packed file's `file#`), so that the list shows what differs; empty when none is shared.
fn shared_prefix<'a>(sources: &[&'a str]) -> &'a str {
    let Some(first) = sources.first() else {
        return "";
    };
    let mut length = first.len();
    for source in &sources[1..] {
        length = first
            .bytes()
            .zip(source.bytes())
            .take(length)
            .take_while(|(a, b)| a == b)
            .count();
    }
    // Back to the last separator inside the shared part (a char boundary: both are ASCII).
    let shared = &first.as_bytes()[..length];
    match shared.iter().rposition(|&b| b == b'/' || b == b'#') {
        Some(end) if end + 1 < first.len() => &first[..end + 1],
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefixes_end_at_a_separator() {
        assert_eq!(shared_prefix(&["d/t10k#12", "d/t10k#130"]), "d/t10k#");
        assert_eq!(
            shared_prefix(&["photos/cats/a.png", "photos/dogs/b.png"]),
            "photos/"
        );
        assert_eq!(shared_prefix(&["a.png", "b.png"]), "");
        assert_eq!(shared_prefix(&["x/a.png"]), "x/");
        assert_eq!(
            shared_prefix(&["x/", "x/"]),
            "",
            "nothing would be left to show"
        );
        assert_eq!(shared_prefix(&[]), "");
    }
}
