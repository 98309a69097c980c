"""The feature baseline of an ensemble of runs: the runs' trained dictionaries side by side.

    ensemble_dictionary.py OUT.safetensors RUN...

RUN are run folders of one data set (the same samples in the same order, e.g. one
pipeline trained with several seeds). Each run's train/features.safetensors `dictionary`
is L2-normalised row by row and the runs' rows are concatenated: `dictionary`
[N, runs × D], whose cosine is the mean of the runs' cosines. Cluster it as the suite
scores a dictionary, e.g. `ebsc-cluster --features OUT.safetensors --tensor dictionary
--knn 10 …`, beside the runs' graphs averaged (`ebsc-cluster --affinity RUN1/affinity/
affinity.parquet --affinity RUN2/… …`). numpy and safetensors (target/bench-venv).
"""

import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def side_by_side(runs):
    parts = []
    for run in runs:
        d = load_file(f"{run}/train/features.safetensors")["dictionary"].astype(np.float32)
        parts.append(d / np.linalg.norm(d, axis=1, keepdims=True))
    if len({p.shape[0] for p in parts}) != 1:
        sys.exit("ensemble_dictionary: the runs' dictionaries hold different numbers of samples")
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, runs = sys.argv[1], sys.argv[2:]
    save_file({"dictionary": side_by_side(runs)}, out)


if __name__ == "__main__":
    main()
