#!/usr/bin/env python3
"""Draws the app icons in public/icons from one description (a speech
bubble with three coloured dots, the chat's name colours). Run it after
changing the design: `pip install pillow && python3 scripts/make-icons.py`.
The PNGs are committed; the build does not need Python."""

from pathlib import Path
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
BG = (31, 36, 48)
BUBBLE = (247, 248, 250)
DOTS = [(240, 140, 140), (150, 200, 150), (140, 170, 240)]
SUPER = 4  # draw large, then downsample for smooth edges


def draw(size: int, safe: float) -> Image.Image:
    """`safe` is the fraction of the canvas the artwork may use (maskable
    icons must keep it inside the central 80% circle)."""
    s = size * SUPER
    img = Image.new("RGB", (s, s), BG)
    d = ImageDraw.Draw(img)
    m = s * (1 - safe) / 2  # margin
    w = s - 2 * m
    left, top = m + w * 0.12, m + w * 0.18
    right, bottom = m + w * 0.88, m + w * 0.70
    d.rounded_rectangle([left, top, right, bottom], radius=w * 0.16, fill=BUBBLE)
    # The tail of the bubble.
    d.polygon(
        [(left + w * 0.18, bottom - 2), (left + w * 0.16, m + w * 0.86), (left + w * 0.40, bottom - 2)],
        fill=BUBBLE,
    )
    r = w * 0.065
    cy = (top + bottom) / 2
    for i, colour in enumerate(DOTS):
        cx = left + (right - left) * (0.28 + 0.22 * i)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192, 1.0).save(OUT / "icon-192.png", optimize=True)
    draw(512, 1.0).save(OUT / "icon-512.png", optimize=True)
    draw(512, 0.72).save(OUT / "maskable-512.png", optimize=True)
    draw(180, 0.9).save(OUT / "apple-touch-icon.png", optimize=True)
    draw(32, 1.0).save(OUT / "favicon-32.png", optimize=True)


if __name__ == "__main__":
    main()
