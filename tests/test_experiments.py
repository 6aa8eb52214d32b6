"""The tutorials' comparisons: real runs, sensible numbers, tables that export."""

import threading

import numpy as np
import pytest

from aecore.analysis import experiments as ex
from aecore.analysis.results import Result, ResultStore
from aecore.training.config import TrainConfig
from aecore.training.trainer import train


def small(**kw):
    base = dict(model="dense", latent=8, epochs=2, limit=1500, batch_size=50, seed=0, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_latent_sweep_rows_pca_and_grid(mnist):
    res = ex.latent_sweep(small(), [2, 16], mnist)
    rows = res.tables["sweep"]
    assert [r["latent"] for r in rows] == [2, 16]
    assert rows[1]["test_mse"] < rows[0]["test_mse"]  # a bigger code reconstructs better
    assert rows[0]["pca_test_mse"] == pytest.approx(0.0557, abs=1e-3)
    assert res.images["recons"].shape == (2, ex.N_SHOW, 28, 28)
    assert res.csv("sweep").splitlines()[0].startswith("latent,train_loss,val_loss,test_mse,pca_test_mse")


def test_sweep_rejects_fixed_latent_models(mnist):
    with pytest.raises(ex.ExperimentError, match="fixed latent"):
        ex.latent_sweep(small(model="conv-tutorial", latent=None), [2], mnist)


def test_compare_presets_train_both(mnist):
    cfgs = ex.ab_configs("MSE vs BCE loss", epochs=1, limit=600, batch_size=50, device="cpu")
    assert len(cfgs) == 2
    res = ex.compare(cfgs, mnist)
    assert len(res.tables["final"]) == 2 and {r["model"] for r in res.tables["curves"]} == set(cfgs)
    assert all(f"recon:{label}" in res.images for label in cfgs)


def test_stopping_an_experiment_returns_partial_result(mnist):
    stop = threading.Event()
    stop.set()
    res = ex.latent_sweep(small(), [2, 4], mnist, stop=stop)
    assert res.status == "stopped" and res.tables["sweep"] == []


@pytest.fixture(scope="module")
def run_ones(mnist):
    return train(small(digits=(1,), limit=None, epochs=2, batch_size=128, latent=16), mnist)


def test_one_digit_model_reconstructs_that_digit_best_and_detects_others(run_ones, mnist):
    res = ex.anomaly(run_ones, None, mnist)
    per = res.tables["per_digit"]
    assert min(per, key=lambda r: r["mean_mse"])["digit"] == 1
    assert res.summary["auc"] > 0.9 and set(res.summary["per_digit_auc"]) == {str(d) for d in range(10) if d != 1}
    assert res.images["recons"].shape == (10, 28, 28)


def test_ae_vs_pca_and_probe(mnist):
    run = train(small(model="linear", latent=16, epochs=3, limit=5000), mnist)
    res = ex.ae_vs_pca(run, mnist, n_points=300)
    ae, p = res.tables["errors"]
    assert p["test_mse"] == pytest.approx(0.0269, abs=1e-3)
    assert len(res.tables["codes"]) == 300 and res.images["pca"].shape == (ex.N_SHOW, 28, 28)
    pr = ex.probe(run, labels=500, dataset=mnist, n_test=2000)
    s = pr.summary
    assert s["latent_logreg_acc"] > 0.6 and s["pca_logreg_acc"] > 0.6 and s["pixels_knn_acc"] > 0.6
    assert abs(s["latent_logreg_acc"] - s["pca_logreg_acc"]) < 0.15  # comparable at the same size


def test_finetune_head_then_encoder(mnist):
    run = train(small(model="conv", latent=16, epochs=2, limit=2000, lr=2e-3), mnist)
    res = ex.finetune(run, labels=500, epochs=6, dataset=mnist)
    frozen, tuned = res.summary.values()
    assert 0.4 < frozen <= 1 and 0.4 < tuned <= 1  # far above chance (10%) from 500 labels


def test_stacked_vs_end_to_end(mnist):
    res = ex.stacked_vs_endtoend(small(model="mlp-deep", latent=4, epochs=1, limit=600), 1, mnist)
    assert res.kind == "stacked" and len(res.tables["final"]) == 2


def test_result_store_round_trip(tmp_path, mnist):
    store = ResultStore(tmp_path)
    res = Result("demo", {"a": 1}, {"t": [{"x": 1.0}]}, {"img": np.zeros((2, 28, 28), np.float32)}, {"s": 1})
    assert store.get_key("demo-0123") is None
    store.put_key("demo-0123", res)
    back = store.get_key("demo-0123")
    assert back.tables == res.tables and back.images["img"].shape == (2, 28, 28)
    res.status = "stopped"
    store.put_key("demo-4567", res)  # a stopped result is kept only when asked for as partial
    assert store.get_key("demo-4567") is None
