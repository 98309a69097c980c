"""Does a metric learned from a run's own clusters (pseudo-labels, no true labels) make the
k-NN graph of its features cluster better? Each variant's features are clustered by
ebsc-cluster as the suite clusters a k-NN graph (10 neighbours, K + 2 eigenvectors, seed 0)
and its ACC / NMI printed:
  plain        the trained dictionary, rows L2-normalised
  whiten-R     whitened by the within-cluster scatter of the run's clusters, plus a ridge
               of R × its mean eigenvalue (R = 0.1, 0.3, 1.0)
  fisher-I     projected on the K − 1 Fisher directions of the clusters, rounds I = 0, 1, 2
               (each round's pseudo-labels are the previous round's clusters)
  side-by-side the pretrained head and the trained dictionary, concatenated

    pseudo_label_metric.py RUN N_CLUSTERS free|equal OUT

RUN is a run folder (pretrain/ and train/features.safetensors, cluster/assignments.parquet,
prepare/samples.parquet); OUT a scratch folder.
"""
import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy.linalg import eigh

from run_tables import assignments

run, k, sizes, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(out, exist_ok=True)


def unit(a):
    a = a.astype(np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def cluster(z, name):
    """ebsc-cluster on the 10-NN graph of `z`; returns the folder it wrote."""
    features = f"{out}/{name}.safetensors"
    save_file({"z": np.ascontiguousarray(z.astype(np.float32))}, features)
    folder = f"{out}/{name}"
    subprocess.run(
        ["target/release/ebsc-cluster", "--features", features, "--tensor", "z",
         "--labels", f"{run}/prepare/samples.parquet", "--n-clusters", str(k), "--seed", "0",
         "--progress", "none", "--sizes", sizes, "--knn", "10", "--n-eigenvectors", str(k + 2),
         "--out", folder],
        check=True, capture_output=True)
    metrics = json.load(open(f"{folder}/metrics.json"))
    print(f"{name}: ACC {metrics['acc']:.4f}, NMI {metrics['nmi']:.4f}")
    return folder


x = unit(load_file(f"{run}/train/features.safetensors")["dictionary"])
head = unit(load_file(f"{run}/pretrain/features.safetensors")["head"])
pseudo, _ = assignments(f"{run}/cluster/assignments.parquet")
cluster(x, "plain")


def scatter(labels):
    means = np.stack([x[labels == c].mean(0) for c in range(k)])
    residual = x - means[labels]
    return means, residual.T @ residual / len(x)


for ridge in (0.1, 0.3, 1.0):
    _, within = scatter(pseudo)
    values, vectors = np.linalg.eigh(within + ridge * np.trace(within) / len(within) * np.eye(len(within)))
    cluster(x @ vectors @ np.diag(values ** -0.5) @ vectors.T, f"whiten-{ridge}")

labels = pseudo
for round_ in range(3):
    means, within = scatter(labels)
    centred = means - x.mean(0)
    between = (centred.T * np.bincount(labels, minlength=k)) @ centred / len(x)
    _, directions = eigh(between, within + 1e-3 * np.eye(len(within)))
    folder = cluster(x @ directions[:, -(k - 1):], f"fisher-{round_}")
    labels, _ = assignments(f"{folder}/assignments.parquet")

cluster(np.hstack([head, x]) / np.sqrt(2), "side-by-side")
