"""Does a different partition rule on a trained run's own graph help the cluster stage?
graph_variants.py reworks the graph; this script keeps the run's graph and changes how the
partition is drawn from it. Every spectral clustering is ebsc-cluster's (the run's seed,
the given sizes rule), and ACC is printed with the partition's normalised cut of the run's
graph (lower is a better cut; it needs no labels).

    partition_variants.py RUN N_CLUSTERS free|equal SEED RULE[,RULE...] [GRAPH]

RUN is a run folder with prepare/samples.parquet (labels) and affinity/affinity.parquet;
GRAPH, an affinity Parquet to use instead of the run's (a variant graph_variants.py kept
with GRAPH_OUT).
Rules (M is the recipe's N_CLUSTERS + 2 eigenvectors):
  eigenvectors-A-B  one spectral clustering for each number of eigenvectors from A to B,
                    and the one of lowest normalised cut among them (a label-free choice)
  consensus-A-B     those clusterings as an ensemble: each edge of the graph weighted by
                    the share of them that put its two ends in one cluster (evidence
                    accumulation, Fred and Jain 2005, on the graph's own edges), and that
                    graph clustered with M eigenvectors
  agree-A-B         of those clusterings, the one that agrees best (NMI) with k-means on
                    the run's trained dictionary (rows L2-normalised, the run's seed): a
                    label-free referee from another view of the same model
  refine            the run's partition refined by weighted kernel k-means on the graph's
                    normalised-cut kernel (Dhillon, Guan and Kulis 2004: each sample moves
                    to the cluster it is most linked to for the cluster's volume), sizes free
  refine-equal      the same, each move within equal cluster sizes (most confident first)
  overmerge-C       C clusters first (C + 2 eigenvectors, sizes free), then the two most
                    linked clusters merged, again and again, down to N_CLUSTERS (linkage:
                    the edge weight between them over the product of their volumes): a
                    class split in two modes could join again while two merged classes stay
                    apart at C
numpy, scipy, scikit-learn, pyarrow and safetensors (target/bench-venv; safetensors for
graph_variants.py, imported here); the binary is target/release/ebsc-cluster.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from sklearn.metrics import normalized_mutual_info_score

from assign_rule import accuracy
from graph_variants import CLUSTER, read_graph, write_graph


def normalised_cut(a, clusters, k):
    member = sp.csr_matrix((np.ones(len(clusters)), (np.arange(len(clusters)), clusters)),
                           shape=(len(clusters), k))
    links = (member.T @ a @ member).toarray()
    volume = np.asarray(member.T @ np.asarray(a.sum(1)).ravel()).ravel()
    return float(sum(1 - links[c, c] / max(volume[c], 1e-300) for c in range(k)))


def clusters_of(args, samples, k, seed, out):
    """ebsc-cluster with ARGS (the run's labels, seed and cluster count added) into OUT."""
    subprocess.run(
        [CLUSTER, *args, "--labels", samples, "--n-clusters", str(k), "--seed", seed,
         "--out", out, "--progress", "none"],
        check=True, capture_output=True,
    )
    return pq.read_table(f"{out}/assignments.parquet")["cluster"].to_numpy().astype(np.int64)


def spectral(graph_path, samples, k, m, seed, sizes, out):
    return clusters_of(["--affinity", graph_path, "--n-eigenvectors", str(m), "--sizes", sizes],
                       samples, k, seed, out)


def dictionary_kmeans(run, samples, k, seed, out):
    return clusters_of(["--features", f"{run}/train/features.safetensors", "--tensor",
                        "dictionary", "--normalize-rows"], samples, k, seed, out)


def kernel_kmeans(a, clusters, k, equal, rounds=30):
    """Weighted kernel k-means with the kernel D⁻¹AD⁻¹ and weights D: each round lowers the
    normalised cut of the partition (up to the kernel's missing diagonal shift)."""
    n = len(clusters)
    degree = np.maximum(np.asarray(a.sum(1)).ravel(), 1e-300)
    for _ in range(rounds):
        member = sp.csr_matrix((np.ones(n), (np.arange(n), clusters)), shape=(n, k))
        links = np.asarray((a @ member).todense())
        volume = np.maximum(np.asarray(member.T @ degree).ravel(), 1e-300)
        within = np.array([links[clusters == c, c].sum() for c in range(k)])
        distance = -2 * links / (degree[:, None] * volume) + within / volume**2
        if equal:
            capacity, moved, taken = -(-n // k), np.empty(n, np.int64), np.zeros(k, np.int64)
            ranked = np.sort(distance, 1)
            for i in np.argsort(ranked[:, 0] - ranked[:, 1]):
                c = next(c for c in np.argsort(distance[i]) if taken[c] < capacity)
                moved[i], taken[c] = c, taken[c] + 1
        else:
            moved = distance.argmin(1)
        if (moved == clusters).all():
            break
        clusters = moved
    return clusters


def merge_by_linkage(a, clusters, k):
    """Merges the two clusters of largest links(a, b) / (volume(a) · volume(b)) until k
    remain; returns the merged partition, relabelled 0..k-1."""
    n, c = len(clusters), clusters.max() + 1
    member = sp.csr_matrix((np.ones(n), (np.arange(n), clusters)), shape=(n, c))
    links = (member.T @ a @ member).toarray()
    volume = links.sum(1)
    group = np.arange(c)
    alive = list(range(c))
    while len(alive) > k:
        _, i, j = max((links[i, j] / (volume[i] * volume[j]), i, j)
                      for x, i in enumerate(alive) for j in alive[x + 1:])
        links[i] += links[j]
        links[:, i] += links[:, j]
        volume[i] += volume[j]
        group[group == j] = i
        alive.remove(j)
    return np.searchsorted(sorted(alive), group[clusters])


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    run, k, sizes, seed, rules = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    samples = f"{run}/prepare/samples.parquet"
    graph_path = sys.argv[6] if len(sys.argv) == 7 else f"{run}/affinity/affinity.parquet"
    labels = pq.read_table(samples)["label"].to_numpy().astype(np.int64)
    a = read_graph(graph_path, len(labels))
    m = k + 2
    scores = []

    def score(name, clusters):
        scores.append(f"{name}={accuracy(labels, clusters):.4f}/{normalised_cut(a, clusters, k):.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        partitions = {}  # eigenvector count -> the run's graph clustered with it

        def clustered(count):
            if count not in partitions:
                partitions[count] = spectral(graph_path, samples, k, count, seed, sizes,
                                             f"{tmp}/m{count}")
            return partitions[count]

        base = clustered(m)
        score("base", base)
        for rule in rules.split(","):
            if rule.startswith(("eigenvectors-", "consensus-", "agree-")):
                kind, low, high = rule.split("-")
                members = [clustered(count) for count in range(int(low), int(high) + 1)]
                if kind == "eigenvectors":
                    cuts = [normalised_cut(a, p, k) for p in members]
                    for count, p in zip(range(int(low), int(high) + 1), members):
                        score(f"m{count}", p)
                    score(f"{rule}:lowest-cut", members[int(np.argmin(cuts))])
                elif kind == "agree":
                    referee = dictionary_kmeans(run, samples, k, seed, f"{tmp}/kmeans")
                    agreement = [normalized_mutual_info_score(referee, p) for p in members]
                    score("kmeans-dictionary", referee)
                    score(rule, members[int(np.argmax(agreement))])
                    # How well the referee agrees with the run's own partition and with
                    # the best of the range: label-free, a hint of whether to trust it.
                    scores.append(f"{rule}:nmi={normalized_mutual_info_score(referee, base):.3f}"
                                  f"/{max(agreement):.3f}")
                else:
                    g = a.tocoo()
                    agree = sum((p[g.row] == p[g.col]).astype(np.float64) for p in members)
                    path = f"{tmp}/{rule}.parquet"
                    write_graph(sp.csr_matrix((g.data * agree / len(members), (g.row, g.col)),
                                              shape=a.shape), path)
                    score(rule, spectral(path, samples, k, m, seed, sizes, f"{tmp}/{rule}"))
            elif rule.startswith("overmerge-"):
                over = int(rule.split("-")[1])
                first = spectral(graph_path, samples, over, over + 2, seed, "free",
                                 f"{tmp}/{rule}")
                score(rule, merge_by_linkage(a, first, k))
            elif rule in ("refine", "refine-equal"):
                score(rule, kernel_kmeans(a, base, k, rule == "refine-equal"))
            else:
                sys.exit(f"error: unknown rule {rule!r}")
    print(os.path.basename(run.rstrip("/")), " ".join(scores))


if __name__ == "__main__":
    main()
