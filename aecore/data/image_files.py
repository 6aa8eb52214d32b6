"""Image files read into arrays: the class-folder layout found, each image decoded within its limits."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable

import numpy as np

from aecore.data.dataset import DataError
from aecore.data.import_limits import LIMITS, Limits, check_count, disk_bytes
from aecore.data.import_progress import Ticker
from aecore.data.source_files import Skip, Source, image_pixels

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")  # ImageFolder's
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass
class _Entry:
    """One image file of a source: its path inside the source, split (None = not given) and class folder."""

    path: str
    split: str | None
    label: str
    size: int  # bytes as listed (a zip's header; checked again while reading)


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(p in _IGNORED or p.startswith(".") for p in parts)


def fit_image(im, size: int, grey: bool) -> np.ndarray:
    """A PIL image -> uint8 [size, size] (grey) or [size, size, 3]: transparent parts black (MNIST's background),
    centre-cropped to a square and resized."""
    from PIL import Image, ImageOps

    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im.convert("RGBA"))
    im = ImageOps.fit(im.convert("L" if grey else "RGB"), (size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def decode_image(data: bytes, size: int, grey: bool, limits: Limits = LIMITS) -> np.ndarray:
    """Image file bytes -> uint8 [size, size] (grey) or [size, size, 3]: centre-cropped to a square and resized.

    The pixel count is read from the header and checked before anything is decoded; JPEGs are decoded
    at a reduced scale when they are much larger than `size` (PIL's draft mode)."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > limits.max_pixels:
            raise Skip(f"is {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,}")
        if w < 1 or h < 1:
            raise Skip("is empty")
        im.draft("L" if grey else "RGB", (size, size))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers `size`
        return fit_image(im, size, grey)
    except Skip:
        raise
    except Image.DecompressionBombError:
        raise Skip(f"has more than {limits.max_pixels:,} pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as e:
        raise Skip(f"cannot be read as an image ({type(e).__name__})") from None


def _strip_top(files: list[tuple[str, int]]) -> tuple[list[tuple[str, tuple[str, ...], int]], str]:
    """Drop ignored files and one wrapping folder (a zip of a folder holds 'shapes/circle/1.png')."""
    kept = []
    for rel, n in files:
        parts = PurePosixPath(rel).parts
        if parts and not _ignored(parts):
            kept.append((rel, parts, n))
    prefix = ""
    while kept and any(len(p) > 2 for _, p, _ in kept) and all(len(p) > 1 for _, p, _ in kept) \
            and len({p[0] for _, p, _ in kept}) == 1 and kept[0][1][0].lower() not in ("train", "test"):
        prefix += kept[0][1][0] + "/"
        kept = [(rel, p[1:], n) for rel, p, n in kept]
    return kept, prefix


def folder_entries(files: list[tuple[str, int]]) -> tuple[list[_Entry], list[str]]:
    """The image files in the image-folder layout (class/x.png, or train|test/class/x.png) and notes on the rest."""
    kept, _ = _strip_top(sorted(files))
    notes = []
    if not kept:
        raise DataError("no files found: put each class's images in its own sub-folder (e.g. cats/1.png, dogs/2.png)")
    tops = {p[0].lower() for _, p, _ in kept if len(p) > 1}
    split_layout = tops and tops <= {"train", "test"} and "train" in tops
    entries, loose, not_images = [], [], []
    for rel, parts, n in kept:
        if split_layout:
            if len(parts) < 3:
                loose.append(rel)
                continue
            split, label = parts[0].lower(), parts[1]
        else:
            if len(parts) < 2:
                loose.append(rel)
                continue
            split, label = None, parts[0]
        if not rel.lower().endswith(IMAGE_EXTENSIONS):
            not_images.append(rel)
            continue
        entries.append(_Entry(rel, split, label, n))
    if not entries:
        if loose:
            raise DataError(f"no class folders: the {len(loose)} file(s) lie directly in the top folder; put each "
                            "class's images in its own sub-folder (e.g. cats/1.png, dogs/2.png)")
        raise DataError(f"no image files found ({len(not_images)} other files); images must end in "
                        f"{', '.join(IMAGE_EXTENSIONS)}")
    if loose:
        notes.append(f"ignored {len(loose)} file(s) outside the class folders: {few(loose)}")
    if not_images:
        notes.append(f"skipped {len(not_images)} file(s) that are not images (by name): {few(not_images)}")
    return entries, notes


def few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(s[:160] for s in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def decode_all(src: Source, paths: list[str], size: int, grey: bool, limits: Limits,
                on_progress: Callable[[int, int], None] | None,
                quota: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode files into one preallocated array; returns (images, kept mask, notes on skipped files).

    Every file's header is read first: the total pixel count (what decoding costs) is checked against
    max_total_pixels before the first image is decoded. `quota(bytes)`: checks the disk the set will need."""
    c, n = 1 if grey else 3, len(paths)
    check_count(n, size, c, limits)
    if quota is not None:
        quota(disk_bytes(n * size * size * c, n))
    tick = Ticker(on_progress)
    tick(0, n, force=True)
    unusable: dict[int, str] = {}
    total = 0
    for i, rel in enumerate(paths):
        try:
            total += image_pixels(src, rel, limits)
        except Skip as e:
            unusable[i] = f"{rel[:60]} {e}"
        if total > limits.max_total_pixels:
            raise DataError(f"the images hold more than {limits.max_total_pixels:,} pixels in all, the limit (counted "
                            f"from their headers before decoding: the first {i + 1:,} of {n:,} already hold "
                            f"{total:,}); decoding them would take too long: import fewer or smaller images")
        tick(0, n)  # Stop and the time limit work while the headers are read, too
    x = np.zeros((n, size, size) + (() if grey else (3,)), np.uint8)
    ok = np.zeros(n, bool)
    skipped: list[str] = []
    for i, rel in enumerate(paths):
        if i in unusable:
            skipped.append(unusable[i])
        else:
            try:
                x[i] = decode_image(src.read(rel), size, grey, limits)
                ok[i] = True
            except Skip as e:
                skipped.append(f"{rel[:60]} {e}")
        if on_progress is not None:  # after every image: the callback may raise to end the import
            on_progress(i + 1, n)
    notes = [f"skipped {len(skipped)} unreadable file(s): {few(skipped)}"] if skipped else []
    return x, ok, notes
