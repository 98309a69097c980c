#!/usr/bin/env python3
"""A union of random linear subspaces whose classes differ in size and dimension, as a CSV
table (columns x000…, then `label`), for `just new` to read as a feature table.

    subspace_table.py OUT.csv --dims 3,4,6 --sizes 200,40,120 --ambient 60 --noise 0.05 --seed 3
    subspace_table.py OUT.csv --random I
    subspace_table.py OUT.csv --dims 5,5,5 --sizes 50,50,50 --ambient 20 --outliers 0.1

Subspace k has a random orthonormal basis of `dims[k]` columns in R^ambient; its `sizes[k]`
points are unit-norm Gaussian combinations of them plus Gaussian noise of expected norm
`noise` (as `ebsc-prepare`'s `synthetic-subspaces` source, which draws every class of one
size and dimension). `--outliers F` adds round(F × points) random unit vectors with an empty
label (unlabelled rows: clustered, left out of the scores). Rows are shuffled. `--random I`
draws the configuration from seed 100 + I (4 to 12 subspaces of dimension 2 to 10, 20 to
300 points each, ambient dimension up to 100, noise 0.01, 0.05, 0.1 or 0.2) and the points
from seed 200 + I, and prints it. Needs numpy.
"""
import argparse
import sys

import numpy as np


def random_configuration(i):
    rng = np.random.default_rng(100 + i)
    k = int(rng.integers(4, 13))
    dims = rng.integers(2, 11, size=k)
    sizes = rng.integers(20, 301, size=k)
    ambient = int(rng.integers(max(20, dims.max() + 5), 101))
    noise = float(rng.choice([0.01, 0.05, 0.1, 0.2]))
    return [int(d) for d in dims], [int(s) for s in sizes], ambient, noise, 200 + i


def write(out, dims, sizes, ambient, noise, seed, outliers=0.0):
    if len(dims) != len(sizes) or max(dims) > ambient:
        sys.exit("subspace_table.py: one dimension a size, each at most --ambient")
    rng = np.random.default_rng(seed)
    rows = []
    for label, (dim, size) in enumerate(zip(dims, sizes)):
        basis = np.linalg.qr(rng.standard_normal((ambient, dim)))[0]
        points = rng.standard_normal((size, dim)) @ basis.T
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        points += noise * rng.standard_normal(points.shape) / np.sqrt(ambient)
        rows += [(x, label) for x in points]
    n_outliers = round(outliers * len(rows))
    if n_outliers:
        points = rng.standard_normal((n_outliers, ambient))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        rows += [(x, "") for x in points]
    with open(out, "w") as f:
        f.write(",".join([f"x{j:03d}" for j in range(ambient)] + ["label"]) + "\n")
        for i in rng.permutation(len(rows)):
            x, label = rows[i]
            f.write(",".join(f"{v:.6f}" for v in x) + f",{label}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--random", type=int, metavar="I")
    parser.add_argument("--dims", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--ambient", type=int)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outliers", type=float, default=0.0, metavar="F")
    args = parser.parse_args()
    if args.random is not None:
        dims, sizes, ambient, noise, seed = random_configuration(args.random)
        print(f"dims {dims} sizes {sizes} ambient {ambient} noise {noise} seed {seed}")
    elif args.dims and args.sizes and args.ambient:
        dims, sizes, ambient, noise, seed = (args.dims, args.sizes, args.ambient, args.noise,
                                             args.seed)
    else:
        parser.error("give --random I, or --dims, --sizes and --ambient")
    if not 0.0 <= args.outliers < 1.0:
        parser.error("--outliers: a fraction of the points, 0 ≤ F < 1")
    write(args.out, dims, sizes, ambient, noise, seed, args.outliers)


if __name__ == "__main__":
    main()
