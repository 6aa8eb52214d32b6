"""Runs save atomically, load back identically, and reject corrupt, foreign or unsafe files."""

import io
import json
import pickle
import zipfile

import pytest
import torch

from aecore.training.runs import RunError, RunStore, load_run, run_from_bytes, run_to_bytes, sanitize_name, save_run
from aecore.training.trainer import train


@pytest.fixture(scope="module")
def run(mnist):
    from aecore.training.config import TrainConfig

    return train(TrainConfig(model="dense", latent=4, epochs=1, limit=300, batch_size=50, device="cpu"), mnist)


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def test_directory_round_trip(run, tmp_path):
    save_run(run, tmp_path / "r")
    back = load_run(tmp_path / "r")
    assert back.config == run.config and back.history == run.history and same_weights(run, back)
    save_run(run, tmp_path / "r")  # overwriting is atomic too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_zip_round_trip(run):
    back = run_from_bytes(run_to_bytes(run))
    assert back.config == run.config and same_weights(run, back)


def bundle(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


def parts(run):
    with zipfile.ZipFile(io.BytesIO(run_to_bytes(run))) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_rejects_bad_uploads(run, mnist):
    good = parts(run)
    with pytest.raises(RunError, match="empty"):
        run_from_bytes(b"")
    with pytest.raises(RunError, match="not an AE Lab run"):
        run_from_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)  # a renamed image
    with pytest.raises(RunError):
        run_from_bytes(run_to_bytes(run)[:500])  # truncated
    with pytest.raises(RunError, match="missing"):
        run_from_bytes(bundle({"weights.pt": good["weights.pt"]}))
    with pytest.raises(RunError, match="format"):
        run_from_bytes(bundle({**good, "meta.json": json.dumps({"format": "other"})}))
    with pytest.raises(RunError, match="JSON"):
        run_from_bytes(bundle({**good, "config.json": b"{oops"}))
    with pytest.raises(RunError, match="truncated|corrupt"):
        run_from_bytes(bundle({**good, "weights.pt": good["weights.pt"][:200]}))


def test_rejects_another_models_weights(run):
    good = parts(run)
    other = json.loads(good["config.json"])
    other["latent"] = 7
    with pytest.raises(RunError, match="do not match"):
        run_from_bytes(bundle({**good, "config.json": json.dumps(other)}))


class Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('/tmp/aelab-pwned').write_text('x')",))


def test_never_unpickles_code(run, tmp_path):
    import os

    good = parts(run)
    buf = io.BytesIO()
    torch.save({"weight": Evil()}, buf)
    with pytest.raises(RunError, match="safely"):
        run_from_bytes(bundle({**good, "weights.pt": buf.getvalue()}))
    with pytest.raises(RunError):
        run_from_bytes(bundle({**good, "weights.pt": pickle.dumps(Evil())}))
    assert not os.path.exists("/tmp/aelab-pwned")


def test_store_sanitises_names(run, tmp_path):
    store = RunStore(tmp_path / "runs")
    name = store.save(run, "../../etc/passwd")
    assert name == "etc-passwd" and (tmp_path / "runs" / "etc-passwd").is_dir()
    assert store.names() == ["etc-passwd"]
    assert same_weights(store.load(name), run)
    assert sanitize_name("..") == "run" and sanitize_name("my run #1") == "my-run-1"
    store.delete(name)
    assert store.names() == []
    with pytest.raises(RunError):
        store.load("gone")
