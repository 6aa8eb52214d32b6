"""Data sets by name: the bundled MNIST (checksum-verified), torchvision's and imported ones; subsets and device tensors."""

from __future__ import annotations

from .errors import AELabError
import functools
import hashlib
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# SHA-256 of each array's raw bytes (PRODUCT.md, "Data").
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
DIGITS = tuple(range(10))
IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 784

# Data sets offered next to the bundled MNIST; they need torchvision and a download.
EXTRA_DATASETS = {"fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
DATASETS = ("mnist",) + tuple(EXTRA_DATASETS)
# Colour data sets torchvision downloads; they are resized and kept in the data home (aecore.datasets).
COLOUR_DATASETS = ("cifar10", "flowers102")


class DataError(AELabError):
    """The data set is missing, altered, or cannot be fetched."""


def default_path() -> Path:
    """Where the bundled MNIST lives (the settings' `mnist`, AELAB_MNIST)."""
    from .settings import current

    return current().mnist_path


@dataclass(frozen=True)
class Split:
    """One half of a data set: images uint8 [N, H, W] (grey) or [N, H, W, C] (colour), labels [N] (0..classes-1).

    MNIST's are [N, 28, 28] and uint8 labels 0-9.
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """A train and a test split of images with class labels (MNIST: 28x28 grey, digits 0-9)."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...] = ()  # class names by label; () = the digits "0".."9"

    def split(self, which: str) -> Split:
        if which not in ("train", "test"):
            raise DataError(f"unknown split {which!r}; use 'train' or 'test'")
        return self.train if which == "train" else self.test

    @property
    def class_names(self) -> tuple[str, ...]:
        """One name per label: the given names, else the labels as text ("0".."9" for MNIST)."""
        if self.classes:
            return tuple(self.classes)
        n = max(10, int(max(self.train.y.max(initial=0), self.test.y.max(initial=0))) + 1)
        return tuple(str(i) for i in range(n))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """1 for grey images [N,H,W], C for colour ones [N,H,W,C]."""
        return 1 if self.train.x.ndim == 3 else int(self.train.x.shape[3])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image as a model sees it, e.g. (1, 28, 28) for MNIST, (3, 32, 32) for CIFAR-10."""
        return (self.channels, int(self.train.x.shape[1]), int(self.train.x.shape[2]))


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def verify_mnist_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raise DataError unless the four arrays are exact MNIST."""
    for key, digest in MNIST_SHA256.items():
        if key not in arrays:
            raise DataError(f"MNIST file lacks the array {key!r}")
        a = arrays[key]
        if a.dtype != np.uint8:
            raise DataError(f"MNIST array {key!r} has dtype {a.dtype}, expected uint8")
        if _sha256(a) != digest:
            raise DataError(
                f"MNIST array {key!r} does not match its SHA-256 checksum: the file is altered "
                "or not MNIST; restore data/mnist.npz from the repository or rebuild it with "
                "scripts/build_mnist.py"
            )


@functools.lru_cache(maxsize=2)
def _load_mnist_cached(path: str) -> Dataset:
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"MNIST not found at {p}: it ships with the repository as data/mnist.npz "
            "(rebuild it with scripts/build_mnist.py)"
        )
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zip or npy format errors
        raise DataError(f"cannot read MNIST file {p}: {e}") from e
    verify_mnist_arrays(arrays)
    for a in arrays.values():
        a.setflags(write=False)
    return Dataset(
        "mnist",
        Split(arrays["x_train"], arrays["y_train"]),
        Split(arrays["x_test"], arrays["y_test"]),
    )


def load_mnist(path: str | os.PathLike | None = None) -> Dataset:
    """Load and verify the bundled MNIST once per process (read-only arrays)."""
    return _load_mnist_cached(str(Path(path) if path else default_path()))


@functools.lru_cache(maxsize=4)
def _load_extra(name: str, root: str) -> Dataset:
    try:
        import torchvision.datasets as tvd
    except Exception as e:
        raise DataError(f"{name} needs torchvision, which does not import here: {e}") from e
    cls = getattr(tvd, EXTRA_DATASETS[name])
    try:
        train = cls(root, train=True, download=True)
        test = cls(root, train=False, download=True)
    except Exception as e:
        raise DataError(
            f"{name} is not bundled and could not be downloaded ({type(e).__name__}); "
            "this machine may be offline. MNIST is always available."
        ) from e
    return Dataset(
        name,
        Split(train.data.numpy().astype(np.uint8), train.targets.numpy().astype(np.uint8)),
        Split(test.data.numpy().astype(np.uint8), test.targets.numpy().astype(np.uint8)),
    )


def load_dataset(name: str = "mnist") -> Dataset:
    """Load a data set by name: bundled MNIST, Fashion-MNIST / KMNIST via torchvision, or one imported into the
    data home (`python -m aecore data add`, aecore.datasets; CIFAR-10 and Flowers102 are fetched into it)."""
    if name == "mnist":
        return load_mnist()
    if name in EXTRA_DATASETS:
        from .settings import current

        return _load_extra(name, str(current().downloads_dir))
    from . import datasets

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
    from . import datasets

    return isinstance(name, str) and datasets.exists(name)


def dataset_image_shape(name: str) -> tuple[int, int, int]:
    """(C, H, W) of a data set's images without loading them (built-ins are (1, 28, 28) unless imported)."""
    if name in DATASETS:
        return IMAGE_SHAPE
    from . import datasets

    return datasets.image_shape(name)


def class_counts(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Images per class (per digit for MNIST), [n_classes]."""
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)[:n_classes]


def parse_digits(text: str | None) -> tuple[int, ...] | None:
    """'0,1,6' -> (0, 1, 6); empty or None -> None (all digits)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        digits = tuple(sorted({int(t) for t in str(text).replace(" ", "").split(",") if t != ""}))
    except ValueError:
        raise DataError(f"digits must be numbers 0-9 separated by commas, got {text!r}") from None
    bad = [d for d in digits if d not in DIGITS]
    if bad:
        raise DataError(f"digits must be 0-9, got {bad}")
    return digits or None


def subset_indices(
    y: np.ndarray,
    digits: tuple[int, ...] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Indices of the images with the given digits, at most `limit` of them (seeded sample)."""
    idx = np.arange(len(y))
    if digits is not None:
        idx = idx[np.isin(y, np.asarray(digits))]
        if len(idx) == 0:
            raise DataError(f"no images with digits {list(digits)}")
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit must be at least 1, got {limit}")
        if limit < len(idx):
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.choice(idx, size=limit, replace=False))
    return idx


def train_val_indices(idx: np.ndarray, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into train and validation parts (seeded, validation at least 1 image)."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"validation fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0.0:
        return idx, idx[:0]
    n_val = max(1, int(round(len(idx) * val_fraction)))
    if n_val >= len(idx):
        raise DataError(f"{len(idx)} images are too few to hold out a validation part")
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(len(idx))
    return np.sort(idx[perm[n_val:]]), np.sort(idx[perm[:n_val]])


def readonly_tensor(x: np.ndarray) -> torch.Tensor:
    """A tensor sharing memory with a (possibly read-only) numpy array; callers never write to it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(x))


_device_cache: dict[tuple[int, str], torch.Tensor] = {}
_device_lock = threading.Lock()


def as_nchw(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images [N, H, W] or [N, H, W, C] -> a tensor view [N, C, H, W] (no copy; colour ones channels-last)."""
    t = x if torch.is_tensor(x) else readonly_tensor(x)
    if t.dim() == 3:
        return t.unsqueeze(1)  # [N, 1, H, W]
    if t.dim() == 4:
        return t.permute(0, 3, 1, 2)  # [N, C, H, W], strides of channels-last
    raise DataError(f"images must be [N, H, W] or [N, H, W, C], got shape {tuple(t.shape)}")


def device_images(x: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """The uint8 images [N, 28, 28] as one shared uint8 tensor [N, 1, 28, 28] on `device`
    (colour [N, H, W, C] as [N, C, H, W]).

    On the CPU this is a view of the numpy array (no copy); on a GPU it is copied once
    per process and shared by every job (uint8 keeps it at 47 MB for MNIST train).
    """
    device = torch.device(device)
    key = (id(x), str(device))
    with _device_lock:
        t = _device_cache.get(key)
        if t is None:
            t = as_nchw(x).to(device)  # [N, C, H, W] uint8, shares memory on the CPU
            _device_cache[key] = t
        return t


def to_float(xb: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1], same shape."""
    return xb.to(torch.float32).div_(255.0)


def float_images(x: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 numpy images [N, 28, 28] -> float32 tensor [N, 1, 28, 28] in [0, 1] ([N, H, W, C] -> [N, C, H, W])."""
    return to_float(as_nchw(x).to(device)).contiguous()


PREVIEW = (3, 2, 1, 18, 4, 8, 11, 0)  # MNIST test images of the digits 0-7: what a training job reconstructs live


def show_images(dataset: Dataset, n: int = 8, seed: int = 0, repeat: bool = False) -> np.ndarray:
    """Indices of n test images, one per class taking the classes in turn (stable); at most as many as the test
    set has, unless `repeat` (then a small test set shows some images twice)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(dataset.test.y, np.int64)
    classes = np.unique(y)
    count = n if repeat else min(n, len(y))
    return np.array([rng.choice(np.flatnonzero(y == classes[i % len(classes)])) for i in range(count)])


def preview_indices(dataset: Dataset) -> list[int]:
    """The test images a training job reconstructs live and a kept run shows: the digits 0-7 on MNIST, else 8 images
    spread over the first classes."""
    if dataset.name == "mnist":
        return list(PREVIEW)
    return [int(i) for i in show_images(dataset, 8)]
