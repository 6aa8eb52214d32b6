"""Your own images: a data home of imported data sets (.npz + manifest), filled safely from image folders, zips,
arrays, Flowers102's on-disk layout, or torchvision downloads."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from aecore.data.dataset import COLOUR_DATASETS, DATASETS, DataError, Dataset, Split
from aecore.settings import current

FORMAT = "aelab-dataset"
VERSION = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")  # ImageFolder's
SIZE_RANGE = (8, 256)  # the side of the square images a data set is resized to (the app offers 28, 32, 64)
DEFAULT_SIZE = 32
FETCH_SIZES = {"cifar10": 32, "flowers102": 64}  # the size a torchvision colour set is kept at unless asked otherwise
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Limits:
    """What an import accepts; every limit is checked before the data it guards is read or decoded."""

    max_members: int = 100_000  # entries in a zip, or files under a folder
    max_images: int = 70_000  # images in one data set (MNIST has 70,000)
    max_file_bytes: int = 64 * 2**20  # one image file (as read, never as a header claims)
    max_total_bytes: int = 2 * 2**30  # everything a zip or .npz unpacks to (as declared and as read)
    max_ratio: int = 200  # a zip member that inflates more than this (and to over 1 MiB) is taken for a zip bomb
    max_pixels: int = 40_000_000  # one image's width x height, read from its header before it is decoded
    max_array_bytes: int = 1 * 2**30  # the imported uint8 arrays: images x size x size x channels
    max_classes: int = 1000


LIMITS = Limits()


# ---- the data home ------------------------------------------------------------------------------
def home() -> Path:
    """Where imported data sets live: the data home's datasets/ folder (the settings' `datasets_dir`), the same for
    the web process, its workers and the command line."""
    return current().datasets_dir


def check_name(name: str) -> str:
    """A valid name for a new data set (DataError says why not)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DataError(f"data set name {str(name)[:50]!r} is not allowed: use 1-40 lower-case letters, digits, "
                        "'.', '_' or '-', starting with a letter or digit (e.g. my-shapes)")
    if name in DATASETS:
        raise DataError(f"{name!r} is a built-in data set; pick another name")
    return name


def _dir(name: str) -> Path:
    return home() / name


def names() -> list[str]:
    """The imported data sets, sorted by name."""
    h = home()
    if not h.is_dir():
        return []
    return sorted(p.name for p in h.iterdir() if _NAME_RE.match(p.name) and (p / "manifest.json").is_file())


def exists(name: str) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.match(name)) and (_dir(name) / "manifest.json").is_file()


def info(name: str) -> dict:
    """A data set's manifest: name, kind, source, size, channels, n_train, n_test, classes, counts, warnings."""
    if not exists(name):
        raise DataError(f"no imported data set {name!r}; import one with `python -m aecore data add PATH --name NAME`")
    try:
        with open(_dir(name) / "manifest.json", "rb") as f:
            m = json.loads(f.read(4 * 2**20))
    except (OSError, ValueError) as e:
        raise DataError(f"the manifest of data set {name!r} cannot be read ({type(e).__name__}); import it again") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise DataError(f"{_dir(name)} does not hold an AE Lab data set; import it again")
    return m


def listing() -> list[dict]:
    """One row per data set: the built-in ones (MNIST; Fashion-MNIST, KMNIST, CIFAR-10, Flowers102 online) and the
    imported ones, with shape and class count where known."""
    rows = [{"name": "mnist", "kind": "bundled", "size": 28, "channels": 1, "n_train": 60000, "n_test": 10000,
             "n_classes": 10, "available": True}]
    for n in ("fashion-mnist", "kmnist"):
        rows.append({"name": n, "kind": "torchvision", "size": 28, "channels": 1, "n_train": 60000,
                     "n_test": 10000, "n_classes": 10, "available": None})
    imported = names()
    for n in COLOUR_DATASETS:
        if n not in imported:
            rows.append({"name": n, "kind": "torchvision", "size": FETCH_SIZES[n], "channels": 3,
                         "n_train": 50000 if n == "cifar10" else 2040, "n_test": 10000 if n == "cifar10" else 6149,
                         "n_classes": 10 if n == "cifar10" else 102, "available": None})
    for n in imported:
        try:
            m = info(n)
        except DataError:
            continue
        rows.append({"name": n, "kind": m.get("kind"), "size": m.get("size"), "channels": m.get("channels"),
                     "n_train": m.get("n_train"), "n_test": m.get("n_test"), "n_classes": len(m.get("classes", [])),
                     "available": True})
    return rows


def image_shape(name: str) -> tuple[int, int, int]:
    """(C, H, W) of an imported data set's images, from its manifest."""
    if name in COLOUR_DATASETS and not exists(name):
        return (3, FETCH_SIZES[name], FETCH_SIZES[name])
    m = info(name)
    return (int(m["channels"]), int(m["size"]), int(m["size"]))


def load(name: str) -> Dataset:
    """An imported data set (read-only arrays, loaded once per process and file version)."""
    m = info(name)
    p = _dir(name) / "images.npz"
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise DataError(f"data set {name!r} has lost its images file; import it again") from None
    return _load_cached(name, str(p), mtime, tuple(m.get("classes", ())))


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, path: str, mtime: int, classes: tuple[str, ...]) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except Exception as e:  # a torn or altered file
        raise DataError(f"cannot read data set {name!r} ({type(e).__name__}: {e}); import it again") from None
    for key in ("x_train", "x_test"):
        a = arrays[key]
        if a.dtype != np.uint8 or a.ndim not in (3, 4):
            raise DataError(f"data set {name!r} is damaged: {key} is {a.dtype} {a.shape}; import it again")
    for a in arrays.values():
        a.setflags(write=False)
    return Dataset(name, Split(arrays["x_train"], arrays["y_train"]), Split(arrays["x_test"], arrays["y_test"]),
                   classes)


def remove(name: str) -> None:
    """Delete an imported data set."""
    if not exists(name):
        raise DataError(f"no imported data set {name!r}")
    shutil.rmtree(_dir(name))
    _load_cached.cache_clear()


# ---- reading sources safely --------------------------------------------------------------------
@dataclass
class _Entry:
    """One image file of a source: its path inside the source, split (None = not given) and class folder."""

    path: str
    split: str | None
    label: str
    size: int  # bytes as listed (a zip's header; checked again while reading)


def _bad_member_name(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    if "\x00" in name:
        return "has a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if "\\" in name:
        return "uses backslashes"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the archive with '..'"
    return None


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(p in _IGNORED or p.startswith(".") for p in parts)


def _zip_entry_count(path: Path) -> int | None:
    """The entry count from a zip's end record, read before the central directory is parsed (None if unknown)."""
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # noqa: SLF001 (the stdlib's own reader of the end record)
        return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else None
    except Exception:
        return None


class _Source:
    """Files of an import source read with limits: a zip (never extracted) or a folder (links refused)."""

    def __init__(self, path: Path, limits: Limits):
        self.path, self.limits = path, limits
        self.zip: zipfile.ZipFile | None = None
        self.read_total = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.zip is not None:
            self.zip.close()

    def files(self) -> list[tuple[str, int]]:
        """(relative posix path, bytes) of every regular file, after the safety checks."""
        lim = self.limits
        if self.path.is_dir():
            out = []
            for dirpath, dirnames, filenames in os.walk(self.path, followlinks=False):
                for d in list(dirnames):
                    if os.path.islink(os.path.join(dirpath, d)):
                        rel = os.path.relpath(os.path.join(dirpath, d), self.path)
                        raise DataError(f"{rel} is a symbolic link: links are not followed; copy the images in instead")
                for fn in filenames:
                    full = os.path.join(dirpath, fn)
                    rel = Path(os.path.relpath(full, self.path)).as_posix()
                    st = os.lstat(full)
                    if stat.S_ISLNK(st.st_mode):
                        raise DataError(f"{rel} is a symbolic link: links are not followed; copy the images in instead")
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    out.append((rel, st.st_size))
                    if len(out) > lim.max_members:
                        raise DataError(f"the folder holds more than {lim.max_members:,} files, the limit; "
                                        "import a smaller selection")
            return out
        n = _zip_entry_count(self.path)
        if n is not None and n > lim.max_members:
            raise DataError(f"the zip holds {n:,} entries, more than the limit of {lim.max_members:,}; "
                            "import a smaller selection")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise DataError(f"{self.path.name} is not a readable zip file ({e})") from None
        infos = self.zip.infolist()
        if len(infos) > lim.max_members:
            raise DataError(f"the zip holds {len(infos):,} entries, more than the limit of {lim.max_members:,}; "
                            "import a smaller selection")
        out, total = [], 0
        for zi in infos:
            why = _bad_member_name(zi.filename)
            if why:
                raise DataError(f"the zip entry {zi.filename[:80]!r} {why}: refusing the whole archive "
                                "(nothing was written)")
            mode = zi.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DataError(f"the zip entry {zi.filename[:80]!r} is a symbolic link: links are refused "
                                "(nothing was written)")
            if zi.is_dir():
                continue
            if zi.file_size > 2**20 and zi.file_size > lim.max_ratio * max(zi.compress_size, 1):
                raise DataError(f"the zip entry {zi.filename[:80]!r} would inflate {zi.file_size // max(zi.compress_size, 1):,}"
                                f" times (to {zi.file_size / 2**20:,.0f} MiB): this looks like a zip bomb; refused")
            total += zi.file_size
            if total > lim.max_total_bytes:
                raise DataError(f"the zip would unpack to more than {lim.max_total_bytes / 2**30:g} GiB, the limit "
                                "(a zip bomb, or too many large images); refused")
            out.append((zi.filename, zi.file_size))
        return out

    def read(self, rel: str) -> bytes:
        """One file's bytes, at most max_file_bytes (counted as read; DataError beyond)."""
        lim = self.limits
        cap = lim.max_file_bytes
        if self.zip is not None:
            with self.zip.open(rel) as f:
                data = f.read(cap + 1)
        else:
            with open(self.path / rel, "rb") as f:
                data = f.read(cap + 1)
        if len(data) > cap:
            raise _Skip(f"is larger than {cap / 2**20:g} MiB")
        self.read_total += len(data)
        if self.read_total > lim.max_total_bytes:
            raise DataError(f"the images unpack to more than {lim.max_total_bytes / 2**30:g} GiB, the limit; refused")
        return data


class _Skip(Exception):
    """One file is not a usable image (the import goes on without it and says so)."""


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
            raise _Skip(f"is {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,}")
        if w < 1 or h < 1:
            raise _Skip("is empty")
        im.draft("L" if grey else "RGB", (size, size))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers `size`
        return fit_image(im, size, grey)
    except _Skip:
        raise
    except Image.DecompressionBombError:
        raise _Skip(f"has more than {limits.max_pixels:,} pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as e:
        raise _Skip(f"cannot be read as an image ({type(e).__name__})") from None


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


def _entries(files: list[tuple[str, int]]) -> tuple[list[_Entry], list[str]]:
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
        notes.append(f"ignored {len(loose)} file(s) outside the class folders: {_few(loose)}")
    if not_images:
        notes.append(f"skipped {len(not_images)} file(s) that are not images (by name): {_few(not_images)}")
    return entries, notes


def _few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(s[:160] for s in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _check_count(n_images: int, size: int, channels: int, limits: Limits) -> None:
    if n_images > limits.max_images:
        raise DataError(f"{n_images:,} images are more than the limit of {limits.max_images:,}; import a selection")
    nbytes = n_images * size * size * channels
    if nbytes > limits.max_array_bytes:
        raise DataError(f"{n_images:,} images of {size}x{size}x{channels} take {nbytes / 2**20:,.0f} MiB, more than "
                        f"the limit of {limits.max_array_bytes / 2**20:,.0f} MiB; choose a smaller size or fewer images")


def _check_size(size: int) -> int:
    lo, hi = SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not lo <= size <= hi:
        raise DataError(f"image size must be a whole number from {lo} to {hi} (e.g. 28, 32 or 64), got {size!r}")
    return int(size)


def _decode_all(src: _Source, paths: list[str], size: int, grey: bool, limits: Limits,
                on_progress: Callable[[int, int], None] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode files into one preallocated array; returns (images, kept mask, notes on skipped files)."""
    c = 1 if grey else 3
    _check_count(len(paths), size, c, limits)
    x = np.zeros((len(paths), size, size) + (() if grey else (3,)), np.uint8)
    ok = np.zeros(len(paths), bool)
    skipped: list[str] = []
    for i, rel in enumerate(paths):
        try:
            x[i] = decode_image(src.read(rel), size, grey, limits)
            ok[i] = True
        except _Skip as e:
            skipped.append(f"{rel[:60]} {e}")
        if on_progress is not None:  # after every image: the callback may raise to end the import
            on_progress(i + 1, len(paths))
    notes = [f"skipped {len(skipped)} unreadable file(s): {_few(skipped)}"] if skipped else []
    return x, ok, notes


def _split_seeded(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


# ---- importers --------------------------------------------------------------------------------
@dataclass
class _Imported:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    kind: str
    notes: list[str]


def _finish_labels(x, labels_text, ok, splits, classes_order, test_fraction, seed, notes) -> _Imported:
    """Drop unreadable images, check the classes, split, and build the arrays."""
    keep = np.flatnonzero(ok)  # rows of x that decoded: x itself is indexed once, at the end
    labels_text, splits = [labels_text[i] for i in keep], [splits[i] for i in keep]
    have = set(labels_text)
    present = [c for c in classes_order if c in have]
    lost = [c for c in classes_order if c not in present]
    if lost:
        notes.append(f"dropped {len(lost)} class(es) with no readable image: {_few(lost)}")
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
            tr, te = _split_seeded(y, test_fraction, seed)
            notes.append("the test folder is empty: split the training images instead")
    else:
        tr, te = _split_seeded(y, test_fraction, seed)
    dtype = np.uint8 if len(present) <= 256 else np.int16
    return _Imported(x[keep[tr]], y[tr].astype(dtype), x[keep[te]], y[te].astype(dtype), present, "", notes)


def _from_image_folder(path: Path, size: int, grey: bool, test_fraction: float, seed: int, limits: Limits,
                       on_progress) -> _Imported:
    with _Source(path, limits) as src:
        entries, notes = _entries(src.files())
        classes = sorted({e.label for e in entries})
        if len(classes) > limits.max_classes:
            raise DataError(f"{len(classes):,} class folders are more than the limit of {limits.max_classes:,}")
        if len(classes) < 2:
            raise DataError(f"only one class folder ({classes[0]!r}): a classifier needs at least 2 class folders "
                            "(one sub-folder per class)")
        x, ok, more = _decode_all(src, [e.path for e in entries], size, grey, limits, on_progress)
    imp = _finish_labels(x, [e.label for e in entries], ok, [e.split for e in entries], classes, test_fraction, seed,
                         notes + more)
    imp.kind = "zip" if src.zip is not None else "folder"
    return imp


def _flowers_root(path: Path) -> Path | None:
    """The folder holding jpg/, imagelabels.mat and setid.mat (Flowers102's layout), or None."""
    for p in (path, path / "flowers-102"):
        if p.is_dir() and (p / "jpg").is_dir() and (p / "imagelabels.mat").is_file() and (p / "setid.mat").is_file():
            return p
    return None


def _from_flowers(root: Path, size: int, grey: bool, limits: Limits, on_progress) -> _Imported:
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
        raise DataError(f"{len(missing)} image(s) listed in setid.mat are missing or links: {_few(missing)}")
    with _Source(root, limits) as src:
        x, ok, notes = _decode_all(src, paths, size, grey, limits, on_progress)
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


def _from_npz(path: Path, size: int | None, grey: bool | None, test_fraction: float, seed: int, limits: Limits,
              on_progress) -> _Imported:
    """Arrays: x_train, y_train, x_test, y_test (or x, y split here), optional class_names; uint8 or floats in [0, 1]."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path.name} is not a readable .npz file ({e})") from None
    if len(infos) > 16:
        raise DataError(f"{path.name} holds {len(infos)} arrays; expected x_train/y_train/x_test/y_test or x/y")
    declared = sum(zi.file_size for zi in infos)
    if declared > limits.max_total_bytes:
        raise DataError(f"{path.name} unpacks to {declared / 2**30:.1f} GiB, more than the limit of "
                        f"{limits.max_total_bytes / 2**30:g} GiB")
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if {"x_train", "y_train", "x_test", "y_test"} <= keys:
                parts = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            elif {"x", "y"} <= keys:
                parts = {"x": f["x"], "y": f["y"]}
            else:
                raise DataError(f"{path.name} holds {', '.join(sorted(keys)) or 'nothing'}; it needs arrays x_train, "
                                "y_train, x_test, y_test (or x and y)")
            names = None
            for key in ("class_names", "classes"):
                if key in keys:
                    names = [str(s)[:64] for s in np.asarray(f[key]).ravel()]
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickles: refused
        raise DataError(f"{path.name} cannot be read without unpickling (object arrays are refused): {e}") from None
    except Exception as e:
        raise DataError(f"{path.name} cannot be read ({type(e).__name__}: {e})") from None

    def images(a: np.ndarray, key: str) -> np.ndarray:
        if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[3] not in (1, 3, 4):
            a = np.moveaxis(a, 1, 3)  # [N,C,H,W] -> [N,H,W,C]
        if a.ndim == 4 and a.shape[3] == 1:
            a = a[..., 0]
        if not (a.ndim == 3 or (a.ndim == 4 and a.shape[3] in (3, 4))):
            raise DataError(f"{key} must be images [N,H,W] or [N,H,W,3], got shape {a.shape}")
        if a.ndim == 4 and a.shape[3] == 4:
            a = a[..., :3]
        if a.dtype != np.uint8:
            if not np.issubdtype(a.dtype, np.number):
                raise DataError(f"{key} must hold numbers, got {a.dtype}")
            a = a.astype(np.float32)
            if not np.isfinite(a).all() or a.min(initial=0) < 0:
                raise DataError(f"{key} holds values outside 0..1 or 0..255")
            a = a * 255.0 if a.max(initial=0) <= 1.0 else a
            if a.max(initial=0) > 255:
                raise DataError(f"{key} holds values above 255")
            a = np.rint(a).astype(np.uint8)
        return a

    def labels(a: np.ndarray, key: str, n: int) -> np.ndarray:
        a = np.asarray(a).ravel()
        if not np.issubdtype(a.dtype, np.integer):
            if np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                a = a.astype(np.int64)
            else:
                raise DataError(f"{key} must be whole class numbers 0, 1, 2, ...")
        if len(a) != n:
            raise DataError(f"{key} has {len(a)} labels for {n} images")
        if a.min(initial=0) < 0:
            raise DataError(f"{key} has negative labels")
        return a.astype(np.int64)

    if "x" in parts:
        x, y = images(parts["x"], "x"), labels(parts["y"], "y", len(parts["x"]))
        tr, te = _split_seeded(y, test_fraction, seed)
        xs = {"train": x[tr], "test": x[te]}
        ys = {"train": y[tr], "test": y[te]}
    else:
        xs = {s: images(parts[f"x_{s}"], f"x_{s}") for s in ("train", "test")}
        ys = {s: labels(parts[f"y_{s}"], f"y_{s}", len(xs[s])) for s in ("train", "test")}
        if xs["train"].shape[1:] != xs["test"].shape[1:]:
            raise DataError(f"x_train's images are {xs['train'].shape[1:]} but x_test's are {xs['test'].shape[1:]}")
    n_cls = int(max(ys["train"].max(initial=0), ys["test"].max(initial=0))) + 1
    if n_cls > limits.max_classes:
        raise DataError(f"{n_cls:,} classes are more than the limit of {limits.max_classes:,}")
    if len(np.unique(np.concatenate([ys["train"], ys["test"]]))) < 2:
        raise DataError("the labels name only one class: a classifier needs at least 2")
    if names is not None and len(names) != n_cls:
        raise DataError(f"class_names has {len(names)} names but the labels go from 0 to {n_cls - 1}")
    names = names or [str(i) for i in range(n_cls)]
    colour_in = xs["train"].ndim == 4
    grey = (not colour_in) if grey is None else grey
    h, w = xs["train"].shape[1:3]
    size = size or (h if h == w else DEFAULT_SIZE)
    _check_size(size)
    n = len(xs["train"]) + len(xs["test"])
    _check_count(n, size, 1 if grey else 3, limits)
    notes: list[str] = []
    if (h, w) != (size, size) or grey == colour_in:
        from PIL import Image

        done = [0]

        if h * w > limits.max_pixels:
            raise _Skip(f"is {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,}")

        def convert(a: np.ndarray) -> np.ndarray:
            out = np.zeros((len(a), size, size) + (() if grey else (3,)), np.uint8)
            for i, img in enumerate(a):
                out[i] = fit_image(Image.fromarray(img), size, grey)
                done[0] += 1
                if on_progress is not None:
                    on_progress(done[0], n)
            return out

        xs = {s: convert(a) for s, a in xs.items()}
        notes.append(f"images converted from {h}x{w}{'x3' if colour_in else ''} to {size}x{size}{'' if grey else 'x3'}")
    dtype = np.uint8 if n_cls <= 256 else np.int16
    return _Imported(xs["train"], ys["train"].astype(dtype), xs["test"], ys["test"].astype(dtype), names, "npz", notes)


# ---- adding a data set ------------------------------------------------------------------------
def add(path: str | os.PathLike, name: str, size: int | None = None, grey: bool | None = None,
        test_fraction: float = 0.2, seed: int = 0, replace: bool = False, limits: Limits = LIMITS,
        on_progress: Callable[[int, int], None] | None = None, about: dict | None = None) -> dict:
    """Import images into the data home as data set `name`; returns its manifest (with notes on skipped files).

    `path`: a folder or zip in the image-folder layout (one sub-folder per class, optionally under train/ and
    test/), an .npz of arrays, or a folder in Flowers102's layout (jpg/, imagelabels.mat, setid.mat). Images are
    centre-cropped to squares of `size` (default 32; an .npz keeps its own size), grey when `grey` (default:
    colour, an .npz keeps its own). Without train/ and test/ folders `test_fraction` of each class is held out.
    `on_progress(done, total)` is called after every image read; an exception it raises ends the import (a worker
    raises one when Stop is pressed or the time limit is reached).
    Nothing is written outside the data home, and nothing at all unless the import succeeds. `about`: kept in the
    manifest as is (e.g. who imported it: {"workspace": ..., "file": ...}).
    """
    check_name(name)
    if exists(name) and not replace:
        raise DataError(f"a data set named {name!r} exists already; pick another name or replace it")
    if not 0.0 < test_fraction < 0.9:
        raise DataError(f"test fraction must be between 0 and 0.9, got {test_fraction}")
    src = Path(os.path.expanduser(str(path)))
    if not src.exists():
        raise DataError(f"{path} does not exist")
    if size is not None:
        _check_size(size)
    flowers = _flowers_root(src) if src.is_dir() else None
    if flowers is not None:
        imp = _from_flowers(flowers, size or FETCH_SIZES["flowers102"], bool(grey), limits, on_progress)
    elif src.is_dir():
        imp = _from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress)
    elif src.suffix.lower() == ".npz":
        imp = _from_npz(src, size, grey, test_fraction, seed, limits, on_progress)
    elif zipfile.is_zipfile(src):
        imp = _from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress)
    else:
        raise DataError(f"{src.name} is neither a folder, a zip nor an .npz file")
    return _write(name, imp, src.name, replace, about)


def _write(name: str, imp: _Imported, source: str, replace: bool, about: dict | None = None) -> dict:
    """Write the arrays and manifest into a temporary folder of the data home, then rename it into place."""
    if len(imp.x_test) == 0:
        raise DataError("no test images: every class has a single image; add more images per class")
    h = home()
    h.mkdir(parents=True, exist_ok=True)
    tmp = h / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with open(tmp / "images.npz", "wb") as f:
            np.savez(f, x_train=imp.x_train, y_train=imp.y_train, x_test=imp.x_test, y_test=imp.y_test)
        n_cls = len(imp.classes)
        manifest = {
            "format": FORMAT, "version": VERSION, "name": name, "kind": imp.kind, "source": source[:200],
            "size": int(imp.x_train.shape[1]), "channels": 1 if imp.x_train.ndim == 3 else 3,
            "n_train": int(len(imp.x_train)), "n_test": int(len(imp.x_test)), "classes": list(imp.classes),
            "counts_train": np.bincount(imp.y_train.astype(np.int64), minlength=n_cls).tolist(),
            "counts_test": np.bincount(imp.y_test.astype(np.int64), minlength=n_cls).tolist(),
            "notes": imp.notes[:20], "created": time.time(), "limits": asdict(LIMITS), "about": dict(about or {}),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        dest = _dir(name)
        if dest.exists():
            if not replace:
                raise DataError(f"a data set named {name!r} exists already")
            old = h / f".old-{name}-{uuid.uuid4().hex[:8]}"
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _load_cached.cache_clear()
    return manifest


# ---- torchvision's colour data sets -------------------------------------------------------------
def fetch_name(name: str, size: int | None = None, grey: bool = False) -> str:
    """The data home name a torchvision set is kept under: 'cifar10', 'flowers102', or e.g. 'flowers102-100-grey'."""
    size = size or FETCH_SIZES[name]
    return name if size == FETCH_SIZES[name] and not grey else f"{name}-{size}{'-grey' if grey else ''}"


def fetch(name: str, size: int | None = None, grey: bool = False, on_progress=None) -> Dataset:
    """CIFAR-10 or Flowers102 from torchvision (downloaded once into the data home), resized and kept as an
    imported data set; a clear DataError when this machine is offline."""
    if name not in COLOUR_DATASETS:
        raise DataError(f"torchvision colour data sets are {', '.join(COLOUR_DATASETS)}, not {name!r}")
    target = fetch_name(name, size, grey)
    if exists(target):
        return load(target)
    size = _check_size(size or FETCH_SIZES[name])
    downloads = home() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        import torchvision.datasets as tvd
    except Exception as e:
        raise DataError(f"{name} needs torchvision, which does not import here: {e}") from None
    try:
        if name == "cifar10":
            train, test = (tvd.CIFAR10(str(downloads), train=t, download=True) for t in (True, False))
        else:
            tvd.Flowers102(str(downloads), split="test", download=True)
    except Exception as e:
        raise DataError(f"{name} is not here yet and could not be downloaded ({type(e).__name__}); this machine may "
                        "be offline. Import images you have with `python -m aecore data add PATH --name NAME`") from None
    if name == "flowers102":
        imp = _from_flowers(downloads / "flowers-102", size, grey, LIMITS, on_progress)
    else:
        xs = {}
        for key, ds in (("train", train), ("test", test)):
            a = np.asarray(ds.data, np.uint8)  # [N,32,32,3]
            if size != 32 or grey:
                from PIL import Image

                out = np.zeros((len(a), size, size) + (() if grey else (3,)), np.uint8)
                for i, img in enumerate(a):
                    out[i] = fit_image(Image.fromarray(img), size, grey)
                    if on_progress is not None:
                        on_progress(i + 1, len(a))
                a = out
            xs[key] = (a, np.asarray(ds.targets, np.uint8))
        imp = _Imported(xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1], list(train.classes), "cifar10", [])
    imp.kind = f"torchvision {name}"
    _write(target, imp, name, replace=True)
    return load(target)
