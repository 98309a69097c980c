#!/usr/bin/env python3
"""Unions of linear subspaces that overlap densely, as CSV tables (columns f0…, then
`label`) for `just new`: the classic test of sparse subspace clustering (5 subspaces of
6 dimensions in R^9, as in the SSC-OMP and EnSC papers' synthetic experiments), where a
sample's nearest neighbours come from the subspaces it shares directions with as often as
from its own, and a few checks beside it.

    dense_subspaces.py OUT_DIR

Subspace k has a random orthonormal basis of d columns in R^D; its n points are Gaussian
combinations of the basis scaled to unit norm, plus Gaussian noise of expected norm
`noise`; rows are shuffled. Each table has its own seed, so the files are the same on
every run. Needs numpy (and few_dim_subspaces.py beside it).
"""
import os
import sys

from few_dim_subspaces import save, unit_union


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tables = {f"omp-5x6-R9-n{n}": unit_union(5, 6, 9, n, 0.0, 40 + n) for n in (30, 60, 100, 300)}
    tables["omp-5x6-R9-n100-noise0.1"] = unit_union(5, 6, 9, 100, 0.1, 45)
    tables["ssc-3x4-R50-n100"] = unit_union(3, 4, 50, 100, 0.0, 46)
    tables["ensc-10x5-R30-n50"] = unit_union(10, 5, 30, 50, 0.0, 47)
    tables["5x3-R10-n80-noise0.05"] = unit_union(5, 3, 10, 80, 0.05, 48)
    tables["4x5-R12-n60-noise0.1"] = unit_union(4, 5, 12, 60, 0.1, 49)
    for name, (x, y) in tables.items():
        save(out, name, x, y)
    print(f"{len(tables)} tables in {out}")


if __name__ == "__main__":
    main()
