"""How much of a clustering follows image brightness rather than class: for each class, the
share of the variance of its images' mean intensity that the clusters explain (R², 0 when
every cluster holds the class's dark and bright images alike, 1 when brightness alone
decides where an image of the class goes), and the class's three largest clusters with the
mean intensity of the class's images in each.

    brightness_split.py RUN [ASSIGNMENTS]

RUN is a run folder (its prepare/inputs.safetensors holds the images); ASSIGNMENTS an
assignments.parquet with labels, by default the run's own cluster/assignments.parquet. Pass
an `ebsc-cluster --features ... --labels ... --out DIR` result's DIR/assignments.parquet to
score a baseline's clusters the same way.
"""
import sys

import numpy as np
from safetensors.numpy import load_file

from run_tables import assignments

run = sys.argv[1]
clusters, labels = assignments(
    sys.argv[2] if len(sys.argv) > 2 else f"{run}/cluster/assignments.parquet")

images = load_file(f"{run}/prepare/inputs.safetensors")["images"]
brightness = images.reshape(len(images), -1).astype(np.float64).mean(1) / 255

for label in np.unique(labels[labels >= 0]):
    b, c = brightness[labels == label], clusters[labels == label]
    total = ((b - b.mean()) ** 2).sum()
    within = sum(((b[c == k] - b[c == k].mean()) ** 2).sum() for k in np.unique(c))
    counts = np.bincount(c)
    largest = counts.argsort()[::-1][:3]
    parts = ", ".join(
        f"cluster {k}: {counts[k]} at {b[c == k].mean():.3f}" for k in largest if counts[k]
    )
    print(f"class {label}: R² {1 - within / total:.2f}  (mean {b.mean():.3f}; {parts})")
