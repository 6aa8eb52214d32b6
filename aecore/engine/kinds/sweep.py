"""The latent-size sweep: one model trained at several code sizes, beside PCA at each k."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aecore.engine.kinds.base import KindError, Params, param, train_cost, train_seconds
from aecore.engine.kinds.results import ResultKind


@dataclass(frozen=True)
class SweepParams(Params):
    kind = "sweep"
    base: object = param(type="config", doc="the training configuration; its latent size is swept")
    latents: tuple = param(type="ints", lo=1, hi=256, max_items=64, doc="the code sizes k to train")

    def check(self) -> None:
        from aecore.models.registry import get_spec

        if get_spec(self.base.model).latent is None:
            raise KindError(f"sweep: {self.base.model} has a fixed latent size; sweep a dense model or 'conv'")


class Sweep(ResultKind):
    name, title, Params = "sweep", "Latent size sweep", SweepParams
    trains = True

    def dataset_name(self, p, store) -> str:
        return p.base.dataset

    def prepare(self, p, dataset):
        from aecore.training.trainer import check_config

        for k in p.latents:
            check_config(dataclasses.replace(p.base, latent=k), dataset)
        return p

    def cost(self, p, dataset) -> float:
        return sum(train_cost(dataclasses.replace(p.base, latent=k), dataset) for k in p.latents)

    def seconds(self, p, dataset) -> float:
        return train_seconds([dataclasses.replace(p.base, latent=k) for k in p.latents], dataset)

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import latent_sweep

        return latent_sweep(p.base, list(p.latents), dataset, ctx.progress, ctx)
