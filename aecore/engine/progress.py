"""What a running job reports (one progress type for every kind) and the one line every screen shows for it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class JobProgress:
    """A job's latest progress report, as the store keeps it (a JSON object of these fields).

    Every kind sets `phase` and `fraction`; training sets the epoch fields, a layout that converges the
    iteration fields, an import (or any job that works through a list) `done` and `total`.
    """

    phase: str = ""  # "train", "pretrain layer 1/3", "k=8 · train", "t-SNE", "reading images", …
    fraction: float = 0.0  # share of the whole job done, 0..1
    epoch: int | None = None  # training: 1-based epoch of the phase, and how many it has
    epochs: int | None = None
    step: int | None = None  # training: 1-based step of the epoch, and how many it has
    steps: int | None = None
    loss: float | None = None  # training: mean loss since the epoch began
    images_per_s: float | None = None
    iteration: int | None = None  # a layout converging (t-SNE, UMAP)
    iterations: int | None = None
    done: int | None = None  # items of a list worked through (images read by an import, points, runs)
    total: int | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "JobProgress | None":
        """The progress of a stored report (unknown keys are ignored, so older reports still read)."""
        if not d:
            return None
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def share(self) -> float:
        """`fraction` clamped to 0..1 (a progress bar's value)."""
        f = self.fraction if isinstance(self.fraction, (int, float)) and math.isfinite(self.fraction) else 0.0
        return min(1.0, max(0.0, float(f)))

    def describe(self, detail: bool = True) -> str:
        """One line for a person: "train · epoch 2/5 · step 30/469 · loss 0.01234 · 11,200 images/s" (`detail`), or the
        short form for the sidebar and tables: "train · epoch 2/5 · 40%"."""
        parts = [self.phase] if self.phase else []
        if self.epoch is not None and self.epochs is not None:
            parts.append(f"epoch {self.epoch}/{self.epochs}")
            if detail and self.step is not None and self.steps is not None:
                parts.append(f"step {self.step}/{self.steps}")
            if detail and self.loss is not None and math.isfinite(self.loss):
                parts.append(f"loss {self.loss:.5f}")
            if detail and self.images_per_s:
                parts.append(f"{self.images_per_s:,.0f} images/s")
        elif self.iteration is not None and self.iterations is not None:
            parts.append(f"iteration {self.iteration}/{self.iterations}")
        elif self.done is not None and self.total is not None:
            parts.append(f"{self.done:,} of {self.total:,}")
        if not detail or len(parts) <= 1:
            parts.append(f"{self.share:.0%}")
        return " · ".join(parts)


def describe(progress: dict | None, detail: bool = True) -> str:
    """The line for a job's stored progress ("starting…" before its first report)."""
    p = JobProgress.from_dict(progress)
    return "starting…" if p is None else p.describe(detail)
