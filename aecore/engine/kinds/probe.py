"""How much a code says about the class: logistic regression and 5-NN on codes vs PCA vs pixels."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class ProbeParams(Params):
    kind = "probe"
    run: str = param(type="ref")
    labels: int = param(1000, type="int", lo=10, hi=70_000, doc="labelled training images the probes fit on")


class Probe(ResultKind):
    name, title, Params = "probe", "Fitting the classifiers", ProbeParams
    lane = "view"

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import probe

        return probe(load_run(ctx, p.run), p.labels, dataset, stop=ctx)
