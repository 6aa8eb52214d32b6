"""Shared fixtures: the bundled data set (loaded once) and tiny, fast training configs."""

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import tempfile

_tmp = tempfile.mkdtemp(prefix="aelab-tests-")
os.environ["AELAB_RUNS_DIR"] = os.path.join(_tmp, "runs")  # saved runs and results stay out of the repo
os.environ["AELAB_RESULTS_DIR"] = os.path.join(_tmp, "results")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def mnist():
    from aecore.data import load_mnist

    return load_mnist()


@pytest.fixture
def tiny():
    """A config that trains in well under a second on the CPU."""
    from aecore.config import TrainConfig

    def make(**kw):
        base = dict(model="dense", latent=8, epochs=2, limit=600, batch_size=50, lr=5e-3, seed=0, device="cpu", log_every=5)
        base.update(kw)
        return TrainConfig(**base)

    return make
