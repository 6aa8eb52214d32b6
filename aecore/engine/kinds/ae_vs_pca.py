"""An autoencoder against PCA with the same number of components: test errors, reconstructions, 2-D codes."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class AeVsPcaParams(Params):
    kind = "ae_vs_pca"
    run: str = param(type="ref")
    n_points: int = param(2000, type="int", lo=10, hi=10_000, doc="test images on the two code maps")


class AeVsPca(ResultKind):
    name, title, Params = "ae_vs_pca", "Comparing with PCA", AeVsPcaParams
    lane = "view"

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import ae_vs_pca

        return ae_vs_pca(load_run(ctx, p.run), dataset, n_points=p.n_points, stop=ctx)
