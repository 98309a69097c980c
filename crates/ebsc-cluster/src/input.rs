//! Reading and checking the stage's inputs: the affinity triplets (`row u32, col u32,
//! value f32`) and the graph built from them. Labels are read by `ebsc_io::labels`.
//! Every problem is one error line that names the file; nothing here panics on data.

use std::path::{Path, PathBuf};

use ebsc_io::{Triplets, read_triplets};
use ebsc_spectral::{BuildReport, GraphError, SparseGraph, Symmetry};

/// How to tell the user to allow a non-symmetric affinity, which differs by mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pipeline,
    Standalone,
}

impl Mode {
    fn symmetrize_hint(self) -> &'static str {
        match self {
            Mode::Pipeline => "set `symmetrize = true` in [cluster] to use (W + Wᵀ)/2",
            Mode::Standalone => "pass --symmetrize to use (W + Wᵀ)/2",
        }
    }
}

/// The affinity triplets, with at least one entry.
pub fn read_affinity(path: &Path) -> anyhow::Result<Triplets> {
    let triplets = read_triplets(path)?;
    anyhow::ensure!(
        !triplets.is_empty(),
        "{}: holds no entries (0 rows); an affinity graph needs at least one edge",
        path.display()
    );
    Ok(triplets)
}

/// Several graphs of the same samples, as one set of triplets: each graph's weights
/// divided by its total, then all concatenated (the graph builder sums the entries they
/// share). That is their mean up to a constant factor, which the normalised affinity
/// ignores, with every graph weighing alike whatever its own scale. One graph is read as
/// it is.
pub fn read_mean_affinity(paths: &[PathBuf]) -> anyhow::Result<Triplets> {
    if let [one] = paths {
        return read_affinity(one);
    }
    let mut mean = Triplets::default();
    for path in paths {
        let Triplets { rows, cols, values } = read_affinity(path)?;
        let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
        anyhow::ensure!(
            total.is_finite() && total > 0.0,
            "{}: the weights sum to {total}; averaging graphs needs each graph's total \
             weight to be positive and finite",
            path.display()
        );
        mean.rows.extend(rows);
        mean.cols.extend(cols);
        mean.values
            .extend(values.iter().map(|&v| (f64::from(v) / total) as f32));
    }
    Ok(mean)
}

/// How an input given as one file or several is named in messages: the file, or
/// `several` of the files' list ("a, b").
pub fn files_label(paths: &[PathBuf], several: impl FnOnce(String) -> String) -> String {
    match paths {
        [one] => one.display().to_string(),
        many => {
            let names: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
            several(names.join(", "))
        }
    }
}

/// How the affinity is named in messages: its file, or the files averaged.
pub fn affinity_label(paths: &[PathBuf]) -> String {
    files_label(paths, |list| format!("the mean of {list}"))
}

/// [`build_graph`] for the triplets of [`read_mean_affinity`]. An error names the file
/// that causes it where one does on its own (each is then read and checked again), else
/// the mean.
pub fn build_mean_graph(
    paths: &[PathBuf],
    triplets: Triplets,
    checks: &GraphChecks,
) -> anyhow::Result<(SparseGraph, BuildReport)> {
    if let [one] = paths {
        return build_graph(one, triplets, checks);
    }
    let label = PathBuf::from(affinity_label(paths));
    build_graph(&label, triplets, checks).map_err(|mean| {
        paths
            .iter()
            .find_map(|path| {
                read_affinity(path)
                    .and_then(|t| build_graph(path, t, checks))
                    .err()
            })
            .unwrap_or(mean)
    })
}

/// Samples in a standalone graph without a labels file: the largest index plus one.
pub fn n_samples_from_triplets(triplets: &Triplets) -> usize {
    let largest = triplets
        .rows
        .iter()
        .chain(&triplets.cols)
        .copied()
        .max()
        .unwrap_or(0);
    largest as usize + 1
}

/// Without labels the sample count is the largest index + 1, so one stray index (a
/// corrupt or forged file) would otherwise size the graph: 2^32 − 1 nodes are 34 GB of row
/// offsets. `m` entries touch at most `2m` samples, so a larger count means samples with no
/// edge at all, more of them than clustered ones — refused before anything is allocated.
fn check_implied_count(
    path: &Path,
    triplets: &Triplets,
    checks: &GraphChecks,
) -> anyhow::Result<()> {
    let touched_at_most = triplets.len().saturating_mul(2);
    let n_samples = checks.n_samples;
    if matches!(checks.count_source, CountSource::MaxIndex) && n_samples > touched_at_most {
        anyhow::bail!(
            "{}: the largest index {} implies {n_samples} samples, but its {} entries touch at most {touched_at_most}; \
             check the indices, or pass --labels with one row per sample",
            path.display(),
            n_samples - 1,
            triplets.len()
        );
    }
    Ok(())
}

/// Where the sample count came from, to explain an index out of range.
#[derive(Debug, Clone)]
pub enum CountSource {
    Labels(PathBuf),
    MaxIndex,
}

/// What a graph is built and checked against.
#[derive(Debug, Clone)]
pub struct GraphChecks {
    /// The graph's node count: the labels' rows, or the largest index + 1.
    pub n_samples: usize,
    pub count_source: CountSource,
    /// Cluster (W + Wᵀ)/2 instead of refusing a non-symmetric W.
    pub symmetrize: bool,
    /// Which way of allowing a non-symmetric W an error suggests.
    pub mode: Mode,
}

/// The graph and what building it did, with every error naming `path`.
/// Takes the triplets: sorted ones become the graph's arrays without a copy.
pub fn build_graph(
    path: &Path,
    triplets: Triplets,
    checks: &GraphChecks,
) -> anyhow::Result<(SparseGraph, BuildReport)> {
    check_implied_count(path, &triplets, checks)?;
    let GraphChecks {
        n_samples,
        ref count_source,
        symmetrize,
        mode,
    } = *checks;
    let symmetry = if symmetrize {
        Symmetry::Symmetrize
    } else {
        Symmetry::Require
    };
    let Triplets { rows, cols, values } = triplets;
    SparseGraph::from_owned_triplets(n_samples, rows, cols, values, symmetry).map_err(|error| {
        let hint = match (&error, count_source) {
            (GraphError::NotSymmetric { .. }, _) => format!("; {}", mode.symmetrize_hint()),
            (GraphError::IndexOutOfRange { .. }, CountSource::Labels(labels)) => format!(
                " ({} has {n_samples} rows, one per sample)",
                labels.display()
            ),
            _ => String::new(),
        };
        anyhow::anyhow!("{}: {error}{hint}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use ebsc_io::write_triplets;

    use super::*;

    fn triplets(entries: &[(u32, u32, f32)]) -> Triplets {
        entries.iter().copied().collect()
    }

    fn build(entries: &[(u32, u32, f32)], n: usize, symmetrize: bool) -> anyhow::Result<String> {
        let t = triplets(entries);
        build_graph(
            Path::new("g.parquet"),
            t,
            &GraphChecks {
                n_samples: n,
                count_source: CountSource::MaxIndex,
                symmetrize,
                mode: Mode::Pipeline,
            },
        )
        .map(|(g, r)| format!("{} {}", g.n_stored_entries(), r.self_loops_dropped))
    }

    #[test]
    fn graph_errors_name_the_file() {
        let err = build(&[(0, 1, f32::NAN), (1, 0, 1.0)], 2, false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("g.parquet: entry (0, 1) has weight NaN"),
            "{err}"
        );
        let err = build(&[(0, 1, -1.0)], 2, false).unwrap_err().to_string();
        assert!(err.contains("weight -1"), "{err}");
        let err = build(&[(0, 1, f32::INFINITY)], 2, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("weight inf"), "{err}");
        // An index beyond the labels file's row count (with no labels, the count is the
        // largest index + 1, so no index is out of range).
        let err = build_graph(
            Path::new("g.parquet"),
            triplets(&[(0, 5, 1.0)]),
            &GraphChecks {
                n_samples: 3,
                count_source: CountSource::Labels(PathBuf::from("samples.parquet")),
                symmetrize: false,
                mode: Mode::Pipeline,
            },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "g.parquet: entry (0, 5) is out of range for a graph of 3 nodes \
             (samples.parquet has 3 rows, one per sample)"
        );
        let err = build(&[(0, 1, 1.0)], 2, false).unwrap_err().to_string();
        assert!(
            err.contains("not symmetric") && err.contains("symmetrize = true"),
            "{err}"
        );
    }

    #[test]
    fn self_loops_dropped_and_symmetrize() {
        assert_eq!(
            build(&[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0)], 2, false).unwrap(),
            "2 1"
        );
        assert_eq!(build(&[(0, 1, 1.0)], 2, true).unwrap(), "2 0");
    }

    #[test]
    fn empty_affinity_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("affinity.parquet");
        write_triplets(std::fs::File::create(&path).unwrap(), &Triplets::default()).unwrap();
        let err = format!("{:#}", read_affinity(&path).unwrap_err());
        assert!(err.contains("affinity.parquet: holds no entries"), "{err}");
        std::fs::write(&path, b"").unwrap();
        let err = format!("{:#}", read_affinity(&path).unwrap_err());
        assert!(
            err.contains("affinity.parquet: not a Parquet file"),
            "{err}"
        );
    }

    #[test]
    fn a_count_implied_by_a_stray_index_is_refused() {
        // 2 entries touch at most 4 samples: a largest index of 3 (4 samples) is accepted
        // (node 2 isolated), 4 (5 samples, at least 3 isolated) is not.
        let t = triplets(&[(0, 3, 1.0), (3, 0, 1.0)]);
        let n = n_samples_from_triplets(&t);
        let built = build_graph(
            Path::new("g.parquet"),
            t,
            &GraphChecks {
                n_samples: n,
                count_source: CountSource::MaxIndex,
                symmetrize: false,
                mode: Mode::Standalone,
            },
        );
        assert_eq!(built.unwrap().0.n_isolated_nodes(), 2);
        let t = triplets(&[(0, 4, 1.0), (4, 0, 1.0)]);
        let n = n_samples_from_triplets(&t);
        let err = build_graph(
            Path::new("g.parquet"),
            t,
            &GraphChecks {
                n_samples: n,
                count_source: CountSource::MaxIndex,
                symmetrize: false,
                mode: Mode::Standalone,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "g.parquet: the largest index 4 implies 5 samples, but its 2 entries touch at most 4"
            ),
            "{err}"
        );
    }

    #[test]
    fn sample_count_from_largest_index() {
        assert_eq!(
            n_samples_from_triplets(&triplets(&[(0, 7, 1.0), (7, 0, 1.0)])),
            8
        );
    }

    /// Writes each graph to `dir/gN.parquet`; returns the paths.
    fn graph_files(dir: &Path, graphs: &[&[(u32, u32, f32)]]) -> Vec<PathBuf> {
        graphs
            .iter()
            .enumerate()
            .map(|(i, entries)| {
                let path = dir.join(format!("g{i}.parquet"));
                write_triplets(std::fs::File::create(&path).unwrap(), &triplets(entries)).unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn several_graphs_are_averaged_with_equal_total_weights() {
        let dir = tempfile::tempdir().unwrap();
        let one: &[(u32, u32, f32)] = &[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 2.0), (2, 1, 2.0)];
        // Edge 0–1 again, ten times heavier, and an edge of its own (0–2).
        let other: &[(u32, u32, f32)] = &[(0, 1, 10.0), (1, 0, 10.0), (0, 2, 30.0), (2, 0, 30.0)];
        let paths = graph_files(dir.path(), &[one, other]);
        // One file is read as it is.
        assert_eq!(read_mean_affinity(&paths[..1]).unwrap(), triplets(one));
        // Totals 6 and 80: each graph's weights over its total, then both lists.
        let mean = read_mean_affinity(&paths).unwrap();
        let expected = [
            1.0 / 6.0,
            1.0 / 6.0,
            2.0 / 6.0,
            2.0 / 6.0,
            0.125,
            0.125,
            0.375,
            0.375,
        ];
        assert_eq!(mean.rows, vec![0, 1, 1, 2, 0, 1, 0, 2]);
        assert_eq!(mean.cols, vec![1, 0, 2, 1, 1, 0, 2, 0]);
        for (got, want) in mean.values.iter().zip(expected) {
            assert!((got - want).abs() < 1e-7, "{:?}", mean.values);
        }
        // The builder sums the shared edge 0–1: 1/6 + 1/8.
        let (graph, report) = build_mean_graph(
            &paths,
            mean,
            &GraphChecks {
                n_samples: 3,
                count_source: CountSource::MaxIndex,
                symmetrize: false,
                mode: Mode::Standalone,
            },
        )
        .unwrap();
        assert_eq!((graph.n_stored_entries(), report.duplicates_summed), (6, 2));
        assert_eq!(
            affinity_label(&paths),
            format!("the mean of {}, {}", paths[0].display(), paths[1].display())
        );
    }

    #[test]
    fn an_error_in_one_of_several_graphs_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let symmetric: &[(u32, u32, f32)] = &[(0, 1, 1.0), (1, 0, 1.0)];
        let one_way: &[(u32, u32, f32)] = &[(0, 1, 1.0)];
        let paths = graph_files(dir.path(), &[symmetric, one_way]);
        let mean = read_mean_affinity(&paths).unwrap();
        let err = build_mean_graph(
            &paths,
            mean,
            &GraphChecks {
                n_samples: 2,
                count_source: CountSource::MaxIndex,
                symmetrize: false,
                mode: Mode::Standalone,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(&paths[1].display().to_string()), "{err}");
        assert!(err.contains("--symmetrize"), "{err}");

        let empty_weight: &[(u32, u32, f32)] = &[(0, 1, 0.0), (1, 0, 0.0)];
        let paths = graph_files(dir.path(), &[symmetric, empty_weight]);
        let err = read_mean_affinity(&paths).unwrap_err().to_string();
        assert!(err.starts_with(&paths[1].display().to_string()), "{err}");
        assert!(err.contains("sum to 0"), "{err}");
    }
}
