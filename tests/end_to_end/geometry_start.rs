//! The energy's start from the dictionary's geometry (docs/method.md): an untrained model
//! — `geometry = 1`, the residual at zero, and no loss (α = β = 0), so the towers stay
//! where they start — keeps, for every sample, exactly its nearest neighbours by cosine as
//! its top coefficients (Gibbs coefficients; the shrink map ranks by |cos| instead), and its
//! affinity clusters at least as well as the k-NN graph of the same dictionary (within
//! 0.01: k-means restarts move a score by about that much). On the subspaces data and on
//! 2,000 of the embedded MNIST test images (their pixels as the dictionary).

use std::collections::BTreeSet;
use std::path::Path;

use ebsc_io::{TensorFile, read_triplets};
use ebsc_tests::{accuracy, cosine_neighbours, knn_graph_accuracy, repo_root, run_all};

/// `[train]`, `[affinity]` and `[cluster]` of an untrained model on an identity encoder.
fn untrained_sections(coefficients: &str, top_k: usize, n_clusters: usize) -> String {
    format!(
        r#"
[pretrain]
[pretrain.encoder]
kind = "identity"

[train]
method = "ebsc"
freeze_encoder = true
dictionary = "backbone"
coefficients = "{coefficients}"
geometry = 1.0
residual_init = "zero"
gamma = 200.0
lambda = 0.9
alpha = 0.0
beta = 0.0
ssl_temperature = 0.5
energy_temperature = 0.1
queue_size = 0
energy_dim = 16
energy_hidden = [32]
epochs = 1
batch_size = 500
[train.optimizer]
kind = "adam"
lr = 1e-3

[affinity]
top_k = {top_k}
block_size = 1024
normalize_rows = true
affinity = "symmetric"

[cluster]
n_clusters = {n_clusters}
n_eigenvectors = {}
kmeans_restarts = 10
"#,
        n_clusters + 2
    )
}

/// Runs the pipeline, checks the top coefficients against brute-force cosine neighbours and
/// returns (ACC of the untrained model's affinity, ACC of the 10-NN graph of its dictionary).
fn untrained_against_knn(
    work: &Path,
    name: &str,
    text: &str,
    top_k: usize,
    n_clusters: usize,
) -> (f64, f64) {
    let pipeline = work.join(format!("{name}.toml"));
    std::fs::write(&pipeline, text).unwrap();
    let runs = work.join("runs");
    assert_eq!(run_all(&pipeline, &runs), vec![true; 5]);
    let dir = runs.join(name);

    let (shape, d) = TensorFile::open(&dir.join("train/features.safetensors"))
        .unwrap()
        .f32("dictionary")
        .unwrap();
    let expected: Vec<BTreeSet<u32>> = cosine_neighbours(&d, shape[0], shape[1], top_k)
        .into_iter()
        .map(|row| row.into_iter().collect())
        .collect();
    let coefficients = read_triplets(&dir.join("affinity/coefficients.parquet")).unwrap();
    let mut kept = vec![BTreeSet::new(); shape[0]];
    for (&row, &col) in coefficients.rows.iter().zip(&coefficients.cols) {
        kept[row as usize].insert(col);
    }
    let same = kept.iter().zip(&expected).filter(|(a, b)| a == b).count();
    // Exact ties in cosine could swap a neighbour; there are none in this data.
    assert_eq!(
        same, shape[0],
        "{name}: rows whose top coefficients are the cosine neighbours"
    );

    let acc = accuracy(&dir.join("cluster/metrics.json"));
    let knn_acc = knn_graph_accuracy(
        &dir.join("train/features.safetensors"),
        "dictionary",
        &dir.join("prepare/samples.parquet"),
        n_clusters,
        n_clusters + 2,
        &work.join(format!("{name}-knn")),
    );
    eprintln!(
        "{name}: untrained model ACC {acc:.4}, 10-NN graph of its dictionary ACC {knn_acc:.4}"
    );
    (acc, knn_acc)
}

#[test]
fn an_untrained_model_is_the_cosine_neighbourhood_graph() {
    let work = tempfile::tempdir().unwrap();
    let subspaces = format!(
        "[pipeline]\nseed = 0\n[prepare]\nsource = \"synthetic-subspaces\"\nn_subspaces = 8\n\
         subspace_dim = 8\nambient_dim = 32\npoints_per_subspace = 60\nnoise = 0.05\nseed = 1\n{}",
        untrained_sections("gibbs", 10, 8)
    );
    let (acc, knn_acc) = untrained_against_knn(work.path(), "subspaces", &subspaces, 10, 8);
    // Measured: 0.9875 against 0.8812 (same neighbours, weighted by their Gibbs coefficient).
    assert!(
        acc >= knn_acc - 0.01,
        "subspaces: {acc:.4} against the 10-NN graph's {knn_acc:.4}"
    );

    let data = repo_root().join("data/mnist-test");
    let mnist = format!(
        "[pipeline]\nseed = 0\n[prepare]\nsource = \"idx\"\nimages = {:?}\nlabels = {:?}\n\
         subset = {{ total = 2000 }}\n{}",
        data.join("t10k-images-idx3-ubyte.gz").display().to_string(),
        data.join("t10k-labels-idx1-ubyte.gz").display().to_string(),
        untrained_sections("gibbs", 10, 10)
    );
    let (acc, knn_acc) = untrained_against_knn(work.path(), "mnist-pixels", &mnist, 10, 10);
    // Measured: 0.6905 against 0.6720.
    assert!(
        acc >= knn_acc - 0.01,
        "mnist pixels: {acc:.4} against the 10-NN graph's {knn_acc:.4}"
    );
}
