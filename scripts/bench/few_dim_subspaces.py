#!/usr/bin/env python3
"""Unions of linear subspaces of one to four dimensions, in R^3 to R^50, and controls that
are not subspaces, as CSV tables (columns f0…, then `label`) for `just new`: the cases the
neighbour-span ratios miss (the nearest neighbour alone rebuilds a sample on a line through
the origin; under 8 columns the ratios are not measured).

    few_dim_subspaces.py OUT_DIR
    few_dim_subspaces.py OUT_DIR --random N


Subspace k has a random orthonormal basis U_k of d_k columns; its n points are U_k y with y
standard Gaussian (so x and −x are equally likely, as any symmetric draw gives), plus
Gaussian noise of standard deviation `sigma` in every coordinate; rows are shuffled. The
controls: Gaussian clusters (`cl-*`), an isotropic and an axis-scaled Gaussian cloud. Each
table has its own seed, so the files are the same on every run. `--random N` writes N
tables of random configurations instead (`random-I`, drawn from seed 300 + I: 2 to 8
subspaces of dimension 1 to 3 in R^3 to R^30, 30 to 100 points each, noise 0.01 to 0.1 a
coordinate). Needs numpy.
"""
import os
import sys

import numpy as np


def save(out, name, x, y):
    order = np.random.default_rng(7).permutation(len(y))
    with open(os.path.join(out, f"{name}.csv"), "w") as f:
        f.write(",".join([f"f{j}" for j in range(x.shape[1])] + ["label"]) + "\n")
        for row, label in zip(x[order], y[order]):
            f.write(",".join(f"{v:.6g}" for v in row) + f",{label}\n")


def union(dims, ambient, n, sigma, seed):
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for k, d in enumerate(dims):
        basis = np.linalg.qr(rng.standard_normal((ambient, d)))[0]
        rows.append((basis @ rng.standard_normal((d, n))).T
                    + sigma * rng.standard_normal((n, ambient)))
        labels += [k] * n
    return np.vstack(rows), np.array(labels)


def unit_union(k, d, ambient, n, noise, seed):
    """Unit-norm points plus noise of expected norm `noise` (`subspace_table.py`'s draw)."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for c in range(k):
        basis = np.linalg.qr(rng.standard_normal((ambient, d)))[0]
        points = rng.standard_normal((n, d)) @ basis.T
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        rows.append(points + noise * rng.standard_normal(points.shape) / np.sqrt(ambient))
        labels += [c] * n
    return np.vstack(rows), np.array(labels)


def clusters(k, ambient, n, spread, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, ambient)) * spread + offset
    labels = np.repeat(np.arange(k), n)
    return centres[labels] + rng.standard_normal((k * n, ambient)), labels


def random_tables(count):
    tables = {}
    for i in range(count):
        rng = np.random.default_rng(300 + i)
        k = int(rng.integers(2, 9))
        dims = [int(d) for d in rng.integers(1, 4, size=k)]
        ambient = int(rng.integers(max(3, max(dims) + 1), 31))
        n = int(rng.integers(30, 101))
        sigma = float(rng.choice([0.01, 0.02, 0.05, 0.1]))
        name = f"random-{i}-{k}x{'.'.join(map(str, dims))}-R{ambient}-n{n}-s{sigma}"
        tables[name] = union(dims, ambient, n, sigma, 400 + i)
    return tables


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "--random":
        out = sys.argv[1]
        os.makedirs(out, exist_ok=True)
        tables = random_tables(int(sys.argv[3]))
        for name, (x, y) in tables.items():
            save(out, name, x, y)
        print(f"{len(tables)} tables in {out}")
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tables = {
        "lines-R20": union([1] * 6, 20, 40, 0.02, 10),
        "lines-R10": union([1] * 5, 10, 50, 0.02, 17),
        "lines-R3": union([1] * 3, 3, 100, 0.01, 12),
        "line-plane-R3": union([1, 2, 1], 3, 100, 0.01, 13),
        "planes-R3": union([2] * 3, 3, 100, 0.01, 11),
        "planes-R4": union([2] * 3, 4, 80, 0.02, 25),
        "planes-R5": union([2] * 4, 5, 80, 0.05, 16),
        "planes-R6": union([2] * 6, 6, 50, 0.02, 22),
        "planes-R10": union([2] * 6, 10, 60, 0.02, 14),
        "planes-R50": union([2] * 8, 50, 50, 0.02, 18),
        "d3-R5": union([3] * 3, 5, 80, 0.02, 23),
        "d3-R6": union([3] * 4, 6, 80, 0.02, 15),
        "d3-R7": union([3] * 5, 7, 60, 0.02, 21),
        "d4-R7": union([4] * 3, 7, 80, 0.05, 24),
        "d4-R20": union([4] * 6, 20, 80, 0.1, 19),
        "d3-R14-unit": unit_union(15, 3, 14, 98, 0.2, 31),
        "cl-R5": clusters(5, 5, 60, 3.0, 26),
        "cl-R6-tight": clusters(6, 6, 50, 6.0, 27),
        "cl-R7-positive": clusters(4, 7, 80, 2.0, 28, offset=5.0),
    }
    rng = np.random.default_rng(29)
    tables["cloud-R6"] = (rng.standard_normal((400, 6)), rng.integers(0, 3, 400))
    rng = np.random.default_rng(30)
    tables["cloud-R7-scaled"] = (rng.standard_normal((400, 7)) * np.arange(1, 8),
                                 rng.integers(0, 3, 400))
    for name, (x, y) in tables.items():
        save(out, name, x, y)
    print(f"{len(tables)} tables in {out}")


if __name__ == "__main__":
    main()
