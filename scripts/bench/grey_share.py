"""A label-free look at whether a gray image set is drawn in strokes and filled shapes or
in texture and shading: over 2,000 images (a seeded sample), the share of lit pixels
(> 0.1) that are mid-grey (0.1 to 0.9). Strokes and silhouettes are grey only at their
anti-aliased edges (fonts 0.43-0.47, MNIST 0.50, Animal-Shape 0.46); clothing is grey
throughout (Fashion-MNIST 0.88). It does not separate the silhouettes (which lose with
`morph`) from strokes; the images template reads the stroke share instead (the share of lit
pixels one erosion removes, `new` prints it; RESULTS.md, "Stroke width").

    grey_share.py IDX_IMAGES [IDX_IMAGES ...]
"""
import sys

import numpy as np

from mirror_test import read_idx

for path in sys.argv[1:]:
    images, _ = read_idx(path)
    pick = np.random.default_rng(0).choice(len(images), min(2000, len(images)), replace=False)
    x = images[pick]
    lit = (x > 0.1).sum(axis=1)
    mid = ((x > 0.1) & (x < 0.9)).sum(axis=1)
    share = mid / np.maximum(lit, 1)
    print(f"{path}: mid-grey share of lit pixels {share.mean():.2f} over {len(x)} images")
