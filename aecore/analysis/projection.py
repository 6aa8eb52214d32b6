"""Views of latent codes in 2-D or 3-D: raw axes, PCA (with explained variance), t-SNE and UMAP, seeded, with exact placement of new codes."""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from aecore.errors import AELabError

# on_layout(xy [n, dims], iterations done, iterations in all) -> True to stop early (keeping xy)
LayoutCallback = Callable[[np.ndarray, int, int], bool]
# on_stage(what, share of that stage done) before a layout starts (UMAP's neighbour search) -> True to stop there
StageCallback = Callable[[str, float], bool]
TSNE_ITERATIONS = (150, 350)  # early exaggeration, then the normal phase: with TSNE_THETA, the KL divergence
# scikit-learn reaches in 250 + 500 at theta 0.5, in half its time (bench/projection_speed.py)
TSNE_THETA = 0.8  # Barnes-Hut's accuracy/speed trade-off (0.5: openTSNE's and scikit-learn's default)

METHODS = ("raw", "pca", "tsne", "umap")
# auto: our exact t-SNE on a GPU where it is faster and as good (aecore.analysis.tsne_gpu.gpu_tsne_available), openTSNE
# on the CPU otherwise; "exact" runs ours on `device` whatever it is (also the CPU: the tests), "torchdr" TorchDR's
TSNE_BACKENDS = ("auto", "opentsne", "exact", "torchdr")
UMAP_BACKENDS = ("auto", "umap-learn", "torch")  # auto: ours in torch on a GPU (gpu_umap_available), else umap-learn
DIMS = (2, 3)  # a flat map or a cloud to rotate
# Most points each method is run on: the whole of MNIST (60,000 training + 10,000 test images).
MAX_POINTS = {"raw": 70000, "pca": 70000, "tsne": 70000, "umap": 70000}


class ProjectionError(AELabError):
    """An unknown method or invalid projection parameters."""


@dataclass
class Placer:
    """What puts new codes exactly where the method puts them: the raw axes, the PCA basis, the fitted t-SNE or UMAP."""

    method: str
    dims: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # pca: mean [k], components [dims, k]
    fitted: object | None = None  # t-SNE: openTSNE's TSNEEmbedding; UMAP: the fitted umap.UMAP

    def place(self, z: np.ndarray) -> np.ndarray:
        """Map positions [q, dims] of new codes [q, k] (t-SNE/UMAP optimise them against the fixed layout; seeded)."""
        z = np.asarray(z, np.float32).reshape(len(z), -1)
        if self.method == "raw":
            return _pad(z[:, : self.dims], self.dims)
        if self.method == "pca":
            return _pad((z - self.arrays["mean"]) @ self.arrays["components"].T, self.dims).astype(np.float32)
        if self.fitted is None:
            raise ProjectionError(f"this {self.method} layout was not kept, so new images cannot be placed on it")
        placed = np.asarray(self.fitted.transform(z), np.float32)  # openTSNE / umap-learn transform
        if self.method == "tsne":  # openTSNE re-centres its reference layout in place for transform: undo that shift
            placed += self.arrays["first"] - np.asarray(self.fitted[0], np.float32)
        return placed

    def to_bytes(self) -> bytes:
        """The placer as pickle bytes (the fitted t-SNE/UMAP objects have no other format); only for files we write."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> "Placer":
        placer = pickle.loads(data)  # noqa: S301 - written by our own workers into the engine's result folder
        if not isinstance(placer, Placer):
            raise ProjectionError("not a stored placer")
        return placer


@dataclass
class Projection:
    """Coordinates [n, dims] of codes, with what the method reports (e.g. explained variance) and how to place new codes."""

    xy: np.ndarray
    method: str
    info: dict = field(default_factory=dict)
    placer: Placer | None = None


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


def umap_epochs(n: int) -> int:
    """UMAP's own default number of layout epochs for n points (stated up front, so progress has a total)."""
    return 500 if n <= 10000 else 200


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
    dims: int = 2,
    keep: bool = False,
    device: str = "cpu",
    tsne_backend: str = "auto",
    umap_backend: str = "auto",
    on_stage: StageCallback | None = None,
) -> Projection:
    """Project codes [n, k] to [n, dims] (dims 2 or 3). raw: the first dims latent axes (missing ones are 0).

    t-SNE (openTSNE) and UMAP call `on_layout` with the layout so far: first the starting layout
    (iteration 0: t-SNE's and UMAP's PCA start), then every `every` iterations (UMAP:
    epochs), so a view can animate it as it converges; when the callback returns True the
    optimisation stops there and that layout is returned (info["stopped_at"] says after how many
    iterations). UMAP on the CPU also calls `on_stage` while it finds the neighbours, before its first
epoch (True stops there too). The same seed gives the same layout. With `keep`, the result's placer holds the
    fitted embedding, so new codes can be placed exactly where the method puts them.

    t-SNE runs on `device`'s GPU by our exact t-SNE (aecore.analysis.tsne_gpu) when `device` is "cuda" with room
    and GPU_TSNE_MIN <= n <= GPU_TSNE_MAX; otherwise with openTSNE on the CPU. `tsne_backend` "opentsne", "exact" or
    "torchdr" forces one (the last two then run on `device`, also the CPU). UMAP likewise runs ours in torch on a
    GPU (gpu_umap_available) and umap-learn otherwise; `umap_backend` "umap-learn" or "torch" forces one. Any
    failure of a GPU path makes the map on the CPU instead, with info["gpu_error"] saying why. info["backend"]
    names what made the layout.
    """
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ProjectionError("need a non-empty [n, k] array of codes")
    if method not in METHODS:
        raise ProjectionError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
    if dims not in DIMS:
        raise ProjectionError(f"a view has 2 or 3 dimensions, got {dims!r}")
    n, k = z.shape
    if n > MAX_POINTS[method]:
        raise ProjectionError(f"{method} is limited to {MAX_POINTS[method]} points, got {n}; sample fewer")
    if method == "raw":
        xy = _pad(z[:, :dims], dims)
        names = ", ".join(f"z{i + 1}" for i in range(min(k, dims)))
        note = f"latent axes {names}" if k <= dims else f"first {dims} of {k} latent axes"
        if k < dims:
            note += f" (the code has only {k}: the others are 0)"
        return Projection(xy, method, {"note": note}, Placer("raw", dims))
    if method == "pca":
        from sklearn.decomposition import PCA

        if n < min_points(method):
            raise ProjectionError("PCA needs at least 2 points")
        comps = min(dims, k, n)
        p = PCA(n_components=comps, random_state=seed).fit(z)
        xy = _pad(p.transform(z), dims)
        ev = [float(v) for v in p.explained_variance_ratio_] + [0.0] * (dims - comps)
        placer = Placer("pca", dims, {"mean": p.mean_.astype(np.float32), "components": p.components_.astype(np.float32)})
        return Projection(xy.astype(np.float32), method, {"explained_variance": ev}, placer)
    if method == "tsne":
        if not 2 <= perplexity <= 100:
            raise ProjectionError(f"perplexity must be between 2 and 100, got {perplexity}")
        need = min_points(method, perplexity=perplexity)
        if n < need:
            raise ProjectionError(f"t-SNE with perplexity {perplexity:g} needs more than {need - 1} points, got {n}")
        if tsne_backend not in TSNE_BACKENDS:
            raise ProjectionError(f"unknown t-SNE backend {tsne_backend!r}; choose one of {', '.join(TSNE_BACKENDS)}")
        return _tsne(z, perplexity, seed, on_layout, every, n_jobs, dims, keep, device, tsne_backend, on_stage)
    if not 2 <= n_neighbors <= 200:
        raise ProjectionError(f"n_neighbors must be between 2 and 200, got {n_neighbors}")
    if not 0.0 <= min_dist <= 1.0:
        raise ProjectionError(f"min_dist must be between 0 and 1, got {min_dist}")
    need = min_points(method, n_neighbors=n_neighbors)
    if n < need:
        raise ProjectionError(f"UMAP with n_neighbors={n_neighbors} needs more than {need - 1} points, got {n}")
    if umap_backend not in UMAP_BACKENDS:
        raise ProjectionError(f"unknown UMAP backend {umap_backend!r}; choose one of {', '.join(UMAP_BACKENDS)}")
    return _umap_any(z, int(n_neighbors), float(min_dist), seed, on_layout, max(1, every // 5), dims, keep, device,
                     umap_backend, on_stage)


def _pad(xy: np.ndarray, dims: int) -> np.ndarray:
    """Columns of zeros added up to dims (a code or a PCA with fewer numbers than the view has axes)."""
    xy = np.asarray(xy, np.float32)
    if xy.shape[1] < dims:
        xy = np.column_stack([xy, np.zeros((len(xy), dims - xy.shape[1]), np.float32)])
    return xy


def _tsne_guess(backend: str, device: str, n: int) -> str:
    """_tsne_impl's likely answer without touching the GPU (a first CUDA call can take a second: the first frame does
    not wait for it)."""
    from aecore.analysis import tsne_gpu

    if backend != "auto":
        return backend
    on_gpu = str(device).startswith("cuda") and tsne_gpu.GPU_TSNE_MIN <= n <= tsne_gpu.GPU_TSNE_MAX
    return "exact" if on_gpu else "opentsne"


def _tsne_impl(backend: str, device: str, n: int) -> str:
    """Which t-SNE makes a map of n points: "opentsne", "exact" (ours) or "torchdr"."""
    from aecore.analysis import tsne_gpu

    if backend != "auto":
        return backend
    if not tsne_gpu.gpu_tsne_available(device, n):
        return "opentsne"
    # ours wherever it applies (a CUDA device, at least GPU_TSNE_MIN points); TorchDR only where the GPU path was
    # asked for outside that (a forced availability on the CPU or for few points: how the tests run it)
    ours = str(device).startswith("cuda") and tsne_gpu._cuda_free(device) > 0 and n >= tsne_gpu.GPU_TSNE_MIN
    return "exact" if ours else "torchdr"


def _tsne(z: np.ndarray, perplexity: float, seed: int, on_layout: LayoutCallback | None, every: int,
          n_jobs: int, dims: int, keep: bool, device: str = "cpu", backend: str = "auto",
          on_stage: StageCallback | None = None) -> Projection:
    from openTSNE.initialization import pca as pca_start

    from aecore.analysis import tsne_gpu

    start = pca_start(z, dims, random_state=seed)  # [n, dims]: exactly openTSNE's initialization="pca"

    def iterations(impl: str) -> int:
        return sum({"exact": tsne_gpu.EXACT_TSNE_ITERATIONS, "torchdr": tsne_gpu.GPU_TSNE_ITERATIONS}.get(impl,
                                                                                                       TSNE_ITERATIONS))

    total = iterations(_tsne_guess(backend, device, len(z)))
    if on_layout is not None and on_layout(np.asarray(start, np.float32), 0, total):  # a first frame at once
        return Projection(np.asarray(start, np.float32), "tsne", {"perplexity": perplexity, "iterations": total,
                                                                  "stopped_at": 0})
    impl = _tsne_impl(backend, device, len(z))
    total = iterations(impl)
    if impl == "opentsne":
        return _tsne_cpu(z, start, perplexity, seed, on_layout, every, n_jobs, dims, keep, on_stage)
    failed = ""
    run = tsne_gpu.tsne_exact if impl == "exact" else tsne_gpu.tsne_torchdr
    try:
        xy, info = run(z, start, perplexity, seed, on_layout, every, device)
    except tsne_gpu.LayoutCallbackError as e:  # the caller's own failure (e.g. its store), not the GPU's
        raise e.__cause__ from None
    except Exception as e:  # out of GPU memory, NaNs, a broken install...: the CPU still makes the map
        if backend != "auto":
            raise
        failed = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if failed:  # outside the except: its traceback (and the GPU tensors its frames hold) is gone by now
        cpu = _tsne_cpu(z, start, perplexity, seed, on_layout, every, n_jobs, dims, keep, on_stage)
        cpu.info["gpu_error"] = failed
        return cpu
    neighbours = info.pop("neighbours", None)  # arrays: for the placer, not for the job's summary
    info = dict(info, perplexity=perplexity)
    if "stopped_at" in info:
        return Projection(xy, "tsne", info)
    if on_layout is not None:
        on_layout(xy, total, total)  # the final layout, exactly as returned
    placer = _tsne_placer(z, xy, perplexity, seed, n_jobs, dims, neighbours) if keep else None
    return Projection(xy, "tsne", info, placer)


def _tsne_placer(z: np.ndarray, xy: np.ndarray, perplexity: float, seed: int, n_jobs: int, dims: int,
                 neighbours: tuple | None = None) -> Placer:
    """openTSNE's embedding object around a layout made elsewhere (the GPU): its transform places new codes
    against that fixed layout exactly as it would against its own (neighbours' affinities, then optimisation).
    `neighbours`: each code's exact nearest neighbours (indices [n, k], distances [n, k]) when already known."""
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import PerplexityBasedNN

    if neighbours is not None:  # scikit-learn's index for new codes, without searching the known ones again
        from openTSNE.nearest_neighbors import Sklearn
        from sklearn.neighbors import NearestNeighbors

        data = np.asarray(z, np.float32)
        known = (np.asarray(neighbours[0]), np.asarray(neighbours[1], np.float64))
        index = Sklearn(data, known[0].shape[1], metric="euclidean", n_jobs=n_jobs)
        index.index = NearestNeighbors(metric="euclidean", n_jobs=n_jobs).fit(data)
        index.build = lambda: known  # what PerplexityBasedNN asks for once
        affinities = PerplexityBasedNN(perplexity=perplexity, knn_index=index, n_jobs=n_jobs)
        del index.build  # back to the class's own (the placer is pickled)
    else:
        affinities = PerplexityBasedNN(z, perplexity=perplexity, random_state=seed, n_jobs=n_jobs)
    embedding = TSNEEmbedding(np.asarray(xy, np.float64), affinities, random_state=seed, n_jobs=n_jobs,
                              negative_gradient_method="bh", theta=TSNE_THETA)
    return Placer("tsne", dims, {"first": np.asarray(xy[0], np.float32).copy()}, fitted=embedding)


def _tsne_cpu(z: np.ndarray, start: np.ndarray, perplexity: float, seed: int, on_layout: LayoutCallback | None,
              every: int, n_jobs: int, dims: int, keep: bool, on_stage: StageCallback | None = None) -> Projection:
    """openTSNE's Barnes-Hut t-SNE from `start` (the caller has shown it as the first frame), on the exact neighbours
    found here in chunks (each a report and a look at Stop: openTSNE's own search cannot be stopped)."""
    from openTSNE import TSNE, affinity

    total, state = sum(TSNE_ITERATIONS), {"done": 0, "stopped": False}

    def callback(iteration: int, error: float, embedding) -> bool:
        state["done"] += every  # openTSNE counts each phase from 1: count calls instead
        if state["done"] < total and on_layout(np.asarray(embedding, np.float32), state["done"], total):
            state["stopped"] = True
            return True
        return False

    info = {"perplexity": perplexity, "iterations": total, "backend": "openTSNE Barnes-Hut on the CPU"}
    k = min(len(z) - 1, int(3 * perplexity))  # openTSNE's own choice
    stage = on_stage or (lambda _what, _share: False)
    found = exact_neighbours(z, k + 1, lambda done, n: bool(stage("finding neighbours", done / n)))
    if found is None:
        return Projection(np.asarray(start, np.float32), "tsne", dict(info, stopped_at=0))
    index = ExactIndex(z, found[0][:, 1:], found[1][:, 1:])  # [n, k] each, without the point itself
    affinities = affinity.PerplexityBasedNN(perplexity=perplexity, knn_index=index, n_jobs=n_jobs, random_state=seed)
    early, normal = TSNE_ITERATIONS
    tsne = TSNE(n_components=dims, perplexity=perplexity, random_state=seed, n_jobs=n_jobs,
                # Barnes-Hut: on 2 cores openTSNE's FFT took 2x longer than it at 10,000 points, and has no 3-D
                negative_gradient_method="bh", theta=TSNE_THETA,
                early_exaggeration_iter=early, n_iter=normal, callbacks=callback if on_layout else None,
                callbacks_every_iters=max(1, int(every)), verbose=False)
    embedding = tsne.fit(affinities=affinities, initialization=start)
    xy = np.asarray(embedding, np.float32)  # [n, dims]
    if not state["stopped"]:
        info["kl_divergence"] = float(embedding.kl_divergence)  # how well the layout keeps the neighbourhoods
    if state["stopped"]:
        info["stopped_at"] = state["done"]
    elif on_layout is not None:
        on_layout(xy, total, total)  # the final layout, exactly as returned
    placer = None
    if keep and not state["stopped"]:
        embedding.gradient_descent_params.pop("callbacks", None)  # our closure: not needed to place, and not picklable
        placer = Placer("tsne", dims, {"first": xy[0].copy()}, fitted=embedding)  # first point: where the layout was
    return Projection(xy, "tsne", info, placer)


@contextlib.contextmanager
def _umap_epoch_hook(on_epoch: Callable[[np.ndarray, int, int], bool]):
    """Call on_epoch(layout, epoch, epochs) before each of UMAP's layout epochs; True ends the layout there.

    umap-learn has no callback: its epoch loop in umap.layouts runs over tqdm(range(n_epochs)), so
    that tqdm is swapped for a loop that reports, and optimize_layout_euclidean for one that
    remembers which array it optimises. Both are put back afterwards.
    """
    import umap.layouts as layouts
    import umap.umap_ as umap_

    optimise, tqdm = umap_.optimize_layout_euclidean, layouts.tqdm
    held: dict = {}

    def remembering(head_embedding, *args, **kwargs):
        held["xy"] = head_embedding
        return optimise(head_embedding, *args, **kwargs)

    def epochs(iterable, **_):
        total = len(iterable)
        for n in iterable:
            if "xy" in held and on_epoch(held["xy"], n, total):
                held["stopped_at"] = n
                return
            yield n

    umap_.optimize_layout_euclidean, layouts.tqdm = remembering, epochs
    try:
        yield held
    finally:
        umap_.optimize_layout_euclidean, layouts.tqdm = optimise, tqdm


def _umap_any(z: np.ndarray, n_neighbors: int, min_dist: float, seed: int, on_layout: LayoutCallback | None,
              every: int, dims: int, keep: bool, device: str, backend: str,
              on_stage: StageCallback | None = None) -> Projection:
    """UMAP by ours in torch (on a GPU, or where asked for) or umap-learn; a failing GPU run is made by umap-learn."""
    from aecore.analysis import tsne_gpu

    n = len(z)
    likely = backend == "torch" or (backend == "auto" and str(device).startswith("cuda")
                                    and tsne_gpu.GPU_UMAP_MIN <= n <= tsne_gpu.GPU_TSNE_MAX)
    if not likely:
        return _umap(z, n_neighbors, min_dist, seed, on_layout, every, dims, keep, on_stage)
    epochs = umap_epochs(n)
    start = tsne_gpu.umap_start(z, dims, seed)
    if on_layout is not None and on_layout(start.copy(), 0, epochs):  # a first frame at once, before any CUDA call
        return Projection(start, "umap", {"n_neighbors": n_neighbors, "min_dist": min_dist, "iterations": epochs,
                                          "stopped_at": 0})
    if backend == "auto" and not tsne_gpu.gpu_umap_available(device, n):  # no room on the GPU after all
        return _umap(z, n_neighbors, min_dist, seed, on_layout, every, dims, keep, on_stage)
    failed = ""
    try:
        xy, info, fitted = tsne_gpu.umap_torch(z, start, n_neighbors, min_dist, seed, on_layout, every, device, epochs)
    except tsne_gpu.LayoutCallbackError as e:
        raise e.__cause__ from None
    except Exception as e:  # out of GPU memory, a broken install...: umap-learn still makes the map
        if backend != "auto":
            raise
        failed = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if failed:
        cpu = _umap(z, n_neighbors, min_dist, seed, on_layout, every, dims, keep, on_stage)
        cpu.info["gpu_error"] = failed
        return cpu
    info = dict(info, n_neighbors=n_neighbors, min_dist=min_dist)
    if "stopped_at" in info:
        return Projection(xy, "umap", info)
    if on_layout is not None:
        on_layout(xy, epochs, epochs)
    return Projection(xy, "umap", info, Placer("umap", dims, fitted=fitted) if keep else None)


def _umap(z: np.ndarray, n_neighbors: int, min_dist: float, seed: int, on_layout: LayoutCallback | None,
          every: int, dims: int, keep: bool, on_stage: StageCallback | None = None) -> Projection:
    """umap-learn on the CPU, with a first picture at once and every stage stoppable.

    The PCA start (umap-learn's init="pca", tsne_gpu.umap_start) is drawn before umap-learn is even imported. The
    exact neighbours are found here, in chunks that report and can stop, and handed to umap-learn (precomputed_knn),
    which then lays the graph out from that same start: no NN-descent and no spectral start, the two stages that
    compiled numba code for ~25 s in a worker's first UMAP and could not be stopped. New codes are placed as
    umap-learn's transform starts them (tsne_gpu.KnnPlacer), as on the GPU."""
    import warnings

    from aecore.analysis import tsne_gpu

    epochs = umap_epochs(len(z))
    info = {"n_neighbors": n_neighbors, "min_dist": min_dist, "iterations": epochs, "backend": "umap-learn on the CPU"}
    start = tsne_gpu.umap_start(z, dims, seed)  # [n, dims]
    if on_layout is not None and on_layout(start.copy(), 0, epochs):  # the first picture, at once
        return Projection(start, "umap", dict(info, stopped_at=0))
    stage = on_stage or (lambda _name, _fraction: False)
    knn = exact_neighbours(z, n_neighbors, lambda done, n: bool(stage("finding neighbours", done / n)))
    if knn is None:
        return Projection(start, "umap", dict(info, stopped_at=0))
    if stage("building the neighbour graph", 1.0):
        return Projection(start, "umap", dict(info, stopped_at=0))
    import umap  # slow import (numba): only when asked for

    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)  # seeded: 1 thread
    warnings.filterwarnings("ignore", message=".*knn_search_index.*", category=UserWarning)  # KnnPlacer places
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_components=dims,
                        n_epochs=epochs, init=start, precomputed_knn=knn,
                        force_approximation_algorithm=True)  # (else under 4,096 points it computes all distances)

    def placer(xy: np.ndarray) -> Placer | None:
        return Placer("umap", dims, fitted=tsne_gpu.KnnPlacer(z, xy, n_neighbors)) if keep else None

    if on_layout is None:
        xy = np.asarray(reducer.fit_transform(z), np.float32)
        return Projection(xy, "umap", info, placer(xy))

    def on_epoch(xy, n: int, total: int) -> bool:  # (epoch 0 is the start, drawn already)
        return n > 0 and (n % every == 0) and bool(on_layout(np.array(xy, np.float32), n, total))

    with _umap_epoch_hook(on_epoch) as held:
        xy = np.asarray(reducer.fit_transform(z), np.float32)
    if "stopped_at" in held:
        info["stopped_at"] = held["stopped_at"]
        return Projection(xy, "umap", info)
    on_layout(xy, epochs, epochs)
    return Projection(xy, "umap", info, placer(xy))


class ExactIndex:
    """openTSNE's neighbour index (its KNNIndex interface) over codes whose neighbours were found here: `build` gives
    them, `query` finds the nearest codes of new ones exactly (openTSNE's transform, placing a drawn digit). Picklable:
    it is kept beside a finished map."""

    metric = "euclidean"

    def __init__(self, data: np.ndarray, indices: np.ndarray, distances: np.ndarray):
        self.data = np.asarray(data, np.float32)  # [n, d]
        self.indices, self.distances = indices, distances  # [n, k] each
        self.n_samples, self.k = indices.shape

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        return self.indices, self.distances

    def query(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        d = torch.cdist(torch.as_tensor(np.asarray(query, np.float32)), torch.as_tensor(self.data))  # [q, n]
        vals, ids = torch.topk(d, min(int(k), len(self.data)), dim=1, largest=False)
        return ids.numpy(), vals.numpy().astype(np.float64)


def exact_neighbours(z: np.ndarray, k: int, on_chunk: Callable[[int, int], bool] | None = None,
                     chunk: int = 2048) -> tuple[np.ndarray, np.ndarray] | None:
    """Each code's k nearest codes, itself first (as UMAP's neighbour graph has them): (indices [n, k] int64,
    distances [n, k] float32), exact, in chunks of queries; `on_chunk(done, n)` after each, True stops (None)."""
    import torch

    zt = torch.as_tensor(np.asarray(z, np.float32))  # [n, d]
    n = len(zt)
    idx = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    for lo in range(0, n, chunk):
        d = torch.cdist(zt[lo:lo + chunk], zt)  # [c, n]
        d[torch.arange(len(d)), torch.arange(lo, lo + len(d))] = 0.0  # exactly 0 to itself: it comes first
        vals, ids = torch.topk(d, k, dim=1, largest=False)  # [c, k], nearest first
        idx[lo:lo + len(d)], dist[lo:lo + len(d)] = ids.numpy(), vals.numpy()
        if on_chunk is not None and on_chunk(min(n, lo + chunk), n):
            return None
    return idx, dist


def nearest_neighbours(z: np.ndarray, query: np.ndarray, k: int = 8, exclude_self: bool = True) -> np.ndarray:
    """Indices [q, k] of the k nearest codes (Euclidean) to each query code [q, d]."""
    from sklearn.neighbors import NearestNeighbors

    k_eff = min(len(z), k + (1 if exclude_self else 0))
    nn = NearestNeighbors(n_neighbors=k_eff).fit(z)
    _, idx = nn.kneighbors(np.asarray(query, np.float32))
    return idx[:, 1 : k + 1] if exclude_self else idx[:, :k]


def min_points(method: str, perplexity: float = 30.0, n_neighbors: int = 15) -> int:
    """The fewest points a layout method takes: t-SNE more than 3 x perplexity, UMAP more than n_neighbors + 1, PCA 2
    (what `project` checks, for a page to say so before it asks)."""
    if method == "tsne":
        return int(perplexity * 3) + 1
    if method == "umap":
        return int(n_neighbors) + 2
    return 2 if method == "pca" else 1
