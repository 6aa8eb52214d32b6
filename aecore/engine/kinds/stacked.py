"""Stacked autoencoder: a deep MLP trained end to end against the same MLP pretrained layer by layer first."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aecore.engine.kinds.base import KindError, Params, param, train_cost, train_seconds
from aecore.engine.kinds.results import ResultKind


@dataclass(frozen=True)
class StackedParams(Params):
    kind = "stacked"
    base: object = param(type="config", doc="the deep MLP's training configuration (without pretraining)")
    pretrain: int = param(1, type="int", lo=1, hi=100, doc="pretraining epochs per layer pair")

    def check(self) -> None:
        from aecore.models.registry import get_spec

        if not get_spec(self.base.model).stackable:
            raise KindError(f"stacked: layer-wise pretraining applies to the deep MLP models, not {self.base.model}")


class Stacked(ResultKind):
    name, title, Params = "stacked", "Stacked AE", StackedParams
    trains = True

    def dataset_name(self, p, store) -> str:
        return p.base.dataset

    def _configs(self, p):
        return (dataclasses.replace(p.base, pretrain_epochs=0), dataclasses.replace(p.base, pretrain_epochs=p.pretrain))

    def prepare(self, p, dataset):
        from aecore.training.trainer import check_config

        for c in self._configs(p):
            check_config(c, dataset)
        return p

    def cost(self, p, dataset) -> float:
        return sum(train_cost(c, dataset) for c in self._configs(p))

    def seconds(self, p, dataset) -> float:
        return train_seconds(self._configs(p), dataset)

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import stacked_vs_endtoend

        return stacked_vs_endtoend(dataclasses.replace(p.base, pretrain_epochs=0), p.pretrain, dataset, ctx.progress, ctx)
