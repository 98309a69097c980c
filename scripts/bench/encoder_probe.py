"""Probes of objectives that might reshape a run's convnet so its classes cluster better,
written in plain PyTorch on a copy of the run's encoder (the same convnet and head as
`ebsc-nn`, loaded from the run's safetensors; the replica's features match the run's to
1e-7). Each continues training for STEPS steps of 256 images (AdamW, cosine learning
rate from LR, augmentations close to the images template's: crop 0.4–1, rotation ±15° in
half the views, brightness/contrast 0.4 in 80 %, noise 0.05 in half), then writes the new
features and clusters them with ebsc-cluster as the suite scores a feature set (cosine
10-NN graph, K + 2 eigenvectors, sizes equal and free; k-means on the rows):
  nt-xent      the pretrained encoder, NT-Xent (τ 0.2) on two views: the control
  neighbours   the pretrained encoder, NT-Xent where the second view is, in half the pairs,
               an augmented image of one of the sample's 10 nearest neighbours (cosine,
               pretrained head) instead of the sample itself
  morph        the control with stroke width in the views: a quarter of them dilated and
               a quarter eroded by a 3×3 grey-level maximum / minimum filter
  self-label   the jointly trained encoder, cross-entropy (label smoothing 0.1) of a new
               linear classifier on the backbone against the run's clusters, on the samples
               whose 10 nearest neighbours (trained dictionary) share their cluster at
               least 80 %, plus NT-Xent; also prints the classifier's own ACC

    encoder_probe.py RUN MODE OUT [STEPS=400] [LR=1e-3]

RUN is a run folder of the images template (prepare/, pretrain/, train/, cluster/); OUT a
scratch folder. Needs torch (the project's .venv) and numpy, scipy, pyarrow, safetensors
(target/bench-venv), e.g. PYTHONPATH=.venv/lib/python3.11/site-packages
target/bench-venv/bin/python scripts/bench/encoder_probe.py data/runs/fashion neighbours /tmp/p
"""
import json
import math
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from assign_rule import accuracy
from run_tables import assignments

run, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 400
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
if mode not in ("nt-xent", "neighbours", "self-label", "morph"):
    sys.exit(f"encoder_probe: unknown mode {mode!r}; expected nt-xent, neighbours, self-label or morph")
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(2)

encoder_file = f"{run}/pretrain/encoder.safetensors"
with open(encoder_file, "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
spec = json.loads(header["__metadata__"]["ebsc.encoder"])
if spec["encoder"]["kind"] != "convnet":
    sys.exit(f"encoder_probe: {encoder_file} holds a {spec['encoder']['kind']}; only the convnet is replicated")
mean, std = spec["input"]["mean"][0], spec["input"]["std"][0]
width = spec["encoder"]["width"]
trained = mode == "self-label"
weights = load_file(f"{run}/train/model.safetensors" if trained else encoder_file)
images = load_file(f"{run}/prepare/inputs.safetensors")["images"].float() / 255.0
reference = load_file(f"{run}/train/features.safetensors")["dictionary"] if trained else (
    load_file(f"{run}/pretrain/features.safetensors")["head"])


class ConvNet(nn.Module):
    """ebsc-nn's convnet and head: five 3×3 conv + BN + ReLU (max-pool after the 2nd and
    4th), global average pool, then Linear-BN-ReLU-Linear and L2 normalisation."""

    def __init__(self, w):
        super().__init__()
        plan = [(1, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 1, bias=False) for a, b in plan)
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for _, b in plan)
        self.fc1, self.bn1, self.fc2 = nn.Linear(4 * w, 256), nn.BatchNorm1d(256), nn.Linear(256, 128)

    def backbone(self, x):
        x = (x - mean) / std
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i in (1, 3):
                x = F.max_pool2d(x, 2)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        return F.normalize(self.fc2(F.relu(self.bn1(self.fc1(self.backbone(x))))), dim=1)


net = ConvNet(width)
names = {}
for i, (block, j) in enumerate([("block1", 1), ("block1", 2), ("block2", 1), ("block2", 2), ("block3", 1)]):
    names[f"convs.{i}.weight"] = f"encoder.{block}.conv{j}.weight"
    for s in ("weight", "bias", "running_mean", "running_var"):
        names[f"bns.{i}.{s}"] = f"encoder.{block}.bn{j}.{s}"
for layer in ("fc1", "fc2", "bn1"):
    for s in ("weight", "bias", "running_mean", "running_var"):
        if f"head.{layer}.{s}" in weights:
            names[f"{layer}.{s}"] = f"head.{layer}.{s}"
state = net.state_dict()
for ours, theirs in names.items():
    state[ours].copy_(weights[theirs])
net.load_state_dict(state)


def embed():
    net.eval()
    with torch.no_grad():
        h = torch.cat([net.backbone(images[i:i + 1000]) for i in range(0, len(images), 1000)])
        z = F.normalize(net.fc2(F.relu(net.bn1(net.fc1(h)))), dim=1)
    net.train()
    return h, z


_, z0 = embed()
print(f"replica: largest difference from the run's features {(z0 - reference).abs().max().item():.1e}", flush=True)


def augment(x):
    b = x.shape[0]
    side = torch.empty(b).uniform_(0.4, 1.0).sqrt()
    aspect = torch.exp(torch.empty(b).uniform_(math.log(3 / 4), math.log(4 / 3))).sqrt()
    sx, sy = side * aspect, side / aspect
    tx = (1 - sx).clamp(min=0) * torch.empty(b).uniform_(-1, 1)
    ty = (1 - sy).clamp(min=0) * torch.empty(b).uniform_(-1, 1)
    angle = torch.where(torch.rand(b) < 0.5, torch.empty(b).uniform_(-15, 15), torch.zeros(b)) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = sx * cos, -sy * sin, tx
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sx * sin, sy * cos, ty
    y = F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)
    on = (torch.rand(b, 1, 1, 1) < 0.8).float()
    brightness = 1 + on * torch.empty(b, 1, 1, 1).uniform_(-0.4, 0.4)
    contrast = 1 + on * torch.empty(b, 1, 1, 1).uniform_(-0.4, 0.4)
    m = y.mean(dim=(1, 2, 3), keepdim=True)
    y = ((y * brightness - m) * contrast + m).clamp(0, 1)
    noise = (torch.rand(b, 1, 1, 1) < 0.5).float() * torch.randn_like(y) * 0.05
    y = (y + noise).clamp(0, 1)
    if mode == "morph":
        # Stroke width: a quarter of the views dilated, a quarter eroded (3×3).
        pick = torch.rand(b, 1, 1, 1)
        dilated = F.max_pool2d(y, 3, 1, 1)
        eroded = -F.max_pool2d(-y, 3, 1, 1)
        y = torch.where(pick < 0.25, dilated, torch.where(pick < 0.5, eroded, y))
    return y


def nt_xent(a, b, t=0.2):
    z = torch.cat([a, b])
    s = z @ z.T / t
    s.fill_diagonal_(-1e9)
    n = a.shape[0]
    return F.cross_entropy(s, torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]))


clusters, truth = assignments(f"{run}/cluster/assignments.parquet")
clusters = torch.tensor(clusters, dtype=torch.long)
k = int(clusters.max()) + 1

n = len(images)
similarity = reference @ reference.T
similarity.fill_diagonal_(-2)
neighbours = similarity.topk(10, dim=1).indices
pool = torch.arange(n)
classifier = None
if mode == "self-label":
    agreement = (clusters[neighbours] == clusters[:, None]).float().mean(1)
    pool = (agreement >= 0.8).nonzero().flatten()
    print(f"self-label: {len(pool)} confident samples; the clusters' ACC {accuracy(truth, clusters.numpy()):.4f}", flush=True)
    classifier = nn.Linear(4 * width, k)
params = list(net.parameters()) + (list(classifier.parameters()) if classifier else [])
optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
start = time.time()
for step in range(steps):
    if mode == "self-label":
        idx = pool[torch.randint(0, len(pool), (256,))]
        logits = classifier(net.backbone(augment(images[idx])))
        loss = F.cross_entropy(logits, clusters[idx], label_smoothing=0.1)
        loss = loss + nt_xent(net(augment(images[idx])), net(augment(images[idx])))
    else:
        idx = torch.randint(0, n, (256,))
        # The control draws the neighbours too, so both modes see the same random stream.
        picked = neighbours[idx, torch.randint(0, 10, (256,))]
        use = torch.rand(256) < (0.5 if mode == "neighbours" else 0.0)
        other = torch.where(use, picked, idx)
        loss = nt_xent(net(augment(images[idx])), net(augment(images[other])))
    for group in optimizer.param_groups:
        group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 100 == 0:
        print(f"step {step}: loss {loss.item():.4f} ({time.time() - start:.0f} s)", flush=True)

h, z = embed()
if classifier is not None:
    with torch.no_grad():
        print(f"self-label: the classifier's argmax ACC {accuracy(truth, classifier(h).argmax(1).numpy()):.4f}")
features = f"{out}/{mode}.safetensors"
save_file({"head": z.contiguous()}, features)
seed = json.load(open(f"{run}/cluster/manifest.json"))["config"]["seed"]
for name, label, extra in [
    ("graph-equal", "10-NN graph, sizes equal", ["--knn", "10", "--n-eigenvectors", str(k + 2), "--sizes", "equal"]),
    ("graph-free", "10-NN graph, sizes free", ["--knn", "10", "--n-eigenvectors", str(k + 2), "--sizes", "free"]),
    ("kmeans", "k-means", ["--normalize-rows"]),
]:
    folder = f"{out}/{mode}-{name}"
    subprocess.run(
        ["target/release/ebsc-cluster", "--labels", f"{run}/prepare/samples.parquet",
         "--n-clusters", str(k), "--seed", str(seed), "--features", features,
         "--tensor", "head", "--progress", "none", "--out", folder] + extra,
        check=True, capture_output=True)
    metrics = json.load(open(f"{folder}/metrics.json"))
    print(f"{mode}, {label}: ACC {metrics['acc']:.4f}, NMI {metrics['nmi']:.4f}, ARI {metrics['ari']:.4f}")
