"""A copy of a pipeline's train and cluster outputs that keeps L of its landmarks.

    landmarks.py SRC_RUNS PIPELINE L SEED DST_RUNS

Writes DST_RUNS/PIPELINE/train/model.safetensors (a copy), train/features.safetensors
(`dictionary`: L rows drawn without replacement with numpy's generator seeded SEED, in
index order) and cluster/assignments.parquet (those rows' clusters and labels), which is
what `ebsc-assign` reads. For timing assignment against fewer landmarks without
retraining: the landmarks keep the clusters the full run gave them. numpy and pyarrow.
"""

import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def read_tensor(path, name):
    data = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    entry = header[name]
    start, end = entry["data_offsets"]
    values = np.frombuffer(data[8 + size + start : 8 + size + end], dtype="<f4")
    return values.reshape(entry["shape"])


def write_tensor(path, name, array):
    array = np.ascontiguousarray(array, dtype="<f4")
    header = {name: {"dtype": "F32", "shape": list(array.shape), "data_offsets": [0, array.nbytes]}}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + array.tobytes())


def main():
    src, pipeline, count, seed, dst = sys.argv[1:6]
    src, dst = Path(src) / pipeline, Path(dst) / pipeline
    dictionary = read_tensor(src / "train/features.safetensors", "dictionary")
    rows = np.sort(np.random.default_rng(int(seed)).choice(len(dictionary), int(count), replace=False))
    (dst / "train").mkdir(parents=True, exist_ok=True)
    (dst / "cluster").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "train/model.safetensors", dst / "train/model.safetensors")
    write_tensor(dst / "train/features.safetensors", "dictionary", dictionary[rows])
    table = pq.read_table(src / "cluster/assignments.parquet").take(pa.array(rows))
    index = pa.array(np.arange(len(rows), dtype=np.uint32))
    table = table.set_column(table.schema.get_field_index("index"), "index", index)
    pq.write_table(table, dst / "cluster/assignments.parquet")


if __name__ == "__main__":
    main()
