"""A folder of grayscale PGM images that are a union of subspaces: the `just new` benchmark's
stand-in for a small face set (many classes, few images each, all alike by cosine).

    python3 subspace_images.py OUT CLASSES PER_CLASS DIM SIDE NOISE SEED

Each class is a random DIM-dimensional subspace of the SIDE×SIDE pixels; each image is a
unit-norm point of it plus Gaussian noise (expected norm NOISE), shown as 128 ± 40 gray
levels. Plain Python, no NumPy.
"""
import random, math, os, sys
out, K, per, dim, side, noise, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
D = side*side
rng = random.Random(seed)
def normalize(v):
    n = math.sqrt(sum(x*x for x in v)); return [x/n for x in v]
for k in range(K):
    basis = []
    while len(basis) < dim:
        v = [rng.gauss(0,1) for _ in range(D)]
        for b in basis:
            d = sum(x*y for x,y in zip(v,b)); v = [x-d*y for x,y in zip(v,b)]
        basis.append(normalize(v))
    folder = os.path.join(out, f"class{k:02d}"); os.makedirs(folder, exist_ok=True)
    for i in range(per):
        a = [rng.gauss(0,1) for _ in range(dim)]
        p = normalize([sum(a[j]*basis[j][t] for j in range(dim)) for t in range(D)])
        p = [x + noise*rng.gauss(0,1)/math.sqrt(D) for x in p]
        px = bytes(max(0, min(255, round(128 + 40*x*math.sqrt(D)))) for x in p)
        with open(os.path.join(folder, f"img{i:03d}.pgm"), "wb") as f:
            f.write(f"P5\n{side} {side}\n255\n".encode() + px)
