"""An ensemble of runs with the eigenvector referee: the runs' graphs averaged (as
`ebsc-cluster --affinity A --affinity B …` does), clustered with 10 to 16 eigenvectors, and
the count kept that the cluster stage's `eigenvector_referee` would keep if it read the
runs' trained dictionaries side by side (ensemble_dictionary.py) as its dictionary:

    ensemble_referee.py free|equal SEED [--graph-only] RUN...

The referee, as the images template writes it for 10 clusters (docs/method.md, "The
eigenvector count the trained dictionary agrees with"): k-means on the side-by-side
dictionary (rows L2-normalised) where its NMI with the 12-eigenvector partition is at least
0.75, else spectral clustering of that dictionary's cosine 10-NN graph (12 eigenvectors,
the same sizes rule); the count whose partition agrees best (NMI) with the referee's, the
recipe's 12 on a tie. `--graph-only` skips k-means, as the template does under 20 samples
a cluster (the 400-image sets). One RUN reproduces that run's cluster stage. Prints ACC of
the 12-eigenvector partition, of the referee's choice, and of both referees' partitions
(the second is the fair feature baseline of the ensemble). Every clustering is
target/release/ebsc-cluster's, with SEED; numpy, scikit-learn, pyarrow, safetensors
(target/bench-venv).
"""

import os
import sys
import tempfile

import pyarrow.parquet as pq
from safetensors.numpy import save_file
from sklearn.metrics import normalized_mutual_info_score as nmi

from assign_rule import accuracy
from ensemble_dictionary import side_by_side
from partition_variants import clusters_of

N_CLUSTERS, RECIPE, MIN_AGREEMENT = 10, 12, 0.75


def main():
    args = sys.argv[1:]
    graph_only = "--graph-only" in args
    args = [a for a in args if a != "--graph-only"]
    if len(args) < 3 or args[0] not in ("free", "equal"):
        sys.exit(__doc__)
    sizes, seed, runs = args[0], args[1], args[2:]
    samples = f"{runs[0]}/prepare/samples.parquet"
    labels = pq.read_table(samples)["label"].to_numpy()
    with tempfile.TemporaryDirectory() as tmp:

        def cluster(flags, name):
            return clusters_of(flags, samples, N_CLUSTERS, seed, f"{tmp}/{name}")

        graphs = [flag for run in runs for flag in ("--affinity", f"{run}/affinity/affinity.parquet")]
        partitions = {m: cluster(graphs + ["--n-eigenvectors", str(m), "--sizes", sizes], f"m{m}")
                      for m in range(N_CLUSTERS, N_CLUSTERS + 7)}
        dictionary = f"{tmp}/dictionary.safetensors"
        save_file({"dictionary": side_by_side(runs)}, dictionary)
        kmeans = cluster(["--features", dictionary, "--tensor", "dictionary", "--normalize-rows"],
                         "kmeans")
        graph = cluster(["--features", dictionary, "--tensor", "dictionary", "--knn", "10",
                         "--n-eigenvectors", str(RECIPE), "--sizes", sizes], "graph")
    gate = nmi(kmeans, partitions[RECIPE])
    referee, kind = (kmeans, "k-means") if gate >= MIN_AGREEMENT and not graph_only else (graph, "graph")
    agreement = {m: nmi(referee, p) for m, p in partitions.items()}
    best = max(agreement, key=agreement.get)
    chosen = RECIPE if agreement[RECIPE] >= agreement[best] else best
    print("+".join(os.path.basename(r.rstrip("/")) for r in runs),
          f"fixed-{RECIPE}={accuracy(labels, partitions[RECIPE]):.4f}",
          f"referee={kind}:{chosen}={accuracy(labels, partitions[chosen]):.4f}",
          f"kmeans-gate={gate:.3f}",
          f"kmeans={accuracy(labels, kmeans):.4f}",
          f"dictionary-graph={accuracy(labels, graph):.4f}")


if __name__ == "__main__":
    main()
