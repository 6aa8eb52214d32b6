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


AUTOGROUP = "/proc/self/autogroup"  # Linux: the CPU share of this process's session ("/autogroup-12 nice 0")


def lower_priority(increment: int = 10) -> None:
    """Run below the web server, so pages stay quick while jobs compute.

    A worker leads its own session (the pool starts it so, to outlive the server), and with the kernel's autogroups
    on (Debian's default: /proc/sys/kernel/sched_autogroup_enabled) each session shares the CPU equally with the
    others whatever its processes' nice values, which then only order the processes within it: a worker at nice 10
    still took as much CPU as the web server. So a session leader lowers its session's share too. Never another
    process's session: a worker that shares the server's (started by hand) lowers only itself."""
    try:
        os.nice(increment)
    except (OSError, AttributeError):
        pass
    if os.getsid(0) != os.getpid():
        return
    try:
        with open(AUTOGROUP, "w") as f:
            f.write(str(increment))
    except OSError:  # no autogroups here (another kernel, or not Linux): the nice value above is what counts
        pass


def load_dataset(name: str):
    """A data set by name (the loaders keep each one in memory once read, per file and version)."""
    from aecore.data.catalog import load_dataset

    return load_dataset(name)
