"""Colour models and classes: the conv-AE tutorial's Flowers102 layers exactly, our conv AE at any shape, an AE that
beats PCA on generated colour shapes, a fine-tuned classifier well above chance, the tutorial's comparison, the CLI."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from aecore.analysis import classify
from aecore.data import imported as datasets
from aecore.models.colour import FlowersAE, FlowersHead, tutorial_variant
from aecore.data.catalog import load_dataset
from aecore.models.autoencoders import ModelError
from aecore.models.registry import build_model
from aecore.data.shapes import make_shapes, write_shapes_folder


@pytest.fixture(autouse=True)
def home(data_home):
    datasets._load_cached.cache_clear()


def shapes_set(tmp_path, per_class=60, name="shapes"):
    x, y, names = make_shapes(4, per_class, 32, seed=0)
    np.savez(tmp_path / f"{name}.npz", x=x, y=y, class_names=np.array(names))
    datasets.add(tmp_path / f"{name}.npz", name)
    return load_dataset(name)


def layers(m):
    return [(type(l).__name__, getattr(l, "in_channels", getattr(l, "in_features", None)),
             getattr(l, "out_channels", getattr(l, "out_features", None)), getattr(l, "kernel_size", None),
             getattr(l, "padding", None)) for l in m.modules() if isinstance(l, (nn.Conv2d, nn.Linear))]


def test_the_tutorials_flowers_layers_exactly():
    ae = FlowersAE(3, 100)
    assert layers(ae.encoder) == [("Conv2d", 3, 6, (5, 5), (0, 0)), ("Conv2d", 6, 16, (5, 5), (0, 0))]
    assert layers(ae.decoder) == [("Conv2d", 16, 16, (13, 13), (12, 12)), ("Conv2d", 16, 16, (13, 13), (12, 12)),
                                  ("Conv2d", 16, 6, (13, 13), (12, 12)), ("Conv2d", 6, 6, (13, 13), (12, 12)),
                                  ("Conv2d", 6, 6, (13, 13), (12, 12)), ("Conv2d", 6, 3, (19, 19), (18, 18))]
    assert isinstance(ae.decoder[-1], nn.Tanh) and not any(isinstance(l, nn.BatchNorm2d) for l in ae.modules())
    x = torch.rand(2, 3, 100, 100)
    assert ae.encode_map(x).shape == (2, 16, 22, 22) and ae(x).shape == (2, 3, 100, 100)
    head = FlowersHead(22, 102)
    assert layers(head) == [("Conv2d", 16, 32, (3, 3), (0, 0)), ("Conv2d", 32, 64, (3, 3), (0, 0)),
                            ("Linear", 1024, 512, None, None), ("Linear", 512, 102, None, None)]
    # BatchNorm after every conv; the dropout head; the upsampling decoder
    bn_ae, bn_head = tutorial_variant("bn", 3, 100)
    assert sum(isinstance(l, nn.BatchNorm2d) for l in bn_ae.modules()) == 8
    assert sum(isinstance(l, nn.BatchNorm2d) for l in bn_head.modules()) == 2
    _, drop = tutorial_variant("bn-dropout", 3, 100)
    kinds = [type(l).__name__ for l in drop.net]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Dropout2d", "Conv2d", "BatchNorm2d", "ReLU",
                     "MaxPool2d", "Flatten", "Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert [drop.net[i].p for i in (4, 10, 14)] == [0.2, 0.5, 0.25]
    up, _ = tutorial_variant("upsample", 3, 100)
    assert [type(l).__name__ for l in up.decoder] == ["Upsample", "Conv2d", "BatchNorm2d", "ReLU", "Upsample",
                                                      "Conv2d", "BatchNorm2d", "Tanh"]
    assert layers(up.decoder) == [("Conv2d", 16, 6, (5, 5), (4, 4)), ("Conv2d", 6, 3, (5, 5), (4, 4))]
    assert up(x).shape == (2, 3, 100, 100)
    up(x).sum().backward()  # a real, differentiable upsampling
    assert up.encoder[0].weight.grad is not None


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 32, 32), (1, 32, 32), (3, 64, 64)])
def test_every_colour_model_at_any_size(shape):
    x = torch.rand(2, *shape)
    for name in ("conv", "flowers-tutorial", "flowers-bn", "flowers-upsample"):
        m = build_model(name, latent=8 if name == "conv" else None, image_shape=shape).eval()
        assert m(x).shape == x.shape, (name, shape)
        assert m.encode(x).shape == (2, m.latent_dim)
    with pytest.raises(ModelError, match="dense takes 28x28 grey images only; for 3x32x32 images use one of conv"):
        build_model("dense", image_shape=(3, 32, 32))
    with pytest.raises(ModelError, match="divisible by 4"):
        build_model("flowers-bn", image_shape=(3, 30, 30))


def test_an_autoencoder_beats_pca_on_generated_colour_shapes(tmp_path):
    """The conv AE (k=8) through the main trainer, against PCA with 8 components, on held-out colour images."""
    from sklearn.decomposition import PCA

    from aecore.models.evaluate import evaluate
    from aecore.training.config import TrainConfig
    from aecore.training.trainer import train

    ds = shapes_set(tmp_path, per_class=150)
    torch.manual_seed(0)
    run = train(TrainConfig(model="conv", latent=8, dataset="shapes", epochs=30, batch_size=32, lr=3e-3,
                            val_fraction=0.0, device="cpu"), ds)
    ae_mse = evaluate(run.model, ds.test)["test_mse"]

    def flat(a):
        return a.reshape(len(a), -1).astype(np.float32) / 255.0

    pca = PCA(8, random_state=0).fit(flat(ds.train.x))
    pca_mse = float(((np.clip(pca.inverse_transform(pca.transform(flat(ds.test.x))), 0, 1) - flat(ds.test.x)) ** 2).mean())
    assert ae_mse < 0.85 * pca_mse, (ae_mse, pca_mse)


def test_the_fine_tuned_classifier_beats_chance_by_far(tmp_path):
    ds = shapes_set(tmp_path)
    res = classify.tutorial_experiment(ds, ("bn",), ae_epochs=5, clf_epochs=10, ae_batch=32, clf_batch=32)
    row = res.tables["accuracy"][0]
    assert row["chance"] == 0.25 and row["test_acc"] >= 0.6, row  # 48 test images of 4 classes
    per = res.tables["per_class"]
    assert [r["name"] for r in per] == ["circle", "square", "triangle", "cross"] and all(r["n_test"] == 12 for r in per)
    assert res.images["recon:bn"].shape == (8, 32, 32, 3) and 0 <= res.images["recon:bn"].min()


def test_the_tutorials_comparison_gives_one_row_per_variant(tmp_path):
    ds = shapes_set(tmp_path, per_class=20)
    seen = []
    res = classify.tutorial_experiment(ds, ae_epochs=1, clf_epochs=1, ae_batch=16, clf_batch=16,
                                       on_progress=lambda p: seen.append((p.stage, p.stages)))
    rows = res.tables["accuracy"]
    assert [r["variant"] for r in rows] == ["base", "bn", "bn-dropout", "upsample"] and res.status == "done"
    assert all(0 <= r["test_acc"] <= 1 and r["ae_test_mse"] > 0 for r in rows)
    assert len(res.tables["per_class"]) == 16 and seen[-1] == (8, 8)
    assert set(res.summary) == {"base", "bn", "bn-dropout", "upsample", "chance"}
    with pytest.raises(classify.ClassifyError, match="variants must be some of"):
        classify.tutorial_experiment(ds, ("huge",))


def test_cli_adds_a_folder_and_runs_the_comparison(tmp_path):
    """`python -m aecore data ...` and `flowers` (main() in this process; the data home is the `home` fixture's)."""
    import contextlib
    import io

    from aecore.cli import main

    write_shapes_folder(tmp_path / "imgs", 3, 12, 32)

    def cli(*args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(list(args))
        return rc, out.getvalue(), err.getvalue()

    rc, out, err = cli("data", "add", str(tmp_path / "imgs"), "--name", "mine", "--size", "28")
    assert rc == 0, err
    assert json.loads(out)["classes"] == ["circle", "square", "triangle"]
    rc, out, _ = cli("data", "list")
    assert "mine                 28x28x3       3 classes" in out
    rc, out, err = cli("flowers", "--dataset", "mine", "--variants", "base,upsample", "--ae-epochs", "1",
                       "--clf-epochs", "1", "--ae-batch", "8", "--clf-batch", "8", "--out", str(tmp_path / "acc.csv"))
    assert rc == 0, err
    assert "base        test accuracy" in out and (tmp_path / "acc-per-class.csv").is_file()
    rc, _, err = cli("data", "add", str(tmp_path / "imgs" / "circle"), "--name", "bad")
    assert rc == 2 and "error: no class folders" in err
