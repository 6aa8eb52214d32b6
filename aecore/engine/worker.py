"""A worker process: claims the next job from the store, runs it at a lower CPU priority, reports, repeats."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
import uuid
from typing import Callable

from aecore.engine.context import Context
from aecore.engine.kinds import Outcome
from aecore.engine.process import limit_threads, load_dataset, lower_priority
from aecore.engine.runner import record, run_job
from aecore.engine.store import FAILED, INTERRUPTED, Job, Lease, Store, StoreError, StoreUnavailable
from aecore.settings import Settings, current, use

log = logging.getLogger(__name__)
RETRY_S = (1.0, 30.0)  # how soon, then at most how seldom, a worker tries the store again while it cannot write
STALE_CHECK_S = 2.0  # how often an idle worker marks jobs of silent workers interrupted


class Worker:
    """Runs jobs from the store one at a time until told to stop (or, with `once`, until the queue is empty)."""

    def __init__(self, store: Store, settings: Settings, worker_id: str | None = None,
                 execute: Callable[[Store, Job, Context], Outcome] | None = None, lane: str = "all"):
        self.store, self.settings = store, settings
        self.lane = "view" if lane == "view" else None  # a view-lane worker only takes the short jobs pages wait for
        self.id = worker_id or f"w{'v' if lane == 'view' else ''}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.execute = execute or (lambda store, job, ctx: run_job(store, job, ctx, load_dataset))
        self.current: Job | None = None
        self._quit = threading.Event()
        self._quitting = False  # set by the first quit request (a signal handler)
        self._trouble: str | None = None  # why the store cannot be written now (said once in the log, not each try)

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
                    self.store.report(Lease.of(self.current))  # heartbeat even during a long step or evaluation
            except Exception:  # the store is busy or gone for a moment: try again next beat
                pass

    def run(self, once: bool = False, idle_exit_s: float | None = None, poll_s: float | None = None) -> int:
        """Work until quit; returns how many jobs it ran. An idle worker looks for a job every `poll_s` (the
        settings' by default) and for workers gone silent every STALE_CHECK_S."""
        poll_s = self.settings.poll_s if poll_s is None else poll_s
        try:
            self.store.register_worker(self.id, os.getpid())
        except StoreError as e:  # a read-only store, a full disk: said in one line of the worker's log
            log.error("worker %s cannot start: %s", self.id, e)
            return 0
        log.info("worker %s started (lane %s, pid %s, home %s)", self.id, self.lane or "all", os.getpid(),
                 self.store.home)
        self.clean_up_after_the_dead()
        beat = threading.Thread(target=self._beat, name="aelab-heartbeat", daemon=True)
        beat.start()
        ran, idle_since, wait, stale_checked = 0, time.time(), RETRY_S[0], 0.0
        try:
            while not self._quit.is_set():
                try:
                    if time.time() - stale_checked >= STALE_CHECK_S:  # a write: not on every poll
                        self.store.interrupt_stale(self.settings.stale_s)
                        stale_checked = time.time()
                    job = self.store.claim(self.id, self.lane)
                except StoreUnavailable as e:  # a full disk, a read-only store: wait for it to be mended, then go on
                    self._cannot_write(e)
                    if once:
                        break
                    self._quit.wait(wait)
                    wait = min(wait * 2, RETRY_S[1])
                    continue
                self._can_write()
                wait = RETRY_S[0]
                if job is None:
                    if once or (idle_exit_s and time.time() - idle_since > idle_exit_s):
                        break
                    self._quit.wait(poll_s)
                    continue
                self.current = job
                log.info("job %s (%s) started, attempt %s", job.id, job.kind, job.attempts)
                t0 = time.time()
                ctx = Context(self.store, job, time_limit_s=self.settings.time_limit_s, quit=self._quit)
                out = self.execute(self.store, job, ctx)
                out = self._end(job, out)
                if out is None:  # told to quit while the store could not record the ending
                    break
                log.info("job %s (%s) ended %s after %.1f s%s", job.id, job.kind, out.status, time.time() - t0,
                         f": {out.error}" if out.error else "")
                self.current = None
                ran += 1
                idle_since = time.time()
        finally:
            if self.current is not None:  # shut down mid-job: leave it resumable
                log.info("job %s interrupted: the worker is shutting down", self.current.id)
                try:
                    self.store.finish(Lease.of(self.current), INTERRUPTED, "interrupted: its worker was shut down; "
                                      "resume to continue from the last finished epoch")
                except StoreError as e:  # another worker or page marks it interrupted once its heartbeat is old
                    log.error("job %s could not be marked interrupted: %s", self.current.id, e)
            self._quit.set()
            try:
                self.store.unregister_worker(self.id)
            except StoreError as e:  # it counts as gone once its heartbeat is old
                log.error("worker %s could not unregister: %s", self.id, e)
        return ran

    def _end(self, job: Job, out: Outcome) -> Outcome | None:
        """Record how the job ended. When the store cannot record it (a full disk, a read-only store), the job ends
        "failed" with the store's message as soon as it can: the worker tries again, ever more seldom, until the
        ending is written (or the job was taken from it), so it never stays "running" for nothing, and the worker
        lives on for the next job."""
        if out.recorded:
            return out
        try:
            record(self.store, job, out)
            return out
        except StoreUnavailable as e:
            self._cannot_write(e)
            if out.status != FAILED:  # (a job that failed keeps its own message: "the disk is full" for one)
                out = Outcome(FAILED, str(e))
        out = Outcome(out.status, out.error)  # nothing it made is kept: record() dropped it
        wait = RETRY_S[0]
        while True:
            if self._quit.wait(wait):  # shutting down: run()'s ending marks it interrupted if it still can
                return None
            wait = min(wait * 2, RETRY_S[1])
            try:
                self.store.finish(Lease.of(job), out.status, out.error)
                self._can_write()
                return out
            except StoreUnavailable as e:
                self._cannot_write(e)

    def _cannot_write(self, e: StoreError) -> None:
        if str(e) != self._trouble:
            log.error("worker %s cannot use the store: %s (trying again)", self.id, e)
            self._trouble = str(e)

    def _can_write(self) -> None:
        if self._trouble is not None:
            log.info("worker %s can use the store again", self.id)
            self._trouble = None


    def clean_up_after_the_dead(self) -> None:
        """What a worker killed mid-job left (an import's unpacked files and its upload, a half-written run):
        deleted when nothing is working on it any more."""
        busy = {j.params.get("upload") for j in self.store.jobs(statuses=("queued", "running"))}
        stale = time.time() - 600
        for p in list(self.store.uploads_dir.glob("*")) if self.store.uploads_dir.is_dir() else []:
            if p.name not in busy and _older(p, stale):
                log.info("removing %s, left by an import that did not finish", p.name)
                p.unlink(missing_ok=True)
        from aecore.data.imported import home as datasets_home

        root = datasets_home()
        for p in list(root.glob(".tmp-*")) + list(root.glob(".old-*")) if root.is_dir() else []:
            if _older(p, stale):
                log.info("removing %s, left by an import that did not finish", p.name)
                shutil.rmtree(p, ignore_errors=True)
        runs = self.store.home / "runs"
        for p in list(runs.glob("*/.*")) if runs.is_dir() else []:  # staged or replaced run folders
            if _older(p, stale):
                shutil.rmtree(p, ignore_errors=True)


def _older(p, cutoff: float) -> bool:
    try:
        return p.stat().st_mtime < cutoff
    except OSError:
        return False


def main(home: str | None = None, once: bool = False, idle_exit_s: float | None = None, lane: str = "all") -> int:
    """Entry point of `python -m aecore worker`: lower priority, capped threads, then work."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = current()
    if home:
        settings = settings.with_(home=home)
    use(settings)  # the library reads the data home (data sets, the zoo) from these
    lower_priority()
    limit_threads(1 if lane == "view" else settings.resolved_threads())
    try:
        store = Store(settings.home)
    except StoreError as e:  # a read-only store, a full disk: said in one line of the worker's log
        log.error("the worker cannot start: %s", e)
        return 0
    worker = Worker(store, settings, lane=lane)
    signal.signal(signal.SIGTERM, worker.request_quit)
    if settings.executor == "ray":
        from aecore.engine.ray_executor import ray_execute

        worker.execute = ray_execute(settings)
    return worker.run(once=once, idle_exit_s=idle_exit_s)
