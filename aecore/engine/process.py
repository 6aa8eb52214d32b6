"""How a worker process is set up to run jobs: capped compute threads, a lower priority, data sets by name."""

from __future__ import annotations

import os

from aecore.settings import cap_thread_env


def limit_threads(threads: int) -> None:
    """Cap this process's compute threads: torch now, the others through the environment."""
    cap_thread_env(threads)
    import torch

    torch.set_num_threads(threads)
    try:  # numpy's BLAS (used by scikit-learn) is already loaded: limit it in place
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once parallel work started: keep it
        pass


def lower_priority(increment: int = 10) -> None:
    """Run below the web server, so pages stay quick while jobs compute."""
    try:
        os.nice(increment)
    except (OSError, AttributeError):
        pass


def load_dataset(name: str):
    """A data set by name (the loaders keep each one in memory once read, per file and version)."""
    from aecore.data.catalog import load_dataset

    return load_dataset(name)
