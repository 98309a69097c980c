"""MNIST-like IDX images with every second image mirrored left to right: a set whose
classes hold both orientations by construction, to check the images template's mirrored
views (docs/method.md, "Mirrored views") on a set made after the rule was fixed.

    mirrored_half.py IMAGES LABELS OUT_DIR

IMAGES and LABELS are IDX files (optionally .gz); OUT_DIR gets
mirrored-images-idx3-ubyte and mirrored-labels-idx1-ubyte (the labels unchanged).
"""
import gzip
import os
import sys

import numpy as np


def read(path):
    return (gzip.open if path.endswith(".gz") else open)(path, "rb").read()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    images, labels, out = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
    n, rows, cols = np.frombuffer(images[4:16], ">u4")
    pixels = np.frombuffer(images[16:], np.uint8).reshape(n, rows, cols).copy()
    pixels[1::2] = pixels[1::2, :, ::-1]
    os.makedirs(out, exist_ok=True)
    for name, data in [("mirrored-images-idx3-ubyte", images[:16] + pixels.tobytes()),
                       ("mirrored-labels-idx1-ubyte", labels)]:
        with open(f"{out}/{name}.tmp", "wb") as f:
            f.write(data)
        os.replace(f"{out}/{name}.tmp", f"{out}/{name}")


if __name__ == "__main__":
    main()
