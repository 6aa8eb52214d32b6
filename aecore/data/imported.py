"""Your own images: the data home's imported data sets (.npz + manifest), listed, loaded, added and removed."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from aecore.data.dataset import COLOUR_DATASETS, DATASETS, DataError, Dataset, Split
from aecore.data.image_files import fit_image
from aecore.data.import_limits import DEFAULT_SIZE, LIMITS, Limits, check_size, disk_bytes
from aecore.data.import_progress import Ticker
from aecore.data.importers import Imported, flowers_root, from_flowers, from_image_folder, from_npz
from aecore.data.npz_arrays import CHUNK_BYTES
from aecore.settings import current

FORMAT = "aelab-dataset"
VERSION = 1
FETCH_SIZES = {"cifar10": 32, "flowers102": 64}  # the size a torchvision colour set is kept at unless asked otherwise
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


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
        check_size(size)

    def quota(nbytes: int) -> None:  # checked by the importers once they know the set's shape, before decoding
        _check_quota(nbytes, name, about, limits)

    flowers = flowers_root(src) if src.is_dir() else None
    if flowers is not None:
        imp = from_flowers(flowers, size or FETCH_SIZES["flowers102"], bool(grey), limits, on_progress, quota)
    elif src.is_dir():
        imp = from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress,
                                 quota)
    elif src.suffix.lower() == ".npz":
        imp = from_npz(src, size, grey, test_fraction, seed, limits, on_progress, quota)
    elif zipfile.is_zipfile(src):
        imp = from_image_folder(src, size or DEFAULT_SIZE, bool(grey), test_fraction, seed, limits, on_progress,
                                 quota)
    else:
        raise DataError(f"{src.name} is not a zip file: its contents are not a zip archive (an import takes a zip, an "
                        ".npz file or a folder)")
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


def _save_npz(path: Path, arrays: dict[str, np.ndarray], tick: Ticker, n: int) -> None:
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


def _write(name: str, imp: Imported, source: str, replace: bool, about: dict | None = None,
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
    _check_quota(disk_bytes(imp.x_train.nbytes + imp.x_test.nbytes, n), name, about, limits)
    h = home()
    h.mkdir(parents=True, exist_ok=True)
    tmp = h / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _save_npz(tmp / "images.npz", arrays, Ticker(on_progress), n)
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
    size = check_size(size or FETCH_SIZES[name])
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
        imp = from_flowers(downloads / "flowers-102", size, grey, LIMITS, on_progress)
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
        imp = Imported(xs["train"][0], xs["train"][1], xs["test"][0], xs["test"][1], list(train.classes), "cifar10", [])
    imp.kind = f"torchvision {name}"
    _write(target, imp, name, replace=True, on_progress=on_progress)
    return load(target)
