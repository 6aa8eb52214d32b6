"""A latent map: the codes of the chosen images laid out in 2-D or 3-D (raw, PCA, t-SNE, UMAP), streamed as it
converges, each point with its error, probe prediction and whether the run trained on it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run

METHODS = ("raw", "pca", "tsne", "umap")
POINT_COST = {"raw": 0.5, "pca": 1, "tsne": 12, "umap": 10}  # images-equivalent per point: t-SNE of 10,000 ~40 s


@dataclass(frozen=True)
class ProjectionParams(Params):
    kind = "projection"
    run: str = param(type="ref")
    method: str = param(type="str", choices=METHODS)
    n: int = param(2000, type="int", lo=1, hi=70_000, doc="points (a seeded sample of the digits shown)")
    seed: int = param(0, type="int", lo=0, hi=2**31 - 1)
    digits: tuple | None = param(None, type="ints", lo=0, hi=999, max_items=1000, optional=True)
    perplexity: float = param(30.0, type="float", lo=2.0, hi=100.0)
    n_neighbors: int = param(15, type="int", lo=2, hi=200)
    min_dist: float = param(0.1, type="float", lo=0.0, hi=1.0)
    dims: int = param(2, type="int", choices=(2, 3))
    source: str = param("test", type="str", choices=("test", "all"), doc="the test images, or all 70,000")
    indices: tuple | None = param(None, type="ints", lo=0, hi=10**6, max_items=70_000, optional=True,
                                  doc="exactly these points (an isolated selection)")


class Projection(ResultKind):
    name, title, Params = "projection", "Projecting the codes", ProjectionParams
    lane = "view"
    stopped_text = "the layout so far is kept"

    def cost(self, p, dataset) -> float:
        return POINT_COST[p.method] * float(len(p.indices) if p.indices else p.n)

    def compute(self, p, ctx, dataset):
        return _projection(p, ctx, dataset)


def _stored_codes(ctx, ref: str) -> dict | None:
    """The run's test-set codes and errors if a codes job stored them already ({"z": [n_test, k], "mse": [n_test]})."""
    from aecore.analysis.results import ResultStore
    from aecore.engine.kinds.codes import Codes
    from aecore.engine.refs import result_key

    codes = Codes()
    res = ResultStore(ctx.store.results_dir).get_key(result_key(ctx.store, codes, codes.parse({"run": ref})))
    return None if res is None else res.images


def _projection(p: ProjectionParams, ctx, dataset):
    import numpy as np
    import torch

    from aecore.analysis.latent import layout_points, pool_images, pool_labels, probe_predictions, training_mask
    from aecore.analysis.projection import project
    from aecore.analysis.results import Result
    from aecore.engine.progress import JobProgress
    from aecore.models.evaluate import codes_and_errors
    from aecore.training.device import resolve_device

    store = ctx.store
    run = load_run(ctx, p.run)
    labels = pool_labels(dataset, p.source)
    idx = layout_points(p.to_dict(), labels)  # [n] point numbers: test images first, then training images
    stored = _stored_codes(ctx, p.run) if idx.max(initial=-1) < len(dataset.test) else None
    if stored is not None:  # the page asked for the run's codes first: the first picture needs no encoding
        z, mse = stored["z"][idx], stored["mse"][idx]  # [n, k], [n]
    else:
        chunks = [idx[i:i + 2000] for i in range(0, len(idx), 2000)]
        parts = [codes_and_errors(run.model, pool_images(dataset, c)) for c in ctx.items(chunks, "codes")]
        z = np.concatenate([a for a, _ in parts])  # [n, k]
        mse = np.concatenate([b for _, b in parts])  # [n]
    name = {"tsne": "t-SNE", "umap": "UMAP"}.get(p.method, p.method)
    last = [0.0]

    def on_layout(xy, done: int, total: int) -> bool:  # every few iterations: the layout so far, and stop?
        stop = ctx.is_set()
        if stop or done == 0 or done >= total or time.time() - last[0] >= 0.5:
            last[0] = time.time()
            ctx.report(JobProgress(phase=name, fraction=done / total, iteration=done, iterations=total), force=True,
                       layout=xy)
            stop = ctx.is_set()
        return stop

    def on_stage(what: str, share: float) -> bool:  # before the layout (UMAP's neighbour search): say so, and stop?
        stop = ctx.is_set()
        if not stop and (share >= 1.0 or time.time() - last[0] >= 0.5):
            last[0] = time.time()
            ctx.report(JobProgress(phase=f"{name}: {what}", fraction=0.0), force=True)
        return stop

    ctx.check()
    pr = project(z, p.method, seed=p.seed, perplexity=p.perplexity, n_neighbors=p.n_neighbors, min_dist=p.min_dist,
                 on_layout=on_layout, n_jobs=torch.get_num_threads(), dims=p.dims, keep=True,
                 device=resolve_device("auto").type,  # t-SNE on a GPU where there is one
                 every=10, on_stage=on_stage)  # every 10 iterations a look at Stop: well within a second
    status = "stopped" if "stopped_at" in pr.info else "done"
    n_test = len(dataset.test)
    trained = np.zeros(len(idx), np.uint8)
    from_train = idx >= n_test
    trained[from_train] = training_mask(run.config, dataset)[idx[from_train] - n_test]
    images = {"idx": idx, "xy": pr.xy, "mse": mse, "pred": probe_predictions(run.model, dataset, z), "trained": trained}
    if pr.placer is not None and p.method in ("raw", "pca"):
        images.update({f"placer_{k}": v for k, v in pr.placer.arrays.items()})
    elif pr.placer is not None and status == "done":  # t-SNE / UMAP: the fitted embedding itself, beside the result
        path = store.results_dir / f"{ctx.job.result_key}.placer.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(pr.placer.to_bytes())
        os.replace(tmp, path)
    summary = dict(pr.info, source=p.source, pool=int(np.isin(labels, p.digits or range(10)).sum()))
    return Result("projection", p.to_dict(), images=images, summary=summary, status=status)
