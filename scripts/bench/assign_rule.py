"""Which rule assigns a sample from its coefficients over the landmarks: the cluster with the
largest summed |c| (what ebsc-assign does), or a Nystrom extension of the landmarks'
spectral embedding followed by the nearest k-means centre.

    assign_rule.py RUN FRACTION SEED N_CLUSTERS N_EIGENVECTORS

RUN is a fitted run folder (prepare/samples.parquet with labels, affinity/coefficients.parquet).
A seeded random FRACTION of its samples are the landmarks: their graph is (|C| + |C|^T)/2
restricted to them, clustered spectrally (normalised affinity, top N_EIGENVECTORS
eigenvectors, rows normalised, scikit-learn k-means with 10 restarts). The other samples
are assigned from their own coefficient rows restricted to the landmarks, by both rules,
and scored (ACC, Hungarian matching). A proxy for new samples whose coefficients over the
landmarks come from the trained energy: the same rows, fewer of them per sample.
numpy, scipy, scikit-learn and pyarrow (target/bench-venv).
"""

import sys

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans


def accuracy(labels, clusters):
    k = max(labels.max(), clusters.max()) + 1
    counts = np.zeros((k, k))
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(labels)


def main(run, fraction, seed, n_clusters, n_eigenvectors):
    table = pq.read_table(f"{run}/affinity/coefficients.parquet").to_pydict()
    rows, cols, values = (np.array(table[k]) for k in ("row", "col", "value"))
    labels = pq.read_table(f"{run}/prepare/samples.parquet", columns=["label"])
    labels = labels.column("label").to_numpy()
    n = len(labels)
    coefficients = sp.csr_matrix((np.abs(values).astype(np.float64), (rows, cols)), shape=(n, n))

    rng = np.random.default_rng(seed)
    landmarks = np.sort(rng.choice(n, int(fraction * n), replace=False))
    others = np.setdiff1d(np.arange(n), landmarks)
    inside = coefficients[landmarks][:, landmarks]
    graph = (inside + inside.T) / 2
    degree = np.asarray(graph.sum(1)).ravel()
    degree[degree == 0] = 1e-12
    scale = sp.diags(degree**-0.5)
    eigenvalues, vectors = eigsh(scale @ graph @ scale, k=n_eigenvectors, which="LA")
    order = np.argsort(-eigenvalues)
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    embedding = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    kmeans = KMeans(n_clusters, n_init=10, random_state=seed).fit(embedding)
    clusters = kmeans.labels_

    new = coefficients[others][:, landmarks]
    one_hot = sp.csr_matrix(
        (np.ones(len(landmarks)), (np.arange(len(landmarks)), clusters)),
        shape=(len(landmarks), n_clusters),
    )
    vote = np.asarray((new @ one_hot).argmax(1)).ravel()
    new_degree = np.asarray(new.sum(1)).ravel()
    empty = int((new_degree == 0).sum())
    new_degree[new_degree == 0] = 1e-12
    extended = (sp.diags(new_degree**-0.5) @ new @ scale) @ vectors / eigenvalues
    extended /= np.maximum(np.linalg.norm(extended, axis=1, keepdims=True), 1e-12)
    nystrom = kmeans.predict(extended)
    print(
        f"| {run.rstrip('/').split('/')[-1]} | {len(landmarks)} | {len(others)} | {empty} "
        f"| {accuracy(labels[landmarks], clusters):.4f} | {accuracy(labels[others], vote):.4f} "
        f"| {accuracy(labels[others], nystrom):.4f} | {np.mean(vote == nystrom):.4f} |"
    )


if __name__ == "__main__":
    run, fraction, seed, k, m = sys.argv[1:6]
    main(run, float(fraction), int(seed), int(k), int(m))
