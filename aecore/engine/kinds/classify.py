"""A classifier head on any run's code, fine-tuned with its encoder: accuracy overall, per class, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class ClassifyParams(Params):
    kind = "classify"
    run: str = param(type="ref")
    epochs: int = param(5, type="int", lo=1, hi=200)
    labels: int | None = param(None, type="int", lo=10, hi=70_000, optional=True, doc="labelled images (None: all)")
    seed: int = param(0, type="int", lo=0, hi=2**31 - 1)
    freeze: bool = param(False, type="bool", doc="train the head alone, the encoder frozen")


class Classify(ResultKind):
    name, title, Params = "classify", "Fine-tuning a classifier", ClassifyParams
    trains = True

    def cost(self, p, dataset) -> float:
        return float(min(p.labels or len(dataset.train), len(dataset.train)) * p.epochs)

    def compute(self, p, ctx, dataset):
        import numpy as np

        from aecore.analysis.classify import classify_run
        from aecore.analysis.results import Result

        r = classify_run(load_run(ctx, p.run), dataset, epochs=p.epochs, labels=p.labels, seed=p.seed,
                         freeze_encoder=p.freeze, on_progress=ctx.progress, stop=ctx)
        row = {"train_acc": r["train_acc"], "test_acc": r["test_acc"], "chance": r["chance"], "labels": r["labels"],
               "seconds": r["seconds"]}
        return Result("classify", p.to_dict(), {"accuracy": [row], "per_class": r["per_class"], "history": r["history"]},
                      images={"confusion": np.asarray(r["confusion"], np.int64)},
                      summary={"test_acc": r["test_acc"], "chance": r["chance"]}, status=r["status"])
