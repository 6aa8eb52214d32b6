"""The PCA baseline: fitted once on the training images, reconstruction error and codes at any k."""

from __future__ import annotations

import functools

import numpy as np
from sklearn.decomposition import PCA

from aecore.data.dataset import Dataset
from aecore.data.mnist import load_mnist
from aecore.models.evaluate import mse

MAX_COMPONENTS = 256


class _Key:
    """Hashable wrapper so lru_cache keys on the (read-only) array's identity."""

    def __init__(self, a):
        self.a = a

    def __hash__(self):
        return id(self.a)

    def __eq__(self, other):
        return self.a is other.a


@functools.lru_cache(maxsize=4)
def _fit_key(key: _Key) -> PCA:
    flat = key.a.reshape(len(key.a), -1).astype(np.float32) / 255.0  # [N, 784] (N x H*W*C for colour)
    n = min(MAX_COMPONENTS, *flat.shape)  # a small imported set has fewer images than components
    return PCA(n_components=n, svd_solver="covariance_eigh" if n == MAX_COMPONENTS else "full").fit(flat)


def fitted_pca(dataset: Dataset | None = None) -> PCA:
    """PCA with the top 256 components of the training images (pixels in [0,1]; fewer when a small data set has
    fewer images); fitted once per process."""
    dataset = dataset or load_mnist()
    return _fit_key(_Key(dataset.train.x))


def _check_k(k: int) -> int:
    k = int(k)
    if not 1 <= k <= MAX_COMPONENTS:
        raise ValueError(f"PCA size must be between 1 and {MAX_COMPONENTS}, got {k}")
    return k


def pca_codes(x: np.ndarray, k: int, dataset: Dataset | None = None) -> np.ndarray:
    """The first k PCA coordinates of uint8 images [N,28,28] -> [N, k]."""
    k = _check_k(k)
    p = fitted_pca(dataset)
    flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
    return (flat - p.mean_) @ p.components_[:k].T


def pca_reconstruct(x: np.ndarray, k: int, dataset: Dataset | None = None) -> np.ndarray:
    """Reconstruction of uint8 images [N,28,28] ([N,H,W,C]) from k PCA components -> float, same shape, in [0,1]."""
    p = fitted_pca(dataset)
    z = pca_codes(x, k, dataset)  # [N, k]
    rec = z @ p.components_[:k] + p.mean_  # [N, 784]
    return np.clip(rec, 0.0, 1.0).reshape(x.shape)


def pca_mse(x: np.ndarray, k: int, dataset: Dataset | None = None, clip: bool = False) -> float:
    """Per-pixel MSE of the rank-k PCA reconstruction (unclipped by default: the textbook figure)."""
    p = fitted_pca(dataset)
    flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
    z = (flat - p.mean_) @ p.components_[:k].T
    rec = z @ p.components_[:k] + p.mean_
    if clip:
        rec = np.clip(rec, 0.0, 1.0)
    return mse(rec, flat)


def explained_variance(k: int, dataset: Dataset | None = None) -> float:
    """Share of pixel variance the first k components explain."""
    return float(fitted_pca(dataset).explained_variance_ratio_[: _check_k(k)].sum())
