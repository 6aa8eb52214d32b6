"""Your own images: a data home of imported data sets (.npz + manifest), filled safely from image folders, zips,
arrays, Flowers102's on-disk layout, or torchvision downloads."""

from __future__ import annotations

import functools
import io
import json
import math
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
HEADER_BYTES = 64 * 1024  # read to find an image's size; a header further in (a JPEG after a large EXIF) reads it all
PROGRESS_EVERY_S = 0.1  # on_progress is called at least this often during the phases that are not per image


@dataclass(frozen=True)
class Limits:
    """What an import accepts; every limit is checked before the data it guards is read or decoded."""

    max_members: int = 100_000  # entries in a zip, or files under a folder
    max_images: int = 70_000  # images in one data set (MNIST has 70,000)
    max_file_bytes: int = 64 * 2**20  # one image file (as read, never as a header claims)
    max_total_bytes: int = 2 * 2**30  # everything a zip or .npz unpacks to (as declared and as read)
    max_ratio: int = 200  # a zip member that inflates more than this (and to over 1 MiB) is taken for a zip bomb
    max_pixels: int = 40_000_000  # one image's width x height, read from its header before it is decoded
    # All images' width x height together, read from their headers before any image is decoded. Decoding and
    # resizing cost 5-20 ns a pixel on one core (PNG and JPEG, measured), so 5 G pixels are 0.5-2 minutes of work,
    # well inside a job's time limit. It admits 70,000 images of 256x256 (4.6 G), Flowers102 at full size (8,189
    # photos of about 500x600, ~2.5 G), MNIST (55 M) and CIFAR-10 (61 M); a zip of a few thousand 40-megapixel
    # single-colour PNGs (hours of decoding from a few MB) is refused before the first one is decoded.
    max_total_pixels: int = 5_000_000_000
    max_array_bytes: int = 1 * 2**30  # the imported uint8 arrays: images x size x size x channels
    max_classes: int = 1000
    max_class_name_chars: int = 1000  # one entry of an .npz's class_names, checked in its header before it is read
    # Disk the imported data sets may take, checked from the arrays' shapes before anything is written: all the
    # sets imported from one workspace (the app's `about={"workspace": ...}`; the command line has none), and all
    # the data home's sets (and downloads) together. A set being replaced does not count.
    max_workspace_bytes: int = 1 * 2**30  # one workspace: one set of the largest size, or five CIFAR-10-sized ones
    max_server_bytes: int = 10 * 2**30  # the whole server


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
        seen: set[str] = set()
        for zi in infos:  # one file listed many times would be decoded many times (and which copy would count?)
            if zi.filename in seen:
                raise DataError(f"the zip lists {zi.filename[:80]!r} more than once: it is damaged or crafted; "
                                "refusing the whole archive (nothing was written)")
            seen.add(zi.filename)
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

    def _bytes(self, rel: str, n: int) -> bytes:
        """The first `n` bytes of a file; _Skip when it cannot be read (a damaged zip entry: a wrong CRC, a header
        that lies about its size, an unknown compression or a password; a folder's file that is not a plain file)."""
        try:
            if self.zip is not None:
                with self.zip.open(rel) as f:
                    return f.read(n)
            fd = os.open(self.path / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # never blocks on a pipe
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise _Skip("is not a plain file any more")
                return f.read(n)
        except (_Skip, DataError, MemoryError):
            raise
        except Exception as e:  # BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ...
            where = "from the zip" if self.zip is not None else "from the folder"
            raise _Skip(f"cannot be read {where} (damaged: {type(e).__name__})") from None

    def head(self, rel: str) -> bytes:
        """The start of a file: enough for an image header (PIL reads only the header when it opens an image)."""
        return self._bytes(rel, HEADER_BYTES)

    def read(self, rel: str, count: bool = True) -> bytes:
        """One file's bytes, at most max_file_bytes (counted as read unless `count` is False; DataError beyond)."""
        lim = self.limits
        cap = lim.max_file_bytes
        data = self._bytes(rel, cap + 1)
        if len(data) > cap:
            raise _Skip(f"is larger than {cap / 2**20:g} MiB")
        if not count:
            return data
        self.read_total += len(data)
        if self.read_total > lim.max_total_bytes:
            raise DataError(f"the images unpack to more than {lim.max_total_bytes / 2**30:g} GiB, the limit; refused")
        return data


class _Skip(Exception):
    """One file is not a usable image (the import goes on without it and says so)."""


class _Ticker:
    """on_progress for the phases that are not one image each (headers, checks, writing): called at most every
    PROGRESS_EVERY_S, so that the worker's Stop and time limit are looked at there too, without a report per step."""

    def __init__(self, on_progress: Callable[[int, int], None] | None):
        self.on_progress, self.last = on_progress, 0.0

    def __call__(self, done: int, total: int, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.on_progress(done, total)


def _image_pixels(src: _Source, rel: str, limits: Limits) -> int:
    """An image file's width x height, from its header alone (nothing is decoded); _Skip when it is not a usable
    image or has more than max_pixels."""
    import warnings

    from PIL import Image

    data, whole = src.head(rel), False
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    w, h = im.size
            break
        except Image.DecompressionBombError:
            raise _Skip(f"has more than {limits.max_pixels:,} pixels") from None
        except Exception as e:  # PIL's errors on a file it cannot parse are many (OSError, SyntaxError, ...)
            if not whole and len(data) == HEADER_BYTES:  # the header may lie further in (after a large EXIF)
                data, whole = src.read(rel, count=False), True
                continue
            raise _Skip(f"cannot be read as an image ({type(e).__name__})") from None
    if w < 1 or h < 1:
        raise _Skip("is empty")
    if w * h > limits.max_pixels:
        raise _Skip(f"is {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,}")
    return w * h


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
                on_progress: Callable[[int, int], None] | None,
                quota: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode files into one preallocated array; returns (images, kept mask, notes on skipped files).

    Every file's header is read first: the total pixel count (what decoding costs) is checked against
    max_total_pixels before the first image is decoded. `quota(bytes)`: checks the disk the set will need."""
    c, n = 1 if grey else 3, len(paths)
    _check_count(n, size, c, limits)
    if quota is not None:
        quota(_disk_bytes(n * size * size * c, n))
    tick = _Ticker(on_progress)
    tick(0, n, force=True)
    unusable: dict[int, str] = {}
    total = 0
    for i, rel in enumerate(paths):
        try:
            total += _image_pixels(src, rel, limits)
        except _Skip as e:
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
            except _Skip as e:
                skipped.append(f"{rel[:60]} {e}")
        if on_progress is not None:  # after every image: the callback may raise to end the import
            on_progress(i + 1, n)
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
                       on_progress, quota=None) -> _Imported:
    with _Source(path, limits) as src:
        entries, notes = _entries(src.files())
        classes = sorted({e.label for e in entries})
        if len(classes) > limits.max_classes:
            raise DataError(f"{len(classes):,} class folders are more than the limit of {limits.max_classes:,}")
        if len(classes) < 2:
            raise DataError(f"only one class folder ({classes[0]!r}): a classifier needs at least 2 class folders "
                            "(one sub-folder per class)")
        x, ok, more = _decode_all(src, [e.path for e in entries], size, grey, limits, on_progress, quota)
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


def _from_flowers(root: Path, size: int, grey: bool, limits: Limits, on_progress, quota=None) -> _Imported:
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
        x, ok, notes = _decode_all(src, paths, size, grey, limits, on_progress, quota)
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


# ---- .npz arrays: every header checked before any data is read ------------------------------------
NPZ_MAX_ARRAYS = 16
CHUNK_BYTES = 8 * 2**20  # an array is read and converted this much at a time, never whole


@dataclass
class _Npy:
    """One array of an .npz as its header describes it (none of its data read)."""

    key: str
    info: zipfile.ZipInfo
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool
    nbytes: int


def _npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the start of an .npy stream; only the header is read."""
    from numpy.lib import format as npf

    version = npf.read_magic(f)
    if version == (1, 0):
        return npf.read_array_header_1_0(f)
    if version == (2, 0):
        return npf.read_array_header_2_0(f)
    raise ValueError(f".npy format version {version} is not supported")


def _npz_arrays(path: Path, limits: Limits) -> tuple[zipfile.ZipFile, dict[str, _Npy]]:
    """The open .npz and its arrays as their headers describe them: dtype, shape, and a data size that matches the
    size the zip declares (a header that lies is refused). Nothing but headers is read."""
    n = _zip_entry_count(path)
    if n is not None and n > NPZ_MAX_ARRAYS:
        raise DataError(f"{path.name} holds {n:,} arrays; expected x_train/y_train/x_test/y_test or x/y")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise DataError(f"{path.name} is not a readable .npz file ({e})") from None
    try:
        infos = z.infolist()
        if len(infos) > NPZ_MAX_ARRAYS:
            raise DataError(f"{path.name} holds {len(infos)} arrays; expected x_train/y_train/x_test/y_test or x/y")
        declared = sum(zi.file_size for zi in infos)
        if declared > limits.max_total_bytes:
            raise DataError(f"{path.name} unpacks to {declared / 2**30:.1f} GiB, more than the limit of "
                            f"{limits.max_total_bytes / 2**30:g} GiB")
        arrays: dict[str, _Npy] = {}
        for zi in infos:
            if not zi.filename.endswith(".npy"):
                continue  # not an array (np.load would hand it over as bytes): never read
            key = zi.filename[:-4]
            if key in arrays:
                raise DataError(f"{path.name} lists the array {key[:40]!r} more than once: it is damaged or crafted")
            try:
                with z.open(zi) as f:
                    shape, fortran, dtype = _npy_header(f)
                    offset = f.tell()
            except Exception as e:  # BadZipFile, zlib.error, a header numpy cannot parse, ...
                raise DataError(f"{path.name}: the array {key[:40]!r} cannot be read ({type(e).__name__}); the file is "
                                "damaged or was not written by numpy") from None
            if dtype.hasobject:
                raise DataError(f"{path.name} cannot be read without unpickling (object arrays are refused): "
                                f"{key[:40]!r} is an object array; save text as a string array (np.array(names))")
            if any(d < 0 for d in shape):
                raise DataError(f"{path.name}: the array {key[:40]!r} has the impossible shape {shape}")
            nbytes = math.prod(shape) * dtype.itemsize
            if offset + nbytes != zi.file_size:
                raise DataError(f"{path.name}: the array {key[:40]!r} is damaged or crafted: its header says "
                                f"{nbytes:,} bytes of data, the zip says {zi.file_size - offset:,}")
            arrays[key] = _Npy(key, zi, dtype, tuple(shape), bool(fortran), nbytes)
    except BaseException:
        z.close()
        raise
    return z, arrays


def _check_ratio(path: Path, a: _Npy, limits: Limits) -> None:
    zi = a.info
    if zi.file_size > 2**20 and zi.file_size > limits.max_ratio * max(zi.compress_size, 1):
        times = zi.file_size // max(zi.compress_size, 1)
        raise DataError(f"the array {a.key!r} of {path.name} would inflate {times:,} times (to "
                        f"{zi.file_size / 2**20:,.0f} MiB): this looks like a zip bomb; refused")


def _npy_read(z: zipfile.ZipFile, a: _Npy, path: Path) -> np.ndarray:
    """A whole array, read from its member (only arrays whose header says they are small: labels, class names,
    or images in Fortran order, which cannot be read a row at a time)."""
    try:
        with z.open(a.info) as f:
            _npy_header(f)
            data = f.read(a.nbytes + 1)  # to the end: the zip checks the CRC
        if len(data) != a.nbytes:
            raise EOFError("the array ends early")
        return np.frombuffer(data, a.dtype, count=math.prod(a.shape)).reshape(a.shape, order="F" if a.fortran else "C")
    except Exception as e:  # BadZipFile (a wrong CRC), zlib.error, EOFError, ValueError, ...
        raise DataError(f"{path.name}: the array {a.key[:40]!r} cannot be read ({type(e).__name__}); the file is "
                        "damaged") from None


def _npy_chunks(z: zipfile.ZipFile, a: _Npy, path: Path):
    """(first row, rows) of an array, CHUNK_BYTES at a time (one row at least; a Fortran-ordered one is read whole)."""
    if a.fortran:
        whole = np.ascontiguousarray(_npy_read(z, a, path))
        step = max(1, CHUNK_BYTES // max(whole[:1].nbytes, 1))
        for i in range(0, len(whole), step):
            yield i, whole[i:i + step]
        return
    row_bytes = math.prod(a.shape[1:]) * a.dtype.itemsize
    step = max(1, CHUNK_BYTES // max(row_bytes, 1))
    n = a.shape[0]
    try:
        with z.open(a.info) as f:
            _npy_header(f)
            for i in range(0, n, step):
                k = min(step, n - i)
                data = f.read(k * row_bytes)
                if len(data) != k * row_bytes:
                    raise EOFError("the array ends early")
                if i + k == n:
                    f.read(1)  # at the end: the zip checks the CRC now
                yield i, np.frombuffer(data, a.dtype).reshape((k,) + a.shape[1:])
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path.name}: the array {a.key[:40]!r} cannot be read ({type(e).__name__}); the file is "
                        "damaged") from None


@dataclass
class _Layout:
    """How an image array's rows become [H,W] or [H,W,3] images."""

    n: int
    h: int
    w: int
    colour: bool
    channels_first: bool

    def images(self, rows: np.ndarray) -> np.ndarray:
        if self.channels_first:
            rows = np.moveaxis(rows, 1, 3)  # [k,C,H,W] -> [k,H,W,C]
        if rows.ndim == 4 and rows.shape[3] == 1:
            rows = rows[..., 0]
        elif rows.ndim == 4 and rows.shape[3] == 4:
            rows = rows[..., :3]  # RGBA: the alpha channel is dropped
        return rows

    def described(self) -> str:
        return f"{self.h}x{self.w}{'x3' if self.colour else ''}"


def _image_layout(a: _Npy, limits: Limits) -> _Layout:
    """An image array's layout from its header: [N,H,W], [N,H,W,1|3|4] or [N,1|3,H,W] of numbers, within the limits."""
    key, s = a.key, a.shape
    if a.dtype.kind not in "uif":
        raise DataError(f"{key} must hold numbers (uint8, or integers or floats in 0..1 or 0..255), got {a.dtype}")
    channels_first = len(s) == 4 and s[1] in (1, 3) and s[3] not in (1, 3, 4)
    hwc = (s[0], s[2], s[3], s[1]) if channels_first else s
    if not (len(hwc) == 3 or (len(hwc) == 4 and hwc[3] in (1, 3, 4))):
        raise DataError(f"{key} must be images [N,H,W] or [N,H,W,3], got shape {s}")
    n, h, w = hwc[:3]
    if h < 1 or w < 1:
        raise DataError(f"{key}'s images are {h}x{w} pixels: there is nothing in them")
    if h * w > limits.max_pixels:
        raise DataError(f"{key}'s images are {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,} pixels "
                        "an image; resize them first")
    return _Layout(n, h, w, len(hwc) == 4 and hwc[3] in (3, 4), channels_first)


def _labels(a: np.ndarray, key: str, n_names: int | None, limits: Limits) -> np.ndarray:
    """Class numbers checked in their own dtype (a uint64 2**63 must not wrap to a negative int64 and pass),
    then as int64."""
    a = a.ravel()
    if a.dtype.kind == "b":
        raise DataError(f"{key} holds true/false values; it must hold class numbers 0, 1, 2, ...")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or not np.array_equal(a, np.floor(a)):
            raise DataError(f"{key} must be whole class numbers 0, 1, 2, ...")
    elif a.dtype.kind not in "iu":
        raise DataError(f"{key} must be whole class numbers 0, 1, 2, ..., got {a.dtype}")
    if not len(a):
        return a.astype(np.int64)
    lo, hi = a.min(), a.max()
    lo, hi = (int(lo), int(hi))  # exact: floats are whole here, Python ints do not wrap
    if lo < 0:
        raise DataError(f"{key} has negative labels (down to {lo:,}): labels are class numbers 0, 1, 2, ...")
    if n_names is not None and hi >= n_names:
        raise DataError(f"{key} has the label {hi:,}, but class_names names {n_names:,} classes (labels 0 to "
                        f"{n_names - 1:,})")
    if hi >= limits.max_classes:
        raise DataError(f"{key} has the label {hi:,}: {hi + 1:,} classes are more than the limit of "
                        f"{limits.max_classes:,}")
    return a.astype(np.int64)


def _check_class_names(a: _Npy, limits: Limits) -> None:
    """class_names bounded in count and length from its header, before it is read (20 million names, a few hundred
    KB compressed, would otherwise become a list of 20 million strings)."""
    count = math.prod(a.shape)
    if count > limits.max_classes:
        raise DataError(f"{a.key} has {count:,} entries, more than the limit of {limits.max_classes:,} classes")
    if a.dtype.kind == "U":
        chars = a.dtype.itemsize // 4
    elif a.dtype.kind == "S":
        chars = a.dtype.itemsize
    elif a.dtype.kind in "biuf":
        chars = 0
    else:
        raise DataError(f"{a.key} must hold text (e.g. np.array(['cat', 'dog'])), got {a.dtype}")
    if chars > limits.max_class_name_chars:
        raise DataError(f"{a.key} holds names of up to {chars:,} characters, more than the limit of "
                        f"{limits.max_class_name_chars:,}")


def _class_names(z: zipfile.ZipFile, a: _Npy, path: Path) -> list[str]:
    """class_names as text (checked by _check_class_names first)."""
    count = math.prod(a.shape)
    if a.dtype.itemsize == 0:
        return [""] * count
    raw = _npy_read(z, a, path).ravel()
    return [(s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s))[:64] for s in raw.tolist()]


def _value_scale(z: zipfile.ZipFile, a: _Npy, path: Path, tick: _Ticker, done: int, n: int) -> float:
    """For images that are not uint8: the values checked (finite, 0..1 or 0..255) a chunk at a time; the factor that
    takes them to 0..255 (255 when they all lie in 0..1)."""
    hi = 0
    for _, rows in _npy_chunks(z, a, path):
        if rows.size:
            if a.dtype.kind == "f" and not np.isfinite(rows).all():
                raise DataError(f"{a.key} holds values outside 0..1 or 0..255")
            lo_c, hi_c = rows.min(), rows.max()
            if lo_c < 0:
                raise DataError(f"{a.key} holds values outside 0..1 or 0..255")
            if hi_c > 255:
                raise DataError(f"{a.key} holds values above 255")
            hi = max(hi, hi_c)
        tick(done, n)
    return 255.0 if hi <= 1 else 1.0


def _as_uint8(rows: np.ndarray, scale: float) -> np.ndarray:
    if rows.dtype == np.uint8:
        return rows
    a = rows.astype(np.float32)
    if scale != 1.0:
        a *= scale
    return np.rint(a).astype(np.uint8)


def _from_npz(path: Path, size: int | None, grey: bool | None, test_fraction: float, seed: int, limits: Limits,
              on_progress, quota=None) -> _Imported:
    """Arrays: x_train, y_train, x_test, y_test (or x, y split here), optional class_names; uint8 or numbers in 0..1
    or 0..255. Every array's header (dtype, shape, declared and compressed size) is checked against the limits
    before any data is read; the labels are read next, then the images a few MB at a time, converted as they come."""
    from PIL import Image

    z, arrays = _npz_arrays(path, limits)
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
            _check_class_names(arrays[names_key], limits)
        layouts = {}
        for xk, yk in parts.values():
            lay = layouts[xk] = _image_layout(arrays[xk], limits)
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
        _check_size(size)
        n = sum(lay.n for lay in layouts.values())
        c = 1 if grey else 3
        _check_count(n, size, c, limits)
        if n * h * w > limits.max_total_pixels:
            raise DataError(f"the images hold {n * h * w:,} pixels in all, more than the limit of "
                            f"{limits.max_total_pixels:,}; import fewer or smaller images")
        if quota is not None:
            quota(_disk_bytes(n * size * size * c, n))
        used = [k for pair in parts.values() for k in pair] + ([names_key] if names_key else [])
        for k in used:
            _check_ratio(path, arrays[k], limits)

        # the small arrays: class names, then the labels, checked in their own dtype
        names = _class_names(z, arrays[names_key], path) if names_key else None
        ys = {part: _labels(_npy_read(z, arrays[yk], path), yk, len(names) if names is not None else None, limits)
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
            tr_idx, te_idx = _split_seeded(ys["all"], test_fraction, seed)
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
        tick = _Ticker(on_progress)
        done = 0
        tick(done, n, force=True)
        for xk, dest, pos in sources:
            a = arrays[xk]
            scale = 1.0 if a.dtype == np.uint8 else _value_scale(z, a, path, tick, done, n)
            for i0, rows in _npy_chunks(z, a, path):
                imgs = layouts[xk].images(_as_uint8(rows, scale))
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
    return _Imported(out[0], y_out["train"].astype(dtype), out[1], y_out["test"].astype(dtype), names, "npz", notes)


# ---- adding a data set ------------------------------------------------------------------------
def add(path: str | os.PathLike, name: str, size: int | None = None, grey: bool | None = None,
        test_fraction: float = 0.2, seed: int = 0, replace: bool = False, limits: Limits = LIMITS,
        on_progress: Callable[[int, int], None] | None = None, about: dict | None = None) -> dict:
    """Import images into the data home as data set `name`; returns its manifest (with notes on skipped files).

    `path`: a folder or zip in the image-folder layout (one sub-folder per class, optionally under train/ and
    test/), an .npz of arrays, or a folder in Flowers102's layout (jpg/, imagelabels.mat, setid.mat). Images are
    centre-cropped to squares of `size` (default 32; an .npz keeps its own size), grey when `grey` (default:
    colour, an .npz keeps its own). Without train/ and test/ folders `test_fraction` of each class is held out.
    `on_progress(done, total)` is called after every image read, and at least every PROGRESS_EVERY_S during the
    other phases (reading headers, checking values, writing); an exception it raises ends the import and leaves
    nothing behind (a worker raises one when Stop is pressed or the time limit is reached).
    Nothing is written outside the data home, and nothing at all unless the import succeeds and fits the disk
    quotas (Limits). `about`: kept in the manifest as is (e.g. who imported it: {"workspace": ..., "file": ...});
    its "workspace" is the one whose quota the set counts against.
    """
    check_name(name)
    if exists(name) and not replace:
        raise DataError(f"a data set named {name!r} exists already; pick another name or replace it")
    if not 0.0 < test_fraction < 0.9:
        raise DataError(f"test fraction must be between 0 and 0.9, got {test_fraction}")
    src = Path(os.path.expanduser(str(path)))
    try:
        mode = os.stat(src).st_mode
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e.strerror or type(e).__name__})") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # /dev/zero never ends, a pipe may never answer
        raise DataError(f"{path} is {_file_kind(mode)}, not a file or a folder: only a folder, a zip or an .npz "
                        "file is imported")
    if size is not None:
        _check_size(size)

    def quota(nbytes: int) -> None:  # checked by the importers once they know the set's shape, before decoding
        _check_quota(nbytes, name, about, limits)

    flowers = _flowers_root(src) if src.is_dir() else None
    if flowers is not None:
        imp = _from_flowers(flowers, size or FETCH_SIZES["flowers102"], bool(grey), limits, on_progress, quota)
    elif src.is_dir():
        imp = _from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress,
                                 quota)
    elif src.suffix.lower() == ".npz":
        imp = _from_npz(src, size, grey, test_fraction, seed, limits, on_progress, quota)
    elif zipfile.is_zipfile(src):
        imp = _from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress,
                                 quota)
    else:
        raise DataError(f"{src.name} is neither a folder, a zip nor an .npz file")
    return _write(name, imp, src.name, replace, about, limits, on_progress)


def _file_kind(mode: int) -> str:
    for test, what in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


# ---- disk quotas -----------------------------------------------------------------------------------
def _tree_bytes(p: Path) -> int:
    """Bytes of the files under a folder (links not followed)."""
    total = 0
    for dirpath, _, filenames in os.walk(p, followlinks=False):
        for fn in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, fn)).st_size
            except OSError:
                pass
    return total


def usage(workspace: str | None = None) -> int:
    """Bytes on disk of the data home's data sets: all of them (and downloads, and imports under way), or only those
    imported from `workspace`."""
    if workspace is None:
        return _tree_bytes(home()) if home().is_dir() else 0
    total = 0
    for n in names():
        try:
            about = info(n).get("about")
        except DataError:
            continue
        if isinstance(about, dict) and about.get("workspace") == workspace:
            total += _tree_bytes(_dir(n))
    return total


def _disk_bytes(image_bytes: int, n_images: int) -> int:
    """What a set of `n_images` whose images take `image_bytes` takes on disk (at most): the images, the labels
    (int16 at most), the .npy and zip headers and the manifest."""
    return image_bytes + 2 * n_images + 8 * 2**10


def _size_text(n: int) -> str:
    if n < 2**20:
        return f"{n / 2**10:,.0f} KiB"
    if n < 2**30:
        return f"{n / 2**20:,.1f} MiB"
    return f"{n / 2**30:,.2f} GiB"


def _check_quota(need: int, name: str, about: dict | None, limits: Limits) -> None:
    """Refuse a set of `need` bytes that would take its workspace's data sets, or the server's, over their quota;
    the set of the same name (to be replaced) does not count."""
    replaced = _tree_bytes(_dir(name)) if exists(name) else 0
    workspace = about.get("workspace") if isinstance(about, dict) else None
    if workspace is not None:
        mine = usage(workspace)
        old_about = info(name).get("about") if exists(name) else None
        if isinstance(old_about, dict) and old_about.get("workspace") == workspace:
            mine -= replaced
        if mine + need > limits.max_workspace_bytes:
            raise DataError(f"this data set needs {_size_text(need)} on disk, but the data sets imported from your "
                            f"workspace already use {_size_text(mine)} of its "
                            f"{_size_text(limits.max_workspace_bytes)}; remove one of them first, or import fewer or "
                            "smaller images")
    everyone = usage() - replaced
    if everyone + need > limits.max_server_bytes:
        raise DataError(f"this data set needs {_size_text(need)} on disk, but the server's data sets already use "
                        f"{_size_text(everyone)} of the {_size_text(limits.max_server_bytes)} it allows; ask your "
                        "teacher to remove some, or import fewer or smaller images")


def _save_npz(path: Path, arrays: dict[str, np.ndarray], tick: _Ticker, n: int) -> None:
    """np.savez's format (one uncompressed .npy member per array), written a few MB at a time with `tick` between
    (so a Stop is seen while a large set is written)."""
    from numpy.lib import format as npf

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays.items():
            a = np.ascontiguousarray(a)
            with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                npf.write_array_header_1_0(f, npf.header_data_from_array_1_0(a))
                flat = a.reshape(-1).view(np.uint8)
                for i in range(0, len(flat), CHUNK_BYTES):
                    f.write(flat[i:i + CHUNK_BYTES].data)
                    tick(n, n)


def _write(name: str, imp: _Imported, source: str, replace: bool, about: dict | None = None,
           limits: Limits = LIMITS, on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Check the quotas, then write the arrays and manifest into a temporary folder of the data home
    (`.tmp-NAME-TOKEN`, which a worker that starts deletes when a killed import left it) and rename it into place.
    An exception from on_progress, or any other, leaves nothing behind."""
    if len(imp.x_train) == 0:
        raise DataError("no training images: add more images per class")
    if len(imp.x_test) == 0:
        raise DataError("no test images: every class has a single image; add more images per class")
    arrays = {"x_train": imp.x_train, "y_train": imp.y_train, "x_test": imp.x_test, "y_test": imp.y_test}
    n = len(imp.x_train) + len(imp.x_test)
    _check_quota(_disk_bytes(imp.x_train.nbytes + imp.x_test.nbytes, n), name, about, limits)
    h = home()
    h.mkdir(parents=True, exist_ok=True)
    tmp = h / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _save_npz(tmp / "images.npz", arrays, _Ticker(on_progress), n)
        n_cls = len(imp.classes)
        manifest = {
            "format": FORMAT, "version": VERSION, "name": name, "kind": imp.kind, "source": source[:200],
            "size": int(imp.x_train.shape[1]), "channels": 1 if imp.x_train.ndim == 3 else 3,
            "n_train": int(len(imp.x_train)), "n_test": int(len(imp.x_test)), "classes": list(imp.classes),
            "counts_train": np.bincount(imp.y_train.astype(np.int64), minlength=n_cls).tolist(),
            "counts_test": np.bincount(imp.y_test.astype(np.int64), minlength=n_cls).tolist(),
            "notes": imp.notes[:20], "created": time.time(), "limits": asdict(limits), "about": dict(about or {}),
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
    _write(target, imp, name, replace=True, on_progress=on_progress)
    return load(target)
