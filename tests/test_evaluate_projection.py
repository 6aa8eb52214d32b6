"""Evaluation metrics, the PCA floor from the spec, and the 2-D projections."""

import numpy as np
import pytest

from aecore.analysis import pca
from aecore.models.evaluate import decode, encode, evaluate, per_image_errors, psnr, reconstruct
from aecore.analysis.projection import TSNE_ITERATIONS, ProjectionError, nearest_neighbours, project, sample_indices
from aecore.training.trainer import train


@pytest.fixture(scope="module")
def run2(mnist):
    from aecore.training.config import TrainConfig

    return train(TrainConfig(model="dense", latent=2, hidden_act="none", epochs=3, limit=2000, batch_size=50, lr=5e-3, device="cpu"), mnist)


def test_pca_floor_matches_spec(mnist):
    # PRODUCT.md: fit on train, test per-pixel MSE.
    expect = {2: 0.0557, 10: 0.0341, 16: 0.0269, 30: 0.0177, 32: 0.0168, 50: 0.0115}
    for k, v in expect.items():
        assert round(pca.pca_mse(mnist.test.x, k, mnist), 4) == v
    assert 0 < pca.explained_variance(2, mnist) < pca.explained_variance(50, mnist) < 1


def test_evaluate_reports_all_metrics(run2, mnist):
    ev = evaluate(run2.model, mnist.test)
    assert set(ev) >= {"test_mse", "test_bce", "psnr", "per_digit_mse"}
    assert len(ev["per_digit_mse"]) == 10 and 0 < ev["test_mse"] < 0.2
    assert ev["psnr"] == pytest.approx(psnr(ev["test_mse"]))
    assert np.mean(ev["per_digit_mse"]) == pytest.approx(ev["test_mse"], rel=0.1)


def test_encode_decode_reconstruct_batched(run2, mnist):
    x = mnist.test.x[:3000]
    z = encode(run2.model, x)
    assert z.shape == (3000, 2)
    ins, outs = reconstruct(run2.model, x[:5])
    assert ins.shape == outs.shape == (5, 28, 28)
    assert np.allclose(decode(run2.model, z[:5]), outs, atol=1e-5)
    err = per_image_errors(run2.model, x[:5])
    assert np.allclose(err["mse"], ((outs - ins) ** 2).mean(axis=(1, 2)), atol=1e-6)


@pytest.mark.parametrize("method", ["raw", "pca", "tsne", "umap"])
def test_projections_are_2d_and_seeded(run2, mnist, method):
    z = encode(run2.model, mnist.test.x[:300])
    a = project(z, method, seed=1, perplexity=20, n_neighbors=10)
    b = project(z, method, seed=1, perplexity=20, n_neighbors=10)
    assert a.xy.shape == (300, 2) and np.allclose(a.xy, b.xy)
    if method == "raw":
        assert np.allclose(a.xy, z)
    if method == "pca":
        assert len(a.info["explained_variance"]) == 2


def test_tsne_streams_its_layout_and_a_stop_keeps_the_layout_then(run2, mnist):
    z = encode(run2.model, mnist.test.x[:400])
    seen = []
    full = project(z, "tsne", seed=3, on_layout=lambda xy, done, total: seen.append((done, total, xy.copy())) and False)
    assert [d for d, _, _ in seen][:4] == [0, 25, 50, 75] and seen[-1][0] == seen[-1][1] == sum(TSNE_ITERATIONS)  # 0: the PCA start
    assert all(xy.shape == (400, 2) for _, _, xy in seen)
    assert np.ptp(seen[-1][2]) > 5 * np.ptp(seen[0][2])  # the layout spreads out as it converges
    assert np.allclose(seen[-1][2], full.xy) and "stopped_at" not in full.info
    stopped = project(z, "tsne", seed=3, on_layout=lambda xy, done, total: done >= 100)
    assert stopped.info["stopped_at"] == 100 and np.allclose(stopped.xy, seen[4][2])  # the layout after 100 iterations
    again = project(z, "tsne", seed=3)
    assert np.allclose(again.xy, full.xy)  # the same seed, the same layout, with or without watching


def test_projection_errors_and_helpers(mnist):
    z = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    with pytest.raises(ProjectionError, match="unknown"):
        project(z, "lda")
    with pytest.raises(ProjectionError, match="needs more than"):
        project(z, "tsne", perplexity=30)
    with pytest.raises(ProjectionError, match="limited"):
        project(np.zeros((70001, 2)), "tsne")
    idx = sample_indices(10000, 100, seed=0, labels=mnist.test.y, digits=[0, 1])
    assert len(idx) == 100 and set(mnist.test.y[idx]) <= {0, 1}
    nn = nearest_neighbours(z, z[:2], k=3)
    assert nn.shape == (2, 3) and 0 not in nn[0]
