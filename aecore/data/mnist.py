"""The built-in sets: the bundled MNIST (checked against its checksums) and torchvision's Fashion-MNIST and KMNIST."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from aecore.data.dataset import EXTRA_DATASETS, DataError, Dataset, Split

# SHA-256 of each array's raw bytes (PRODUCT.md, "Data").
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)


def default_path() -> Path:
    """Where the bundled MNIST lives (the settings' `mnist`, AELAB_MNIST)."""
    from aecore.settings import current

    return current().mnist_path


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
        class_word="digit",
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
