"""A data set in memory: a train and a test split of uint8 images with class labels; subsets, and images as tensors."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from aecore.errors import AELabError

DIGITS = tuple(range(10))


IMAGE_SHAPE = (1, 28, 28)


N_PIXELS = 784


# Data sets offered next to the bundled MNIST; they need torchvision and a download.
EXTRA_DATASETS = {"fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


BUNDLED = "mnist"  # the data set that ships with the repository (data/mnist.npz): every default trains on it
DATASETS = (BUNDLED,) + tuple(EXTRA_DATASETS)


# Colour data sets torchvision downloads; they are resized and kept in the data home (aecore.data.imported).
COLOUR_DATASETS = ("cifar10", "flowers102")


class DataError(AELabError):
    """The data set is missing, altered, or cannot be fetched."""


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
    classes: tuple[str, ...] = ()  # class names by label; () = the labels as text ("0".."9")
    class_word: str = "class"  # what one class is called on screen: "digit" for MNIST (its loader says so)

    def split(self, which: str) -> Split:
        if which not in ("train", "test"):
            raise DataError(f"unknown split {which!r}; use 'train' or 'test'")
        return self.train if which == "train" else self.test

    @cached_property  # read per option of a class picker on every page run: the labels' max is taken once
    def class_names(self) -> tuple[str, ...]:
        """One name per label: the given names, else the labels as text ("0".."9" for MNIST)."""
        if self.classes:
            return tuple(self.classes)
        n = max(10, int(max(self.train.y.max(initial=0), self.test.y.max(initial=0))) + 1)
        return tuple(str(i) for i in range(n))

    @property
    def class_words(self) -> str:
        """The plural of `class_word`: "digits", "classes"."""
        return self.class_word + ("es" if self.class_word.endswith("s") else "s")

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


def _subset_size(matching: int, digits: tuple[int, ...] | None, limit: int | None) -> int:
    """How many of the `matching` images (those with the asked digits) a subset keeps; DataError when none can be."""
    if digits is not None and matching == 0:
        raise DataError(f"no images with digits {list(digits)}")
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit must be at least 1, got {limit}")
        return min(matching, limit)
    return matching


def subset_size(y: np.ndarray, digits: tuple[int, ...] | None = None, limit: int | None = None) -> int:
    """How many indices subset_indices(y, digits, limit, seed) gives, for any seed, without drawing them."""
    matching = len(y) if digits is None else int(np.isin(y, np.asarray(digits)).sum())
    return _subset_size(matching, digits, limit)


def subset_indices(
    y: np.ndarray,
    digits: tuple[int, ...] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Indices of the images with the given digits, at most `limit` of them (seeded sample)."""
    idx = np.arange(len(y)) if digits is None else np.flatnonzero(np.isin(y, np.asarray(digits)))
    n = _subset_size(len(idx), digits, limit)
    if n < len(idx):
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    return idx


def validation_size(n: int, val_fraction: float) -> int:
    """How many of n images train_val_indices holds out for validation (at least 1 unless the share is 0)."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"validation fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0.0:
        return 0
    n_val = max(1, int(round(n * val_fraction)))
    if n_val >= n:
        raise DataError(f"{n} images are too few to hold out a validation part")
    return n_val


def train_size(y: np.ndarray, digits: tuple[int, ...] | None, limit: int | None, val_fraction: float) -> int:
    """How many images train after subset_indices and train_val_indices (any seed), without drawing them."""
    n = subset_size(y, digits, limit)
    return n - validation_size(n, val_fraction)


def train_val_indices(idx: np.ndarray, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into train and validation parts (seeded, validation at least 1 image)."""
    n_val = validation_size(len(idx), val_fraction)
    if n_val == 0:
        return idx, idx[:0]
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(len(idx))
    return np.sort(idx[perm[n_val:]]), np.sort(idx[perm[:n_val]])


def readonly_tensor(x: np.ndarray) -> torch.Tensor:
    """A tensor sharing memory with a (possibly read-only) numpy array; callers never write to it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(x))


def as_nchw(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images [N, H, W] or [N, H, W, C] -> a tensor view [N, C, H, W] (no copy; colour ones channels-last)."""
    t = x if torch.is_tensor(x) else readonly_tensor(x)
    if t.dim() == 3:
        return t.unsqueeze(1)  # [N, 1, H, W]
    if t.dim() == 4:
        return t.permute(0, 3, 1, 2)  # [N, C, H, W], strides of channels-last
    raise DataError(f"images must be [N, H, W] or [N, H, W, C], got shape {tuple(t.shape)}")


_device_cache: dict[tuple[int, str], torch.Tensor] = {}
_device_lock = threading.Lock()


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


def show_images(dataset: Dataset, n: int = 8, seed: int = 0, repeat: bool = False) -> np.ndarray:
    """Indices of n test images, one per class taking the classes in turn (stable); at most as many as the test
    set has, unless `repeat` (then a small test set shows some images twice)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(dataset.test.y, np.int64)
    classes = np.unique(y)
    count = n if repeat else min(n, len(y))
    return np.array([rng.choice(np.flatnonzero(y == classes[i % len(classes)])) for i in range(count)])


def preview_indices(dataset: Dataset, n: int = 8) -> list[int]:
    """The test images a training job reconstructs live and a kept run shows: the first test image of each class in
    class order (on MNIST the digits 0-7), then each class's second, and so on; at most the test set's size."""
    y = np.asarray(dataset.test.y, np.int64)
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    out: list[int] = []
    for rank in range(max((len(ix) for ix in by_class), default=0)):
        out += [int(ix[rank]) for ix in by_class if rank < len(ix)]
        if len(out) >= n:
            break
    return out[:n]
