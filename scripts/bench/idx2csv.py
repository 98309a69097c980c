"""IDX images and labels -> a Kaggle-style pixel CSV (`label,pixel1,...,pixelD`), the
layout Fashion-MNIST and Sign Language MNIST are handed around in on Kaggle.

    python scripts/bench/idx2csv.py IMAGES LABELS OUT.csv [N]

IMAGES and LABELS are IDX files (plain, not gzipped); N keeps the first N images.
"""
import sys

import numpy as np


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    images, labels = read_idx(sys.argv[1]), read_idx(sys.argv[2])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else len(labels)
    images, labels = images[:n].reshape(n, -1), labels[:n]
    with open(sys.argv[3], "w") as out:
        out.write("label," + ",".join(f"pixel{i + 1}" for i in range(images.shape[1])) + "\n")
        for label, row in zip(labels, images):
            out.write(f"{label}," + ",".join(map(str, row)) + "\n")


if __name__ == "__main__":
    main()
