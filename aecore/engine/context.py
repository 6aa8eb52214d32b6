"""What a running job gets from its worker: the stop flag and time limit, and progress reports into the store."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Iterable, Iterator, TypeVar

from aecore.engine.progress import JobProgress
from aecore.engine.store import LOST, PAUSE, TEACHER_STOP, Job, Lease, Store
from aecore.errors import Stopped

T = TypeVar("T")


class Context:
    """The stop flag (checked at most every `poll_s`, so a training step does not wait on the store), the time limit,
    and progress: a trainer's per-step reports become the live loss curve, other kinds report a `JobProgress`."""

    def __init__(self, store: Store, job: Job, time_limit_s: float = 0.0, report_every_s: float = 0.3,
                 poll_s: float = 0.1, quit: threading.Event | None = None):
        self.store, self.job = store, job
        self.quit = quit  # set when the worker is told to shut down (SIGTERM)
        self.lease = Lease.of(job)  # reports count only while the job still runs under this worker's claim
        self.lost = False  # the job was taken from this worker (interrupted, then resumed elsewhere)
        self.time_limit_s = time_limit_s
        self.report_every_s = report_every_s
        self.poll_s = poll_s
        self.curve: list = []
        self.history: list = list(job.history) if job.kind == "train" else []
        self.epoch_offset = 0  # epochs finished before a resume
        self._last = 0.0
        self._polled = 0.0
        self._phase: tuple | None = None  # (phase, stage) of the latest report
        self._phase_base = 0.0  # epochs of the phases before it, so the curve's x only grows
        self._phase_epochs = 0
        self._stop = False
        self.paused = False  # the stop was a pause
        self.stop_reason = ""
        self._t0 = time.time()

    # ---- stopping ------------------------------------------------------------------------------------------
    def is_set(self) -> bool:
        """Whether the job must end now: Stop or Pause pressed, or the time limit reached (the trainer's stop flag).
        A worker told to shut down ends here at once, leaving the job resumable: its SIGTERM handler raises SystemExit
        wherever the worker is, and Python drops an exception raised inside a finalizer or a garbage-collector
        callback, so the job would otherwise run on to its end."""
        if self.quit is not None and self.quit.is_set():
            raise SystemExit(0)
        if self._stop:
            return True
        now = time.time()
        if self.time_limit_s and now - self._t0 > self.time_limit_s:
            self._stop, self.stop_reason = True, f"stopped: the job reached the time limit of {self.time_limit_s:.0f} s"
            return True
        if now - self._polled >= self.poll_s:
            self._polled = now
            flag = self.store.stop_flag(self.lease)
            if flag:
                self._flagged(flag)
        return self._stop

    def check(self) -> None:
        """Raise Stopped when the job must end (kinds call it between pieces of work of well under a second)."""
        if self.is_set():
            raise Stopped(self.stop_reason or "stopped")

    def _flagged(self, flag: int) -> None:
        self._stop = True
        if flag == LOST:
            self.lost, self.stop_reason = True, "this worker lost the job (it was interrupted and resumed elsewhere)"
        elif flag == PAUSE:
            self.paused, self.stop_reason = True, self.stop_reason or "paused"
        elif flag == TEACHER_STOP:
            self.stop_reason = self.stop_reason or "stopped by the teacher"
        else:
            self.stop_reason = self.stop_reason or "stopped by the user"

    def write(self, **fields) -> None:
        """Write the store's live fields of the job now (history=…, curve=…, preview=…); notes the stop flag."""
        flag = self.store.report(self.lease, **fields)
        if flag:
            self._flagged(flag)

    # ---- progress --------------------------------------------------------------------------------------------
    def report(self, progress: JobProgress, force: bool = False, **extra) -> None:
        """A progress report (written at most every report_every_s unless `force`); the answer carries the stop flag.
        `extra`: the store's other live fields (layout=…, preview=…)."""
        now = time.time()
        if not force and now - self._last < self.report_every_s:
            return
        self._last = now
        flag = self.store.report(self.lease, progress=progress.to_dict(), **extra)
        if flag:
            self._flagged(flag)

    def items(self, seq: Iterable[T], phase: str, total: int | None = None) -> Iterator[T]:
        """Each item of `seq`, checking Stop before it and reporting "phase · done of total" as it goes."""
        total = len(seq) if total is None else total  # type: ignore[arg-type]
        for i, item in enumerate(seq):
            self.check()
            self.report(JobProgress(phase=phase, fraction=i / max(total, 1), done=i, total=total), force=i == 0)
            yield item
        self.report(JobProgress(phase=phase, fraction=1.0, done=total, total=total), force=True)

    def progress(self, p) -> None:
        """A trainer Progress report: appended to the loss curve, written at most every report_every_s."""
        if (p.phase, p.stage) != self._phase:
            if self._phase is not None:
                self._phase_base += self._phase_epochs
            self._phase, self._phase_epochs = (p.phase, p.stage), p.epochs
        x = self._phase_base + self.epoch_offset + (p.epoch - 1) + p.step / max(p.steps, 1)
        self.curve.append([round(x, 4), float(p.loss)])
        now = time.time()
        if now - self._last >= self.report_every_s or p.step == p.steps:
            self._last = now
            d = dataclasses.asdict(p)
            d["epoch"] += self.epoch_offset if p.phase == "train" else 0
            d["epochs"] += self.epoch_offset if p.phase == "train" else 0
            d["fraction"] = p.fraction if not self.epoch_offset else d["epoch"] / max(d["epochs"], 1)
            flag = self.store.report(self.lease, progress=d, curve=self.curve)
            if flag:
                self._flagged(flag)
