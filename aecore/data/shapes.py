"""Generated colour data: classes of coloured shapes in the image-folder layout (tests, benches, demos; no network)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar")
PALETTE = np.array([(230, 60, 50), (60, 200, 80), (70, 110, 240), (240, 210, 60), (200, 80, 220), (60, 210, 220)],
                   np.float32)


def shape_image(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 [size, size, 3] image: a shape of a random palette colour, place and scale on a noisy dark ground."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    r = size * rng.uniform(0.22, 0.34)
    cy, cx = (size * rng.uniform(0.38, 0.62) for _ in range(2))
    dy, dx = (yy - cy) / r, (xx - cx) / r
    if kind == "circle":
        mask = dy**2 + dx**2 <= 1.0
    elif kind == "square":
        mask = (np.abs(dy) <= 0.8) & (np.abs(dx) <= 0.8)
    elif kind == "triangle":
        mask = (dy <= 0.8) & (dy >= -0.9 + 2.0 * np.abs(dx))
    elif kind == "cross":
        mask = ((np.abs(dy) <= 0.25) & (np.abs(dx) <= 1.0)) | ((np.abs(dx) <= 0.25) & (np.abs(dy) <= 1.0))
    elif kind == "ring":
        mask = (dy**2 + dx**2 <= 1.0) & (dy**2 + dx**2 >= 0.4)
    elif kind == "bar":
        mask = (np.abs(dy) <= 0.3) & (np.abs(dx) <= 1.1)
    else:
        raise ValueError(f"unknown shape {kind!r}; choose one of {', '.join(SHAPES)}")
    colour = PALETTE[rng.integers(len(PALETTE))] * rng.uniform(0.75, 1.0)
    ground = rng.uniform(0, 50, size=3).astype(np.float32)
    img = np.where(mask[..., None], colour, ground) + rng.normal(0, 8, size=(size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_shapes(n_classes: int = 4, per_class: int = 60, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Arrays of generated shapes: uint8 [N, size, size, 3], labels [N] (class = shape; colour is random), names."""
    if not 2 <= n_classes <= len(SHAPES):
        raise ValueError(f"n_classes must be 2..{len(SHAPES)}")
    rng = np.random.default_rng(seed)
    names = list(SHAPES[:n_classes])
    x = np.stack([shape_image(names[c], size, rng) for c in range(n_classes) for _ in range(per_class)])
    y = np.repeat(np.arange(n_classes, dtype=np.uint8), per_class)
    return x, y, names


def write_shapes_folder(root: str | os.PathLike, n_classes: int = 4, per_class: int = 60, size: int = 32,
                        seed: int = 0) -> Path:
    """Write generated shapes as PNGs in the image-folder layout: root/<shape>/<i>.png; returns root."""
    from PIL import Image

    root = Path(root)
    x, y, names = make_shapes(n_classes, per_class, size, seed)
    for i, (img, label) in enumerate(zip(x, y)):
        d = root / names[label]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:05d}.png")
    return root
