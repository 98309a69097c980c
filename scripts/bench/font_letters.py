"""A notMNIST-like data set from the fonts of Debian packages: the letters A–J, one image
per (font, letter), 28×28 gray, as MNIST-style IDX files.

    font_letters.py [--letters CHARS] OUT_DIR FONT_DIR...

--letters: the ten (or any number of distinct) characters to draw instead of A–J, labels
0, 1, … in their order (the suite's `lowercase` set is `--letters klmnorstuv`).
Every .ttf and .otf file under the FONT_DIRs whose character map has the letters is rendered:
the glyph at 96 pixels, cropped to its ink, scaled to fit 24×24 (aspect kept, antialiased)
and centred in 28×28 like MNIST's digits. Fonts whose ten renders repeat another font's
exactly, or where two letters render alike (symbol fonts mapping letters to one shape),
are left out. Samples are shuffled with a fixed seed, so the file is the same for the
same fonts. Labels 0–9 are A–J. Writes OUT_DIR/letters-images-idx3-ubyte,
OUT_DIR/letters-labels-idx1-ubyte and OUT_DIR/fonts.txt (the font files used, in the order
they were rendered: sample i is letter order[i] % 10 of font order[i] // 10, with
order = numpy.random.default_rng(0).permutation(N)). Needs numpy, pillow and fonttools.
"""

import hashlib
import os
import struct
import sys

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

LETTERS = "ABCDEFGHIJ"
SIZE, BOX, RENDER = 28, 24, 96


def has_letters(path, letters=LETTERS):
    try:
        font = TTFont(path, lazy=True, fontNumber=0)
        cmap = font.getBestCmap() or {}
    except Exception:  # a file fontTools cannot read is not used
        return False
    return all(ord(c) in cmap for c in letters)


def font_files(font_dirs):
    """Every .ttf and .otf file under the folders, sorted."""
    return sorted(
        os.path.join(root, name)
        for d in font_dirs
        for root, _, names in os.walk(d)
        for name in names
        if name.lower().endswith((".ttf", ".otf"))
    )


def ink(font, letter, size):
    """The letter drawn at `size` pixels and cropped to its ink (a PIL image), or None."""
    canvas = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(canvas).text((size, size), letter, fill=255, font=font)
    box = canvas.getbbox()
    return None if box is None else canvas.crop(box)


def render(font, letter):
    glyph = ink(font, letter, RENDER)
    if glyph is None:
        return None
    w, h = glyph.size
    scale = BOX / max(w, h)
    glyph = glyph.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    out = Image.new("L", (SIZE, SIZE), 0)
    out.paste(glyph, ((SIZE - glyph.size[0]) // 2, (SIZE - glyph.size[1]) // 2))
    return np.asarray(out, dtype=np.uint8)


def main():
    args = sys.argv[1:]
    letters = LETTERS
    if args[:1] == ["--letters"]:
        letters, args = args[1], args[2:]
    if len(args) < 2 or len(set(letters)) != len(letters):
        sys.exit(__doc__)
    out_dir, font_dirs = args[0], args[1:]
    paths = font_files(font_dirs)
    images, labels, fonts, seen = [], [], [], set()
    for path in paths:
        if not has_letters(path, letters):
            continue
        try:
            font = ImageFont.truetype(path, RENDER)
            renders = [render(font, c) for c in letters]
        except Exception:
            continue
        if any(r is None or r.max() < 128 for r in renders):
            continue
        digests = [hashlib.sha256(r.tobytes()).hexdigest() for r in renders]
        key = "".join(digests)
        if key in seen or len(set(digests)) < len(letters):
            continue
        seen.add(key)
        fonts.append(path)
        images.extend(renders)
        labels.extend(range(len(letters)))
    order = np.random.default_rng(0).permutation(len(images))
    images = np.stack(images)[order]
    labels = np.asarray(labels, dtype=np.uint8)[order]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "letters-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), SIZE, SIZE))
        f.write(images.tobytes())
    with open(os.path.join(out_dir, "letters-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)))
        f.write(labels.tobytes())
    with open(os.path.join(out_dir, "fonts.txt"), "w") as f:
        f.writelines(os.path.basename(p) + "\n" for p in fonts)
    print(f"{len(fonts)} fonts, {len(images)} images of {len(letters)} letters", file=sys.stderr)


if __name__ == "__main__":
    main()
