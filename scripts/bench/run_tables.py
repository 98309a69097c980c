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
    RUN/train/model.safetensors (as `ebsc_nn::energy` builds them: Linear layers at
    positions 0, 2, 4, … of a PyTorch-style sequence, ReLU between them, tanh after the
    last; any number of hidden layers)."""
    model = load_file(f"{run}/train/model.safetensors")

    def tower(name):
        positions = sorted(int(k.split(".")[2]) for k in model
                           if k.startswith(f"energy.{name}.") and k.endswith(".weight"))
        if not positions:
            raise SystemExit(f"{run}/train/model.safetensors has no energy.{name} tower")
        x = d
        for position in positions:
            w = model[f"energy.{name}.{position}.weight"].astype(np.float64)
            b = model[f"energy.{name}.{position}.bias"].astype(np.float64)
            x = x @ w.T + b
            x = np.tanh(x) if position == positions[-1] else np.maximum(x, 0)
        return x

    return tower("query"), tower("key")
