"""One digit only: reconstruction error as an anomaly score, ROC AUC overall and per other class."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class AnomalyParams(Params):
    kind = "anomaly"
    run: str = param(type="ref")
    normal: tuple = param(type="ints", lo=0, hi=999, max_items=1000, doc="the classes taken as normal")


class Anomaly(ResultKind):
    name, title, Params = "anomaly", "Scoring the test set", AnomalyParams
    lane = "view"

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import anomaly

        return anomaly(load_run(ctx, p.run), tuple(p.normal), dataset, stop=ctx)
