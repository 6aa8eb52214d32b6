"""The trainer lowers the loss, is reproducible, stops when asked and survives divergence."""

import threading

import numpy as np
import json

import pytest
import torch

from aecore.training.config import ConfigError
from aecore.data.noise import Noise, NoiseError, corrupt
from aecore.training.trainer import TrainingDiverged, train


def test_tiny_run_lowers_the_loss(mnist, tiny):
    run = train(tiny(epochs=4), mnist)
    losses = [r["train_loss"] for r in run.history]
    assert run.status == "done" and len(losses) == 4
    # the first epoch already starts at the mean image (output bias at its logit), so measure against that
    assert losses[-1] < losses[0] * 0.9 and losses[-1] < 0.06 < 0.0675  # the mean image's test MSE
    assert all(r["val_loss"] is not None for r in run.history)


def test_same_seed_same_result_on_cpu(mnist, tiny):
    a = train(tiny(seed=5), mnist)
    b = train(tiny(seed=5), mnist)
    c = train(tiny(seed=6), mnist)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    assert [r["train_loss"] for r in a.history] != [r["train_loss"] for r in c.history]
    for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(v, w), k


@pytest.mark.parametrize("model", ["linear", "conv-tutorial", "conv-bn", "conv", "mlp-deep"])
def test_every_model_trains(mnist, tiny, model):
    run = train(tiny(model=model, latent=None, epochs=1, limit=200), mnist)
    assert run.status == "done" and np.isfinite(run.final_train_loss)


def test_progress_callbacks_report_steps_and_throughput(mnist, tiny):
    seen, epochs = [], []
    train(tiny(), mnist, on_progress=seen.append, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == [1, 2]
    assert seen and all(p.images_per_s > 0 and 0 < p.fraction <= 1 for p in seen)
    assert seen[-1].fraction == pytest.approx(1.0)
    assert seen[0].steps == 11  # 540 training images / batch 50


def test_stop_flag_keeps_weights_trained_so_far(mnist, tiny):
    stop = threading.Event()

    def on_epoch(e):
        stop.set()  # stop right after the first epoch

    run = train(tiny(epochs=5), mnist, on_epoch=on_epoch, stop=stop)
    assert run.status == "stopped" and len(run.history) == 1
    assert "1 of 5" in run.message


def test_stop_during_first_step(mnist, tiny):
    stop = threading.Event()
    stop.set()
    run = train(tiny(), mnist, stop=stop)
    assert run.status == "stopped" and run.history == []
    assert run.model(torch.rand(1, 1, 28, 28)).shape == (1, 1, 28, 28)


def test_divergence_raises_and_keeps_last_good_weights(mnist, tiny):
    with pytest.raises(TrainingDiverged, match="lower the learning rate") as ei:
        train(tiny(model="linear", out_act="none", optimizer="sgd", lr=9.0, epochs=3), mnist)
    run = ei.value.run
    assert run.status == "diverged"
    assert all(torch.isfinite(v).all() for v in run.model.state_dict().values())


def test_invalid_settings_are_explained(mnist, tiny):
    cases = [
        (dict(latent=0), "latent size"),
        (dict(latent=100000), "latent size"),
        (dict(batch_size=5000), "larger than the"),
        (dict(digits=()), "digit subset is empty"),
        (dict(lr=0.0), "learning rate"),
        (dict(lr=1e6), "far too large"),
        (dict(epochs=0), "epochs"),
        (dict(loss="bce", out_act="relu"), "sigmoid"),
        (dict(model="conv-tutorial", latent=8), "fixed latent"),
        (dict(model="conv", pretrain_epochs=1), "layer-wise"),
        (dict(noise="masking:3"), "masking noise level"),
        (dict(device="cuda" if not torch.cuda.is_available() else "tpu"), "device|GPU|CUDA"),
    ]
    for kw, msg in cases:
        with pytest.raises(ConfigError, match=msg):
            train(tiny(**kw), mnist)


def test_train_on_one_digit(mnist, tiny):
    run = train(tiny(digits=(1,), limit=None, epochs=1, batch_size=256), mnist)
    assert run.status == "done" and run.config.digits == (1,)


def test_layerwise_pretraining_runs_each_layer(mnist, tiny):
    run = train(tiny(model="mlp-deep", latent=2, pretrain_epochs=1, epochs=1), mnist)
    phases = [r["phase"] for r in run.history]
    assert phases == ["pretrain layer 1/4", "pretrain layer 2/4", "pretrain layer 3/4", "pretrain layer 4/4", "train"]


def test_denoising_training_uses_clean_targets(mnist, tiny):
    run = train(tiny(noise="masking:0.5", epochs=3), mnist)
    assert run.status == "done" and run.config.noise == "masking:0.5"
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


@pytest.mark.parametrize("spec", ["masking:0.5", "gaussian:0.3", "saltpepper:0.2"])
def test_each_noise_type(spec):
    x = torch.full((4, 1, 28, 28), 0.5)
    g = torch.Generator().manual_seed(0)
    y = corrupt(x, Noise.parse(spec), g)
    assert y.shape == x.shape and torch.equal(x, torch.full_like(x, 0.5))  # input untouched
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    kind, level = spec.split(":")
    changed = float((y != x).float().mean())
    if kind == "masking":
        assert abs(changed - 0.5) < 0.05 and float(y[y != x].max()) == 0
    elif kind == "saltpepper":
        assert abs(changed - 0.2) < 0.04 and set(y[y != x].unique().tolist()) <= {0.0, 1.0}
    else:
        assert abs(float((y - x).std()) - 0.3) < 0.03


def test_noise_parsing_errors():
    assert not Noise.parse("none").active
    for bad in ["masking", "blur:0.1", "gaussian:x", "saltpepper:1.5"]:
        with pytest.raises(NoiseError):
            Noise.parse(bad)


MEAN_IMAGE_MSE, ZEROS_MSE = 0.0675, 0.114  # test MSE of predicting the training mean image / all black


@pytest.mark.parametrize("model", ["linear", "dense", "conv-tutorial", "mlp-deep", "mlp-hinton", "conv-bn", "conv"])
def test_fresh_models_start_at_the_mean_image(mnist, model):
    """The output layer's bias starts at the data mean's logit, so an untrained model draws the mean image, not grey."""
    from aecore.training.config import TrainConfig
    from aecore.data.dataset import to_float
    from aecore.training.trainer import TrainData, mean_image, seeded_model, start_at_mean_image

    cfg = TrainConfig(model=model, latent=8 if model not in ("conv-tutorial", "conv-bn") else None, limit=2000, device="cpu").resolved()
    data = TrainData.from_config(cfg, mnist, torch.device("cpu"))
    mean = mean_image(data)
    assert abs(float(mean.mean()) - 0.1307) < 0.01
    m = seeded_model(cfg).eval()
    x = to_float(torch.as_tensor(mnist.test.x[:200, None]))
    with torch.no_grad():
        grey = float(m(x).mean())
        start_at_mean_image(m, mean, cfg.out_act)
        out = m(x)
    assert abs(grey - 0.5) < 0.15  # what a zero bias gives: mid-grey
    assert abs(float(out.mean()) - 0.1307) < 0.06
    assert float(((out - x) ** 2).mean()) < 0.12  # about the mean image's error, not 0.2+


@pytest.mark.parametrize("model", ["linear", "dense"])
def test_short_classroom_run_beats_the_mean_image(mnist, model):
    """2 epochs on 10,000 images with the model's default learning rate (the sweep's defaults), k=2 and 16."""
    from aecore.training.config import TrainConfig
    from aecore.models.evaluate import evaluate

    for k in (2, 16):
        run = train(TrainConfig(model=model, latent=k, epochs=2, limit=10000, device="cpu"), mnist)
        mse = evaluate(run.model, mnist.test)["test_mse"]
        assert mse < MEAN_IMAGE_MSE - 0.004 < ZEROS_MSE, (model, k, mse)


def test_learning_rate_defaults_to_the_models_own():
    from aecore.training.config import TrainConfig
    from aecore.models.registry import MODELS

    for name, spec in MODELS.items():
        assert TrainConfig(model=name).resolved().lr == spec.default_lr
    assert TrainConfig(model="conv", lr=0.01).resolved().lr == 0.01
    assert "adam 0.01," in TrainConfig(model="linear", latent=2).describe()


def test_a_config_left_at_the_models_learning_rate_survives_json():
    from aecore.training.config import TrainConfig
    from aecore.models.registry import MODELS

    c = TrainConfig(model="dense", epochs=1)  # lr None: the model's own default
    again = TrainConfig.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again.lr is None and again.resolved().lr == MODELS["dense"].default_lr
