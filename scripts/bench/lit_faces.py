"""A face set laid out like the cropped Extended Yale B: each person's face seen from the front
under the same many light directions, one folder a person, PGM files. Every person is a
smooth height map (a head, brow, eye sockets, nose, cheeks, mouth and chin, each placed and
sized at random around one shared face, plus a few random bumps) with an albedo map (skin,
eyes, brows, lips, a hairline); each image is the Lambertian shading of that surface under
one distant light, attached shadows included, plus a little ambient light and noise. Images
of one person under lights that do not shadow it lie on a 3-dimensional subspace, and near a
low-dimensional one with the shadows; images of two people under the same light are closer
in pixels than one person's images under two lights, as in the real set.

    lit_faces.py OUT_DIR [--people 10] [--lights 64] [--width 42] [--height 48]
                 [--spread 1.0] [--seed 0]

--spread scales how much people differ from the shared face (1.0: positions move up to 0.06
of the face's width, sizes and depths vary by about 20 %).

Writes OUT_DIR/s1/1.pgm … (8-bit gray) and OUT_DIR/lights.txt (each light's azimuth and
elevation in degrees, in the order of the file names). Needs numpy.
"""

import argparse
import os

import numpy as np


def bump(u, v, cu, cv, su, sv):
    return np.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2))


def person(rng, u, v, spread):
    def jitter(value, scale):
        return value + spread * scale * rng.uniform(-1, 1)

    def factor(scale=0.2):
        return 1 + spread * scale * rng.uniform(-1, 1)

    # Height: an ellipsoidal head with the features added on it (units of the face's width).
    a, b = jitter(0.95, 0.05), jitter(1.15, 0.05)
    head = np.sqrt(np.clip(1 - (u / a) ** 2 - (v / b) ** 2, 0, None)) * 0.8 * factor()
    eye_u, eye_v = jitter(0.36, 0.04), jitter(-0.18, 0.05)
    nose_v, nose_len = jitter(0.12, 0.04), 0.22 * factor()
    mouth_v = jitter(0.55, 0.05)
    z = head
    z += 0.22 * factor() * bump(u, v, 0, nose_v, 0.09 * factor(), nose_len)
    z += 0.10 * factor() * bump(u, v, 0, nose_v + nose_len * 0.9, 0.14 * factor(), 0.07)
    for side in (-1, 1):
        z -= 0.12 * factor() * bump(u, v, side * eye_u, eye_v, 0.13 * factor(), 0.09 * factor())
        z += 0.06 * factor() * bump(u, v, side * jitter(0.42, 0.05), jitter(0.25, 0.05), 0.17, 0.15)
    z += 0.07 * factor() * bump(u, v, 0, eye_v - 0.17, 0.45 * factor(), 0.06)
    z -= 0.04 * factor() * bump(u, v, 0, mouth_v, 0.2 * factor(), 0.05)
    z += 0.06 * factor() * bump(u, v, 0, jitter(0.82, 0.04), 0.22, 0.1)
    for _ in range(6):
        z += spread * 0.03 * rng.standard_normal() * bump(
            u, v, rng.uniform(-0.8, 0.8), rng.uniform(-0.9, 0.9), 0.2, 0.2)

    # Albedo: skin, darker eyes, brows and lips, hair above a hairline.
    albedo = np.full(u.shape, rng.uniform(0.55, 0.9))
    for side in (-1, 1):
        albedo -= 0.35 * bump(u, v, side * eye_u, eye_v, 0.07, 0.04)
        albedo -= 0.3 * factor() * bump(u, v, side * eye_u, eye_v - 0.13, 0.13, 0.03)
    albedo -= 0.2 * factor() * bump(u, v, 0, mouth_v, 0.15, 0.035)
    hairline = jitter(-0.72, 0.1)
    albedo = np.where(v < hairline + 0.05 * np.sin(3 * u + rng.uniform(0, 6)),
                      rng.uniform(0.1, 0.4), albedo)
    return z, np.clip(albedo, 0.02, 1)


def normals(z, step):
    dz_dv, dz_du = np.gradient(z, step)
    n = np.stack([-dz_du, dz_dv, np.ones_like(z)])  # image rows run down: v up is -row
    return n / np.linalg.norm(n, axis=0, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--lights", type=int, default=64)
    parser.add_argument("--width", type=int, default=42)
    parser.add_argument("--height", type=int, default=48)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    step = 2.0 / args.width
    u, v = np.meshgrid(np.arange(args.width) * step - 1 + step / 2,
                       (np.arange(args.height) - args.height / 2 + 0.5) * step)
    # The same lights for everyone, as in the real set: azimuth ±120°, elevation −40° to 80°.
    azimuth = np.radians(rng.uniform(-120, 120, args.lights))
    elevation = np.radians(rng.uniform(-40, 80, args.lights))
    lights = np.stack([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                       np.cos(azimuth) * np.cos(elevation)])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "lights.txt"), "w") as f:
        for az, el in zip(np.degrees(azimuth), np.degrees(elevation)):
            f.write(f"{az:.1f} {el:.1f}\n")
    for p in range(args.people):
        z, albedo = person(rng, u, v, args.spread)
        n = normals(z, step)
        folder = os.path.join(args.out, f"s{p + 1}")
        os.makedirs(folder, exist_ok=True)
        for i in range(args.lights):
            shade = np.clip(np.tensordot(lights[:, i], n, axes=1), 0, None)
            image = albedo * (shade + 0.03) * 230 + rng.normal(0, 2, shade.shape)
            pixels = np.clip(np.round(image), 0, 255).astype(np.uint8)
            with open(os.path.join(folder, f"{i + 1}.pgm"), "wb") as f:
                f.write(f"P5\n{args.width} {args.height}\n255\n".encode() + pixels.tobytes())


if __name__ == "__main__":
    main()
