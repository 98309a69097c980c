"""The job a Python user would write for spectral clustering, as the benchmark's anchor:
SciPy's eigsh (ARPACK) on D^-1/2 W D^-1/2, then scikit-learn's KMeans (n_init=10) on the
row-normalised eigenvectors. Run only by scripts/bench.sh, in a throwaway venv.

usage: spectral_anchor.py AFFINITY.parquet SAMPLES.parquet N_CLUSTERS
prints one JSON line: phase timings (s), NMI (arithmetic, sklearn's default).
"""

import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score


def main() -> None:
    affinity_path, samples_path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    table = pq.read_table(affinity_path)
    labels = pq.read_table(samples_path, columns=["label"])["label"].to_numpy()
    n = len(labels)
    w = sp.csr_matrix(
        (
            table["value"].to_numpy().astype(np.float64),
            (table["row"].to_numpy(), table["col"].to_numpy()),
        ),
        shape=(n, n),
    )
    t1 = time.perf_counter()
    degrees = np.asarray(w.sum(axis=1)).ravel()
    inv_sqrt = np.where(degrees > 0, 1.0 / np.sqrt(np.maximum(degrees, 1e-300)), 0.0)
    d = sp.diags(inv_sqrt)
    s = (d @ w @ d).tocsr()
    _, vectors = eigsh(s, k=k, which="LA")
    t2 = time.perf_counter()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    embedding = vectors / np.maximum(norms, 1e-12)
    clusters = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(embedding)
    t3 = time.perf_counter()
    nmi = normalized_mutual_info_score(labels, clusters)
    print(
        json.dumps(
            {
                "n": n,
                "read_s": round(t1 - t0, 3),
                "eigsh_s": round(t2 - t1, 3),
                "kmeans_s": round(t3 - t2, 3),
                "total_s": round(t3 - t0, 3),
                "nmi": round(float(nmi), 6),
            }
        )
    )


if __name__ == "__main__":
    main()
