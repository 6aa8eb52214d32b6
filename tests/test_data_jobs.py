"""Your own images through the job engine: an uploaded zip imported by a worker, then trained on, encoded and
classified on that data set (the app's Data sets page and Train page queue exactly these jobs)."""

import shutil
import zipfile

import numpy as np
import pytest

from aecore.data import imported as datasets
from aecore.training.config import TrainConfig
from aecore.data.catalog import load_dataset
from aecore.engine.store import DONE, FAILED
from aecore.engine.submit import submit
from aecore.engine.worker import Worker
from aecore.analysis.results import ResultStore
from aecore.data.shapes import write_shapes_folder

WS = "workspace-data-1"


@pytest.fixture
def home(data_home):
    datasets._load_cached.cache_clear()
    return data_home  # the job store's home: the workers import into its datasets/ folder


def _upload(store, tmp_path, name: str, per_class: int = 40, n_classes: int = 4) -> str:
    """A zip of generated shapes in the image-folder layout, as the Data sets page leaves an upload for a worker."""
    folder = write_shapes_folder(tmp_path / f"{name}-src", n_classes, per_class, 32)
    store.uploads_dir.mkdir(parents=True, exist_ok=True)
    archive = shutil.make_archive(str(tmp_path / name), "zip", folder)
    dest = store.uploads_dir / f"{name}.zip"
    shutil.move(archive, dest)
    return dest.name


def _run_one(store, settings, kind, params, label="job"):
    job = submit(store, settings, WS, kind, params, label, None)
    assert Worker(store, settings).run(once=True) == 1
    return store.job(job.id)


def test_an_uploaded_zip_is_imported_by_a_worker_then_trained_encoded_and_classified(store, settings, tmp_path):
    up = _upload(store, tmp_path, "shapes")
    job = _run_one(store, settings, "dataset", {"action": "add", "upload": up, "name": "shapes", "size": 32,
                                                "file": "my shapes.zip"})
    assert job.status == DONE, job.error
    assert not (store.uploads_dir / up).exists()  # the upload is gone once imported
    m = datasets.info("shapes")
    assert (m["channels"], m["size"], m["n_train"] + m["n_test"]) == (3, 32, 160)
    assert m["about"] == {"workspace": WS, "file": "my shapes.zip"} and m["classes"] == ["circle", "cross", "square", "triangle"]  # sorted, as ImageFolder does

    ds = load_dataset("shapes")
    config = TrainConfig(model="conv", latent=8, epochs=3, batch_size=16, lr=3e-3, dataset="shapes", device="cpu")
    job = submit(store, settings, WS, "train", {"config": config.to_dict(), "preview": [0, 1, 2, 3]}, "shapes", ds)
    assert Worker(store, settings).run(once=True) == 1
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert store.preview(job.id).shape == (4, 32, 32, 3)  # the live preview is in colour
    ref = f"run:{job.run_id}"

    codes = _run_one(store, settings, "codes", {"run": ref})
    assert codes.status == DONE, codes.error
    res = ResultStore(store.results_dir).get_key(codes.result_key)
    assert res.images["z"].shape == (len(ds.test), 8)  # the run's own data set, not MNIST

    clf = _run_one(store, settings, "classify", {"run": ref, "epochs": 8, "labels": None, "seed": 0})
    assert clf.status == DONE, clf.error
    res = ResultStore(store.results_dir).get_key(clf.result_key)
    assert [r["name"] for r in res.tables["per_class"]] == ["circle", "cross", "square", "triangle"]
    assert res.tables["accuracy"][0]["test_acc"] > 0.25 + 0.2  # well above chance on 4 classes
    assert res.images["confusion"].shape == (4, 4) and res.images["confusion"].sum() == len(ds.test)


def test_a_bad_upload_fails_with_its_reason_and_leaves_nothing(store, settings, tmp_path):
    store.uploads_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(store.uploads_dir / "flat.zip", "w") as z:  # images but no class folders
        z.writestr("a.png", b"not really a png")
    job = _run_one(store, settings, "dataset", {"action": "add", "upload": "flat.zip", "name": "flat"})
    assert job.status == FAILED and "class" in job.error, job.error
    assert not (store.uploads_dir / "flat.zip").exists() and not datasets.exists("flat")
    # the reason names the file the student chose, not the name it was saved under in the uploads folder
    (store.uploads_dir / "3f9a0c1d2e4b5a6c.zip").write_text("a text file, renamed")
    job = _run_one(store, settings, "dataset", {"action": "add", "upload": "3f9a0c1d2e4b5a6c.zip", "name": "notes",
                                                "file": "notes.zip"})
    assert job.status == FAILED and job.error.startswith("notes.zip is not a zip file"), job.error
    assert "3f9a0c1d2e4b5a6c" not in job.error
    # a name that tries to leave the uploads folder is refused before it is queued
    with pytest.raises(ValueError, match="uploads folder"):
        _run_one(store, settings, "dataset", {"action": "add", "upload": "../../etc/passwd", "name": "evil"})
    assert not datasets.exists("evil") and store.jobs(workspace=WS)[0].id == job.id


def test_the_tutorial_comparison_runs_as_a_job_on_any_data_set(store, settings, tmp_path):
    up = _upload(store, tmp_path, "tiny", per_class=16)
    assert _run_one(store, settings, "dataset", {"action": "add", "upload": up, "name": "tiny", "size": 28}).status == DONE
    job = _run_one(store, settings, "tutorial", {"dataset": "tiny", "variants": ["base", "upsample"], "ae_epochs": 1,
                                                 "clf_epochs": 1, "seed": 0, "limit": None, "labels": None})
    assert job.status == DONE, job.error
    res = ResultStore(store.results_dir).get_key(job.result_key)
    assert [r["variant"] for r in res.tables["accuracy"]] == ["base", "upsample"]
    assert res.images["recon:base"].shape == (8, 28, 28, 3) and np.isfinite(res.tables["accuracy"][0]["test_acc"])


def test_every_experiment_runs_on_an_imported_colour_set(home, tmp_path):
    """The Experiments page's comparisons on a small colour set: sweep, A/B, AE vs PCA, probe, fine-tuning, anomaly."""
    from aecore.analysis import experiments as ex
    from aecore.data.shapes import make_shapes
    from aecore.training.trainer import train

    x, y, names = make_shapes(4, 30, 32, seed=0)
    np.savez(tmp_path / "s.npz", x=x, y=y, class_names=np.array(names))
    datasets.add(tmp_path / "s.npz", "exp-shapes")
    ds = load_dataset("exp-shapes")
    base = TrainConfig(model="conv", latent=4, epochs=2, batch_size=16, dataset="exp-shapes", device="cpu")

    sweep = ex.latent_sweep(base, [2, 4], ds)
    assert [r["latent"] for r in sweep.tables["sweep"]] == [2, 4] and sweep.images["recons"].shape == (2, 8, 32, 32, 3)
    assert all(r["pca_test_mse"] > 0 for r in sweep.tables["sweep"])  # PCA of 96 images: 96 components at most
    ab = ex.compare({"k=2": base.__class__(**{**base.to_dict(), "latent": 2}), "k=4": base}, ds)
    assert len(ab.tables["final"]) == 2
    run = train(base, ds)
    vs = ex.ae_vs_pca(run, ds, n_points=24)
    assert vs.images["pca"].shape == (8, 32, 32, 3) and vs.tables["errors"][1]["squared_error_per_image"] > 0
    pr = ex.probe(run, 40, ds)
    assert {r["features"] for r in pr.tables["probe"]} >= {"latent", "pca"}
    ft = ex.finetune(run, 40, 2, ds)
    assert len(ft.tables["finetune"]) == 2 and all(0 <= r["test_acc"] <= 1 for r in ft.tables["finetune"])
    an = ex.anomaly(run, (0,), ds)
    assert [r["digit"] for r in an.tables["per_digit"]] == [0, 1, 2, 3] and 0 <= an.summary["auc"] <= 1
