"""What the energy's learned residual does to a sample's neighbours. The energy of a trained
run is −E(d_i, d_j) = κ·cos(d_i, d_j) + ⟨u_i, v_j⟩ (docs/method.md); this scores, on 2,000
query samples against all others, the same-label share (purity) of each query's top 10 and
top 20 atoms ranked by cos + s·⟨u, v⟩ for a few scales s (s = 0 is the cosine alone, s = 1
the run's own energy with κ = 1), and says how large the residual is against the cosine's
spread among a query's nearest atoms and whether it is larger on same-label atoms.

    residual_purity.py RUN [S ...]

RUN is a run folder with train/model.safetensors (the energy towers: two-layer MLPs, ReLU
then tanh, as `ebsc_nn::energy` builds them), train/features.safetensors and a labelled
cluster/assignments.parquet. S defaults to 0 0.25 0.5 1.
"""
import sys

import numpy as np
from safetensors.numpy import load_file

from run_tables import assignments, energy_towers

run = sys.argv[1]
scales = [float(s) for s in sys.argv[2:]] or [0.0, 0.25, 0.5, 1.0]
d = load_file(f"{run}/train/features.safetensors")["dictionary"].astype(np.float64)
d /= np.linalg.norm(d, axis=1, keepdims=True)
_, labels = assignments(f"{run}/cluster/assignments.parquet")


u, v = energy_towers(run, d)
queries = np.random.default_rng(0).choice(len(d), min(2000, len(d)), replace=False)
cosine, residual = d[queries] @ d.T, u[queries] @ v.T
cosine[np.arange(len(queries)), queries] = -np.inf  # a sample is not its own atom
residual[np.arange(len(queries)), queries] = 0
query_labels = labels[queries][:, None]

near = np.argsort(-cosine, axis=1)[:, :50]
same = labels[near] == query_labels
c, r = np.take_along_axis(cosine, near, 1), np.take_along_axis(residual, near, 1)
print(f"{run}: among each query's 50 nearest by cosine, the cosine spreads {c[:, :20].std(1).mean():.3f} "
      f"(std over a query's top 20), the residual {r[:, :20].std(1).mean():.3f}; residual on same-label "
      f"atoms {r[same].mean():+.3f}, on others {r[~same].mean():+.3f}")
for s in scales:
    ranked = np.argsort(-(cosine + s * residual), axis=1)
    purity = [(labels[ranked[:, :k]] == query_labels).mean() for k in (10, 20)]
    print(f"  s = {s:g}: purity of the top 10 {purity[0]:.4f}, top 20 {purity[1]:.4f}")
