"""The pretrained zoo: small runs committed under data/zoo so every page shows real results at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aecore.settings import current
from aecore.training.config import TrainConfig
from aecore.training.runs import Run, load_run


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    config: TrainConfig


# What scripts/build_zoo.py trains (seeded, so it rebuilds the same runs on the CPU). The conv runs use the
# recipe of bench/quality.py (AdamW with weight decay, a one-cycle schedule, bf16 mixed precision), every
# setting of which is on the Train page, so a student can train the same model again.
RECIPE = dict(batch_size=128, optimizer="adamw", lr=6e-3, schedule="onecycle", weight_decay=1e-4, precision="bf16")

ZOO: tuple[ZooEntry, ...] = (
    ZooEntry("conv-k16", "our conv AE, 16-dim code: the sharpest reconstructions",
             TrainConfig(model="conv", latent=16, epochs=20, **RECIPE)),
    ZooEntry("conv-k2", "our conv AE with a 2-D code: the latent plane itself",
             TrainConfig(model="conv", latent=2, epochs=20, **RECIPE)),
    ZooEntry("linear-k32", "the tutorial's linear AE, k=32 (close to PCA-32)",
             TrainConfig(model="linear", latent=32, epochs=20, batch_size=128, lr=1e-3)),
    ZooEntry("conv-tutorial", "the tutorial conv AE (latent 4x7x7), Adam 1e-3",
             TrainConfig(model="conv-tutorial", epochs=10, batch_size=64, lr=1e-3)),
    ZooEntry("conv-k16-denoise", "denoising conv AE, k=16, trained on 50% masking noise",
             TrainConfig(model="conv", latent=16, epochs=20, noise="masking:0.5", **RECIPE)),
    ZooEntry("conv-k16-only1", "conv AE k=16 trained on the digit 1 only (anomaly detection)",
             TrainConfig(model="conv", latent=16, epochs=30, digits=(1,), **RECIPE)),
)


def zoo_dir() -> Path:
    return current().zoo_dir


def zoo_names() -> list[str]:
    """Names of the zoo runs present on disk, in ZOO order."""
    d = zoo_dir()
    return [e.name for e in ZOO if (d / e.name / "meta.json").is_file()]


def zoo_entry(name: str) -> ZooEntry:
    for e in ZOO:
        if e.name == name:
            return e
    raise KeyError(f"no zoo run named {name!r}")


def load_zoo(name: str) -> Run:
    """Load one zoo run (RunError if it is missing or damaged)."""
    zoo_entry(name)
    run = load_run(zoo_dir() / name)
    run.name = name
    return run
