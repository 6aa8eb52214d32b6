"""Job kinds: one module per kind behind this registry; everything that names kinds (lanes, budgets, titles) asks it."""

from __future__ import annotations

from .ae_vs_pca import AeVsPca
from .anomaly import Anomaly
from .base import JobKind, KindError, Outcome, Params, train_cost
from .classify import Classify
from .codes import Codes
from .compare import Compare
from .dataset import DatasetImport
from .finetune import Finetune
from .noise_curve import NoiseCurve
from .place import Place
from .probe import Probe
from .projection import Projection
from .stacked import Stacked
from .sweep import Sweep
from .train import Train
from .tutorial import Tutorial

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
