"""Latent-space tools: decoded plane, interpolation, placing a new code on a map; presets and zoo are sound."""

import numpy as np
import pytest

from aecore.analysis.latent import interpolate, latent_grid, place, plane_bounds
from aecore.training.trainer import train


@pytest.fixture(scope="module")
def run2(mnist):
    from aecore.training.config import TrainConfig

    return train(TrainConfig(model="dense", latent=2, hidden_act="none", epochs=1, limit=1000, batch_size=50, lr=5e-3, device="cpu"), mnist)


def test_plane_grid_and_interpolation(run2, mnist):
    z = np.random.default_rng(0).normal(size=(100, 2))
    (x0, x1), (y0, y1) = plane_bounds(z)
    assert x0 < 0 < x1 and y0 < 0 < y1
    img = latent_grid(run2.model, (x0, x1), (y0, y1), 5)
    assert img.shape == (25, 28, 28) and 0 <= img.min() and img.max() <= 1
    path = interpolate(run2.model, mnist.test.x[0], mnist.test.x[1], 6)
    assert path.shape == (6, 28, 28)
    assert not np.allclose(path[0], path[-1])
    with pytest.raises(ValueError, match="2-D code"):
        plane_bounds(np.zeros((5, 3)))


def test_grid_needs_a_2d_code(mnist):
    from aecore.models.registry import build_model

    with pytest.raises(ValueError, match="2-D code"):
        latent_grid(build_model("dense", latent=3), (0, 1), (0, 1))


def test_place_lands_next_to_its_neighbours():
    z = np.array([[0, 0], [10, 10], [10, 11]], np.float32)
    xy = np.array([[1, 1], [5, 5], [5, 7]], np.float32)
    assert np.allclose(place(z, xy, np.array([[10, 10.4]]), k=2), [[5, 6]])


def test_presets_point_at_real_things():
    from aecore.models.registry import MODELS
    from aecore.classroom.presets import PRESETS
    from aecore.training.zoo import ZOO

    zoo = {e.name for e in ZOO}
    for p in PRESETS:
        assert p.explains and p.page in {"train", "latent", "denoising", "reconstructions", "experiments"}
        if "run" in p.params:
            assert p.params["run"].removeprefix("zoo:") in zoo
        if "model" in p.params:
            assert p.params["model"] in MODELS


def test_zoo_is_committed_and_loads():
    from aecore.training.zoo import ZOO, load_zoo, zoo_names

    assert zoo_names() == [e.name for e in ZOO]
    run = load_zoo("conv-k2")
    assert run.model.latent_dim == 2 and run.status == "done"


def test_selected_indices_reads_every_customdata_shape():
    from aecore.analysis.latent import selected_indices

    points = [
        {"customdata": {"0": 71}, "x": 0.1},  # what the browser sends (the crash of issue 11)
        {"customdata": [5]},
        {"customdata": 9},
        {"customdata": "12"},
        {"customdata": [5]},  # a point twice (box and click): kept once
        {"x": 1.0},  # the uploaded digit's star has no customdata
        {"customdata": None},
        {"customdata": []},
        {"customdata": {}},
        {"customdata": "not a number"},
        {"customdata": [3.5]},
    ]
    assert selected_indices(points) == [71, 5, 9, 12]
    assert selected_indices(None) == [] and selected_indices([]) == []
