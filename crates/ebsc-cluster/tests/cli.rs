//! The `ebsc-cluster` binary as a user meets it: standalone mode on a planted-partition
//! graph, every kind of bad input (exit code, one error line naming the file, nothing
//! left behind), and pipeline mode with its cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use ebsc_core::manifest::{Manifest, Provenance, output_entry};
use ebsc_io::{SampleRow, TensorData, Triplets, write_samples, write_tensors, write_triplets};
use ebsc_test_support::cli::{self, Output};
use parquet::arrow::ArrowWriter;

const BLOCKS: u32 = 4;
const BLOCK_SIZE: u32 = 50;
const N: u32 = BLOCKS * BLOCK_SIZE;

fn run(dir: &Path, args: &[&str]) -> Output {
    cli::run(env!("CARGO_BIN_EXE_ebsc-cluster"), dir, args)
}

/// 4 blocks of 50: each node joined to the next 6 of its block (cyclically, weight 1)
/// and to node + 50 (weight 0.01), both directions, so one component and planted blocks.
fn planted() -> Triplets {
    let mut t = Triplets::default();
    let mut edge = |a: u32, b: u32, w: f32| {
        t.push(a, b, w);
        t.push(b, a, w);
    };
    for node in 0..N {
        let (block, offset) = (node / BLOCK_SIZE, node % BLOCK_SIZE);
        for step in 1..=6 {
            edge(node, block * BLOCK_SIZE + (offset + step) % BLOCK_SIZE, 1.0);
        }
        if node < N - BLOCK_SIZE {
            edge(node, node + BLOCK_SIZE, 0.01);
        }
    }
    t
}

fn samples(n: u32) -> Vec<SampleRow> {
    (0..n)
        .map(|i| SampleRow {
            index: i,
            label: Some((i / BLOCK_SIZE) as i32),
            label_name: Some(format!("block{}", i / BLOCK_SIZE)),
            source: format!("test#{i}"),
            split: "all".into(),
        })
        .collect()
}

fn write_graph(path: &Path, t: &Triplets) {
    write_triplets(std::fs::File::create(path).unwrap(), t).unwrap();
}

fn write_labels(path: &Path, n: u32) {
    write_samples(std::fs::File::create(path).unwrap(), &samples(n)).unwrap();
}

fn metrics(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Standalone {
    dir: tempfile::TempDir,
}

impl Standalone {
    fn new(graph: &Triplets) -> Standalone {
        let dir = tempfile::tempdir().unwrap();
        write_graph(&dir.path().join("graph.parquet"), graph);
        write_labels(&dir.path().join("labels.parquet"), N);
        Standalone { dir }
    }

    fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["--affinity", "graph.parquet", "--out", "out"];
        args.extend(extra);
        run(self.dir.path(), &args)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    /// Non-zero exit, one error line naming the file and every needle, no outputs.
    fn expect_error(&self, extra: &[&str], needles: &[&str]) {
        let out = self.run(extra);
        let line = out.error_line(needles);
        assert!(line.starts_with("cluster: error: "), "{line}");
        assert!(
            !self.dir.path().join("out").exists(),
            "a failed run leaves no outputs"
        );
    }
}

/// The standalone flags of a scored run: the planted labels, 4 clusters, seed 5.
const SCORED: [&str; 6] = [
    "--labels",
    "labels.parquet",
    "--n-clusters",
    "4",
    "--seed",
    "5",
];

/// Two graphs of the same samples: their mean is clustered, each weighing alike, and a
/// graph that cannot be one is named.
#[test]
fn standalone_clusters_the_mean_of_several_graphs() {
    let s = Standalone::new(&planted());
    let mut heavier = planted();
    heavier.values.iter_mut().for_each(|v| *v *= 100.0);
    write_graph(&s.dir.path().join("heavier.parquet"), &heavier);
    let alone = s.run(&SCORED);
    assert!(alone.ok, "{}", alone.stderr);
    let mut args = vec![
        "--affinity",
        "graph.parquet",
        "--affinity",
        "heavier.parquet",
    ];
    args.extend(["--out", "mean"]);
    args.extend(SCORED);
    let mean = run(s.dir.path(), &args);
    assert!(mean.ok, "{}", mean.stderr);
    // Scaled to the same total weight, the two are one graph counted twice: the same
    // eigenvalues and the same partition (the blocks) as the graph alone.
    let (m1, m2) = (
        metrics(&s.out("metrics.json")),
        metrics(&s.dir.path().join("mean/metrics.json")),
    );
    assert_eq!((&m1["acc"], &m2["acc"]), (&1.0.into(), &1.0.into()));
    assert_eq!(m2["duplicates_summed"], planted().len());
    for (a, b) in m1["eigenvalues"]
        .as_array()
        .unwrap()
        .iter()
        .zip(m2["eigenvalues"].as_array().unwrap())
    {
        assert!(
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-5,
            "{a} {b}"
        );
    }
    let report = std::fs::read_to_string(s.dir.path().join("mean/report/report.md")).unwrap();
    assert!(
        report.contains("the mean of graph.parquet, heavier.parquet"),
        "{report}"
    );

    // A one-way edge in the second graph: the error names that file.
    let mut one_way = planted();
    one_way.push(0, 199, 1.0);
    write_graph(&s.dir.path().join("one-way.parquet"), &one_way);
    let mut args = vec![
        "--affinity",
        "graph.parquet",
        "--affinity",
        "one-way.parquet",
    ];
    args.extend(["--out", "broken", "--n-clusters", "4"]);
    let broken = run(s.dir.path(), &args);
    assert!(!broken.ok);
    let line = broken.error_line(&["one-way.parquet", "--symmetrize"]);
    assert!(
        line.starts_with("cluster: error: one-way.parquet"),
        "{line}"
    );
    assert!(!s.dir.path().join("broken").exists());
}

/// Two runs of the planted graph with a dictionary each (`first`'s labels its blocks by
/// `first`, the second's by the blocks), clustered with `flags` after the referee's:
/// `--referee-max-extra 3 --referee-min-agreement 0.75`.
fn two_runs_with_referees(
    first: (&str, fn(u32) -> usize),
    second: &str,
    flags: &[&str],
) -> (Standalone, Output) {
    let s = Standalone::new(&planted());
    write_graph(&s.dir.path().join("second.parquet"), &planted());
    write_dictionary(&s.dir.path().join(first.0), first.1);
    write_dictionary(&s.dir.path().join(second), |node| {
        (node / BLOCK_SIZE) as usize
    });
    let mut args = vec![
        "--affinity",
        "second.parquet",
        "--referee-dictionary",
        first.0,
        "--referee-dictionary",
        second,
        "--referee-max-extra",
        "3",
        "--referee-min-agreement",
        "0.75",
    ];
    args.extend(flags);
    args.extend(SCORED);
    let out = s.run(&args);
    (s, out)
}

/// The eigenvector referee in standalone mode reads the dictionaries of the graphs' runs
/// side by side; one that describes other samples is named.
#[test]
fn standalone_referee_reads_the_runs_dictionaries_side_by_side() {
    let (s, out) = two_runs_with_referees(
        ("first.safetensors", |node| (node / BLOCK_SIZE) as usize),
        "second.safetensors",
        &[],
    );
    assert!(out.ok, "{}", out.stderr);
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["acc"], 1.0);
    let referee = &m["eigenvector_referee"];
    assert_eq!(referee["referee"], "kmeans", "{referee}");
    assert!(
        referee["recipe_agreement"].as_f64().unwrap() > 0.99,
        "{referee}"
    );
    assert_eq!(counts_tried(referee), vec![4, 5, 6, 7]);
    assert_eq!(referee["chosen"], 4, "ties keep the recipe's count");

    // A dictionary of other samples (a tenth of the rows) is bad input: the error names it.
    write_tensors(
        std::fs::File::create(s.dir.path().join("other.safetensors")).unwrap(),
        &[(
            "dictionary",
            vec![20, BLOCKS as usize],
            &TensorData::F32(vec![1.0; 20 * BLOCKS as usize]),
        )],
        &Default::default(),
    )
    .unwrap();
    let out = run(
        s.dir.path(),
        &[
            "--affinity",
            "graph.parquet",
            "--referee-dictionary",
            "first.safetensors",
            "--referee-dictionary",
            "other.safetensors",
            "--n-clusters",
            "4",
            "--out",
            "other",
        ],
    );
    assert!(!out.ok);
    let line = out.error_line(&["other.safetensors", "20 rows", "same samples"]);
    assert!(line.starts_with("cluster: error: "), "{line}");
    assert!(!s.dir.path().join("other").exists());
}

/// With `--referee-apart` each dictionary referees on its own and a count scores its best
/// agreement: a dictionary that merges two blocks does not outvote one that has them apart.
#[test]
fn standalone_referee_apart_keeps_each_dictionary_s_agreements() {
    let (s, out) = two_runs_with_referees(
        ("merged.safetensors", |node| {
            ((node / BLOCK_SIZE) as usize).max(1)
        }),
        "right.safetensors",
        &["--referee-apart"],
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the best of 2 dictionaries judged apart: right.safetensors agreed best"),
        "{}",
        out.stderr
    );
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["acc"], 1.0);
    let referee = &m["eigenvector_referee"];
    let tables = referee["per_dictionary"].as_array().unwrap();
    assert_eq!(tables.len(), 2, "{referee}");
    let agreements = referee["agreements"].as_array().unwrap();
    for (i, row) in agreements.iter().enumerate() {
        let (merged, right) = (
            tables[0][i][1].as_f64().unwrap(),
            tables[1][i][1].as_f64().unwrap(),
        );
        assert_eq!(row[0], tables[0][i][0]);
        assert_eq!(row[1].as_f64().unwrap(), merged.max(right), "{referee}");
    }
    // The right dictionary agrees fully with the planted partition, the merged one less.
    assert!(tables[1][0][1].as_f64().unwrap() > 0.99, "{referee}");
    assert!(tables[0][0][1].as_f64().unwrap() < 0.99, "{referee}");
}

#[test]
fn standalone_recovers_planted_blocks() {
    let s = Standalone::new(&planted());
    let out = s.run(&SCORED);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.starts_with("cluster: done in"), "{}", out.stdout);
    assert!(out.stdout.contains("no manifest"), "{}", out.stdout);
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["n_samples"], 200);
    assert_eq!(m["n_clusters"], 4);
    // Every block is one cluster: ACC = NMI = ARI = 1 exactly.
    assert_eq!(m["acc"], 1.0);
    assert_eq!(m["nmi"], 1.0);
    assert_eq!(m["ari"], 1.0);
    assert_eq!(m["connected_components"], 1);
    assert_eq!(m["isolated_nodes"], 0);
    assert_eq!(m["confusion"]["counts"].as_array().unwrap().len(), 4);
    assert_eq!(m["eigenvalues"].as_array().unwrap().len(), 4);
    // The top eigenvalue of D^-1/2 W D^-1/2 of a connected graph is 1.
    assert!((m["eigenvalues"][0].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let rows = ebsc_io::assignments::read_assignment_rows(&s.out("assignments.parquet")).unwrap();
    assert_eq!(rows.len(), 200);
    assert_eq!(rows[199].label, Some(3));
    // Each sample's source comes along from the labels file (a samples.parquet).
    assert_eq!(rows[199].source.as_deref(), Some("test#199"));
    for figure in ["affinity", "confusion", "embedding", "spectrum"] {
        let png = std::fs::read(s.out(&format!("report/{figure}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG", "{figure}");
        let svg = std::fs::read_to_string(s.out(&format!("report/{figure}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{figure}");
    }
    // Titles name the run (the output folder) and its scores; rows carry the class names
    // from the labels file's label_name, cells the counts.
    let confusion = std::fs::read_to_string(s.out("report/confusion.svg")).unwrap();
    let lines: Vec<&str> = confusion.lines().collect();
    for text in [
        "out: confusion matrix — ACC 1.0000 · NMI 1.0000 · ARI 1.0000",
        "block0",
        "block3",
        "50",
        "true class",
    ] {
        assert!(lines.contains(&text), "{text} in confusion.svg");
    }
    let spectrum = std::fs::read_to_string(s.out("report/spectrum.svg")).unwrap();
    assert!(spectrum.lines().any(|l| l == "chosen k = 4"), "{spectrum}");
    // Label-free quality: each block keeps its ring (12 unit entries a node) and loses
    // its 0.01 bridges: 25 nodes' worth (0.5) from the end blocks, 1 from the middle ones.
    let q = &m["quality"];
    let (end, middle) = (0.5 / 600.5, 1.0 / 601.0);
    let close = |v: &serde_json::Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-6;
    assert!(close(&q["normalized_cut"], 2.0 * end + 2.0 * middle), "{q}");
    assert!(close(&q["cohesion"], 2400.0 / 2403.0), "{q}");
    assert!(close(&q["clusters"][0]["cohesion"], 1.0 - end), "{q}");
    assert!(q["silhouette"].as_f64().unwrap() > 0.9, "{q}");
    // Only k = 4 eigenvalues: no λ5, so no gap at k, and a suggestion below 4.
    assert!(q.get("eigengap").is_none(), "{q}");
    assert_eq!(q["eigenvalues_scanned"], 4);
    for cluster in q["clusters"].as_array().unwrap() {
        assert_eq!(cluster["size"], 50);
        assert_eq!(cluster["purity"], 1.0);
        assert_eq!(cluster["representatives"].as_array().unwrap().len(), 8);
        assert_eq!(cluster["least_representative"].as_array().unwrap().len(), 2);
    }
    let report = std::fs::read_to_string(s.out("report/report.md")).unwrap();
    assert!(report.contains("| ACC (Hungarian) | 1.0000 |"), "{report}");
    assert!(report.contains("| normalised cut (Σ cut / volume, 0 to k) | 0.0050 |"));
    assert!(report.contains("| cluster | size | cohesion | silhouette | majority class |"));
    assert!(report.contains("### Representatives by source"));
    assert!(!report.contains("## Gallery"), "no images, no gallery");
    assert!(!s.out("report/gallery.png").exists());
    assert!(report.contains("![confusion](confusion.png)"));
    assert!(report.contains("[SVG](confusion.svg)"));
    assert!(!s.dir.path().join("out/manifest.json").exists());
}

#[test]
fn standalone_auto_without_labels() {
    let s = Standalone::new(&planted());
    let out = s.run(&["--n-clusters", "auto", "--n-eigenvectors", "8"]);
    assert!(out.ok, "{}", out.stderr);
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["n_samples"], 200, "largest index + 1");
    assert_eq!(m["eigengap_n_clusters"], 4);
    assert_eq!(m["n_clusters"], 4);
    for field in ["acc", "nmi", "nmi_geometric", "ari", "confusion"] {
        assert!(m.get(field).is_none(), "{field} without labels");
    }
    assert!(!s.out("report/confusion.png").exists());
    assert!(!s.out("report/confusion.svg").exists());
    // Quality needs no labels; with 8 eigenvalues the gap at k = 4 is there.
    let q = &m["quality"];
    assert_eq!(q["eigengap_n_clusters"], 4);
    assert!(q["eigengap"].as_f64().unwrap() > 0.05, "{q}");
    assert!(q["clusters"][0].get("majority_class").is_none(), "{q}");
    let report = std::fs::read_to_string(s.out("report/report.md")).unwrap();
    assert!(report.contains("| cluster | size | cohesion | silhouette | representatives |"));
    assert!(!report.contains("majority class"));
    let rows = ebsc_io::assignments::read_assignment_rows(&s.out("assignments.parquet")).unwrap();
    assert!(
        rows.iter()
            .all(|row| row.label.is_none() && row.source.is_none())
    );
}

#[test]
fn self_loops_isolated_nodes_and_components_are_reported() {
    let mut graph = Triplets::default();
    // Two planted blocks only (nodes 0..100), no cross edges: 2 components, plus the
    // labels' nodes 100..199 with no edge at all (isolated).
    for (r, (c, v)) in planted()
        .rows
        .iter()
        .zip(planted().cols.iter().zip(planted().values.iter()))
    {
        if *r < 2 * BLOCK_SIZE && *c < 2 * BLOCK_SIZE && *v == 1.0 {
            graph.push(*r, *c, *v);
        }
    }
    graph.push(3, 3, 1.0);
    graph.push(7, 7, 2.0);
    let s = Standalone::new(&graph);
    let out = s.run(&["--labels", "labels.parquet", "--n-clusters", "2"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: 2 self loops (row = col) dropped"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("warning: 100 isolated nodes"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("warning: the graph has 102 connected components, more than the 2 clusters"),
        "{}",
        out.stderr
    );
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["self_loops_dropped"], 2);
    assert_eq!(m["isolated_nodes"], 100);
    assert_eq!(m["connected_components"], 102);
}

#[test]
fn asymmetric_graph_needs_symmetrize() {
    let mut graph = planted();
    graph.push(0, 150, 0.5);
    let s = Standalone::new(&graph);
    s.expect_error(
        &["--n-clusters", "4"],
        &["graph.parquet", "not symmetric", "--symmetrize"],
    );
    let out = s.run(&[
        "--n-clusters",
        "4",
        "--symmetrize",
        "--labels",
        "labels.parquet",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: symmetrize is on"),
        "{}",
        out.stderr
    );
    assert_eq!(metrics(&s.out("metrics.json"))["acc"], 1.0);
}

#[test]
fn bad_weights_and_indices_are_errors_naming_the_file() {
    for (value, shown) in [
        (-1.0f32, "weight -1"),
        (f32::NAN, "weight NaN"),
        (f32::INFINITY, "weight inf"),
    ] {
        let mut graph = planted();
        graph.values[10] = value;
        let s = Standalone::new(&graph);
        s.expect_error(&["--n-clusters", "4"], &["graph.parquet", shown]);
    }
    let mut graph = planted();
    graph.push(5, 250, 1.0);
    graph.push(250, 5, 1.0);
    let s = Standalone::new(&graph);
    s.expect_error(
        &["--n-clusters", "4", "--labels", "labels.parquet"],
        &[
            "graph.parquet",
            "(5, 250) is out of range",
            "labels.parquet has 200 rows",
        ],
    );
}

#[test]
fn equal_sizes_keep_the_planted_blocks_and_are_recorded() {
    let s = Standalone::new(&planted());
    let out = s.run(&[
        "--labels",
        "labels.parquet",
        "--n-clusters",
        "4",
        "--sizes",
        "equal",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("sizes: held equal in"),
        "{}",
        out.stderr
    );
    let m = metrics(&s.out("metrics.json"));
    assert_eq!(m["acc"], 1.0, "{m}");
    assert_eq!(m["cluster_sizes"], serde_json::json!([50, 50, 50, 50]));
    assert!(m["equal_size_rounds"].as_u64().unwrap() >= 1, "{m}");
    let report = std::fs::read_to_string(s.out("report/report.md")).unwrap();
    assert!(report.contains("then sizes held equal in"), "{report}");
}

/// `--eigenvector-cut`: every count from n_clusters to n_clusters + 3 is clustered and the
/// partition of lowest normalised cut kept. The planted blocks are rings, loosely linked
/// inside, so spare eigenvectors can split one; their own partition cuts least.
#[test]
fn the_lowest_cut_among_the_counts_is_kept_and_recorded() {
    let s = Standalone::new(&planted());
    let mut args = SCORED.to_vec();
    args.extend(["--n-eigenvectors", "6", "--eigenvector-cut", "3"]);
    let out = s.run(&args);
    assert!(out.ok, "{}", out.stderr);
    let m = metrics(&s.out("metrics.json"));
    let record = &m["eigenvector_cut"];
    let cuts: Vec<(u64, f64)> = record["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row[0].as_u64().unwrap(), row[1].as_f64().unwrap()))
        .collect();
    assert_eq!(
        cuts.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![4, 5, 6, 7],
        "{record}"
    );
    let lowest = cuts.iter().map(|c| c.1).fold(f64::MAX, f64::min);
    let chosen = record["chosen"].as_u64().unwrap();
    assert_eq!(
        cuts.iter().find(|c| c.0 == chosen).unwrap().1,
        lowest,
        "{record}"
    );
    assert_eq!(m["n_eigenvectors"].as_u64(), Some(chosen), "{m}");
    assert_eq!(m["quality"]["normalized_cut"].as_f64(), Some(lowest), "{m}");
    assert_eq!(m["acc"], 1.0, "{m}");
    assert!(
        out.stderr.contains("normalised cut by eigenvector count"),
        "{}",
        out.stderr
    );
    // It chooses the count, as the referee does: the two are not set together.
    let both = s.run(&[
        "--n-clusters",
        "4",
        "--eigenvector-cut",
        "3",
        "--referee-dictionary",
        "d.safetensors",
    ]);
    assert!(!both.ok);
    assert!(
        both.stderr
            .contains("'--eigenvector-cut <EIGENVECTOR_CUT>' cannot be used with"),
        "{}",
        both.stderr
    );
}

#[test]
fn bad_counts_are_errors() {
    let s = Standalone::new(&planted());
    s.expect_error(
        &["--n-clusters", "300", "--labels", "labels.parquet"],
        &["n_clusters = 300", "200 samples", "labels.parquet"],
    );
    // Clap rejects a count below 2 before anything runs.
    let out = s.run(&["--n-clusters", "1"]);
    assert!(!out.ok);
    assert!(out.stderr.contains("at least 2"), "{}", out.stderr);
    assert!(!s.dir.path().join("out").exists());
}

#[test]
fn unreadable_graphs_are_errors_naming_the_file() {
    let s = Standalone::new(&planted());
    let graph = s.dir.path().join("graph.parquet");
    std::fs::write(&graph, b"").unwrap();
    s.expect_error(
        &["--n-clusters", "4"],
        &["graph.parquet: not a Parquet file"],
    );
    write_graph(&graph, &Triplets::default());
    s.expect_error(&["--n-clusters", "4"], &["graph.parquet: holds no entries"]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("row", DataType::UInt32, false),
        Field::new("col", DataType::Float32, false),
        Field::new("value", DataType::Float32, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![0u32])),
        Arc::new(Float32Array::from(vec![1.0f32])),
        Arc::new(Float32Array::from(vec![1.0f32])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&graph).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    s.expect_error(
        &["--n-clusters", "4"],
        &["graph.parquet: column `col` has type Float32"],
    );
    std::fs::write(s.dir.path().join("labels.parquet"), b"nope").unwrap();
    write_graph(&graph, &planted());
    s.expect_error(
        &["--n-clusters", "4", "--labels", "labels.parquet"],
        &["labels.parquet: not a Parquet file"],
    );
}

/// An upstream stage's folder as the stage runner would leave it: files and manifest.
fn fake_stage(runs: &Path, stage: &str, write: impl FnOnce(&Path) -> Vec<&'static str>) {
    let dir = runs.join("p").join(stage);
    std::fs::create_dir_all(&dir).unwrap();
    let files = write(&dir);
    let outputs = files
        .iter()
        .map(|f| (f.to_string(), output_entry(&dir.join(f)).unwrap()))
        .collect();
    let manifest = Manifest {
        format: Manifest::new_format(),
        pipeline: "p".into(),
        stage: stage.into(),
        stage_version: 1,
        key: format!("{stage}-key-0123456789abcdef"),
        config: serde_json::json!({}),
        inputs: BTreeMap::new(),
        upstream: BTreeMap::new(),
        outputs,
        stats: serde_json::json!({}),
        provenance: Provenance::by_hand(),
    };
    manifest.write(&dir.join("manifest.json")).unwrap();
}

/// `pipelines/p.toml` (4 clusters, and `extra` in `[cluster]`) with prepare and affinity
/// stages of the planted graph under `root/data/runs`, which is returned.
fn planted_pipeline(root: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/p.toml"),
        format!("[pipeline]\nseed = 3\n\n[cluster]\nn_clusters = 4\nkmeans_restarts = 4\n{extra}"),
    )
    .unwrap();
    let runs = root.join("data/runs");
    fake_stage(&runs, "prepare", |d| {
        write_labels(&d.join("samples.parquet"), N);
        vec!["samples.parquet"]
    });
    fake_stage(&runs, "affinity", |d| {
        write_graph(&d.join("affinity.parquet"), &planted());
        vec!["affinity.parquet"]
    });
    runs
}

#[test]
fn pipeline_mode_runs_then_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let runs = planted_pipeline(root, "");

    let first = run(root, &["pipelines/p.toml", "--progress", "none"]);
    assert!(first.ok, "{}", first.stderr);
    assert!(
        first.stdout.starts_with("cluster: done in"),
        "{}",
        first.stdout
    );
    let stage = runs.join("p/cluster");
    assert_eq!(metrics(&stage.join("metrics.json"))["acc"], 1.0);
    let manifest = Manifest::read(&stage.join("manifest.json")).unwrap();
    assert_eq!(manifest.stats["acc"], 1.0);
    assert_eq!(manifest.stats["n_samples"], 200);
    for file in [
        "assignments.parquet",
        "metrics.json",
        "report/report.md",
        "report/affinity.png",
        "report/affinity.svg",
        "report/confusion.png",
        "report/confusion.svg",
        "report/embedding.png",
        "report/embedding.svg",
        "report/spectrum.png",
        "report/spectrum.svg",
    ] {
        assert!(
            manifest.outputs.contains_key(file),
            "{file} in the manifest"
        );
    }

    let second = run(root, &["pipelines/p.toml"]);
    assert!(second.ok, "{}", second.stderr);
    assert!(
        second.stdout.starts_with("cluster: up to date"),
        "{}",
        second.stdout
    );

    // A typo in [cluster] is an error naming the file and the key.
    std::fs::write(
        root.join("pipelines/p.toml"),
        "[pipeline]\nseed = 3\n\n[cluster]\nn_clusters = 4\nkmeans_restart = 4\n",
    )
    .unwrap();
    let bad = run(root, &["pipelines/p.toml"]);
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("pipelines/p.toml: [cluster]") && bad.stderr.contains("kmeans_restart"),
        "{}",
        bad.stderr
    );
}

/// A train stage's dictionary whose rows sit near one axis per group, `group(node)`.
fn write_dictionary(path: &Path, group: impl Fn(u32) -> usize) {
    let mut rows = Vec::new();
    for node in 0..N {
        for d in 0..BLOCKS as usize {
            let jitter = ((node * 7 + d as u32 * 13) % 10) as f32 * 0.01;
            rows.push(if d == group(node) { 1.0 } else { 0.0 } + jitter);
        }
    }
    write_tensors(
        std::fs::File::create(path).unwrap(),
        &[(
            "dictionary",
            vec![N as usize, BLOCKS as usize],
            &TensorData::F32(rows),
        )],
        &Default::default(),
    )
    .unwrap();
}

/// A train stage whose dictionary groups cut across the planted blocks (node mod blocks).
fn write_cross_block_dictionary(runs: &Path) {
    fake_stage(runs, "train", |d| {
        write_dictionary(&d.join("features.safetensors"), |node| {
            (node % BLOCKS) as usize
        });
        vec!["features.safetensors"]
    });
}

/// The eigenvector counts a referee record lists.
fn counts_tried(referee: &serde_json::Value) -> Vec<u64> {
    referee["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_u64().unwrap())
        .collect()
}

/// Runs the cluster stage of `pipelines/p.toml`, which must succeed and keep the planted
/// blocks; returns its output and the `eigenvector_referee` record of its metrics.
fn referee_run(root: &Path, runs: &Path) -> (Output, serde_json::Value) {
    let out = run(root, &["pipelines/p.toml", "--progress", "none"]);
    assert!(out.ok, "{}", out.stderr);
    let m = metrics(&runs.join("p/cluster/metrics.json"));
    assert_eq!(m["acc"], 1.0);
    (out, m["eigenvector_referee"].clone())
}

#[test]
fn pipeline_mode_consults_the_dictionary_only_where_it_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let runs = planted_pipeline(
        root,
        "eigenvector_referee = { max_extra = 3, min_agreement = 0.75 }\n",
    );

    // No train stage: the error names it, and nothing is written.
    let missing = run(root, &["pipelines/p.toml", "--progress", "none"]);
    assert!(!missing.ok);
    assert!(missing.stderr.contains("train"), "{}", missing.stderr);
    assert!(!runs.join("p/cluster/metrics.json").exists());

    // A dictionary that holds the planted blocks agrees with the graph's partition:
    // every count from 4 to 7 is tried, and the blocks are kept.
    fake_stage(&runs, "train", |d| {
        write_dictionary(&d.join("features.safetensors"), |node| {
            (node / BLOCK_SIZE) as usize
        });
        vec!["features.safetensors"]
    });
    let (agreeing, referee) = referee_run(root, &runs);
    assert!(
        agreeing.stderr.contains("cluster: referee: "),
        "{}",
        agreeing.stderr
    );
    assert!(
        referee["recipe_agreement"].as_f64().unwrap() > 0.99,
        "{referee}"
    );
    assert_eq!(counts_tried(&referee), vec![4, 5, 6, 7]);
    assert_eq!(referee["chosen"], 4, "ties keep the recipe's count");
    assert_eq!(referee["referee"], "kmeans");

    // A dictionary whose groups cut across the blocks: the recipe's partition agrees too
    // little, so no other count is tried. The new dictionary makes the stage run again.
    write_cross_block_dictionary(&runs);
    let (disagreeing, referee) = referee_run(root, &runs);
    assert!(
        disagreeing.stdout.starts_with("cluster: done in"),
        "{}",
        disagreeing.stdout
    );
    assert!(
        referee["recipe_agreement"].as_f64().unwrap() < 0.1,
        "{referee}"
    );
    assert_eq!(referee["agreements"].as_array().unwrap().len(), 1);
    assert_eq!(referee["chosen"], 4);
}

/// [`referee_run`] of a planted pipeline with this `[cluster]` line and a dictionary whose
/// groups cut across the blocks.
fn referee_on_cross_blocks(cluster_line: &str) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let runs = planted_pipeline(dir.path(), cluster_line);
    write_cross_block_dictionary(&runs);
    referee_run(dir.path(), &runs)
}

#[test]
fn pipeline_mode_asks_the_dictionary_graph_where_kmeans_agrees_too_little() {
    // Groups that cut across the planted blocks: k-means on them agrees too little with
    // the graph's partition, so the neighbour graph of the same rows referees every count
    // from 4 to 7; its partition is those groups too, so no count agrees better than the
    // recipe's and the blocks are kept.
    let (out, referee) = referee_on_cross_blocks(
        "eigenvector_referee = { max_extra = 3, min_agreement = 0.75, knn_graph = 5 }\n",
    );
    assert!(
        out.stderr
            .contains("referee: NMI with the trained dictionary's 5-NN graph"),
        "{}",
        out.stderr
    );
    assert_eq!(referee["referee"], "knn-graph", "{referee}");
    assert!(
        referee["kmeans_agreement"].as_f64().unwrap() < 0.1,
        "{referee}"
    );
    assert!(
        referee["recipe_agreement"].as_f64().unwrap() < 0.1,
        "{referee}"
    );
    assert_eq!(counts_tried(&referee), vec![4, 5, 6, 7]);
    assert_eq!(referee["chosen"], 4);
}

#[test]
fn a_referee_that_cannot_be_computed_leaves_the_recipes_partition() {
    // As many neighbours as there are samples: the dictionary's graph cannot be built.
    let (out, referee) = referee_on_cross_blocks(&format!(
        "eigenvector_referee = {{ max_extra = 3, knn_graph = {N} }}\n"
    ));
    assert!(
        out.stderr.contains("could not be computed"),
        "{}",
        out.stderr
    );
    assert_eq!(referee["referee"], "knn-graph", "{referee}");
    assert_eq!(referee["chosen"], 4);
    assert!(referee.get("recipe_agreement").is_none(), "{referee}");
    assert!(
        referee["error"]
            .as_str()
            .unwrap()
            .contains(&format!("knn_graph = {N}")),
        "{referee}"
    );
}

/// Prepare's images for the planted samples: 4×4 grey squares, shade by block.
fn write_images(path: &Path) {
    let data: Vec<u8> = (0..N)
        .flat_map(|i| [(i / BLOCK_SIZE * 60) as u8; 16])
        .collect();
    write_tensors(
        std::fs::File::create(path).unwrap(),
        &[("images", vec![N as usize, 1, 4, 4], &TensorData::U8(data))],
        &std::collections::HashMap::new(),
    )
    .unwrap();
}

#[test]
fn pipeline_mode_draws_a_gallery_of_image_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/p.toml"),
        "[pipeline]\nseed = 1\n\n[cluster]\nn_clusters = 4\nextra_eigenvectors = 2\n",
    )
    .unwrap();
    let runs = root.join("data/runs");
    fake_stage(&runs, "prepare", |d| {
        write_labels(&d.join("samples.parquet"), N);
        write_images(&d.join("inputs.safetensors"));
        vec!["samples.parquet", "inputs.safetensors"]
    });
    fake_stage(&runs, "affinity", |d| {
        write_graph(&d.join("affinity.parquet"), &planted());
        vec!["affinity.parquet"]
    });
    let out = run(root, &["pipelines/p.toml", "--progress", "none"]);
    assert!(out.ok, "{}", out.stderr);
    let stage = runs.join("p/cluster");
    let manifest = Manifest::read(&stage.join("manifest.json")).unwrap();
    for file in ["report/gallery.png", "report/gallery.svg"] {
        assert!(
            manifest.outputs.contains_key(file),
            "{file} in the manifest"
        );
    }
    // Four rows of 8 + 2 pictures, each embedded once in the SVG, with its row's text.
    let svg = std::fs::read_to_string(stage.join("report/gallery.svg")).unwrap();
    assert_eq!(svg.matches("<image ").count(), 40);
    let lines: Vec<&str> = svg.lines().collect();
    for text in [
        "p: samples of each cluster",
        "50 samples · cohesion 0.999",
        "mostly block2: 100.0%",
    ] {
        assert!(lines.contains(&text), "{text} in gallery.svg");
    }
    let m = metrics(&stage.join("metrics.json"));
    let q = &m["quality"];
    assert_eq!(q["eigengap_n_clusters"], 4);
    assert!(q["eigengap"].as_f64().unwrap() > 0.05, "{q}");
    let report = std::fs::read_to_string(stage.join("report/report.md")).unwrap();
    assert!(report.contains("![gallery](gallery.png)"), "{report}");
    assert!(report.contains("| block0 | 100.0% |"), "{report}");
    // Sources named by what differs: `test#` is shared.
    assert!(
        report.contains("samples.parquet, each after `test#`."),
        "{report}"
    );
    assert!(report.contains("- cluster 0: `"), "{report}");
    assert!(report.contains("| time: quality |"), "{report}");
}

#[test]
fn pipeline_mode_and_standalone_flags_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["p.toml", "--affinity", "g.parquet"]);
    assert!(!out.ok);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    let out = run(dir.path(), &[]);
    assert!(!out.ok);
}

/// N points in 8 dimensions, block g around 4·e_g with a deterministic spread in [0, 1),
/// as f32 features and as u8 "images" (the same values × 50).
fn write_feature_file(path: &Path) {
    let mut features = Vec::new();
    let mut state = 7u64;
    for node in 0..N {
        let block = (node / BLOCK_SIZE) as usize;
        for d in 0..8 {
            // An LCG's top bits: distinct points spread over [0, 1) per coordinate.
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let spread = (state >> 40) as f32 / (1u64 << 24) as f32;
            features.push(if d == block { 4.0 } else { 0.0 } + spread);
        }
    }
    let images: Vec<u8> = features.iter().map(|&v| (v * 50.0) as u8).collect();
    write_tensors(
        std::fs::File::create(path).unwrap(),
        &[
            ("head", vec![N as usize, 8], &TensorData::F32(features)),
            ("images", vec![N as usize, 2, 2, 2], &TensorData::U8(images)),
        ],
        &Default::default(),
    )
    .unwrap();
}

#[test]
fn feature_baselines_recover_planted_blocks() {
    let dir = tempfile::tempdir().unwrap();
    write_feature_file(&dir.path().join("f.safetensors"));
    write_labels(&dir.path().join("labels.parquet"), N);
    let base = ["--features", "f.safetensors", "--labels", "labels.parquet"];
    for (out, extra) in [
        ("kmeans", vec!["--tensor", "head"]),
        ("kmeans-images", vec!["--tensor", "images"]),
        ("kmeans-unit", vec!["--tensor", "head", "--normalize-rows"]),
        ("knn", vec!["--tensor", "head", "--knn", "5"]),
    ] {
        let mut args = base.to_vec();
        args.extend(["--n-clusters", "4", "--out", out]);
        args.extend(extra);
        let output = run(dir.path(), &args);
        assert!(output.ok, "{out}: {}", output.stderr);
        let m = metrics(&dir.path().join(out).join("metrics.json"));
        assert_eq!(m["acc"], 1.0, "{out}: {m}");
        assert_eq!(m["ari"], 1.0, "{out}");
        assert_eq!(m["n_samples"], N, "{out}");
        assert!(dir.path().join(out).join("assignments.parquet").exists());
    }
    // k-means records what it clustered; the kNN run is a graph run like any other.
    let m = metrics(&dir.path().join("kmeans-images/metrics.json"));
    assert_eq!(m["method"], "kmeans");
    assert_eq!(m["n_dims"], 8);
    let m = metrics(&dir.path().join("knn/metrics.json"));
    assert_eq!(m["eigen_method"], "dense");
    assert!(dir.path().join("knn/affinity.parquet").exists());
    assert!(dir.path().join("knn/report/affinity.png").exists());
}

#[test]
fn feature_baseline_errors_name_the_file_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_feature_file(&dir.path().join("f.safetensors"));
    write_labels(&dir.path().join("labels.parquet"), N + 1);
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--tensor", "nope", "--n-clusters", "4"],
            &["f.safetensors: no tensor `nope`", "head", "images"],
        ),
        (
            &[
                "--tensor",
                "head",
                "--n-clusters",
                "4",
                "--labels",
                "labels.parquet",
            ],
            &[
                "labels.parquet has 201 rows",
                "`head` of f.safetensors has 200",
            ],
        ),
        (
            &["--tensor", "head", "--n-clusters", "auto"],
            &["--n-clusters auto needs a graph's eigengap"],
        ),
        (
            &["--tensor", "head", "--n-clusters", "4", "--knn", "200"],
            &["--knn 200 needs more than 200 rows"],
        ),
        (
            &["--tensor", "head", "--n-clusters", "4", "--sizes", "equal"],
            &["--sizes equal", "--knn"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["--features", "f.safetensors", "--out", "out"];
        args.extend(extra);
        let out = run(dir.path(), &args);
        assert!(!out.ok, "{extra:?} succeeded");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("cluster: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{}", out.stderr);
        for needle in needles {
            assert!(
                errors[0].contains(needle),
                "`{needle}` not in {}",
                errors[0]
            );
        }
        assert!(!dir.path().join("out").exists(), "{extra:?} left outputs");
    }
}
