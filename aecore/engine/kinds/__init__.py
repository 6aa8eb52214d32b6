"""Job kinds: one module per kind behind this registry; everything that names kinds (lanes, budgets, titles) asks it."""

from __future__ import annotations

from aecore.engine.kinds.ae_vs_pca import AeVsPca
from aecore.engine.kinds.anomaly import Anomaly
from aecore.engine.kinds.base import JobKind, KindError, Outcome, Params, train_cost
from aecore.engine.kinds.classify import Classify
from aecore.engine.kinds.codes import Codes
from aecore.engine.kinds.compare import Compare
from aecore.engine.kinds.dataset import DatasetImport
from aecore.engine.kinds.finetune import Finetune
from aecore.engine.kinds.noise_curve import NoiseCurve
from aecore.engine.kinds.place import Place
from aecore.engine.kinds.probe import Probe
from aecore.engine.kinds.projection import Projection
from aecore.engine.kinds.stacked import Stacked
from aecore.engine.kinds.sweep import Sweep
from aecore.engine.kinds.train import Train
from aecore.engine.kinds.tutorial import Tutorial

REGISTRY: dict[str, JobKind] = {k.name: k for k in (
    Train(), Sweep(), Compare(), Stacked(), Finetune(), Classify(), Tutorial(), Probe(), Anomaly(), AeVsPca(), Codes(),
    Projection(), Place(), NoiseCurve(), DatasetImport(),
)}
KINDS = tuple(REGISTRY)
VIEW_KINDS = tuple(n for n, k in REGISTRY.items() if k.lane == "view")  # short jobs a page waits for: served first
TRAINING_KINDS = tuple(n for n, k in REGISTRY.items() if k.trains)  # the per-job image budget applies
TITLES = {n: k.title for n, k in REGISTRY.items()}


def get(name: str) -> JobKind:
    """The kind named `name` (KindError names the kinds there are)."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise KindError(f"unknown job kind {str(name)[:40]!r}; one of {', '.join(KINDS)}") from None


__all__ = ["JobKind", "KindError", "Outcome", "Params", "REGISTRY", "KINDS", "VIEW_KINDS", "TRAINING_KINDS", "TITLES",
           "get", "train_cost"]
