"""A large input for `ebsc-assign`: a prepared feature set repeated with noise.

    repeat_inputs.py SRC_DIR COPIES NOISE SEED DST_DIR

Reads SRC_DIR/inputs.safetensors (`features` f32 [N, D]) and SRC_DIR/samples.parquet, and
writes DST_DIR/inputs.safetensors (`features` [N·COPIES, D]: copy c of row i is row i plus
Gaussian noise of standard deviation NOISE, drawn per copy from numpy's generator seeded
SEED + c) and DST_DIR/samples.parquet (`index`, `label` of row i, `label_name` null,
`source` "c:i", `split` "repeat"), as prepare's standalone mode would write them. Streams
one copy at a time: memory stays O(N·D). numpy and pyarrow.
"""

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def read_features(path):
    data = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    entry = header["features"]
    start, end = entry["data_offsets"]
    values = np.frombuffer(data[8 + size + start : 8 + size + end], dtype="<f4")
    return values.reshape(entry["shape"])


def main():
    src, copies, noise, seed, dst = sys.argv[1:6]
    src, dst, copies, noise, seed = Path(src), Path(dst), int(copies), float(noise), int(seed)
    dst.mkdir(parents=True, exist_ok=True)
    features = read_features(src / "inputs.safetensors")
    n, d = features.shape
    labels = pq.read_table(src / "samples.parquet").column("label").to_numpy(zero_copy_only=False)
    total = n * copies
    header = {"features": {"dtype": "F32", "shape": [total, d], "data_offsets": [0, total * d * 4]}}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    schema = pa.schema(
        [
            pa.field("index", pa.uint32(), False),
            pa.field("label", pa.int32(), True),
            pa.field("label_name", pa.utf8(), True),
            pa.field("source", pa.utf8(), False),
            pa.field("split", pa.utf8(), False),
        ]
    )
    rows = np.arange(n)
    with open(dst / "inputs.safetensors", "wb") as out, pq.ParquetWriter(dst / "samples.parquet", schema) as writer:
        out.write(struct.pack("<Q", len(text)) + text)
        for c in range(copies):
            rng = np.random.default_rng(seed + c)
            block = features + rng.normal(0.0, noise, size=features.shape).astype("<f4")
            out.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
            table = pa.table(
                {
                    "index": pa.array(np.arange(c * n, (c + 1) * n, dtype=np.uint32)),
                    "label": pa.array(labels.astype(np.int32)),
                    "label_name": pa.nulls(n, pa.utf8()),
                    "source": pa.array([f"{c}:{i}" for i in rows]),
                    "split": pa.array(["repeat"] * n),
                },
                schema=schema,
            )
            writer.write_table(table)


if __name__ == "__main__":
    main()
