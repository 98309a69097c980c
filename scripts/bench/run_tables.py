"""Readers for a run's tables, shared by the analysis scripts here."""

import numpy as np
import pyarrow.parquet as pq
from safetensors.numpy import load_file


def assignments(path):
    """An assignments.parquet's clusters and labels (-1 where unknown) in sample order:
    ebsc-cluster writes its rows in the order of the samples it clustered, which need not be
    index order (a fitted subset, shards)."""
    table = pq.read_table(path).to_pydict()
    order = np.argsort(np.array(table["index"]))
    labels = [-1 if label is None else label for label in table.get("label", [None] * len(order))]
    return np.array(table["cluster"])[order], np.array(labels)[order]


def energy_towers(run, d):
    """The trained energy's tower outputs u = q(d), v = k(d) for the unit rows `d`, from
    RUN/train/model.safetensors (as `ebsc_nn::energy` builds them: Linear, ReLU, Linear,
    tanh; towers with one hidden layer only)."""
    model = load_file(f"{run}/train/model.safetensors")
    if any(k.startswith("energy.query.4") for k in model):
        raise SystemExit("energy_towers reads towers with one hidden layer (energy_hidden = [H])")

    def tower(name):
        w = lambda layer, part: model[f"energy.{name}.{layer}.{part}"].astype(np.float64)
        hidden = np.maximum(d @ w(0, "weight").T + w(0, "bias"), 0)
        return np.tanh(hidden @ w(2, "weight").T + w(2, "bias"))

    return tower("query"), tower("key")
