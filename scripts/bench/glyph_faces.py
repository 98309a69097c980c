"""A small many-class image set laid out like the classic face sets (40 people × 10 photos,
one folder a person, PGM files): here 40 fonts × 10 renders of one letter. Every class is
the same letter, so the images crowd together as faces do, and what tells the classes
apart is each font's shape; each render changes what photos of a face change: pose
(rotation up to ±10°, scale 0.9–1.1, shift up to 3 pixels), light (ink and background
levels, a brightness gradient in a random direction) and noise.

    glyph_faces.py OUT_DIR FONT_DIR... [--letter a] [--classes 40] [--per-class 10] [--seed 0]
                   [--pose 1.0]

--pose scales the pose changes (0.5: rotation up to ±5°, scale 0.95–1.05, shift up to 1 or 2
pixels).

Writes OUT_DIR/s1/1.pgm … OUT_DIR/s40/10.pgm (46 wide, 56 high, 8-bit gray) and
OUT_DIR/fonts.txt (the font of each class). Fonts are those under FONT_DIRs that map the
letter, taken in a seeded random order, each kept only if its clean render differs from
every font kept before by a mean absolute difference of at least 8 gray levels (so that no
two classes are the same shape under another name). Needs numpy and pillow.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from font_letters import font_files, has_letters, ink

WIDTH, HEIGHT, RENDER = 46, 56, 160
MIN_DIFFERENCE = 8.0


def glyph(path, letter):
    """The letter in the font at `path`, cropped to its ink (a PIL image), or None."""
    try:
        return ink(ImageFont.truetype(path, RENDER), letter, RENDER)
    except OSError:
        return None


def place(shape, rng=None, pose=1.0):
    """The glyph fitted into 70 % of the frame, posed by rng (none: upright, centred)."""
    angle, scale, dx, dy = 0.0, 1.0, 0, 0
    if rng is not None:
        shift = round(3 * pose)
        angle, scale = rng.uniform(-10, 10) * pose, 1 + rng.uniform(-0.1, 0.1) * pose
        dx, dy = rng.integers(-shift, shift + 1), rng.integers(-shift, shift + 1)
    fit = 0.7 * scale * min(WIDTH / shape.size[0], HEIGHT / shape.size[1])
    size = (max(1, round(shape.size[0] * fit)), max(1, round(shape.size[1] * fit)))
    posed = shape.resize(size, Image.LANCZOS).rotate(angle, Image.BICUBIC, expand=True)
    frame = Image.new("L", (WIDTH, HEIGHT), 0)
    frame.paste(posed, ((WIDTH - posed.size[0]) // 2 + dx, (HEIGHT - posed.size[1]) // 2 + dy))
    return np.asarray(frame, dtype=np.float64) / 255


def photograph(shape, rng):
    """Light and noise on a posed glyph: 8-bit gray."""
    background, ink_level = rng.uniform(40, 90), rng.uniform(170, 240)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * (x / WIDTH - 0.5) + np.sin(direction) * (y / HEIGHT - 0.5))
    light = 1 + rng.uniform(0.2, 0.5) * ramp
    image = (background + (ink_level - background) * shape) * light
    image = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    image = np.asarray(image.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float64)
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("font_dirs", nargs="+")
    parser.add_argument("--letter", default="a")
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pose", type=float, default=1.0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    paths = font_files(args.font_dirs)
    kept, clean = [], []
    for i in rng.permutation(len(paths)):
        if len(kept) == args.classes:
            break
        if not has_letters(paths[i], args.letter):
            continue
        shape = glyph(paths[i], args.letter)
        if shape is None:
            continue
        upright = place(shape)
        if upright.max() < 0.5 or any(np.abs(upright - c).mean() * 255 < MIN_DIFFERENCE for c in clean):
            continue
        kept.append((paths[i], shape))
        clean.append(upright)
    if len(kept) < args.classes:
        sys.exit(f"glyph_faces: only {len(kept)} distinct fonts with {args.letter!r}, {args.classes} asked")
    for person, (_, shape) in enumerate(kept, start=1):
        folder = os.path.join(args.out_dir, f"s{person}")
        os.makedirs(folder, exist_ok=True)
        for photo in range(1, args.per_class + 1):
            Image.fromarray(photograph(place(shape, rng, args.pose), rng)).save(os.path.join(folder, f"{photo}.pgm"))
    with open(os.path.join(args.out_dir, "fonts.txt"), "w") as f:
        f.writelines(f"s{i}\t{os.path.basename(p)}\n" for i, (p, _) in enumerate(kept, start=1))
    print(f"{len(kept)} classes × {args.per_class} renders of {args.letter!r} in {args.out_dir}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
