"""A bounded job runner shared by every session: a queue, a few worker threads, per-owner stop and reaping."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

QUEUED, RUNNING, DONE, STOPPED, FAILED, DIVERGED = "queued", "running", "done", "stopped", "failed", "diverged"
FINISHED = (DONE, STOPPED, FAILED, DIVERGED)


class JobError(RuntimeError):
    """A job cannot be submitted (queue full, too many per session) or is not the caller's."""


@dataclass
class RunnerSettings:
    """Limits of the shared runner; each can be set by an environment variable."""

    workers: int = 0  # jobs running at once; 0 = 1 on a GPU, else half the CPU cores (AELAB_WORKERS)
    max_queue: int = 64  # queued jobs over all sessions (AELAB_MAX_QUEUE)
    per_owner: int = 2  # unfinished jobs one session may have (AELAB_JOBS_PER_SESSION)
    abandon_after_s: float = 120.0  # stop a session's jobs when it has not polled for this long (AELAB_ABANDON_S)
    keep_finished: int = 10  # finished jobs remembered per session (AELAB_KEEP_FINISHED)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "RunnerSettings":
        env = os.environ if env is None else env
        s = cls()
        for name, key, cast in [
            ("workers", "AELAB_WORKERS", int),
            ("max_queue", "AELAB_MAX_QUEUE", int),
            ("per_owner", "AELAB_JOBS_PER_SESSION", int),
            ("abandon_after_s", "AELAB_ABANDON_S", float),
            ("keep_finished", "AELAB_KEEP_FINISHED", int),
        ]:
            if env.get(key):
                try:
                    setattr(s, name, cast(env[key]))
                except ValueError:
                    raise JobError(f"{key} must be a number, got {env[key]!r}") from None
        return s

    def resolved_workers(self) -> int:
        if self.workers > 0:
            return self.workers
        if torch.cuda.is_available():
            return 1
        return max(1, (os.cpu_count() or 2) // 2)


class JobContext:
    """What a job function gets: a stop flag to check and callbacks to report progress."""

    def __init__(self, job: "Job"):
        self._job = job

    @property
    def stop(self) -> threading.Event:
        return self._job.stop_event

    def progress(self, p: Any) -> None:
        self._job.progress = p

    def epoch(self, row: Any) -> None:
        self._job.epochs.append(row)

    def preview(self, value: Any) -> None:
        self._job.preview = value


@dataclass
class Job:
    """One unit of work in the queue, owned by one session."""

    id: str
    owner: str
    label: str
    fn: Callable[[JobContext], Any]
    status: str = QUEUED
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: Any = None  # the latest progress report (e.g. aecore.train.Progress)
    epochs: list = field(default_factory=list)  # per-epoch reports
    preview: Any = None  # e.g. reconstructions of a few images after the latest epoch
    result: Any = None  # what fn returned (for training: a Run); for DIVERGED the last good Run
    error: str = ""
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)


class JobRunner:
    """Runs submitted jobs on a fixed number of worker threads, first come first served."""

    def __init__(self, settings: RunnerSettings | None = None):
        self.settings = settings or RunnerSettings.from_env()
        self.workers = self.settings.resolved_workers()
        self._lock = threading.Condition()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._seen: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._closed = False

    # ---- submitting and looking ----------------------------------------------------------
    def submit(self, owner: str, label: str, fn: Callable[[JobContext], Any]) -> Job:
        """Queue fn(ctx) for `owner`; JobError when the queue or the owner's share is full."""
        with self._lock:
            if self._closed:
                raise JobError("the job runner is shut down")
            mine = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(mine) >= self.settings.per_owner:
                raise JobError(
                    f"you already have {len(mine)} jobs queued or running (the limit is {self.settings.per_owner}); "
                    "wait for one to finish or stop it"
                )
            if len(self._queue) >= self.settings.max_queue:
                raise JobError(f"the server's queue is full ({self.settings.max_queue} jobs); try again in a minute")
            job = Job(id=f"job{next(self._ids)}", owner=owner, label=label, fn=fn)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._seen[owner] = time.time()
            self._forget_old(owner)
            self._start_threads()
            self._lock.notify_all()
            return job

    def jobs(self, owner: str) -> list[Job]:
        """The owner's jobs, newest first; counts as a heartbeat for the owner."""
        with self._lock:
            self._seen[owner] = time.time()
            return sorted((j for j in self._jobs.values() if j.owner == owner), key=lambda j: j.submitted, reverse=True)

    def get(self, job_id: str, owner: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner:
                raise JobError(f"no job {job_id!r} in your session")
            self._seen[owner] = time.time()
            return job

    def position(self, job: Job) -> int:
        """1-based place in the queue (0 when it is not waiting)."""
        with self._lock:
            for i, j in enumerate(self._queue, 1):
                if j is job:
                    return i
            return 0

    def stop(self, job_id: str, owner: str) -> Job:
        """Ask the owner's job to stop: a queued job is dropped, a running one stops between steps."""
        job = self.get(job_id, owner)
        self._stop(job, "stopped by the user")
        return job

    def heartbeat(self, owner: str) -> None:
        with self._lock:
            self._seen[owner] = time.time()

    def counts(self) -> dict:
        with self._lock:
            running = sum(1 for j in self._jobs.values() if j.status == RUNNING)
            return {"queued": len(self._queue), "running": running, "workers": self.workers}

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            jobs = [j for j in self._jobs.values() if j.active]
            self._lock.notify_all()
        for j in jobs:
            self._stop(j, "server shutting down")
        if wait:
            for t in self._threads:
                t.join(timeout=30)

    # ---- internals -----------------------------------------------------------------------
    def _stop(self, job: Job, reason: str) -> None:
        with self._lock:
            job.stop_event.set()
            if job.status == QUEUED:
                try:
                    self._queue.remove(job)
                except ValueError:
                    pass
                job.status = STOPPED
                job.error = reason
                job.finished = time.time()

    def _forget_old(self, owner: str) -> None:
        done = sorted((j for j in self._jobs.values() if j.owner == owner and not j.active), key=lambda j: j.submitted)
        for j in done[: max(0, len(done) - self.settings.keep_finished)]:
            del self._jobs[j.id]

    def _start_threads(self) -> None:
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name=f"aelab-worker-{len(self._threads) + 1}", daemon=True)
            self._threads.append(t)
            t.start()
        if not any(t.name == "aelab-reaper" for t in self._threads):
            t = threading.Thread(target=self._reap, name="aelab-reaper", daemon=True)
            self._threads.append(t)
            t.start()

    def _reap(self) -> None:
        """Stop the jobs of sessions that stopped polling (closed tabs)."""
        period = max(0.05, min(5.0, self.settings.abandon_after_s / 4))
        while True:
            with self._lock:
                if self._closed:
                    return
                self._lock.wait(timeout=period)
                now = time.time()
                stale = [
                    j for j in self._jobs.values()
                    if j.active and now - self._seen.get(j.owner, now) > self.settings.abandon_after_s
                ]
            for j in stale:
                self._stop(j, "stopped: its browser session went away")

    def _work(self) -> None:
        from .train import TrainingDiverged  # local: the runner itself is generic

        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                job = self._queue.popleft()
                job.status = RUNNING
                job.started = time.time()
            try:
                result = job.fn(JobContext(job))
                status, error = (STOPPED if job.stop_event.is_set() else DONE), ""
                if status == STOPPED and getattr(result, "message", ""):
                    error = result.message
            except TrainingDiverged as e:
                result, status, error = e.run, DIVERGED, str(e)
            except ValueError as e:  # ConfigError, DataError and friends: the user's settings
                result, status, error = None, FAILED, str(e)
            except Exception as e:  # a bug: keep the server alive, tell the user plainly
                result, status, error = None, FAILED, f"internal error ({type(e).__name__}): {e}"
            _release_device_memory(result)
            with self._lock:
                job.result, job.status, job.error, job.finished = result, status, error, time.time()
                job.fn = None  # drop closures (and whatever they hold) once done


def _release_device_memory(result: Any) -> None:
    """Move a finished run's model to the CPU and give the GPU memory back."""
    model = getattr(result, "model", None)
    if model is not None and torch.cuda.is_available():
        result.model = model.cpu()
        torch.cuda.empty_cache()


def train_job(config, dataset=None, preview_images=None) -> Callable[[JobContext], Any]:
    """A job function that trains `config` and returns the Run.

    With `preview_images` (uint8 [n,28,28]) the job publishes their reconstructions after each
    epoch as `job.preview` (float [n,28,28]).
    """
    from .evaluate import reconstruct
    from .train import train

    def run(ctx: JobContext):
        def snapshot(model, row):
            ctx.preview(reconstruct(model, preview_images)[1])

        return train(config, dataset, on_progress=ctx.progress, on_epoch=ctx.epoch, stop=ctx.stop,
                     on_snapshot=snapshot if preview_images is not None else None)

    return run
