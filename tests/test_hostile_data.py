"""Hostile input, round 3 (issue 24): imports of image sets (zips, folders, .npz), uploaded runs and the command line.
Every hostile file is built here, small, in tmp_path; memory and time of the bombs are measured in a separate process.
Each test checks the clear message (a DataError, a RunError or one CLI line: never a traceback or "this is a bug")
and that nothing is left behind."""

import io
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT

from aecore.cli import main
from aecore.data import image_files, import_progress, importers, npz_arrays
from aecore.data import imported as datasets
from aecore.data.dataset import DataError
from aecore.data.import_limits import LIMITS, Limits, disk_bytes
from aecore.data.shapes import make_shapes
from aecore.training.runs import RunError, check_behaviour, load_run, run_from_bytes, run_to_bytes

ZOO = ROOT / "data" / "zoo" / "linear-k32"


@pytest.fixture
def home(data_home):
    """This test's own data home (the engine tests' store and settings use it too)."""
    datasets._load_cached.cache_clear()
    return data_home


def leftovers(home) -> list[str]:
    """What the data home's datasets/ folder holds (data sets, temporaries)."""
    d = home / "datasets"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


# ---- builders of hostile files ---------------------------------------------------------------------------
def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned: streams can be joined


def repeated(pattern: bytes, total: int, crc: int | None = None) -> tuple[bytes, int]:
    """(raw deflate data, crc32 continued from `crc`; 0 when None) of `pattern` repeated to `total` bytes: one
    compressed 8 MiB block, repeated (~1000x smaller than what it inflates to, built in a blink)."""
    block = pattern * ((8 << 20) // len(pattern))
    n, rest = divmod(total, len(block))
    if crc is not None:
        for _ in range(n):
            crc = zlib.crc32(block, crc)
        crc = zlib.crc32(block[:rest], crc)
    return deflate(block) * n + deflate(block[:rest]), crc or 0


def npy_header(descr: str, shape: tuple) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def member(name: str, data: bytes) -> tuple:
    """An honest zip entry: (name, raw deflate data, crc, size)."""
    return name, deflate(data) + b"\x03\x00", zlib.crc32(data), len(data)


def npy_member(name: str, a: np.ndarray) -> tuple:
    buf = io.BytesIO()
    np.save(buf, a)
    return member(name, buf.getvalue())


def big_npy_member(name: str, descr: str, shape: tuple, item: bytes, data_bytes: int | None = None,
                   crc: bool = True) -> tuple:
    """An .npy entry whose data is `item` repeated; `data_bytes`: the data actually there, when it differs from what
    the header says; `crc`: a true CRC (False: 0, for entries the import must refuse before reading them)."""
    head = npy_header(descr, shape)
    size = int(np.prod(shape)) * np.dtype(descr).itemsize if data_bytes is None else data_bytes
    body, value = repeated(item, size, zlib.crc32(head) if crc else None)
    return name, deflate(head) + body + b"\x03\x00", value & 0xFFFFFFFF, len(head) + size


def raw_zip(entries: list[tuple], listing: list[int] | None = None, lie: dict | None = None) -> bytes:
    """A zip written by hand, so its headers can lie: entries are (name, raw deflate data, crc, size); `listing`
    names the central directory's entries by index (repeat one to list it many times); `lie` {index: (crc, size)}
    replaces what both headers of an entry claim."""
    lie = lie or {}
    out, offsets = bytearray(), []
    for i, (name, data, crc, size) in enumerate(entries):
        crc, size = lie.get(i, (crc, size))
        offsets.append(len(out))
        n = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc & 0xFFFFFFFF, len(data), size, len(n), 0)
        out += n + data
    cd = bytearray()
    for i in list(range(len(entries))) if listing is None else listing:
        name, data, crc, size = entries[i]
        crc, size = lie.get(i, (crc, size))
        n = name.encode()
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc & 0xFFFFFFFF, len(data), size,
                          len(n), 0, 0, 0, 0, 0, offsets[i]) + n
    count = len(entries) if listing is None else len(listing)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count & 0xFFFF, count & 0xFFFF, len(cd), len(out), 0)
    return bytes(out + cd + end)


def flat_png(w: int, h: int, bits: int = 8) -> bytes:
    """A single-colour (black) grey PNG of w x h, written by hand: a few KB however large (1 bit: 8x smaller)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\0" * (1 + (w * bits + 7) // 8)
    c = zlib.compressobj(9)
    idat = b"".join(c.compress(row * 256) for _ in range(h // 256)) + c.compress(row * (h % 256)) + c.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def shapes_zip(path, per_class: int = 6, extra: dict | None = None) -> str:
    x, y, names = make_shapes(2, per_class, 32)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (img, c) in enumerate(zip(x, y)):
            z.writestr(f"{names[c]}/{i}.png", png(img))
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return str(path)


def save_npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


# ---- 1, 2 and 7. .npz and decoding bombs: refused from their headers, in bounded memory and time ----------------
MEASURE = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ["AELAB_HOME"] = sys.argv[3]
from aecore.data import imported
from aecore.data.dataset import DataError
import numpy.lib.format, PIL.Image
PIL.Image.init()  # every image plugin loaded before any baseline is taken


def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


out = {}
for name, path in json.loads(open(sys.argv[2]).read()).items():
    with open("/proc/self/clear_refs", "w") as f:  # Linux: resets the peak RSS (VmHWM), so each case counts alone
        f.write("5")
    base = status_mb("VmRSS")
    t = time.perf_counter()
    try:
        imported.add(path, name)
        msg = "ACCEPTED"
    except DataError as e:
        msg = str(e)
    except Exception as e:
        msg = f"CRASHED {type(e).__name__}: {e}"
    out[name] = {"message": msg, "seconds": time.perf_counter() - t, "growth_mb": status_mb("VmHWM") - base}
print(json.dumps(out))
"""

BOMBS = {
    # 390 KB in the finding: class_names of 20,000,000 x "ab" (was: a 20M-item list, 10 s, +1.5 GB)
    "class-names": ("npz", "class_names has 20,000,000 entries, more than the limit of 1,000 classes"),
    # 1 MB holding 1 GiB of float64 zeros, honest header (was: inflated and converted first, 10 s, +2.2 GB)
    "float-zeros": ("npz", "171,197 images are more than the limit of 70,000"),
    # a header that says 10 images over 1 GiB of data
    "lying-header": ("npz", "is damaged or crafted: its header says 7,840 bytes of data, the zip says"),
    # 60,000 float32 images of 64x64 (within every count and size limit) in 1 MB
    "npz-ratio": ("npz", ("the array 'x' of npz-ratio.npz would inflate 1,027 times (to 938 MiB): this looks like a "
                          "zip bomb; refused")),
    # two 7000x7000 images (was: the private _Skip, "internal error" / "this is a bug")
    "npz-pixels": ("npz", "x's images are 7,000x7,000 pixels, more than the limit of 40,000,000 pixels an image"),
    # two 6300x6300 PNGs, each listed 27,000 times (was: ~0.4 s of decoding per entry: 6 hours)
    "listed-27000-times": ("zip", "the zip lists 'a/1.png' more than once: it is damaged or crafted"),
    # 130 distinct 6300x6300 PNGs under the 40-megapixel limit each: 5.2 G pixels to decode from 28 KB
    "pixel-budget": ("zip", ("the images hold more than 5,000,000,000 pixels in all, the limit (counted from their "
                             "headers before decoding")),
}


def build_bombs(tmp_path) -> dict[str, str]:
    ok_x, ok_y = npy_member("x.npy", np.zeros((20, 8, 8), np.uint8)), npy_member("y.npy", np.arange(20) % 2)
    n = 171_197
    files = {
        "class-names": raw_zip([ok_x, ok_y, big_npy_member("class_names.npy", "<U2", (20_000_000,),
                                                           "ab".encode("utf-32-le"))]),
        "float-zeros": raw_zip([big_npy_member("x.npy", "<f8", (n, 28, 28), bytes(8)),
                                npy_member("y.npy", np.arange(n) % 2)]),
        "lying-header": raw_zip([big_npy_member("x.npy", "|u1", (10, 28, 28), bytes(8), 2**30, crc=False), ok_y]),
        "npz-ratio": raw_zip([big_npy_member("x.npy", "<f4", (60_000, 64, 64), bytes(8), crc=False),
                              npy_member("y.npy", np.arange(60_000) % 2)]),
        "npz-pixels": raw_zip([big_npy_member("x.npy", "|u1", (2, 7000, 7000), bytes(8)),
                               npy_member("y.npy", np.arange(2))]),
    }
    big = flat_png(6300, 6300)
    files["listed-27000-times"] = raw_zip([member("a/1.png", big), member("b/1.png", big)], listing=[0, 1] * 27_000)
    one_bit = flat_png(6300, 6300, bits=1)
    files["pixel-budget"] = raw_zip([member(f"{'ab'[i % 2]}/{i}.png", one_bit) for i in range(130)])
    paths = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.{BOMBS[name][0]}"
        p.write_bytes(data)
        paths[name] = str(p)
    return paths


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="peak memory is measured with Linux's /proc")
def test_npz_and_decoding_bombs_are_refused_from_their_headers_in_bounded_memory(tmp_path):
    paths = build_bombs(tmp_path)
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    assert max(sizes.values()) < 3_000_000, sizes  # small uploads
    (tmp_path / "cases.json").write_text(json.dumps(paths))
    (tmp_path / "measure.py").write_text(MEASURE)
    proc = subprocess.run([sys.executable, str(tmp_path / "measure.py"), str(ROOT), str(tmp_path / "cases.json"),
                           str(tmp_path / "home")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(res, indent=1))  # the measured figures (pytest -s shows them)
    for name, (_, msg) in BOMBS.items():
        r = res[name]
        assert msg in r["message"], (name, r)
        assert r["growth_mb"] < 64, (name, r)  # peak RSS above the process's baseline
        assert r["seconds"] < 3, (name, r)
    assert not (tmp_path / "home" / "datasets").exists() or not os.listdir(tmp_path / "home" / "datasets")


# ---- 1 (in the library). Every .npz header is checked before its data is read ---------------------------------
def test_npz_headers_are_checked_before_any_data_is_read(home, tmp_path, monkeypatch):
    x, y, _ = make_shapes(2, 6, 16)
    reads = []
    real = npz_arrays.npy_read
    for module in (npz_arrays, importers):  # the importer reads labels; npz_arrays class names and chunks
        monkeypatch.setattr(module, "npy_read", lambda z, a, p: reads.append(a.key) or real(z, a, p))
    long_names = save_npz(tmp_path / "long.npz", x=x, y=y, class_names=np.array(["a" * 5000, "b"]))
    with pytest.raises(DataError, match="class_names holds names of up to 5,000 characters, more than the limit of"):
        datasets.add(long_names, "long")
    objects = save_npz(tmp_path / "obj.npz", x=x, y=y, class_names=np.array([object(), object()], dtype=object))
    with pytest.raises(DataError, match="object arrays are refused"):
        datasets.add(objects, "obj")
    text_images = save_npz(tmp_path / "text.npz", x=np.array(["a"] * 12).reshape(12, 1, 1), y=y)
    with pytest.raises(DataError, match="x must hold numbers"):
        datasets.add(text_images, "text")
    assert reads == []  # each was refused from its header alone
    # a header that lies about the data: refused before reading it
    lying = raw_zip([big_npy_member("x.npy", "|u1", (12, 16, 16, 3), bytes(8), 100), npy_member("y.npy", y)])
    (tmp_path / "lying.npz").write_bytes(lying)
    with pytest.raises(DataError, match="its header says 9,216 bytes of data, the zip says 100"):
        datasets.add(tmp_path / "lying.npz", "lying")
    # a wrong CRC is found when the array is read: "damaged", never BadZipFile
    bad = raw_zip([npy_member("x.npy", x), npy_member("y.npy", y)],
                  lie={0: (12345, npy_member("x.npy", x)[3])})
    (tmp_path / "crc.npz").write_bytes(bad)
    with pytest.raises(DataError, match=r"the array 'x' cannot be read \(BadZipFile\); the file is damaged"):
        datasets.add(tmp_path / "crc.npz", "crc")
    # values are checked a chunk at a time, before anything is converted
    xf = x.astype(np.float32) / 255
    xf[-1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="x holds values outside 0..1 or 0..255"):
        datasets.add(save_npz(tmp_path / "nan.npz", x=xf, y=y), "nan")
    assert leftovers(home) == []


def test_npz_still_imports_every_layout_it_did(home, tmp_path, monkeypatch):
    monkeypatch.setattr(npz_arrays, "CHUNK_BYTES", 1000)  # many chunks: rows cross every chunk boundary
    x, y, names = make_shapes(3, 10, 16)
    m = datasets.add(save_npz(tmp_path / "a.npz", x=x, y=y, class_names=np.array(names)), "a")
    ds = datasets.load("a")
    assert (m["n_train"], m["n_test"], m["classes"]) == (24, 6, names)
    # every image kept its own label through the split (colour shapes: class c has its own colour)
    both = np.concatenate([ds.train.x, ds.test.x]).reshape(30, -1)
    labels = np.concatenate([ds.train.y, ds.test.y])
    for img, label in zip(both, labels):
        assert any(np.array_equal(img, ref) for ref in x[y == label].reshape(-1, 16 * 16 * 3))
    # channels first, floats in 0..1, uint64 labels, Fortran order, resized and grey
    xc = np.ascontiguousarray(np.moveaxis(x, 3, 1)).astype(np.float64) / 255
    b = save_npz(tmp_path / "b.npz", x_train=xc[:20], y_train=y[:20].astype(np.uint64),
                 x_test=np.asfortranarray(xc[20:]), y_test=y[20:].astype(np.float32))
    m = datasets.add(b, "b", size=8, grey=True)
    assert (m["size"], m["channels"], m["n_train"], m["n_test"]) == (8, 1, 20, 10)
    assert datasets.load("b").train.x.shape == (20, 8, 8)
    np.testing.assert_array_equal(datasets.load("b").test.y, y[20:])
    same = datasets.add(save_npz(tmp_path / "c.npz", x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:]), "c")
    np.testing.assert_array_equal(datasets.load("c").train.x, x[:20])
    assert same["notes"] == []


# ---- 2. the total pixels of a zip, from the image headers, before anything is decoded -------------------------
def test_total_pixels_are_counted_from_headers_before_anything_is_decoded(home, tmp_path, monkeypatch):
    decoded = []
    real = image_files.decode_image
    monkeypatch.setattr(image_files, "decode_image", lambda *a, **k: decoded.append(1) or real(*a, **k))
    one_bit = flat_png(6300, 6300, bits=1)
    path = tmp_path / "many.zip"
    path.write_bytes(raw_zip([member(f"{'ab'[i % 2]}/{i}.png", one_bit) for i in range(130)]))
    calls = []
    t = time.perf_counter()
    with pytest.raises(DataError, match="the images hold more than 5,000,000,000 pixels in all, the limit"):
        datasets.add(path, "many", on_progress=lambda done, total: calls.append((done, total)))
    assert time.perf_counter() - t < 3 and decoded == [] and leftovers(home) == []
    assert calls and all(done == 0 for done, _ in calls)  # Stop is looked at while the headers are read
    # the limit is a field of Limits: 70,000 images of 256x256 fit, and MNIST and CIFAR-10 (60,000 32x32) by far
    lim = LIMITS
    assert 70_000 * 256 * 256 <= lim.max_total_pixels and 60_000 * 32 * 32 * 50 < lim.max_total_pixels
    small = Limits(max_total_pixels=4 * 6300 * 6300)
    with pytest.raises(DataError, match="more than 158,760,000 pixels in all"):
        datasets.add(path, "many", limits=small)
    # a Stop while the headers are read ends the import there, before any decoding
    headers = []
    real_pixels = image_files.image_pixels
    monkeypatch.setattr(image_files, "image_pixels", lambda *a: headers.append(1) or real_pixels(*a))
    monkeypatch.setattr(import_progress, "PROGRESS_EVERY_S", 0.0)  # on_progress after every header

    class Stop(Exception):
        pass

    def stop(done, total):
        if len(headers) >= 5:
            raise Stop()

    with pytest.raises(Stop):
        datasets.add(path, "many", limits=Limits(max_total_pixels=10**13), on_progress=stop)
    assert len(headers) == 5 and decoded == [] and leftovers(home) == []


def test_a_header_further_in_than_the_first_read_is_still_found(home, tmp_path):
    """A JPEG with a large EXIF/ICC block before its size: read whole, still imported."""
    x, y, names = make_shapes(2, 4, 32)
    members = {}
    for i, (img, c) in enumerate(zip(x, y)):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", icc_profile=os.urandom(100_000))  # the size comes after 100 KB
        members[f"{names[c]}/{i}.jpg"] = buf.getvalue()
    z = tmp_path / "icc.zip"
    with zipfile.ZipFile(z, "w") as f:
        for k, v in members.items():
            f.writestr(k, v)
    m = datasets.add(z, "icc")
    assert m["n_train"] + m["n_test"] == 8 and m["notes"] == []


# ---- 3. a zip entry with a wrong CRC, or a header that lies about its size, is skipped and named --------------
def test_damaged_zip_entries_are_skipped_and_named(home, tmp_path):
    x, y, names = make_shapes(2, 5, 32)
    entries = [member(f"{names[c]}/{i}.png", png(img)) for i, (img, c) in enumerate(zip(x, y))]
    name, data, crc, size = entries[3]
    entries[3] = (name, data[:len(data) // 2], crc, size)  # a torn upload: half of the compressed data
    lie = {0: (entries[0][2] ^ 1, entries[0][3]),  # a wrong CRC
           1: (entries[1][2], entries[1][3] + 5000),  # claims more than it holds: its data is whole, its CRC right
           2: (entries[2][2], entries[2][3] // 2)}  # claims less than it holds
    (tmp_path / "bad.zip").write_bytes(raw_zip(entries, lie=lie))
    m = datasets.add(tmp_path / "bad.zip", "bad")  # was: BadZipFile … (this is a bug in AE Lab)
    assert m["n_train"] + m["n_test"] == 7
    notes = " ".join(m["notes"])
    assert "skipped 3 unreadable file(s)" in notes and "cannot be read from the zip (damaged: BadZipFile)" in notes
    for i in (0, 2, 3):
        assert entries[i][0] in notes
    assert entries[1][0] not in notes and leftovers(home) == ["bad"]


# ---- 4. only regular files and folders are read --------------------------------------------------------------
def test_devices_and_pipes_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.zip"
    os.mkfifo(fifo)
    env = {**os.environ, "AELAB_HOME": str(tmp_path / "home")}
    t = time.perf_counter()
    # `python -m aecore data add PATH --name z` for each (was: 20 GB read from /dev/zero, then killed; a pipe hangs)
    code = ("import sys; from aecore.cli import main; "
            "print([main(['data', 'add', p, '--name', 'z']) for p in sys.argv[1:]])")
    p = subprocess.run([sys.executable, "-c", code, "/dev/zero", str(fifo)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.stdout.strip() == "[2, 2]" and time.perf_counter() - t < 30, p.stderr
    refused = "not a file or a folder: only a folder, a zip or an .npz file is imported"
    assert p.stderr.splitlines() == [f"error: /dev/zero is a character device, {refused}",
                                     f"error: {fifo} is a named pipe, {refused}"]


# ---- 5. labels are checked in their own dtype ------------------------------------------------------------------
@pytest.mark.parametrize("labels, names, message", [
    (np.array([0, 1, 2, 2**63 + 5] * 3, np.uint64), ["a", "b", "c"],
     "y has the label 9,223,372,036,854,775,813, but class_names names 3 classes (labels 0 to 2)"),
    (np.array([0, 1, 2, 2**63 + 5] * 3, np.uint64), None,
     "y has the label 9,223,372,036,854,775,813: 9,223,372,036,854,775,814 classes are more than the limit of 1,000"),
    (np.array([0, 1, 5, 1] * 3), ["a", "b", "c"], "y has the label 5, but class_names names 3 classes (labels 0 to 2)"),
    (np.array([0, 1, -1, 1] * 3, np.int8), None, "y has negative labels (down to -1)"),
    (np.array([True, False] * 6), None, "y holds true/false values; it must hold class numbers 0, 1, 2, ..."),
    (np.array([0, 1, 0.5, 1] * 3), None, "y must be whole class numbers 0, 1, 2, ..."),
    (np.array([0, 1, np.nan, 1] * 3), None, "y must be whole class numbers 0, 1, 2, ..."),
    (np.array([0, 1, 2e20, 1] * 3), None, "y has the label 200,000,000,000,000,000,000: "),
    (np.array([0, 1, 1, 1] * 3, np.uint64), ["a", "b", "c"], "class_names has 3 names but the labels go from 0 to 1"),
])
def test_labels_are_checked_in_their_own_dtype(home, tmp_path, labels, names, message):
    x = np.zeros((12, 8, 8), np.uint8)
    extra = {} if names is None else {"class_names": np.array(names)}
    with pytest.raises(DataError, match=re.escape(message)):
        datasets.add(save_npz(tmp_path / "l.npz", x=x, y=labels, **extra), "labels")  # was: accepted, label 5 stored
    assert leftovers(home) == []


# ---- 6. a set with no training (or no test) images is refused at import ---------------------------------------
def test_sets_without_training_or_test_images_are_refused(home, tmp_path):
    x, y, _ = make_shapes(2, 6, 28)
    empty = np.zeros((0, 28, 28, 3), np.uint8)
    with pytest.raises(DataError, match="x_train holds no images: a data set needs training images"):
        datasets.add(save_npz(tmp_path / "a.npz", x_train=empty, y_train=np.zeros(0, int), x_test=x, y_test=y), "a")
    with pytest.raises(DataError, match="x_test holds no images: a data set needs test images"):
        datasets.add(save_npz(tmp_path / "b.npz", x_train=x, y_train=y, x_test=empty, y_test=np.zeros(0, int)), "b")
    with pytest.raises(DataError, match="x holds no images"):
        datasets.add(save_npz(tmp_path / "c.npz", x=empty, y=np.zeros(0, int)), "c")
    one_each = save_npz(tmp_path / "d.npz", x=x[:2], y=np.array([0, 1]))
    with pytest.raises(DataError, match="no test images: every class has a single image"):  # as for folders
        datasets.add(one_each, "d")
    assert leftovers(home) == []


# ---- 7. an .npz over the pixel limit: a DataError naming the limit, in the library and the CLI ----------------
def test_npz_over_the_pixel_limit_names_the_limit(home, tmp_path, capsys):
    small = Limits(max_pixels=100)
    x, y, _ = make_shapes(2, 6, 16)
    path = save_npz(tmp_path / "p.npz", x=x, y=y)
    with pytest.raises(DataError, match="x's images are 16x16 pixels, more than the limit of 100 pixels an image"):
        datasets.add(path, "p", limits=small)
    big = raw_zip([big_npy_member("x.npy", "|u1", (2, 7000, 7000), bytes(8), crc=False),
                   npy_member("y.npy", np.arange(2))])
    (tmp_path / "big.npz").write_bytes(big)
    # was: "error: _Skip: is 7,000x7,000 pixels, … (this is a bug in AE Lab …)", exit code 1
    assert main(["data", "add", str(tmp_path / "big.npz"), "--name", "big", "--size", "28"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: x's images are 7,000x7,000 pixels, more than the limit of 40,000,000 pixels an image; "
                   "resize them first\n")


# ---- 8. an uploaded run whose finite weights give absurd codes or outputs -------------------------------------
def _scaled(run, factor: float, only: str = ""):
    state = {k: (v * factor if v.is_floating_point() and only in k else v) for k, v in run.model.state_dict().items()}
    run.model.load_state_dict(state)
    return run


def test_runs_with_absurd_weights_are_refused_at_upload():
    good = load_run(ZOO)
    assert run_from_bytes(run_to_bytes(good)).config == good.config  # a real run still loads
    crafted = run_to_bytes(_scaled(load_run(ZOO), 1e30))  # finite weights x1e30 (was: accepted)
    with pytest.raises(RunError, match=r"^the run cannot be opened: its weights turn plain images \(black, mid-grey\) "
                                       r"into codes that are not finite or far too large"):
        run_from_bytes(crafted)
    from aecore.models.registry import build_model
    from aecore.training.config import TrainConfig
    from aecore.training.runs import Run

    cfg = TrainConfig(model="dense", latent=4, out_act="none").resolved()
    loud = Run(cfg, build_model("dense", 4, cfg.hidden_act, "none"))
    _scaled(loud, 1e6, only="decoder")  # codes fine, outputs in the millions
    with pytest.raises(RunError, match="into outputs that are not finite or far outside the image range"):
        run_from_bytes(run_to_bytes(loud))


def test_the_behaviour_check_is_fast_for_every_model():
    """Well under 0.5 s of one core for the largest model (counted in CPU time: this machine is shared)."""
    from unittest import mock

    import torch

    from aecore.models.registry import MODELS, build_model
    from aecore.training.config import TrainConfig
    from aecore.training.runs import Run

    times, threads = {}, torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, spec in MODELS.items():
            shape = (3, 64, 64) if spec.any_shape is not None else (1, 28, 28)  # colour models at the Flowers size
            cfg = TrainConfig(model=name).resolved()
            run = Run(cfg, build_model(name, cfg.latent, cfg.hidden_act, cfg.out_act, cfg.upsample, image_shape=shape,
                                       width=cfg.width))
            with mock.patch("aecore.data.catalog.dataset_image_shape", return_value=shape):
                t = time.process_time()
                check_behaviour(run)  # a fresh model passes
                times[name] = time.process_time() - t
    finally:
        torch.set_num_threads(threads)
    assert max(times.values()) < 0.5, times


# ---- 10. disk quotas per workspace and for the server, checked before anything is written ----------------------
def test_disk_quotas_are_checked_before_writing(home, tmp_path):
    zip_path = shapes_zip(tmp_path / "s.zip", per_class=6)  # 12 images of 32x32x3 (36 KiB) as a set
    need = datasets._size_text(disk_bytes(12 * 32 * 32 * 3, 12))  # counted before the images are decoded
    lim = Limits(max_workspace_bytes=60_000, max_server_bytes=125_000)
    alice, bob = {"workspace": "alice"}, {"workspace": "bob"}
    datasets.add(zip_path, "a1", limits=lim, about=alice)
    used = datasets._size_text(datasets.usage("alice"))
    calls = []
    with pytest.raises(DataError, match=re.escape(
            f"this data set needs {need} on disk, but the data sets imported from your workspace already use {used} of "
            "its 59 KiB; remove one of them first, or import fewer or smaller images")):
        datasets.add(zip_path, "a2", limits=lim, about=alice, on_progress=lambda d, t: calls.append(d))
    assert calls == []  # refused before a single header was read
    datasets.add(zip_path, "a1", limits=lim, about=alice, replace=True, size=16)  # replacing frees its own space
    datasets.add(zip_path, "b1", limits=lim, about=bob)
    datasets.add(zip_path, "c1", limits=lim)  # the command line: no workspace, the server's quota only
    everyone = datasets._size_text(datasets.usage())
    with pytest.raises(DataError, match=re.escape(
            f"this data set needs {need} on disk, but the server's data sets already use {everyone} of the 122 KiB it "
            "allows; ask your teacher to remove some, or import fewer or smaller images")):
        datasets.add(zip_path, "d1", limits=lim, about={"workspace": "carol"})
    # an .npz says its size in its headers: refused before its data is read
    x, y, _ = make_shapes(2, 30, 32)
    npz_need = datasets._size_text(disk_bytes(60 * 32 * 32 * 3, 60))
    with pytest.raises(DataError, match=f"this data set needs {npz_need} on disk"):
        datasets.add(save_npz(tmp_path / "n.npz", x=x, y=y), "n1", limits=lim, about=bob)
    assert leftovers(home) == ["a1", "b1", "c1"]
    assert datasets.usage("alice") < datasets.usage("bob") < datasets.usage()
    # the default quotas: 1 GiB a workspace, 10 GiB for the server
    assert (LIMITS.max_workspace_bytes, LIMITS.max_server_bytes) == (2**30, 10 * 2**30)


# ---- 11. a stopped or killed import leaves nothing: temporaries are .tmp-NAME-TOKEN folders of the data home ----
@pytest.mark.parametrize("kind", ["zip", "npz", "npz-resized"])
def test_an_exception_from_on_progress_leaves_nothing(home, tmp_path, kind):
    if kind == "zip":
        path, kw = shapes_zip(tmp_path / "s.zip", per_class=10), {}
    else:
        x, y, _ = make_shapes(2, 10, 32)
        path, kw = save_npz(tmp_path / "s.npz", x=x, y=y), ({"size": 16} if kind == "npz-resized" else {})

    class Stop(Exception):
        pass

    def stopping(at, tmp_names: list):
        def progress(done, total):
            tmp_names.extend(p.name for p in (home / "datasets").glob(".tmp-*"))
            if (at == "writing" and tmp_names) or (at == 3 and done >= 3):  # while written, or after 3 images
                raise Stop()

        return progress

    for at in (3, "writing"):
        tmp_names = []
        with pytest.raises(Stop):
            datasets.add(path, "stopped", on_progress=stopping(at, tmp_names), **kw)
        assert not datasets.exists("stopped") and leftovers(home) == [], (at, leftovers(home))
        if at == "writing":
            assert tmp_names and all(re.fullmatch(r"\.tmp-stopped-[0-9a-f]{8}", n) for n in tmp_names), tmp_names
    m = datasets.add(path, "stopped", on_progress=lambda d, t: None, **kw)  # and without a stop it is imported
    assert m["n_train"] + m["n_test"] == 20


def test_a_stopped_import_job_ends_within_a_second_and_leaves_nothing(home, store, settings, tmp_path):
    from aecore.engine.submit import submit
    from aecore.engine.worker import Worker

    store.uploads_dir.mkdir(parents=True, exist_ok=True)
    frame = flat_png(4000, 4000)  # 16 megapixels each: ~0.1 s of decoding, 60 of them
    (store.uploads_dir / "slow.zip").write_bytes(raw_zip([member(f"{'ab'[i % 2]}/{i}.png", frame) for i in range(60)]))
    ws = "workspace-stop"
    job = submit(store, settings, ws, "dataset", {"action": "add", "upload": "slow.zip", "name": "slow"}, "import")
    worker = threading.Thread(target=lambda: Worker(store, settings).run(once=True), daemon=True)
    worker.start()
    t0 = time.time()
    while not (store.job(job.id).progress or {}).get("done"):  # it is decoding
        assert time.time() - t0 < 30, "the import never reported progress"
        time.sleep(0.02)
    asked = time.time()
    store.request_stop(job.id, ws)
    while store.job(job.id).status not in ("stopped", "failed", "done"):
        assert time.time() - asked < 10
        time.sleep(0.02)
    took = time.time() - asked
    worker.join(10)
    j = store.job(job.id)
    print(f"stopped {took:.2f} s after the request: {j.error}")
    assert j.status == "stopped" and took < 1.5, (j.status, j.error, took)
    assert not datasets.exists("slow") and leftovers(home) == [] and not (store.uploads_dir / "slow.zip").exists()


# ---- 19. project and pca --out never overwrite a file they did not write ---------------------------------------
@pytest.mark.parametrize("command", [["project", str(ZOO), "--n", "50"], ["pca", str(ZOO), "--n", "50"]])
def test_csv_out_refuses_files_it_did_not_write(tmp_path, capsys, command):
    precious = tmp_path / "precious.txt"
    precious.write_text("do not lose me\n")
    t = time.perf_counter()
    assert main(command + ["--out", str(precious)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --out {precious} exists and is not a CSV this command wrote: refusing to overwrite it; "
                   "pick a new file name (or add --force to replace it)\n")
    assert precious.read_text() == "do not lose me\n" and time.perf_counter() - t < 5
    out = tmp_path / "codes.csv"
    assert main(command + ["--out", str(out)]) == 0  # a new file
    first = out.read_text().splitlines()[0]
    assert main(command + ["--out", str(out)]) == 0  # its own CSV again: replaced
    other = ["pca" if command[0] == "project" else "project"] + command[1:]
    assert main(other + ["--out", str(out)]) == 2  # the other command's CSV is not its own
    assert out.read_text().splitlines()[0] == first
    assert main(command + ["--out", str(precious), "--force"]) == 0  # asked for
    assert precious.read_text().splitlines()[0] == first
    capsys.readouterr()


# ---- 20. `stacked` with no --model pretrains a deep MLP ----------------------------------------------------------
def test_stacked_defaults_to_a_deep_mlp(capsys):
    rc = main(["stacked", "--epochs", "1", "--limit", "300", "--batch", "50", "--latent", "4"])
    out, err = capsys.readouterr()
    assert rc == 0, err  # was: "layer-wise pretraining applies to the deep MLP models (mlp-deep, mlp-hinton), not conv"
    final = json.loads(out.strip().splitlines()[-1])["final"]
    assert final[0]["model"] == "end to end" and "mlp-deep" in final[0]["config"]
