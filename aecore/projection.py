"""2-D views of latent codes: raw axes, PCA (with explained variance), t-SNE and UMAP, seeded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# on_layout(xy [n, 2], iterations done, iterations in all) -> True to stop early (keeping xy)
LayoutCallback = Callable[[np.ndarray, int, int], bool]
TSNE_ITERATIONS = (250, 500)  # early exaggeration, then the normal phase (openTSNE's defaults)

METHODS = ("raw", "pca", "tsne", "umap")
# Most points each method is run on (t-SNE and UMAP grow super-linearly; the app says when it caps).
MAX_POINTS = {"raw": 10000, "pca": 10000, "tsne": 10000, "umap": 10000}


class ProjectionError(ValueError):
    """An unknown method or invalid projection parameters."""


@dataclass
class Projection:
    """2-D coordinates [n, 2] of codes, with what the method reports (e.g. explained variance)."""

    xy: np.ndarray
    method: str
    info: dict = field(default_factory=dict)


def sample_indices(n_total: int, n: int, seed: int = 0, labels: np.ndarray | None = None, digits=None) -> np.ndarray:
    """Up to n sorted indices out of n_total (seeded), optionally only those whose label is in `digits`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ProjectionError(f"the number of points must be a whole number of at least 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ProjectionError(f"the seed must be a whole number from 0 to {2**32 - 1}, got {seed!r}")
    idx = np.arange(n_total)
    if digits is not None and labels is not None:
        idx = idx[np.isin(labels, np.asarray(list(digits)))]
    if n < len(idx):
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=n, replace=False))
    return idx


def project(
    z: np.ndarray,
    method: str = "pca",
    seed: int = 0,
    perplexity: float = 30.0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    on_layout: LayoutCallback | None = None,
    every: int = 25,
    n_jobs: int = 1,
) -> Projection:
    """Project codes [n, k] to [n, 2]. raw: the first two latent axes (k=1: y=0).

    t-SNE (openTSNE) calls `on_layout` with the layout every `every` iterations, so a view can
    animate it as it converges; when the callback returns True the optimisation stops there and
    that layout is returned (info["stopped_at"] says after how many iterations). The same seed
    gives the same layout.
    """
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ProjectionError("need a non-empty [n, k] array of codes")
    if method not in METHODS:
        raise ProjectionError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
    n, k = z.shape
    if n > MAX_POINTS[method]:
        raise ProjectionError(f"{method} is limited to {MAX_POINTS[method]} points, got {n}; sample fewer")
    if method == "raw":
        xy = z[:, :2] if k >= 2 else np.column_stack([z[:, 0], np.zeros(n, np.float32)])
        note = "latent axes z1, z2" if k == 2 else ("z1 only (k=1)" if k == 1 else f"first 2 of {k} latent axes")
        return Projection(xy, method, {"note": note})
    if method == "pca":
        from sklearn.decomposition import PCA

        if n < 2:
            raise ProjectionError("PCA needs at least 2 points")
        comps = min(2, k, n)
        p = PCA(n_components=comps, random_state=seed).fit(z)
        xy = p.transform(z)
        if comps < 2:
            xy = np.column_stack([xy[:, 0], np.zeros(n)])
        ev = [float(v) for v in p.explained_variance_ratio_] + [0.0] * (2 - comps)
        return Projection(xy.astype(np.float32), method, {"explained_variance": ev})
    if method == "tsne":
        if not 2 <= perplexity <= 100:
            raise ProjectionError(f"perplexity must be between 2 and 100, got {perplexity}")
        if n <= perplexity * 3:
            raise ProjectionError(f"t-SNE with perplexity {perplexity:g} needs more than {int(perplexity * 3)} points, got {n}")
        return _tsne(z, perplexity, seed, on_layout, every, n_jobs)
    # umap
    if not 2 <= n_neighbors <= 200:
        raise ProjectionError(f"n_neighbors must be between 2 and 200, got {n_neighbors}")
    if not 0.0 <= min_dist <= 1.0:
        raise ProjectionError(f"min_dist must be between 0 and 1, got {min_dist}")
    if n <= n_neighbors + 1:
        raise ProjectionError(f"UMAP with n_neighbors={n_neighbors} needs more than {n_neighbors + 1} points, got {n}")
    import umap  # slow import (numba): only when asked for

    reducer = umap.UMAP(n_neighbors=int(n_neighbors), min_dist=float(min_dist), random_state=seed, n_components=2)
    xy = reducer.fit_transform(z)
    return Projection(np.asarray(xy, np.float32), method, {"n_neighbors": n_neighbors, "min_dist": min_dist})


def _tsne(z: np.ndarray, perplexity: float, seed: int, on_layout: LayoutCallback | None, every: int,
          n_jobs: int) -> Projection:
    from openTSNE import TSNE

    total, state = sum(TSNE_ITERATIONS), {"done": 0, "stopped": False}

    def callback(iteration: int, error: float, embedding) -> bool:
        state["done"] += every  # openTSNE counts each phase from 1: count calls instead
        if state["done"] < total and on_layout(np.asarray(embedding, np.float32), state["done"], total):
            state["stopped"] = True
            return True
        return False

    early, normal = TSNE_ITERATIONS
    tsne = TSNE(n_components=2, perplexity=perplexity, random_state=seed, initialization="pca", n_jobs=n_jobs,
                early_exaggeration_iter=early, n_iter=normal, callbacks=callback if on_layout else None,
                callbacks_every_iters=max(1, int(every)), verbose=False)
    xy = np.asarray(tsne.fit(z), np.float32)  # [n, 2]
    info = {"perplexity": perplexity, "iterations": total}
    if state["stopped"]:
        info["stopped_at"] = state["done"]
    elif on_layout is not None:
        on_layout(xy, total, total)  # the final layout, exactly as returned
    return Projection(xy, "tsne", info)


def nearest_neighbours(z: np.ndarray, query: np.ndarray, k: int = 8, exclude_self: bool = True) -> np.ndarray:
    """Indices [q, k] of the k nearest codes (Euclidean) to each query code [q, d]."""
    from sklearn.neighbors import NearestNeighbors

    k_eff = min(len(z), k + (1 if exclude_self else 0))
    nn = NearestNeighbors(n_neighbors=k_eff).fit(z)
    _, idx = nn.kneighbors(np.asarray(query, np.float32))
    return idx[:, 1 : k + 1] if exclude_self else idx[:, :k]
