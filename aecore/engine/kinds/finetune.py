"""Semi-supervised features: a classifier head on a run's code, trained frozen, then fine-tuned with the encoder."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class FinetuneParams(Params):
    kind = "finetune"
    run: str = param(type="ref", doc="the run whose encoder is fine-tuned")
    labels: int = param(1000, type="int", lo=10, hi=70_000, doc="labelled training images")
    epochs: int = param(5, type="int", lo=1, hi=200)


class Finetune(ResultKind):
    name, title, Params = "finetune", "Fine-tuning", FinetuneParams
    trains = True

    def prepare(self, p, dataset):
        from aecore.analysis.experiments import ExperimentError

        if p.labels > len(dataset.train):
            raise ExperimentError(f"labels must be between 10 and {len(dataset.train)}, got {p.labels}")
        return p

    def cost(self, p, dataset) -> float:
        return float(min(p.labels, len(dataset.train)) * p.epochs * 2)  # head alone, then head and encoder

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import finetune

        return finetune(load_run(ctx, p.run), p.labels, p.epochs, dataset, on_progress=ctx.progress, stop=ctx)
