"""Import sources turned into a data set's arrays: image folders and zips, Flowers102's layout, .npz files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore.data.dataset import DataError
from aecore.data.image_files import decode_all, few, fit_image, folder_entries
from aecore.data.import_limits import DEFAULT_SIZE, Limits, check_count, check_size, disk_bytes
from aecore.data.import_progress import Ticker
from aecore.data.npz_arrays import (as_uint8, check_class_names, check_ratio, checked_labels, image_layout, npy_chunks,
                                    npy_read, open_npz, read_class_names, value_scale)
from aecore.data.source_files import Source


def split_seeded(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test indices: each class with 2+ images gives about test_fraction of them (at least 1)."""
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_te = int(round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        n_te = min(max(n_te, 1 if len(idx) > 1 and test_fraction > 0 else 0), len(idx) - 1)
        te.append(idx[:n_te])
        tr.append(idx[n_te:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


@dataclass
class Imported:
    """A data set's arrays, class names, kind and notes as an importer made them, before they are written."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    kind: str
    notes: list[str]


def _finish_labels(x, labels_text, ok, splits, classes_order, test_fraction, seed, notes) -> Imported:
    """Drop unreadable images, check the classes, split, and build the arrays."""
    keep = np.flatnonzero(ok)  # rows of x that decoded: x itself is indexed once, at the end
    labels_text, splits = [labels_text[i] for i in keep], [splits[i] for i in keep]
    have = set(labels_text)
    present = [c for c in classes_order if c in have]
    lost = [c for c in classes_order if c not in present]
    if lost:
        notes.append(f"dropped {len(lost)} class(es) with no readable image: {few(lost)}")
    if len(present) < 2:
        if not present:
            raise DataError("no readable images: " + ("; ".join(notes) if notes else "every file failed to decode"))
        raise DataError(f"only one class ({present[0]!r}) has images: a classifier needs at least 2 class folders")
    index = {c: i for i, c in enumerate(present)}
    y = np.array([index[t] for t in labels_text], np.int64)
    if any(s is not None for s in splits):
        s = np.array([s or "train" for s in splits])
        tr, te = np.flatnonzero(s == "train"), np.flatnonzero(s == "test")
        if len(te) == 0:
            tr, te = split_seeded(y, test_fraction, seed)
            notes.append("the test folder is empty: split the training images instead")
    else:
        tr, te = split_seeded(y, test_fraction, seed)
    dtype = np.uint8 if len(present) <= 256 else np.int16
    return Imported(x[keep[tr]], y[tr].astype(dtype), x[keep[te]], y[te].astype(dtype), present, "", notes)


def from_image_folder(path: Path, size: int, grey: bool, test_fraction: float, seed: int, limits: Limits,
                       on_progress, quota=None) -> Imported:
    with Source(path, limits) as src:
        entries, notes = folder_entries(src.files())
        classes = sorted({e.label for e in entries})
        if len(classes) > limits.max_classes:
            raise DataError(f"{len(classes):,} class folders are more than the limit of {limits.max_classes:,}")
        if len(classes) < 2:
            raise DataError(f"only one class folder ({classes[0]!r}): a classifier needs at least 2 class folders "
                            "(one sub-folder per class)")
        x, ok, more = decode_all(src, [e.path for e in entries], size, grey, limits, on_progress, quota)
    imp = _finish_labels(x, [e.label for e in entries], ok, [e.split for e in entries], classes, test_fraction, seed,
                         notes + more)
    imp.kind = "zip" if src.zip is not None else "folder"
    return imp


def flowers_root(path: Path) -> Path | None:
    """The folder holding jpg/, imagelabels.mat and setid.mat (Flowers102's layout), or None."""
    for p in (path, path / "flowers-102"):
        if p.is_dir() and (p / "jpg").is_dir() and (p / "imagelabels.mat").is_file() and (p / "setid.mat").is_file():
            return p
    return None


def from_flowers(root: Path, size: int, grey: bool, limits: Limits, on_progress, quota=None) -> Imported:
    """Oxford Flowers 102 as torchvision downloads it: train+val for training, its own 6,149-image test split."""
    from scipy.io import loadmat

    for fn in ("imagelabels.mat", "setid.mat"):
        if (root / fn).stat().st_size > 4 * 2**20:
            raise DataError(f"{fn} is larger than 4 MiB: not Flowers102's file")
    try:
        labels = np.asarray(loadmat(root / "imagelabels.mat", squeeze_me=True)["labels"]).astype(np.int64).ravel() - 1
        ids = loadmat(root / "setid.mat", squeeze_me=True)
        train_ids = np.concatenate([np.atleast_1d(ids["trnid"]), np.atleast_1d(ids["valid"])]).astype(np.int64)
        test_ids = np.atleast_1d(ids["tstid"]).astype(np.int64)
    except Exception as e:
        raise DataError(f"Flowers102's label files cannot be read ({type(e).__name__}: {e})") from None
    n_cls = int(labels.max()) + 1 if len(labels) else 0
    if labels.min(initial=0) < 0 or not 2 <= n_cls <= limits.max_classes:
        raise DataError("Flowers102's imagelabels.mat does not hold labels 1..102")
    all_ids = np.concatenate([train_ids, test_ids])
    if all_ids.min(initial=1) < 1 or all_ids.max(initial=1) > len(labels):
        raise DataError("Flowers102's setid.mat names images that imagelabels.mat has no label for")
    paths = [f"jpg/image_{i:05d}.jpg" for i in all_ids]
    missing = [p for p in paths if not (root / p).is_file() or (root / p).is_symlink()]
    if missing:
        raise DataError(f"{len(missing)} image(s) listed in setid.mat are missing or links: {few(missing)}")
    with Source(root, limits) as src:
        x, ok, notes = decode_all(src, paths, size, grey, limits, on_progress, quota)
    names = _flower_names(n_cls)
    text = [names[labels[i - 1]] for i in all_ids]
    splits = ["train"] * len(train_ids) + ["test"] * len(test_ids)
    imp = _finish_labels(x, text, ok, splits, names, 0.2, 0, notes)
    imp.kind = "flowers102"
    return imp


def _flower_names(n: int) -> list[str]:
    try:
        from torchvision.datasets import Flowers102

        names = list(Flowers102.classes)
    except Exception:
        names = []
    return names if len(names) == n else [f"class {i + 1}" for i in range(n)]


def from_npz(path: Path, size: int | None, grey: bool | None, test_fraction: float, seed: int, limits: Limits,
              on_progress, quota=None) -> Imported:
    """Arrays: x_train, y_train, x_test, y_test (or x, y split here), optional class_names; uint8 or numbers in 0..1
    or 0..255. Every array's header (dtype, shape, declared and compressed size) is checked against the limits
    before any data is read; the labels are read next, then the images a few MB at a time, converted as they come."""
    from PIL import Image

    z, arrays = open_npz(path, limits)
    with z:
        keys = set(arrays)
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            parts = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
        elif {"x", "y"} <= keys:
            parts = {"all": ("x", "y")}
        else:
            raise DataError(f"{path.name} holds {', '.join(sorted(keys)) or 'nothing'}; it needs arrays x_train, "
                            "y_train, x_test, y_test (or x and y)")
        names_key = next((k for k in ("class_names", "classes") if k in arrays), None)
        if names_key:
            check_class_names(arrays[names_key], limits)
        layouts = {}
        for xk, yk in parts.values():
            lay = layouts[xk] = image_layout(arrays[xk], limits)
            n_labels = math.prod(arrays[yk].shape)
            if n_labels != lay.n:
                raise DataError(f"{yk} has {n_labels:,} labels for {lay.n:,} images")
        if "all" in parts:
            if layouts["x"].n == 0:
                raise DataError("x holds no images")
        else:
            tr, te = layouts["x_train"], layouts["x_test"]
            if tr.n == 0:
                raise DataError("x_train holds no images: a data set needs training images")
            if te.n == 0:
                raise DataError("x_test holds no images: a data set needs test images (or give x and y, and a part "
                                "of them is held out for testing)")
            if (tr.h, tr.w, tr.colour) != (te.h, te.w, te.colour):
                raise DataError(f"x_train's images are {tr.described()} but x_test's are {te.described()}")
        first = next(iter(layouts.values()))
        colour_in, h, w = first.colour, first.h, first.w
        grey = (not colour_in) if grey is None else grey
        size = size or (h if h == w else DEFAULT_SIZE)
        check_size(size)
        n = sum(lay.n for lay in layouts.values())
        c = 1 if grey else 3
        check_count(n, size, c, limits)
        if n * h * w > limits.max_total_pixels:
            raise DataError(f"the images hold {n * h * w:,} pixels in all, more than the limit of "
                            f"{limits.max_total_pixels:,}; import fewer or smaller images")
        if quota is not None:
            quota(disk_bytes(n * size * size * c, n))
        used = [k for pair in parts.values() for k in pair] + ([names_key] if names_key else [])
        for k in used:
            check_ratio(path, arrays[k], limits)

        # the small arrays: class names, then the labels, checked in their own dtype
        names = read_class_names(z, arrays[names_key], path) if names_key else None
        ys = {part: checked_labels(npy_read(z, arrays[yk], path), yk, len(names) if names is not None else None, limits)
              for part, (_, yk) in parts.items()}
        all_y = np.concatenate(list(ys.values()))
        n_cls = int(all_y.max(initial=0)) + 1
        if len(np.unique(all_y)) < 2:
            raise DataError("the labels name only one class: a classifier needs at least 2")
        if names is not None and len(names) != n_cls:
            raise DataError(f"class_names has {len(names)} names but the labels go from 0 to {n_cls - 1}")
        names = names or [str(i) for i in range(n_cls)]

        # where each image goes: (split, row) for every row of each image array
        if "all" in parts:
            tr_idx, te_idx = split_seeded(ys["all"], test_fraction, seed)
            if len(te_idx) == 0:
                raise DataError("no test images: every class has a single image; add more images per class")
            dest = np.zeros(n, np.int8)
            dest[te_idx] = 1
            pos = np.empty(n, np.int64)
            pos[tr_idx], pos[te_idx] = np.arange(len(tr_idx)), np.arange(len(te_idx))
            y_out = {"train": ys["all"][tr_idx], "test": ys["all"][te_idx]}
            sources = [("x", dest, pos)]
        else:
            y_out = ys
            sources = [(xk, np.full(layouts[xk].n, i, np.int8), np.arange(layouts[xk].n))
                       for i, (xk, _) in enumerate(parts.values())]
        shape = (size, size) + (() if grey else (3,))
        out = [np.zeros((len(y_out["train"]),) + shape, np.uint8), np.zeros((len(y_out["test"]),) + shape, np.uint8)]
        convert = (h, w) != (size, size) or grey == colour_in
        tick = Ticker(on_progress)
        done = 0
        tick(done, n, force=True)
        for xk, dest, pos in sources:
            a = arrays[xk]
            scale = 1.0 if a.dtype == np.uint8 else value_scale(z, a, path, tick, done, n)
            for i0, rows in npy_chunks(z, a, path):
                imgs = layouts[xk].images(as_uint8(rows, scale))
                k = len(imgs)
                if convert:
                    fitted = np.empty((k,) + shape, np.uint8)
                    for j, img in enumerate(imgs):
                        fitted[j] = fit_image(Image.fromarray(img), size, grey)
                        if on_progress is not None:  # after every image: the callback may raise to end the import
                            on_progress(done + j + 1, n)
                    imgs = fitted
                d, p = dest[i0:i0 + k], pos[i0:i0 + k]
                for s in (0, 1):
                    m = d == s
                    if m.any():
                        out[s][p[m]] = imgs[m]
                done += k
                if not convert and on_progress is not None:
                    on_progress(done, n)
    notes = [f"images converted from {h}x{w}{'x3' if colour_in else ''} to {size}x{size}{'' if grey else 'x3'}"] \
        if convert else []
    dtype = np.uint8 if n_cls <= 256 else np.int16
    return Imported(out[0], y_out["train"].astype(dtype), out[1], y_out["test"].astype(dtype), names, "npz", notes)
