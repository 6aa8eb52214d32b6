"""How a worker process is set up to run jobs: capped compute threads, a lower priority, data sets by name."""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """Environment that caps BLAS, OpenMP and numba threads (read when those libraries load), and lets cuBLAS
    run deterministically where a GPU job asks for it (the GPU t-SNE)."""
    return dict({v: str(threads) for v in THREAD_VARS}, CUBLAS_WORKSPACE_CONFIG=":4096:8")


def limit_threads(threads: int) -> None:
    """Cap this process's compute threads: torch now, the others through the environment."""
    os.environ.update(thread_env(threads))
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
