"""Denoising: error against the clean images at each noise level, for several runs and for the corrupted input."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import KindError, Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class NoiseCurveParams(Params):
    kind = "noise_curve"
    runs: dict = param(type="refs", max_items=8, doc="label -> run")
    noise: str = param(type="str", choices=("masking", "gaussian", "saltpepper"))
    levels: tuple = param(type="floats", lo=0.0, hi=2.0, max_items=32)
    n: int = param(500, type="int", lo=10, hi=10_000, doc="test images per level")

    def check(self) -> None:
        from aecore.data.noise import NOISE_LIMITS

        hi = NOISE_LIMITS.get(self.noise, (0, 1))[1]
        if any(v > hi for v in self.levels):
            raise KindError(f"noise_curve: {self.noise} levels go up to {hi:g}")


class NoiseCurve(ResultKind):
    name, title, Params = "noise_curve", "Scoring every noise level", NoiseCurveParams
    lane = "view"

    def compute(self, p, ctx, dataset):
        from aecore.analysis.experiments import noise_curve
        from aecore.analysis.results import Result

        runs = {label: load_run(ctx, ref) for label, ref in p.runs.items()}
        rows = noise_curve(runs, p.noise, list(p.levels), dataset, n=p.n, stop=ctx)
        return Result("noise_curve", p.to_dict(), tables={"curve": rows})
