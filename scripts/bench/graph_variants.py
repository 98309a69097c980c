"""Does reworking a trained run's coefficient graph help the cluster stage? Each variant is
written as an affinity Parquet and clustered by ebsc-cluster exactly as the recipe does it
(K + 2 eigenvectors, the run's seed, the recipe's sizes rule), and its ACC / NMI printed.

    graph_variants.py RUN N_CLUSTERS free|equal SEED VARIANT[,VARIANT...]

RUN is a run folder with prepare/samples.parquet (labels), affinity/affinity.parquet and
affinity/coefficients.parquet. Variants:
  base            the run's own graph (reproduces its ACC)
  snn             each edge weighted by the number of neighbours its two ends share
  twohop          the graph plus its two-step random walk, scaled to the same total weight
  lowrank-D-A-M   the post-processing of deep subspace clustering papers (DSC-Net): the top
                  D*K+1 singular vectors of (|C| + |C|^T)/2 scaled by the root of their
                  singular values, rows normalised, (U U^T)_+ to the power A, each row's
                  top M kept
  cosine-M-T      not the run's graph but the one its energy starts from: the trained
                  dictionary's cosine alone (train/features.safetensors), each row's top M
                  weighted exp((cos - 1) / T), rows L2-normalised, (C + C^T)/2
  power-P         the run's own kept coefficients with |c| raised to the power P, rows
                  L2-normalised, (C + C^T)/2: Gibbs weights at temperature T/P instead of T
                  (P = 1 the run's graph with normalize_rows; P = 0 each row's top-k alike)
  perplexity-P-M  the run's kept coefficients, each row raised to the power (at most M,
                  default 16 as the affinity stage) that gives its weights perplexity P (a
                  temperature of its own a row; the stage's `perplexity = P`), rows
                  L2-normalised, (C + C^T)/2
  selftune-M-L    not the run's graph: Zelnik-Manor and Perona's self-tuning graph of the
                  trained dictionary (top M cosine neighbours, exp(-d^2 / (s_i s_j)), s_i
                  the distance to the L-th neighbour)
  fuse-W          (1 - W) times the run's graph plus W times the pretrained head's graph
                  (pretrain/features.safetensors): each row's top 20 cosine neighbours
                  weighted exp((cos - 1) / 0.1), at perplexity 10 as the recipe's graph
  energy-M-T-S[-P] the same with the run's energy, its learned residual scaled by S:
                  cos + S·<u_i, v_j> (train/model.safetensors; S = 1 is the run's own energy, S = 0 the cosine-M-T graph); with
                  P, each row at perplexity P as the stage's `perplexity = P`
With GRAPH_OUT=DIR in the environment each variant's graph is kept as DIR/RUN-VARIANT.parquet
(partition_variants.py reads one). numpy, scipy, pyarrow and safetensors
(target/bench-venv); the binary is target/release/ebsc-cluster.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from safetensors.numpy import load_file

from run_tables import energy_towers
from selfexpr_baseline import write_affinity

CLUSTER = os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "ebsc-cluster")


def read_graph(path, n):
    t = pq.read_table(path)
    rows = t["row"].to_numpy().astype(np.int64)
    cols = t["col"].to_numpy().astype(np.int64)
    values = t["value"].to_numpy().astype(np.float64)
    return sp.csr_matrix((values, (rows, cols)), shape=(n, n))


def write_graph(graph, path):
    """The graph's positive entries, sorted by (row, col), as an affinity Parquet."""
    g = sp.coo_matrix(graph)
    keep = g.data > 0
    row, col, value = g.row[keep], g.col[keep], g.data[keep]
    order = np.lexsort((col, row))
    write_affinity(path, row[order], col[order], value[order])


def shared_neighbours(a):
    b = (a > 0).astype(np.float64)
    return a.multiply(b @ b.T) / max(1.0, b.sum(1).mean())


def two_hop(a):
    degree = np.asarray(a.sum(1)).ravel()
    walk = sp.diags(1 / np.maximum(degree, 1e-12)) @ a
    second = walk @ walk
    return a + 0.5 * (second + second.T).multiply(a.sum() / second.sum())


def low_rank(c, k, d, power, keep):
    c = 0.5 * (abs(c) + abs(c).T)
    rank = min(d * k + 1, c.shape[0] - 2)
    u, s, _ = sla.svds(c, k=rank)
    u = u * np.sqrt(s)[None, :]
    u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-12
    z = np.maximum(u @ u.T, 0) ** power
    np.fill_diagonal(z, 0)
    n = z.shape[0]
    keep = min(keep, n - 1)
    top = np.argpartition(-z, keep, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    graph = sp.csr_matrix((z[rows, top.ravel()], (rows, top.ravel())), shape=(n, n))
    return graph.maximum(graph.T)


def unit_rows(run, stage, tensor):
    """A run's feature tensor (`stage`/features.safetensors) with L2-normalised rows."""
    x = load_file(f"{run}/{stage}/features.safetensors")[tensor].astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def energy_gibbs(run, keep, temperature, scale, perplexity=None):
    d = unit_rows(run, "train", "dictionary")
    similarity = d @ d.T
    if scale != 0:
        u, v = energy_towers(run, d)
        similarity += scale * (u @ v.T)
    rows = gibbs_rows(similarity, keep, temperature)
    return unit_rows_symmetric(rows) if perplexity is None else row_perplexity(rows, perplexity)


def pretrained_gibbs(run, keep, temperature, perplexity):
    """The pretrained head's cosine Gibbs graph, each row at the given perplexity."""
    h = unit_rows(run, "pretrain", "head")
    return row_perplexity(gibbs_rows(h @ h.T, keep, temperature), perplexity)


def gibbs_rows(similarity, keep, temperature):
    """Each row's top `keep` similarities (the diagonal left out) as Gibbs weights."""
    np.fill_diagonal(similarity, -np.inf)
    n = len(similarity)
    top = np.argpartition(-similarity, keep, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    kept = similarity[rows, top.ravel()].reshape(n, keep)
    # Each row's weights are normalised by the caller, so the shift by the row's maximum
    # only keeps exp() in range.
    weights = np.exp((kept - kept.max(1, keepdims=True)) / temperature).ravel()
    return sp.csr_matrix((weights, (rows, top.ravel())), shape=(n, n))


def unit_rows_symmetric(c):
    """Rows L2-normalised, then (C + C^T)/2: the affinity stage's symmetric graph."""
    c = sp.diags(1 / np.sqrt(np.asarray(c.multiply(c).sum(1)).ravel() + 1e-30)) @ c
    return 0.5 * (c + c.T)


def coefficient_power(c, power):
    c = abs(c).tocsr()
    c.data = c.data**power
    return unit_rows_symmetric(c)


def row_perplexity(c, perplexity, max_power=16.0):
    """Each row's kept |c| raised to the power that gives its normalised weights the
    perplexity exp(H) = `perplexity` (t-SNE's calibration): one temperature per row."""
    c = abs(c).tocsr()
    c.sort_indices()
    counts = np.diff(c.indptr)
    width = counts.max()
    slot = np.arange(len(c.data)) - np.repeat(c.indptr[:-1], counts)
    row = np.repeat(np.arange(c.shape[0]), counts)
    logits = np.full((c.shape[0], width), -np.inf)
    logits[row, slot] = np.log(np.maximum(c.data, 1e-300))
    logits -= logits.max(1, keepdims=True)
    target = np.log(np.minimum(perplexity, counts))[:, None]
    low, high = np.zeros_like(target), np.full_like(target, max_power)
    for _ in range(60):
        power = 0.5 * (low + high)
        q = np.exp(power * logits)
        q /= q.sum(1, keepdims=True)
        entropy = -(q * np.log(np.maximum(q, 1e-300))).sum(1, keepdims=True)
        flatter = entropy > target
        low, high = np.where(flatter, power, low), np.where(flatter, high, power)
    c.data = np.exp(0.5 * (low + high) * logits)[row, slot]
    return unit_rows_symmetric(c)


def self_tuning(run, keep, local):
    """Zelnik-Manor and Perona's self-tuning graph on the trained dictionary: each row's
    top `keep` cosine neighbours weighted exp(-d²/(σ_i σ_j)), σ_i the distance to the
    `local`-th neighbour, symmetrised by the larger weight."""
    d = unit_rows(run, "train", "dictionary")
    similarity = d @ d.T
    np.fill_diagonal(similarity, -np.inf)
    n = len(similarity)
    top = np.argsort(-similarity, axis=1)[:, :keep]
    dist2 = np.maximum(2 - 2 * np.take_along_axis(similarity, top, 1), 0)
    sigma = np.sqrt(dist2[:, local - 1]) + 1e-12
    rows = np.repeat(np.arange(n), keep)
    w = np.exp(-dist2.ravel() / (sigma[rows] * sigma[top.ravel()]))
    g = sp.csr_matrix((w, (rows, top.ravel())), shape=(n, n))
    return g.maximum(g.T)


def variant(name, a, c, k, run):
    if name == "base":
        return a
    if name == "snn":
        return shared_neighbours(a)
    if name == "twohop":
        return two_hop(a)
    if name.startswith("lowrank-"):
        _, d, power, keep = name.split("-")
        return low_rank(c, k, int(d), float(power), int(keep))
    if name.startswith("power-"):
        return coefficient_power(c, float(name.split("-", 1)[1]))
    if name.startswith("perplexity-"):
        _, perplexity, *cap = name.split("-")
        return row_perplexity(c, float(perplexity), *map(float, cap))
    if name.startswith("selftune-"):
        _, keep, local = name.split("-")
        return self_tuning(run, int(keep), int(local))
    if name.startswith("fuse-"):
        weight = float(name.split("-", 1)[1])
        return (1 - weight) * a + weight * pretrained_gibbs(run, 20, 0.1, 10.0)
    if name.startswith("cosine-"):
        _, keep, temperature = name.split("-")
        return energy_gibbs(run, int(keep), float(temperature), 0.0)
    if name.startswith("energy-"):
        _, keep, temperature, scale, *perplexity = name.split("-")
        return energy_gibbs(run, int(keep), float(temperature), float(scale), *map(float, perplexity))
    sys.exit(f"error: unknown variant {name!r}")


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    run, k, sizes, seed, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    samples = f"{run}/prepare/samples.parquet"
    n = pq.read_metadata(samples).num_rows
    a = read_graph(f"{run}/affinity/affinity.parquet", n)
    c = read_graph(f"{run}/affinity/coefficients.parquet", n)
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.environ.get("GRAPH_OUT") or tmp
        os.makedirs(folder, exist_ok=True)
        for name in names.split(","):
            graph = f"{folder}/{os.path.basename(run.rstrip('/'))}-{name}.parquet"
            write_graph(variant(name, a, c, k, run), graph)
            subprocess.run(
                [CLUSTER, "--affinity", graph, "--labels", samples, "--n-clusters", str(k),
                 "--n-eigenvectors", str(k + 2), "--seed", seed, "--sizes", sizes,
                 "--out", f"{tmp}/{name}", "--progress", "none"],
                check=True, capture_output=True,
            )
            with open(f"{tmp}/{name}/metrics.json") as f:
                metrics = json.load(f)
                scores.append(f"{name}={metrics['acc']:.4f}/{metrics['nmi']:.4f}")
    print(os.path.basename(run.rstrip("/")), " ".join(scores))


if __name__ == "__main__":
    main()
