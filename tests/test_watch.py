"""Watch it learn: recording codes while a model trains, without changing how it trains."""

import numpy as np
import pytest
import torch

from aecore.training.trainer import train
from aecore.training.watch import Recorder, Recording, WatchError, every_n_steps, to_plane, watch_indices


def _recorder(mnist, every=1):
    idx = watch_indices(mnist.test.y, 200)
    prev = np.arange(4)
    return Recorder(mnist.test.x[idx], idx, mnist.test.x[prev], prev, every=every)


def test_watch_indices_are_a_fixed_sample_of_every_digit(mnist):
    a, b = watch_indices(mnist.test.y, 500), watch_indices(mnist.test.y, 500)
    assert len(a) == 500 and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert np.bincount(mnist.test.y[a], minlength=10).min() == 50


def test_every_n_steps_gives_about_the_frames_asked():
    assert every_n_steps(1407, 120) == 12 and every_n_steps(8, 120) == 1 and every_n_steps(0, 120) == 1


def test_recording_does_not_change_the_trained_weights_and_the_codes_move(mnist, tiny):
    cfg = tiny(model="conv", latent=2, epochs=2, limit=256, batch_size=64)  # 4 steps per epoch
    plain = train(cfg, mnist).model.state_dict()
    rec = _recorder(mnist)
    watched = train(cfg, mnist, on_step=rec).model.state_dict()
    assert all(torch.equal(plain[k], watched[k]) for k in plain)  # eval-mode encoding between steps changes nothing
    r = rec.recording()
    assert list(r.steps) == list(range(9)) and r.xy.shape == (9, 200, 2) and r.recon.shape == (9, 4, 28, 28)
    assert r.latent == 2
    assert np.abs(r.xy[-1] - r.xy[0]).mean() > 1e-3  # the codes moved as it learned
    assert not np.array_equal(r.recon[0], r.recon[-1])


def test_a_larger_code_is_shown_by_its_principal_components_without_flipping_between_frames():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 8)) * np.array([5, 3, 1, 1, 1, 1, 1, 1])
    first = to_plane(z)
    again = to_plane(-z, previous=first)  # the same codes with every sign flipped: PCA alone could flip the axes
    assert np.allclose(first, again, atol=1e-4)
    assert np.allclose(to_plane(z[:, :2]), z[:, :2]) and np.allclose(to_plane(z[:, :1])[:, 1], 0)


def test_a_recording_survives_a_round_trip_and_a_bad_file_is_refused(tmp_path, mnist, tiny):
    rec = _recorder(mnist, every=2)
    train(tiny(epochs=1, limit=300), mnist, on_step=rec)
    path = tmp_path / "watch.npz"
    rec.recording().save(path)
    back = Recording.load(path)
    assert list(back.steps) == [0, 2, 4, 6] and np.array_equal(back.xy, rec.recording().xy)
    assert len(back.upto(3)) == 2
    (lo, hi), _ = back.bounds()
    assert lo < back.xy[..., 0].min() and hi > back.xy[..., 0].max()
    (tmp_path / "bad.npz").write_bytes(b"not a recording")
    with pytest.raises(WatchError, match="cannot read"):
        Recording.load(tmp_path / "bad.npz")


def test_a_diverging_model_records_no_frame(mnist):
    rec = _recorder(mnist)
    model = __import__("aecore.training.trainer", fromlist=["seeded_model"]).seeded_model(
        __import__("aecore.training.config", fromlist=["TrainConfig"]).TrainConfig(model="dense", latent=8))
    rec.record(model, 0)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    rec.record(model, 1)  # NaN codes: skipped, not an error (PCA of NaNs would fail)
    assert list(rec.recording().steps) == [0]
