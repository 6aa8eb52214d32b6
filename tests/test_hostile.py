"""Hostile and careless input (issue 16): every file is generated here; each test checks the clear
message, bounded memory where it matters, and that nothing else is lost."""

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib

import pytest

from conftest import ROOT

from aecore.cli import main
from aecore.training.config import ConfigError, TrainConfig
from aecore.training.runs import RunError, RunStore, load_run, run_from_bytes, run_to_bytes, save_run

ZOO = str(ROOT / "data" / "zoo" / "linear-k32")
MARKDOWN_NAME = "[log in](http://evil.example) ![t](http://evil.example/track.png) <a href='http://evil.example'>x</a>"


@pytest.fixture(scope="module")
def good(mnist):
    from aecore.training.trainer import train

    return train(TrainConfig(model="dense", latent=4, epochs=1, limit=300, batch_size=50, device="cpu"), mnist)


def parts(run) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(run_to_bytes(run))) as z:
        return {n: z.read(n) for n in z.namelist()}


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


def raw_zip(entries: list[tuple], listing: list[int] | None = None) -> bytes:
    """A zip written by hand, so its headers can lie: entries are (name, raw deflate data, claimed size, crc);
    `listing` names the central directory's entries by index (repeat one to list it many times)."""
    out, offsets = bytearray(), []
    for name, data, claimed, crc in entries:
        offsets.append(len(out))
        n = name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), claimed, len(n), 0) + n + data
    cd = bytearray()
    listing = list(range(len(entries))) if listing is None else listing
    for i in listing:
        name, data, claimed, crc = entries[i]
        n = name.encode()
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), claimed, len(n),
                          0, 0, 0, 0, 0, offsets[i]) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(listing) & 0xFFFF, len(listing) & 0xFFFF, len(cd), len(out), 0)
    return bytes(out + cd + end)


def zeros_deflate(gib_16mb_chunks: int) -> bytes:
    """A raw deflate stream of ~1 MB that inflates to chunks x 16 MiB of zeros (built in ~0.05 s)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = c.compress(b"\0" * (16 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return chunk * gib_16mb_chunks + b"\x03\x00"  # + an empty final block


def honest(name: str, data: bytes) -> tuple:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), len(data), zlib.crc32(data)


# ---- 1. train --out never destroys what is there ---------------------------------------------------
TINY_TRAIN = ["train", "--model", "linear", "--epochs", "1", "--limit", "300", "--batch", "50", "--device", "cpu"]


def test_train_out_refuses_folders_and_files_it_would_destroy(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    assert main(TINY_TRAIN + ["--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "holds other files, not an AE Lab run: refusing to overwrite them" in err and "Traceback" not in err
    assert (folder / "keep.txt").read_text() == "x"

    afile = tmp_path / "notes.txt"
    afile.write_text("precious")
    assert main(TINY_TRAIN + ["--out", str(afile)]) == 2
    assert "exists and is not a folder: refusing to replace it" in capsys.readouterr().err
    assert afile.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "notes.txt"]  # no hidden .notes.txt.old-… either

    # `--out .` (was: "PosixPath('.') has an empty name"): the folder you are in is never swapped away
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for out in (".", "..", str(empty)):
        assert main(TINY_TRAIN + ["--out", out]) == 2
        assert "is the folder you are in (or holds it)" in capsys.readouterr().err
    # a new sub-folder is fine, and so is training again over that run
    assert main(TINY_TRAIN + ["--out", "my-run"]) == 0
    assert main(TINY_TRAIN + ["--out", "./my-run"]) == 0
    assert load_run(empty / "my-run").config.model == "linear"
    assert sorted(p.name for p in empty.iterdir()) == ["my-run"]  # no temporary or .old folders left


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    target = ro / "run"
    if os.access(ro, os.W_OK):  # root ignores the mode bits: use a read-only file system instead
        target = "/sys/aelab-hostile-run"
        try:
            os.mkdir(target)
            os.rmdir(target)
            pytest.skip("no unwritable folder here (root, and /sys is writable)")
        except OSError:
            pass
    capsys.readouterr()
    t = time.perf_counter()
    assert main(TINY_TRAIN + ["--out", str(target)]) == 2
    out = capsys.readouterr()
    assert "cannot write to" in out.err and "epoch" not in out.out  # refused before the first epoch
    assert time.perf_counter() - t < 10
    ro.chmod(0o755)


# ---- 2 and 3. zip bombs and huge histories: bounded time and memory ----------------------------------
MEASURE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from aecore.training.runs import RunError, load_run, run_from_bytes
import torch  # imported before any baseline is taken


def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


def reset_peak():
    # Linux: writing 5 to clear_refs resets this process's peak RSS (VmHWM), so each case is measured alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


cases = json.loads(open(sys.argv[2]).read())
out = {}
for name, path in cases.items():
    data = open(path, "rb").read()
    reset_peak()
    base = status_mb("VmRSS")
    t = time.perf_counter()
    try:
        run_from_bytes(data)
        msg = "ACCEPTED"
    except RunError as e:
        msg = str(e)
    except Exception as e:
        msg = f"CRASHED {type(e).__name__}: {e}"
    out[name] = {"message": msg, "seconds": time.perf_counter() - t, "growth_mb": status_mb("VmHWM") - base}
    del data
out["good_run_still_loads"] = load_run(sys.argv[3]).config.model
print(json.dumps(out))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="peak memory is measured with Linux's /proc")
def test_zip_bombs_and_huge_histories_are_bounded(good, tmp_path):
    files = parts(good)
    cases = {
        # an entry that claims 1000 bytes and inflates to 1 GiB (a 1 MB upload)
        "lying_history": raw_zip([honest("meta.json", files["meta.json"]), honest("config.json", files["config.json"]),
                                  ("history.json", zeros_deflate(64), 1000, 0),
                                  honest("weights.pt", files["weights.pt"])]),
        # weights that claim 60 MB (under the limit) and inflate to 1 GiB
        "lying_weights": raw_zip([honest(n, b) for n, b in files.items() if n != "weights.pt"]
                                 + [("weights.pt", zeros_deflate(64), 60 << 20, 0)]),
        # one entry's header listed 60,000 times (a 4 MB zip that pinned a core for hours)
        "entry_flood": raw_zip([("history.json", zeros_deflate(4), 64 << 20, 0)], listing=[0] * 60000),
        # the same name twice: which one would count?
        "duplicate_name": raw_zip([honest(n, b) for n, b in files.items()] + [honest("config.json", b'{"model": "conv"}')]),
        # a 500 KB run whose history.json is 60 MB of {} (was 1.7 GB per upload)
        "history_60mb": zip_of({**files, "history.json": b"[" + b"{}," * (20 << 20) + b"{}]"}),
        # under the byte limit, but 600,000 records: refused before parsing
        "history_many_records": zip_of({**files, "history.json": b"[" + b"{}," * 600_000 + b"{}]"}),
    }
    assert len(cases["lying_history"]) < 1.1e6 and len(cases["history_60mb"]) < 600_000
    paths = {}
    for name, data in cases.items():
        (tmp_path / f"{name}.zip").write_bytes(data)
        paths[name] = str(tmp_path / f"{name}.zip")
    (tmp_path / "cases.json").write_text(json.dumps(paths))
    save_run(good, tmp_path / "earlier")
    (tmp_path / "measure.py").write_text(MEASURE)
    proc = subprocess.run([sys.executable, str(tmp_path / "measure.py"), str(ROOT), str(tmp_path / "cases.json"),
                           str(tmp_path / "earlier")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(res, indent=1))  # the measured figures (pytest -s shows them)
    expected = {
        "lying_history": "damaged",
        "lying_weights": "damaged",
        "entry_flood": "the zip holds 60,000 entries; an AE Lab run has 4",
        "duplicate_name": "lists 'config.json' more than once",
        "history_60mb": "history.json unpacks to more than 2,097,152 bytes",
        "history_many_records": "history.json holds more records than a run can have",
    }
    for name, msg in expected.items():
        r = res[name]
        assert msg in r["message"], (name, r)
        assert r["seconds"] < 5, (name, r)
        assert r["growth_mb"] < 200, (name, r)  # peak RSS growth of the whole sequence, in a clean process
    assert res["good_run_still_loads"] == "dense"


# ---- 4. same-name saves ----------------------------------------------------------------------------
# The job engine keeps runs: tests/test_engine.py::test_same_name_saves_at_once_keep_every_run shows
# 8 saves of "class demo" at once keep 8 runs ("class demo", "class demo (2)", ...). The library's
# RunStore claims names with mkdir, so it keeps every run too:
def test_runstore_same_name_saves_at_once_keep_every_run(good, tmp_path):
    store, names, errors = RunStore(tmp_path / "runs"), [], []

    def save():
        try:
            names.append(store.save(good, "class demo", unique=True))
        except Exception as e:  # noqa: BLE001 - any error fails the test below
            errors.append(e)

    threads = [threading.Thread(target=save) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(names)) == 12 and sorted(store.names()) == sorted(names)
    assert all(store.load(n).config == good.config for n in names)


# ---- 5. crafted run files: "cannot be opened", the others keep working -------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CRAFTED = {
    "val_loss text": ("history.json", lambda h, c, m: [{**h[0], "val_loss": "oops"}]),
    "epoch missing": ("history.json", lambda h, c, m: [{k: v for k, v in h[0].items() if k != "epoch"}]),
    "train_loss NaN": ("history.json", lambda h, c, m: [{**h[0], "train_loss": float("nan")}]),
    "row unknown field": ("history.json", lambda h, c, m: [{**h[0], "x": [1]}]),
    "history nested": ("history.json", lambda h, c, m: json.loads(_nested(500))),
    "model list": ("config.json", lambda h, c, m: {**c, "model": ["conv"]}),
    "digits object": ("config.json", lambda h, c, m: {**c, "digits": {"a": 1}}),
    "lr text": ("config.json", lambda h, c, m: {**c, "lr": "fast"}),
    "extra nested": ("config.json", lambda h, c, m: {**c, "extra": {"a": {"b": 1}}}),
    "created list": ("meta.json", lambda h, c, m: {**m, "created": [1]}),
    "name object": ("meta.json", lambda h, c, m: {**m, "name": {"x": 1}}),
    "status odd": ("meta.json", lambda h, c, m: {**m, "status": "[click](http://evil.example)"}),
    "seconds inf": ("meta.json", lambda h, c, m: {**m, "seconds": float("inf")}),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_run_files_cannot_be_opened(good, case):
    files = parts(good)
    which, craft = CRAFTED[case]
    h, c, m = (json.loads(files[n]) for n in ("history.json", "config.json", "meta.json"))
    files[which] = json.dumps(craft(h, c, m)).encode()
    with pytest.raises(RunError, match="the run cannot be opened: "):
        run_from_bytes(zip_of(files))


def test_deeply_nested_json_cannot_be_opened(good):
    files = parts(good)
    meta = files["meta.json"].decode()
    files["meta.json"] = (meta[:-1].rstrip() + ', "x": ' + _nested(30000) + "}").encode()  # 60 KB, 30,000 deep
    with pytest.raises(RunError, match="the run cannot be opened: meta.json is nested too deeply"):
        run_from_bytes(zip_of(files))


def test_crafted_run_on_disk_fails_alone_in_library_and_cli(good, tmp_path, capsys):
    save_run(good, tmp_path / "good")
    save_run(good, tmp_path / "bad")
    h = json.loads((tmp_path / "bad" / "history.json").read_text())
    (tmp_path / "bad" / "history.json").write_text(json.dumps([{**h[0], "val_loss": "oops"}]))
    with pytest.raises(RunError, match="cannot be opened: history.json row 1 val_loss must be a number"):
        load_run(tmp_path / "bad")
    assert load_run(tmp_path / "good").history == good.history
    assert main(["eval", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the run cannot be opened") and "Traceback" not in err and err.count("\n") == 1


# ---- 5 and 6 in the app: a crafted run and a markdown name -----------------------------------------------
def test_app_shows_names_as_plain_text_and_survives_a_crafted_run(good):

    from aecore.engine.keep import keep_run
    from aecore.engine.store import Store, new_token
    from conftest import ready_app_test

    store, ws = Store(os.environ["AELAB_HOME"]), new_token()
    named = keep_run(store, ws, good, MARKDOWN_NAME)
    bad = keep_run(store, ws, good, "crafted")
    h = json.loads((store.run_dir(ws, bad) / "history.json").read_text())  # written on disk before this fix
    (store.run_dir(ws, bad) / "history.json").write_text(json.dumps([{**h[0], "val_loss": "oops"}]))

    at = ready_app_test(ROOT / "app.py", 120)
    at.query_params.update({"ws": ws})
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label for e in at.expander]
    shown = next(lab for lab in labels if "log in" in lab)
    assert "\\[log in\\]\\(http" in shown and "\\!\\[t\\]" in shown and "\\<a" in shown  # escaped: no link, no image
    assert any("This run cannot be opened: the run cannot be opened" in e.value for e in at.error)
    assert any("crafted" in lab for lab in labels) and len(labels) >= 2  # the other run is still there

    at.switch_page("app_pages/reconstructions.py").run()
    at.sidebar.selectbox[0].set_value(f"run:{named}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value.startswith("\\[log in\\]")
    fig = json.loads(at.get("plotly_chart")[-1].proto.spec)
    legend = [t.get("name", "") for t in fig["data"]]
    assert any("&lt;a href" in n for n in legend) and not any("<a" in n for n in legend)
    at.sidebar.selectbox[0].set_value(f"run:{bad}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("This run cannot be opened" in e.value for e in at.sidebar.error)


# ---- 7. out-of-range URL values are clamped, said, and fixed in the address ------------------------------
@pytest.mark.parametrize("page,query,fixed", [
    ("app_pages/train.py", {"latent": "0", "epochs": "0", "batch": "-1", "lr": "inf", "limit": "-5"},
     {"latent": "1", "epochs": "1", "batch": "1", "limit": "0"}),
    ("app_pages/train.py", {"model": "dense", "latent": "100000", "lr": "1e9"}, {"latent": "256", "lr": "10"}),
    ("app_pages/denoising.py", {"level": "NaN"}, {"level": "0.5"}),
    ("app_pages/latent.py", {"n": "-5", "run": "zoo:conv-k2", "method": "raw"}, {"n": "100"}),
])
def test_out_of_range_url_values_are_clamped_and_fixed(page, query, fixed):
    from conftest import ready_app_test

    at = ready_app_test(ROOT / "app.py", 120)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()  # may wait for a worker (codes) and rerun: the address is fixed by then
    assert not at.exception, [e.value for e in at.exception]
    at.query_params.update(query)  # the same bad address again, on a warm page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    for k, v in fixed.items():
        got = at.query_params.get(k)
        assert (got[0] if isinstance(got, list) else got) == v, (k, got)
    assert any("The address asked for" in t.value for t in at.toast)


# ---- 8. a last batch of one image with BatchNorm --------------------------------------------------------
def test_batchnorm_last_batch_of_one_is_merged(mnist):
    from aecore.training.trainer import _split, train

    cfg = TrainConfig(model="conv", latent=4, epochs=1, limit=145, batch_size=65, device="cpu", log_every=1)
    tr, _ = _split(cfg.resolved(), mnist)
    assert len(tr) % 65 == 1 and len(tr) > 65  # 131 images: batches of 65 and 66, not 65 + 65 + 1
    steps = []
    run = train(cfg, mnist, on_progress=lambda p: steps.append(p.steps))
    assert run.status == "done" and len(run.history) == 1 and set(steps) == {2}
    with pytest.raises(ConfigError, match="BatchNorm, which needs at least 2 training images"):
        train(TrainConfig(model="conv", latent=4, epochs=1, limit=2, batch_size=1, device="cpu"), mnist)


# ---- 10. the smaller command-line holes, and a PNG decompression bomb -----------------------------------
@pytest.mark.parametrize("args,message", [
    (["train", "--digits", "", "--out", "/tmp/x"], "the digit subset is empty: pick at least one digit"),
    (["train", "--noise", "none:5", "--out", "/tmp/x"], "'none' takes no level"),
    (["project", ZOO, "--n", "0", "--out", "/tmp/p.csv"], "argument --n: must be a whole number between 1 and 10,000"),
    (["project", ZOO, "--n", "-5", "--out", "/tmp/p.csv"], "argument --n: must be a whole number between 1 and 10,000"),
    (["project", ZOO, "--seed", "-1", "--out", "/tmp/p.csv"], "argument --seed: must be a whole number between 0"),
    (["pca", ZOO, "--n", "0"], "argument --n: must be a whole number"),
    (["sweep", "--latents", "1-10000000", "--out", "/tmp/s.csv"], "gives more than 64 numbers"),
    (["sweep", "--latents", "2-9:0", "--out", "/tmp/s.csv"], "a step of at least 1"),
    (["finetune", ZOO, "--epochs", "0"], "argument --epochs: must be a whole number between 1 and 200"),
])
def test_cli_small_holes_give_one_clear_line(args, message, capsys):
    t = time.perf_counter()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1, err
    assert time.perf_counter() - t < 5  # nothing is built or trained first


def test_empty_digits_mean_the_same_in_the_app_and_the_cli():
    with pytest.raises(ConfigError, match="the digit subset is empty"):
        TrainConfig(digits="").resolved()
    with pytest.raises(ConfigError, match="the digit subset is empty"):
        TrainConfig(digits=()).resolved()


def test_png_decompression_bomb_gets_the_pixel_limit_message():
    from aecore.data.images import ImageError, preprocess_digit

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    w = h = 20000  # 400 Mpixel: PIL itself refuses it as a DecompressionBombError
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * (w + 1) * 8)) + chunk(b"IEND", b""))
    with pytest.raises(ImageError, match="the image is 20000x20000 pixels; at most 16,777,216 pixels are accepted"):
        preprocess_digit(png)
