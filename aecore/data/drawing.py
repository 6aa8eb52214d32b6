"""Digits drawn in the browser: pen strokes or a canvas bitmap -> uint8 [28,28] prepared like MNIST."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.data.images import ImageError, mnist_like


class DrawingError(ImageError):
    """What the drawing canvas sent cannot be turned into a digit (empty, malformed or too large)."""


@dataclass(frozen=True)
class CanvasSpec:
    width: int = 280  # canvas size in CSS pixels, 10x MNIST's 28 so a finger or a mouse can draw comfortably
    height: int = 280
    brush: float = 24.0  # pen diameter in canvas pixels: a digit ~200 px tall scales to 20 px, so ~2.4 px strokes like MNIST
    max_strokes: int = 200  # more strokes than this is not one digit (and keeps a hostile payload small)
    max_points: int = 20_000  # points over all strokes


CANVAS = CanvasSpec()


def check_strokes(strokes, spec: CanvasSpec = CANVAS) -> list[np.ndarray]:
    """Validate strokes as sent by the canvas: a list of polylines, each a list of [x, y] in canvas pixels.

    Returns float32 arrays [n_points, 2] clipped to the canvas; empty polylines are dropped.
    """
    if not isinstance(strokes, (list, tuple)):
        raise DrawingError(f"strokes must be a list of polylines, not {type(strokes).__name__}")
    if len(strokes) > spec.max_strokes:
        raise DrawingError(f"{len(strokes)} strokes is too many for one digit (at most {spec.max_strokes})")
    out, total = [], 0
    for i, s in enumerate(strokes):
        if not isinstance(s, (list, tuple)):
            raise DrawingError(f"stroke {i + 1} is not a list of points")
        total += len(s)
        if total > spec.max_points:
            raise DrawingError(f"the drawing has more than {spec.max_points:,} points")
        if not s:
            continue
        try:
            p = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError):
            raise DrawingError(f"stroke {i + 1} has points that are not pairs of numbers") from None
        if p.ndim != 2 or p.shape[1] != 2 or not np.isfinite(p).all():
            raise DrawingError(f"stroke {i + 1} has points that are not pairs of numbers")
        p[:, 0] = np.clip(p[:, 0], 0, spec.width - 1)
        p[:, 1] = np.clip(p[:, 1], 0, spec.height - 1)
        out.append(p.astype(np.float32))
    return out


def render_strokes(strokes, spec: CanvasSpec = CANVAS, brush: float | None = None) -> np.ndarray:
    """Strokes -> the canvas as the student saw it: uint8 [height, width], white ink on black, round pen."""
    from PIL import Image, ImageDraw

    lines = check_strokes(strokes, spec)
    w = float(spec.brush if brush is None else brush)
    if not (np.isfinite(w) and 1 <= w <= min(spec.width, spec.height) / 2):
        raise DrawingError(f"brush width {brush!r} is out of range (1 to {min(spec.width, spec.height) // 2} pixels)")
    im = Image.new("L", (spec.width, spec.height), 0)
    draw = ImageDraw.Draw(im)
    r = w / 2
    for p in lines:
        pts = [tuple(map(float, q)) for q in p]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=max(1, round(w)), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps (a single point is a dot)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(im)


def strokes_to_mnist(strokes, spec: CanvasSpec = CANVAS, brush: float | None = None) -> np.ndarray:
    """Strokes drawn on the canvas -> uint8 [28,28] like MNIST (cropped, 20 px box, centred by centre of mass)."""
    canvas = render_strokes(strokes, spec, brush)
    if not canvas.any():
        raise DrawingError("nothing is drawn yet")
    return mnist_like(canvas.astype(np.float32) / 255.0)


def bitmap_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """A canvas bitmap uint8 [h,w,4] (RGBA; transparent counts as black) or [h,w] grey -> uint8 [28,28] like MNIST.

    The ink is the light part (white on black, as the canvas draws it).
    """
    a = np.asarray(rgba)
    if a.dtype != np.uint8:
        raise DrawingError(f"expected a uint8 bitmap, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 4:
        rgb = a[..., :3].astype(np.float32) / 255.0
        alpha = a[..., 3:].astype(np.float32) / 255.0
        grey = (rgb * alpha).mean(axis=2)  # over black, like the canvas's background
    elif a.ndim == 2:
        grey = a.astype(np.float32) / 255.0
    else:
        raise DrawingError(f"expected an RGBA bitmap [h, w, 4] or a grey one [h, w], got shape {a.shape}")
    if min(grey.shape) < 8:
        raise DrawingError(f"the bitmap is only {grey.shape[1]}x{grey.shape[0]} pixels; use at least 8x8")
    if grey.max() < 0.2:
        raise DrawingError("nothing is drawn yet")
    if grey[0].mean() + grey[-1].mean() + grey[:, 0].mean() + grey[:, -1].mean() > 2.0:
        raise DrawingError("the bitmap is mostly white: expected white ink on a black canvas")
    return mnist_like(grey)
