"""A run's codes of every test image and each image's reconstruction error (the pages' first need of a run)."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run

CHUNK = 2000  # test images per piece of work between two looks at Stop


@dataclass(frozen=True)
class CodesParams(Params):
    kind = "codes"
    run: str = param(type="ref")


class Codes(ResultKind):
    name, title, Params = "codes", "Encoding the test set", CodesParams
    lane = "view"

    def compute(self, p, ctx, dataset):
        import numpy as np

        from aecore.analysis.results import Result
        from aecore.models.evaluate import codes_and_errors

        model = load_run(ctx, p.run).model
        x = dataset.test.x
        parts = [codes_and_errors(model, x[i:i + CHUNK]) for i in ctx.items(range(0, len(x), CHUNK), "codes")]
        z = np.concatenate([a for a, _ in parts])  # [n_test, k]
        mse = np.concatenate([b for _, b in parts])  # [n_test]
        return Result("codes", p.to_dict(), images={"z": z, "mse": mse})
