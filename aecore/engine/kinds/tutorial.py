"""The conv-AE tutorial's comparison on any data set: base, BatchNorm, + dropout, upsampling decoder; each an
autoencoder, then its encoder fine-tuned with a classifier head."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind


@dataclass(frozen=True)
class TutorialParams(Params):
    kind = "tutorial"
    dataset: str = param(type="str")
    variants: tuple = param(("base", "bn", "bn-dropout", "upsample"), type="strs", max_items=4,
                            choices=("base", "bn", "bn-dropout", "upsample"))
    ae_epochs: int = param(5, type="int", lo=1, hi=500)
    clf_epochs: int = param(5, type="int", lo=1, hi=500)
    seed: int = param(0, type="int", lo=0, hi=2**31 - 1)
    limit: int | None = param(None, type="int", lo=2, hi=10**7, optional=True, doc="autoencoder training images")
    labels: int | None = param(None, type="int", lo=2, hi=10**7, optional=True, doc="labelled images for the heads")
    ae_batch: int = param(255, type="int", lo=2, hi=4096, doc="autoencoder batch (the tutorial's 255)")
    clf_batch: int = param(64, type="int", lo=2, hi=4096, doc="classifier batch (the tutorial's 64)")
    lr: float = param(1e-3, type="float", lo=1e-6, hi=1.0, doc="Adam's learning rate, both phases")


class Tutorial(ResultKind):
    name, title, Params = "tutorial", "The conv-AE tutorial's comparison", TutorialParams
    trains = True
    version = 2  # batches and learning rate became parameters

    def dataset_name(self, p, store) -> str:
        return p.dataset

    def prepare(self, p, dataset):
        from aecore.analysis.classify import ClassifyError
        from aecore.models.colour import tutorial_variant

        c, s, _ = dataset.image_shape
        try:
            for v in p.variants:
                tutorial_variant(v, c, s, dataset.n_classes)
        except ValueError as e:
            raise ClassifyError(str(e)) from None
        return p

    def cost(self, p, dataset) -> float:
        n = len(dataset.train)
        per_variant = min(p.limit or n, n) * p.ae_epochs + min(p.labels or n, n) * p.clf_epochs
        return float(len(p.variants) * per_variant)

    def seconds(self, p, dataset) -> float:
        from aecore.training.speed import tutorial_seconds_per_image

        return self.cost(p, dataset) * tutorial_seconds_per_image(dataset.image_shape[1])

    def compute(self, p, ctx, dataset):
        from aecore.analysis.classify import tutorial_experiment

        return tutorial_experiment(dataset, tuple(p.variants), ae_epochs=p.ae_epochs, clf_epochs=p.clf_epochs,
                                   ae_batch=p.ae_batch, clf_batch=p.clf_batch, lr=p.lr, seed=p.seed, limit=p.limit,
                                   labels=p.labels, on_progress=ctx.progress, stop=ctx)
