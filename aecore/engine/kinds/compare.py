"""A/B: two (or more) training configurations side by side: loss curves, test errors, reconstructions."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import KindError, Params, param, train_cost, train_seconds
from aecore.engine.kinds.results import ResultKind


@dataclass(frozen=True)
class CompareParams(Params):
    kind = "compare"
    configs: dict = param(type="configs", max_items=8, doc="label -> training configuration")

    def check(self) -> None:
        if len(self.configs) < 2:
            raise KindError("compare: give at least two configurations")
        if len({c.dataset for c in self.configs.values()}) > 1:
            raise KindError("compare: every configuration must train on the same data set")


class Compare(ResultKind):
    name, title, Params = "compare", "A/B comparison", CompareParams
    trains = True

    def dataset_name(self, p, store) -> str:
        return next(iter(p.configs.values())).dataset

    def prepare(self, p, dataset):
        from aecore.training.trainer import check_config

        for c in p.configs.values():
            check_config(c, dataset)
        return p

    def cost(self, p, dataset) -> float:
        return sum(train_cost(c, dataset) for c in p.configs.values())

    def seconds(self, p, dataset) -> float:
        return train_seconds(p.configs.values(), dataset)

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import compare

        return compare(dict(p.configs), dataset, ctx.progress, ctx)
