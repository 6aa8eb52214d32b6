"""The bundled MNIST is exact, loads once, and subsets as asked."""

import re

import numpy as np
import pytest

from aecore.data import catalog, dataset
from aecore.data import mnist as bundled


def test_checksums_shapes_and_counts(mnist):
    assert mnist.train.x.shape == (60000, 28, 28) and mnist.train.x.dtype == np.uint8
    assert mnist.test.x.shape == (10000, 28, 28)
    assert tuple(dataset.class_counts(mnist.train.y)) == bundled.MNIST_TRAIN_COUNTS
    assert dataset.class_counts(mnist.test.y).sum() == 10000
    x = mnist.train.x / 255.0
    assert round(float(x.mean()), 4) == 0.1307
    assert round(float(x.std()), 4) == 0.3081


def test_loaded_once_and_read_only(mnist):
    assert bundled.load_mnist() is mnist
    with pytest.raises(ValueError):
        mnist.train.x[0, 0, 0] = 1


def test_altered_file_is_rejected(tmp_path, mnist):
    arrays = {"x_train": mnist.train.x.copy(), "y_train": mnist.train.y, "x_test": mnist.test.x, "y_test": mnist.test.y}
    arrays["x_train"][0, 0, 0] = 255
    p = tmp_path / "mnist.npz"
    np.savez(p, **arrays)
    with pytest.raises(dataset.DataError, match="checksum"):
        bundled.load_mnist(p)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(dataset.DataError, match="not found"):
        bundled.load_mnist(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(dataset.DataError, match="cannot read"):
        bundled.load_mnist(bad)


def test_subsets_by_digit_limit_and_validation(mnist):
    idx = dataset.subset_indices(mnist.train.y, digits=(0,))
    assert len(idx) == 5923 and set(mnist.train.y[idx]) == {0}
    idx = dataset.subset_indices(mnist.train.y, digits=(0, 1), limit=100, seed=3)
    assert len(idx) == 100 and set(mnist.train.y[idx]) <= {0, 1}
    assert np.array_equal(idx, dataset.subset_indices(mnist.train.y, digits=(0, 1), limit=100, seed=3))
    tr, va = dataset.train_val_indices(idx, 0.1, seed=0)
    assert len(va) == 10 and len(tr) == 90 and not set(tr) & set(va)


def test_parse_digits():
    assert dataset.parse_digits("0, 1,6") == (0, 1, 6)
    assert dataset.parse_digits("") is None
    with pytest.raises(dataset.DataError):
        dataset.parse_digits("1,x")
    with pytest.raises(dataset.DataError):
        dataset.parse_digits("12")


def test_extra_dataset_offline_gives_clear_message(data_home, monkeypatch):
    import torchvision.datasets as tvd

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvd, "FashionMNIST", offline)
    bundled._load_extra.cache_clear()
    with pytest.raises(dataset.DataError, match="could not be downloaded"):
        catalog.load_dataset("fashion-mnist")
    with pytest.raises(dataset.DataError, match="unknown data set"):
        catalog.load_dataset("cifar")


def test_preview_images_are_each_classes_first_test_images_on_every_set(mnist):
    """One rule for every data set (no MNIST branch): MNIST's are its first 0, 1, ..., 7; a 3-class set cycles."""
    assert dataset.preview_indices(mnist) == [3, 2, 1, 18, 4, 8, 11, 0]
    y = np.array([2, 0, 0, 1, 2, 1, 0])
    x = np.zeros((len(y), 4, 4), np.uint8)
    ds = dataset.Dataset("three", dataset.Split(x, y), dataset.Split(x, y), ("a", "b", "c"))
    assert dataset.preview_indices(ds) == [1, 3, 0, 2, 5, 4, 6]  # every test image, classes in turn
    assert dataset.preview_indices(ds, 4) == [1, 3, 0, 2]


def test_the_counted_training_size_is_the_drawn_one(mnist):
    """The pages' estimates count a config's training images (train_size) instead of drawing them (_split)."""
    from aecore.training.config import ConfigError, TrainConfig
    from aecore.training.trainer import _split, train_size

    for digits in (None, (1,), (0, 7, 9)):
        for limit in (None, 1, 2, 7, 600, 5000, 100000):
            for val in (0.0, 0.1, 0.5):
                for batch in (1, 50):
                    cfg = TrainConfig(model="dense", latent=2, digits=digits, limit=limit, val_fraction=val,
                                      batch_size=batch, seed=3)
                    try:
                        drawn = len(_split(cfg, mnist)[0])
                    except ConfigError as e:
                        with pytest.raises(ConfigError, match=re.escape(str(e))):
                            train_size(cfg, mnist)
                        continue
                    assert train_size(cfg, mnist) == drawn, (digits, limit, val, batch)
