"""The arrays of an .npz read within the Limits: every header checked before any data is read."""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore.data.dataset import DataError
from aecore.data.import_limits import Limits
from aecore.data.import_progress import Ticker
from aecore.data.source_files import zip_entry_count

NPZ_MAX_ARRAYS = 16
CHUNK_BYTES = 8 * 2**20  # an array is read and converted this much at a time, never whole


@dataclass
class Npy:
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


def open_npz(path: Path, limits: Limits) -> tuple[zipfile.ZipFile, dict[str, Npy]]:
    """The open .npz and its arrays as their headers describe them: dtype, shape, and a data size that matches the
    size the zip declares (a header that lies is refused). Nothing but headers is read."""
    n = zip_entry_count(path)
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
        arrays: dict[str, Npy] = {}
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
            arrays[key] = Npy(key, zi, dtype, tuple(shape), bool(fortran), nbytes)
    except BaseException:
        z.close()
        raise
    return z, arrays


def check_ratio(path: Path, a: Npy, limits: Limits) -> None:
    zi = a.info
    if zi.file_size > 2**20 and zi.file_size > limits.max_ratio * max(zi.compress_size, 1):
        times = zi.file_size // max(zi.compress_size, 1)
        raise DataError(f"the array {a.key!r} of {path.name} would inflate {times:,} times (to "
                        f"{zi.file_size / 2**20:,.0f} MiB): this looks like a zip bomb; refused")


def npy_read(z: zipfile.ZipFile, a: Npy, path: Path) -> np.ndarray:
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


def npy_chunks(z: zipfile.ZipFile, a: Npy, path: Path):
    """(first row, rows) of an array, CHUNK_BYTES at a time (one row at least; a Fortran-ordered one is read whole)."""
    if a.fortran:
        whole = np.ascontiguousarray(npy_read(z, a, path))
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


def image_layout(a: Npy, limits: Limits) -> _Layout:
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


def checked_labels(a: np.ndarray, key: str, n_names: int | None, limits: Limits) -> np.ndarray:
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


def check_class_names(a: Npy, limits: Limits) -> None:
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


def read_class_names(z: zipfile.ZipFile, a: Npy, path: Path) -> list[str]:
    """class_names as text (checked by check_class_names first)."""
    count = math.prod(a.shape)
    if a.dtype.itemsize == 0:
        return [""] * count
    raw = npy_read(z, a, path).ravel()
    return [(s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s))[:64] for s in raw.tolist()]


def value_scale(z: zipfile.ZipFile, a: Npy, path: Path, tick: Ticker, done: int, n: int) -> float:
    """For images that are not uint8: the values checked (finite, 0..1 or 0..255) a chunk at a time; the factor that
    takes them to 0..255 (255 when they all lie in 0..1)."""
    hi = 0
    for _, rows in npy_chunks(z, a, path):
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


def as_uint8(rows: np.ndarray, scale: float) -> np.ndarray:
    if rows.dtype == np.uint8:
        return rows
    a = rows.astype(np.float32)
    if scale != 1.0:
        a *= scale
    return np.rint(a).astype(np.uint8)
