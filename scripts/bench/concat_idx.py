"""Concatenate IDX image sets into one set of more classes.

    concat_idx.py OUT DIR [DIR ...]

Each DIR holds `letters-images-idx3-ubyte` and `letters-labels-idx1-ubyte` (what
scripts/bench/letters.sh writes); OUT gets the same two files, the sets one after another,
each set's labels shifted past the previous sets' (the suite's `capitals-20`: the capitals
A–J of data/letters and K–T of data/letters/capitals, 20 classes). Prints the shape, the
class sizes and the images file's sha256.
"""

import hashlib
import os
import sys

import numpy as np

IMAGES = "letters-images-idx3-ubyte"
LABELS = "letters-labels-idx1-ubyte"


def read_idx(path, dims):
    if not os.path.isfile(path):
        sys.exit(f"concat_idx: {path} is missing (scripts/bench/letters.sh writes these sets)")
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"\0\0\x08" or data[3] != dims:
        sys.exit(f"concat_idx: {path}: not an unsigned-byte IDX file of {dims} dimensions")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data[4 + 4 * dims :], np.uint8).reshape(shape)


def write_idx(path, array):
    """Writes ARRAY as an unsigned-byte IDX file (temp file + rename); returns its bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + np.ascontiguousarray(array).tobytes()
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return data


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, sources = sys.argv[1], sys.argv[2:]
    images, labels, offset = [], [], 0
    for source in sources:
        x = read_idx(os.path.join(source, IMAGES), 3)
        y = read_idx(os.path.join(source, LABELS), 1).astype(np.int64)
        if len(x) != len(y):
            sys.exit(f"concat_idx: {source}: {len(x)} images but {len(y)} labels")
        if images and x.shape[1:] != images[0].shape[1:]:
            sys.exit(f"concat_idx: {source}: images of {x.shape[1:]}, not {images[0].shape[1:]}")
        images.append(x)
        labels.append(y + offset)
        offset += int(y.max()) + 1
    if offset > 256:
        sys.exit(f"concat_idx: {offset} classes do not fit the labels' bytes")
    x, y = np.concatenate(images), np.concatenate(labels).astype(np.uint8)
    os.makedirs(out, exist_ok=True)
    # The images last: the suite takes their presence for a finished set.
    write_idx(os.path.join(out, LABELS), y)
    digest = hashlib.sha256(write_idx(os.path.join(out, IMAGES), x)).hexdigest()
    print(f"concat_idx: {x.shape}, classes of {np.bincount(y).tolist()}, sha256 {digest}")


if __name__ == "__main__":
    main()
