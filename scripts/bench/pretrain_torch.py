"""The pretraining step of `ebsc-pretrain` written in plain PyTorch, for the benchmark in
scripts/bench/pretrain.sh: the same models (convnet width 32, ResNet-18 CIFAR stem), the same
augmentations (one affine grid_sample for crop/flip/rotation/shear, colour jitter, grayscale,
grouped separable blur, noise), two views in one forward pass (fp32), NT-Xent, AdamW.

usage: pretrain_torch.py <convnet|resnet18> <side> <channels> <batch> <steps> [cpu|cuda]
prints: samples_per_s=... augment_share=... step_ms=...
"""

import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class ConvNet(nn.Module):
    def __init__(self, c, w):
        super().__init__()
        plan = [(c, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w)]
        self.convs = nn.ModuleList(conv3x3(a, b) for a, b in plan)
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for _, b in plan)
        self.dim = 4 * w

    def forward(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i in (1, 3):
                x = F.max_pool2d(x, 2)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, cout, stride), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = conv3x3(cout, cout), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, c, w):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(c, w), nn.BatchNorm2d(w)
        blocks, cin = [], w
        for mult, stride in [(1, 1), (2, 2), (4, 2), (8, 2)]:
            blocks += [Block(cin, w * mult, stride), Block(w * mult, w * mult, 1)]
            cin = w * mult
        self.blocks = nn.Sequential(*blocks)
        self.dim = 8 * w

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class Model(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.encoder = backbone
        self.head = nn.Sequential(nn.Linear(backbone.dim, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 128))
        self.register_buffer("mean", torch.full((1, 1, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 1, 1, 1), 0.25))

    def forward(self, x):
        return F.normalize(self.head(self.encoder((x - self.mean) / self.std)), dim=1)


def luma(x):
    return (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)


def augment(x, rgb):
    b, c, h, w = x.shape
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(()).item()
    coin = lambda p: torch.rand(()).item() < p
    thetas, bright, contrast, sat, gray, sigma, noise = [], [], [], [], [], [], []
    for _ in range(b):
        m = torch.eye(3, dtype=torch.float64)
        area = u(0.2, 1.0) if rgb else u(0.4, 1.0)
        ratio = math.exp(u(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = min(math.sqrt(area * ratio), 1.0), min(math.sqrt(area / ratio), 1.0)
        m = m @ torch.tensor([[cw, 0, u(-(1 - cw), 1 - cw)], [0, ch, u(-(1 - ch), 1 - ch)], [0, 0, 1]], dtype=torch.float64)
        if rgb and coin(0.5):
            m = m @ torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
        if not rgb and coin(0.5):
            a, s = math.radians(u(-15, 15)), math.tan(math.radians(u(-10, 10)))
            rot = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], dtype=torch.float64)
            m = m @ rot @ torch.tensor([[1, s, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)
        thetas.append(m[:2])
        j = coin(0.8)
        bright.append(u(0.6, 1.4) if j else 1.0)
        contrast.append(u(0.6, 1.4) if j else 1.0)
        sat.append(u(0.6, 1.4) if j and rgb else 1.0)
        gray.append(1.0 if rgb and coin(0.2) else 0.0)
        sigma.append(u(0.1, 1.5) if not rgb and coin(0.3) else 0.0)
        noise.append(1.0 if not rgb and coin(0.5) else 0.0)
    dev = x.device
    per = lambda v: torch.tensor(v, dtype=torch.float32, device=dev).view(b, 1, 1, 1)
    theta = torch.stack(thetas).float().to(dev)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), mode="bilinear", padding_mode="zeros", align_corners=False)
    x = (x * per(bright)).clamp(0, 1)
    g = luma(x) if rgb else x
    mean = g.mean((1, 2, 3), keepdim=True)
    x = ((x - mean) * per(contrast) + mean).clamp(0, 1)
    if rgb:
        g = luma(x)
        x = ((x - g) * per(sat) + g).clamp(0, 1)
        gm = per(gray)
        x = luma(x) * gm + x * (1 - gm)
    if any(s > 0 for s in sigma):
        r = max(1, min(math.ceil(3 * max(sigma)), min(h, w) - 1))
        k = torch.arange(-r, r + 1, dtype=torch.float64)
        rows = []
        for s in sigma:
            row = torch.exp(-(k**2) / (2 * s * s)) if s > 0 else (k == 0).double()
            rows += [row / row.sum()] * c
        ker = torch.stack(rows).float().to(dev)
        y = F.pad(x.reshape(1, b * c, h, w), (r, r, r, r), mode="reflect")
        y = F.conv2d(y, ker.view(b * c, 1, 2 * r + 1, 1), groups=b * c)
        x = F.conv2d(y, ker.view(b * c, 1, 1, 2 * r + 1), groups=b * c).reshape(b, c, h, w)
    if any(noise):
        x = (x + torch.randn(x.shape, device=dev) * per(noise) * 0.05).clamp(0, 1)
    return x


def nt_xent(z1, z2, t):
    b = z1.shape[0]
    z = torch.cat([z1, z2]).float()
    logits = (z @ z.T / t).masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(logits, (torch.arange(2 * b, device=z.device) + b) % (2 * b))


def main():
    kind, side, c, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    dev = torch.device(sys.argv[6] if len(sys.argv) > 6 else "cpu")
    torch.manual_seed(0)
    n = batch * 4
    data = (torch.arange(n * c * side * side, dtype=torch.int64) * 2654435761 >> 7).remainder(256).to(torch.uint8).view(n, c, side, side).to(dev)
    backbone = ConvNet(c, 32) if kind == "convnet" else ResNet18(c, 64)
    model = Model(backbone).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    warmup, total, in_aug = 2, 0.0, 0.0
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        idx = torch.randperm(n)[:batch].to(dev)
        x = data[idx].float() / 255
        views = torch.cat([augment(x, c == 3), augment(x, c == 3)])
        sync()
        t1 = time.perf_counter()
        opt.zero_grad()
        z = model(views)  # fp32, as ours
        loss = nt_xent(z[:batch], z[batch:], 0.5)
        loss.item()
        loss.backward()
        opt.step()
        sync()
        if step >= warmup:
            total += time.perf_counter() - t0
            in_aug += t1 - t0
    print(f"samples_per_s={batch * steps / total:.1f} augment_share={in_aug / total:.3f} step_ms={1000 * total / steps:.1f}")


if __name__ == "__main__":
    main()
