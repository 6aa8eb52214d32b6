"""A worker process: claims the next job from the store, runs it at a lower CPU priority, reports, repeats."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from functools import lru_cache
from typing import Callable

from .kinds import Context, Outcome, run_job
from .settings import EngineSettings
from .store import INTERRUPTED, VIEW_KINDS, Job, Store

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


@lru_cache(maxsize=2)
def _dataset(name: str):
    from ..data import load_dataset

    return load_dataset(name)


class Worker:
    """Runs jobs from the store one at a time until told to stop (or, with `once`, until the queue is empty)."""

    def __init__(self, store: Store, settings: EngineSettings, worker_id: str | None = None,
                 execute: Callable[[Store, Job, Context], Outcome] | None = None, lane: str = "all"):
        self.store, self.settings = store, settings
        self.kinds = VIEW_KINDS if lane == "view" else None  # a view-lane worker only takes short view jobs
        self.id = worker_id or f"w{'v' if lane == 'view' else ''}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.execute = execute or (lambda store, job, ctx: run_job(store, job, ctx, _dataset))
        self.current: Job | None = None
        self._quit = threading.Event()
        self._quitting = False  # set by the first quit request (a signal handler)

    def request_quit(self, *_):
        if self._quitting:  # a second SIGTERM while the first is being handled: Event.set is not re-entrant
            return
        self._quitting = True
        self._quit.set()
        raise SystemExit(0)

    def _beat(self) -> None:
        while not self._quit.wait(2.0):
            try:
                self.store.worker_heartbeat(self.id)
                if self.current is not None:
                    self.store.report(self.current.id)  # heartbeat even during a long step or evaluation
            except Exception:  # the store is busy or gone for a moment: try again next beat
                pass

    def run(self, once: bool = False, idle_exit_s: float | None = None, poll_s: float = 0.5) -> int:
        """Work until quit; returns how many jobs it ran."""
        self.store.register_worker(self.id, os.getpid())
        beat = threading.Thread(target=self._beat, name="aelab-heartbeat", daemon=True)
        beat.start()
        ran, idle_since = 0, time.time()
        try:
            while not self._quit.is_set():
                self.store.interrupt_stale(self.settings.stale_s)
                job = self.store.claim(self.id, self.kinds)
                if job is None:
                    if once or (idle_exit_s and time.time() - idle_since > idle_exit_s):
                        break
                    time.sleep(poll_s)
                    continue
                self.current = job
                ctx = Context(self.store, job, time_limit_s=self.settings.time_limit_s)
                out = self.execute(self.store, job, ctx)
                self.store.finish(job.id, out.status, out.error, out.run_id, out.result_key)
                self.current = None
                ran += 1
                idle_since = time.time()
        finally:
            if self.current is not None:  # shut down mid-job: leave it resumable
                self.store.finish(self.current.id, INTERRUPTED,
                                  "interrupted: its worker was shut down; resume to continue from the last finished epoch")
            self._quit.set()
            self.store.unregister_worker(self.id)
        return ran


def main(home: str | None = None, once: bool = False, idle_exit_s: float | None = None, lane: str = "all") -> int:
    """Entry point of `python -m aecore worker`: lower priority, capped threads, then work."""
    settings = EngineSettings.from_env()
    if home:
        settings.home = home
    lower_priority()
    limit_threads(1 if lane == "view" else settings.resolved_threads())
    store = Store(settings.home)
    worker = Worker(store, settings, lane=lane)
    signal.signal(signal.SIGTERM, worker.request_quit)
    if settings.executor == "ray":
        from .ray_executor import ray_execute

        worker.execute = ray_execute(settings)
    return worker.run(once=once, idle_exit_s=idle_exit_s)
