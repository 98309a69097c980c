"""A label-free test of whether a gray image set stays itself in a mirror: over 500 probe
images, the cosine (centred pixels) between a mirrored image and its nearest neighbour in
the set, over that between an image and its own nearest neighbour (itself excluded).

    mirror_test.py IDX_IMAGES [IDX_IMAGES ...]

The mirrored image's search includes the image itself, so symmetric images find themselves
and the ratio grows as the set shrinks. `ebsc-pipeline new` prints the measure its
template uses (the mirror ratio, docs/method.md "Mirrored views"): the image left out of
both searches, each image weighted by how much a mirror changes it (animals 0.98,
Fashion-MNIST 0.84, letters 0.74, MNIST 0.73).
"""
import gzip
import sys

import numpy as np


def read_idx(path):
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    n, rows, cols = np.frombuffer(data[4:16], ">u4")
    images = np.frombuffer(data[16:], np.uint8).reshape(n, rows * cols).astype(np.float32)
    return images / 255, (rows, cols)


def unit_centred(a, mean):
    a = a - mean
    return a / np.linalg.norm(a, axis=1, keepdims=True)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        images, (rows, cols) = read_idx(path)
        images = images[:5000]
        mean = images.mean(0)
        probes = np.random.default_rng(0).choice(len(images), 500, replace=False)
        mirrored = images[probes].reshape(-1, rows, cols)[:, :, ::-1].reshape(len(probes), -1)
        pool = unit_centred(images, mean)
        own = unit_centred(images[probes], mean) @ pool.T
        own[np.arange(len(probes)), probes] = -np.inf
        mirror = unit_centred(mirrored, mean) @ pool.T
        own_nn, mirror_nn = own.max(1).mean(), mirror.max(1).mean()
        print(f"{path}: own nearest {own_nn:.3f}, mirrored nearest {mirror_nn:.3f}, ratio {mirror_nn / own_nn:.3f}")
