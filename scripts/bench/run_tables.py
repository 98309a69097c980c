"""Readers for a run's tables, shared by the analysis scripts here."""

import numpy as np
import pyarrow.parquet as pq


def assignments(path):
    """An assignments.parquet's clusters and labels (-1 where unknown) in sample order:
    ebsc-cluster writes its rows in the order of the samples it clustered, which need not be
    index order (a fitted subset, shards)."""
    table = pq.read_table(path).to_pydict()
    order = np.argsort(np.array(table["index"]))
    labels = [-1 if label is None else label for label in table.get("label", [None] * len(order))]
    return np.array(table["cluster"])[order], np.array(labels)[order]
