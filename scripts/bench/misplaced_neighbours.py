"""Where do the samples of one class that a run put in another class's cluster find their
nearest neighbours? Prints, for k = 10, 30, 100, the share of their cosine neighbours that
carry their own label, the cluster's majority label, and that belong to the misplaced group.

    misplaced_neighbours.py RUN STAGE TENSOR LABEL CLUSTER

RUN is a run folder (cluster/assignments.parquet with labels); the features are
RUN/STAGE/features.safetensors[TENSOR], e.g. `train dictionary` or `pretrain head`. The
group is every sample with label LABEL assigned to cluster CLUSTER.
"""
import sys

import numpy as np
from safetensors.numpy import load_file

from run_tables import assignments

run, stage, tensor = sys.argv[1:4]
label, cluster = int(sys.argv[4]), int(sys.argv[5])
x = load_file(f"{run}/{stage}/features.safetensors")[tensor].astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
clusters, labels = assignments(f"{run}/cluster/assignments.parquet")
group = np.where((labels == label) & (clusters == cluster))[0]
members = labels[clusters == cluster]
majority = np.bincount(members[members >= 0]).argmax()
similarity = x[group] @ x.T
similarity[np.arange(len(group)), group] = -np.inf
print(f"{len(group)} samples of label {label} in cluster {cluster} (majority label {majority})")
for k in (10, 30, 100):
    neighbours = np.argpartition(-similarity, k, axis=1)[:, :k]
    print(
        f"k = {k}: own label {np.mean(labels[neighbours] == label):.3f}, "
        f"label {majority} {np.mean(labels[neighbours] == majority):.3f}, "
        f"the group itself {np.mean(np.isin(neighbours, group)):.3f}"
    )
