"""Data sets by name: the bundled MNIST, torchvision's and the ones imported into the data home."""

from __future__ import annotations

from aecore.data.dataset import BUNDLED, COLOUR_DATASETS, DATASETS, EXTRA_DATASETS, IMAGE_SHAPE, DataError, Dataset
from aecore.data.mnist import _load_extra, load_mnist


def load_dataset(name: str = BUNDLED) -> Dataset:
    """Load a data set by name: bundled MNIST, Fashion-MNIST / KMNIST via torchvision, or one imported into the
    data home (`python -m aecore data add`, aecore.data.imported; CIFAR-10 and Flowers102 are fetched into it)."""
    if name == BUNDLED:
        return load_mnist()
    if name in EXTRA_DATASETS:
        from aecore.settings import current

        return _load_extra(name, str(current().downloads_dir))
    from aecore.data import imported as datasets

    if datasets.exists(name):
        return datasets.load(name)
    if name in COLOUR_DATASETS:
        return datasets.fetch(name)
    known = DATASETS + COLOUR_DATASETS + tuple(n for n in datasets.names() if n not in COLOUR_DATASETS)
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(known)} (or import your own with "
                    "`python -m aecore data add PATH --name NAME`)")


def is_dataset_name(name: str) -> bool:
    """Whether `name` names a data set: a built-in one or one imported into the data home (no data is read)."""
    if name in DATASETS or name in COLOUR_DATASETS:
        return True
    from aecore.data import imported as datasets

    return isinstance(name, str) and datasets.exists(name)


def dataset_image_shape(name: str) -> tuple[int, int, int]:
    """(C, H, W) of a data set's images without loading them (built-ins are (1, 28, 28) unless imported)."""
    if name in DATASETS:
        return IMAGE_SHAPE
    from aecore.data import imported as datasets

    return datasets.image_shape(name)
