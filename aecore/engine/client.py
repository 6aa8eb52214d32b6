"""The engine's one door for the web pages: jobs, their results and progress, kept runs, uploads, workers kept alive."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from aecore.engine import kinds
from aecore.engine.kinds import KindError, Params
from aecore.engine.pool import ensure_workers, worker_lane
from aecore.engine.progress import JobProgress, describe
from aecore.engine.refs import load_ref, ref_dataset, result_key
from aecore.engine.store import (FINISHED, RESERVED_WORKSPACES, WARM_UP_WORKSPACE, Job, RunEntry, Store, StoreError,
                                  StoreUnavailable, new_token, signed_token, unavailable, valid_token)
from aecore.engine.submit import submit
from aecore.settings import Settings, current

RESULTS_KEPT = 64  # finished results the web process keeps in memory
log = logging.getLogger(__name__)

__all__ = ["Engine", "Asked", "Job", "RunEntry", "JobProgress", "describe", "KindError", "StoreError",
           "StoreUnavailable", "FINISHED", "new_token", "valid_token"]


@contextlib.contextmanager
def _door(where):
    """A file the engine could not read or write (a full disk, a read-only folder) leaves the door as a
    StoreUnavailable with a plain message, never as an OSError for the page to crash on."""
    try:
        yield
    except OSError as e:
        raise unavailable(e, where) from e


def _yours(workspace: str | None) -> None:
    """The pages' workspaces are never the shell's or the warm-up's (StoreError)."""
    if workspace in RESERVED_WORKSPACES:
        raise StoreError("that workspace belongs to the server, not to a browser")


@dataclass
class Asked:
    """Where a result a page asks for stands: stored (`result`), being computed (`job`), or neither (`last`: the latest
    try, e.g. a stopped one whose partial result is `partial`, or a failed one)."""

    key: str
    result: object = None  # the stored aecore.analysis.results.Result
    job: Job | None = None  # the job computing it now (queued or running, of any workspace)
    last: Job | None = None  # the newest finished try
    partial: object = None  # what a stopped try kept


@dataclass
class Engine:
    """One per web process: the job store (private: reach it only through these methods), the settings, and the
    worker processes it starts on demand."""

    settings: Settings
    _store: Store
    _checked: float = field(default=0.0, repr=False)
    _results: OrderedDict = field(default_factory=OrderedDict, repr=False)  # finished results read lately, by key
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings | None = None, start_workers: bool = True) -> "Engine":
        """The engine on the settings' data home; StoreUnavailable when its store cannot even be opened. What it
        writes at start (expiring old workspaces, queueing the zoo's codes) waits when the store cannot be written
        (a full disk, a read-only store): the pages still open and say why."""
        settings = settings or current()
        eng = cls(settings, Store(settings.home))
        try:
            eng._store.expire(settings.expire_days)
            if start_workers:
                eng.warm_zoo()
        except StoreError as e:
            log.warning("the engine started without writing to its store: %s", e)
        if start_workers:
            eng.keep_workers()  # queued jobs from before a restart run again at once
        return eng

    def warm_zoo(self) -> int:
        """Queue the test-set codes of every pretrained run not computed yet (pages need them first)."""
        from aecore.training.zoo import zoo_names

        n = 0
        for name in zoo_names():
            params = {"run": f"zoo:{name}"}
            if self.ask("codes", params).result is None:
                submit(self._store, self.settings, WARM_UP_WORKSPACE, "codes", params, f"codes of zoo:{name}")
                n += 1
        return n

    def keep_workers(self) -> int:
        """Start workers if fewer than configured are alive (cheap; called on submit and while jobs wait). When they
        cannot be started (a full disk, a read-only data home) the jobs wait; it is logged and tried again later."""
        try:
            return ensure_workers(self._store, self.settings)
        except (StoreError, OSError) as e:
            log.warning("workers could not be started: %s", e)
            return 0

    def housekeeping(self, every_s: float = 5.0) -> None:
        """Mark jobs of dead workers interrupted and restart workers when jobs wait (at most every few seconds)."""
        now = time.time()
        if now - self._checked < every_s:
            return
        self._checked = now
        try:
            self._store.interrupt_stale(self.settings.stale_s)
            if self._store.jobs(statuses=("queued",), limit=1):
                self.keep_workers()
        except StoreError as e:  # a full disk or a read-only store: the page still shows what there is
            log.warning("housekeeping skipped: %s", e)

    # ---- workspaces ------------------------------------------------------------------------------------------
    # A browser's workspace id is issued by the server: random, signed with the server's secret (<home>/secret),
    # so a reload or a bookmark keeps working (also after a restart), and one made up or guessed (?ws=shell-jobs) is
    # never accepted. Each client (what the server sees of a browser: its IP address, or its session) gets at most
    # `client_workspaces` new ones an hour, and its workspaces together at most `client_jobs` waiting jobs.
    def accepts_workspace(self, workspace: str | None) -> bool:
        """Whether a browser may use this workspace id: one this server issued (never the shell's or the warm-up's)."""
        try:
            return self._store.issued(workspace)
        except StoreError:
            return False

    def issue_workspace(self, client: str) -> str:
        """A new workspace for `client`; StoreError when the client had `client_workspaces` in the last hour, or when
        there is no secret to sign it with (StoreUnavailable). When the store cannot be written (a full disk) the id is
        still issued, unnoted (it is noted when the workspace is first used with room on the disk)."""
        secret = self._store.secret
        try:
            return self._store.issue_workspace(client, self.settings.client_workspaces)
        except StoreUnavailable as e:
            log.warning("a workspace was issued without noting it in the store: %s", e)
            return signed_token(secret)

    def touch_workspace(self, workspace: str) -> None:
        """Note that the workspace was used now (StoreUnavailable when the store cannot be written)."""
        _yours(workspace)
        with _door(self._store.home):
            self._store.touch_workspace(workspace)

    def set_student_name(self, workspace: str, name: str) -> str:
        """Keep the name a student gives for the teacher in their workspace (plain text, at most 40 characters; ''
        clears it); returns it as kept."""
        _yours(workspace)
        with _door(self._store.home):
            return self._store.set_workspace_name(workspace, name)

    def student_name(self, workspace: str) -> str:
        """The name this workspace's student gave for the teacher ('' if none)."""
        return self._store.workspace_names().get(workspace, "")

    def student_names(self) -> dict[str, str]:
        """Workspace id -> the name its student gave for the teacher (the teacher view)."""
        return self._store.workspace_names()

    # ---- jobs ------------------------------------------------------------------------------------------------
    def label(self, kind: str, params: dict | Params, about: str = "") -> str:
        """What a job is called on every screen: its kind's title, and the runs it reads (a kept run by its name, as
        the run pickers show it, not by its id)."""
        p = kinds.get(kind).parse(params)
        about = about or ", ".join(self._ref_name(ref) for ref in p.run_refs())
        return kinds.get(kind).title + (f" · {about}" if about else "")

    def _ref_name(self, ref: str) -> str:
        kind, _, run_id = ref.partition(":")
        if kind == "run":
            try:
                return f"“{self._store.run(run_id).name}”"
            except StoreError:
                pass
        return ref

    def submit(self, workspace: str, kind: str, params: dict | Params, label: str | None = None, dataset=None,
               name: str | None = None, teacher: bool = False) -> Job:
        """Queue a job (KindError, ConfigError, DataError or StoreError say why not); the job computing the same
        result already, if there is one."""
        _yours(workspace)
        with _door(self._store.home):
            job = submit(self._store, self.settings, workspace, kind, params, label or self.label(kind, params),
                         dataset, name=name, teacher=teacher)
        self.keep_workers()
        return job

    def job(self, job_id: int, workspace: str | None = None) -> Job:
        return self._store.job(job_id, workspace)

    def jobs(self, workspace: str) -> list[Job]:
        """The workspace's jobs, newest first."""
        self.housekeeping()
        return self._store.jobs(workspace=workspace)

    def all_jobs(self, limit: int = 300) -> list[Job]:
        """Every workspace's jobs, newest first (the teacher view)."""
        self.housekeeping()
        return self._store.jobs(limit=limit)

    def queue_places(self) -> dict[int, int]:
        """job id -> 1-based place in the queue, for every queued job."""
        return {j.id: i for i, j in enumerate(self._store.queue_order(), 1)}

    def live_workers(self) -> int:
        """Training workers alive now: the ones settings.resolved_workers() asks for (the view lane's are not counted)."""
        return sum(1 for w in self._store.live_workers() if worker_lane(w.id) != "view")

    def live_view_workers(self) -> int:
        """Workers alive now for the short jobs pages wait for (settings.view_workers of them)."""
        return sum(1 for w in self._store.live_workers() if worker_lane(w.id) == "view")

    def live_layout(self, job_id: int):
        """A running job's live picture: a training job's reconstructions, a projection's layout so far."""
        return self._store.preview(job_id)

    def estimate_s(self, kind: str, params: dict | Params) -> float:
        """About how many seconds a job of (kind, params) computes once a worker takes it: its reference seconds
        (aecore.training.speed) times this server's speed factor, the model the queue's waiting times use too."""
        k = kinds.get(kind)
        p = k.parse(params)
        name = k.dataset_name(p, self._store)
        from aecore.data.catalog import load_dataset

        return k.seconds(p, load_dataset(name) if name else None) * self._store.speed_factor()

    def _lane_workers(self, job: Job) -> int:
        return max(1, self.settings.view_workers if job.lane == "view" else self.settings.resolved_workers())

    def next_up(self, job: Job) -> bool:
        """A queued job a worker of its lane takes next (its place is within the lane's number of workers)."""
        return 0 < self._store.position(job.id) <= self._lane_workers(job)

    def waiting_behind_others(self, jobs: list[Job]) -> bool:
        """Every one of these jobs is queued behind jobs its lane's workers take first (a page polls such a job less
        often); one read of the queue for all of them."""
        places = self._store.lane_places()
        return all(places.get(j.id, 0) > self._lane_workers(j) for j in jobs)

    def waiting_text(self, job: Job) -> str:
        """"place 3 in the queue, starts in about 40 s" for a queued job."""
        pos, eta = self._store.waiting(job.id, self._lane_workers(job))
        when = "" if eta is None else (", starts in about " + _duration(eta))
        return f"place {pos} in the queue{when}"

    def stop(self, job_id: int, workspace: str | None, teacher: bool = False) -> Job:
        """Stop a job of `workspace` (None with `teacher`: any job; the student is told the teacher stopped it)."""
        if not teacher:
            _yours(workspace)
        return self._store.request_stop(job_id, None if teacher else workspace, teacher=teacher)

    def pause(self, job_id: int, workspace: str) -> Job:
        _yours(workspace)
        return self._store.request_pause(job_id, workspace)

    def resume(self, job_id: int, workspace: str, steps: int | None = None) -> Job:
        """Go on with a paused, stopped or interrupted job (`steps`: that many steps, then pause again)."""
        _yours(workspace)
        job = self._store.resume(job_id, workspace, per_workspace=self.settings.per_workspace, steps=steps,
                                 per_client=self.settings.client_jobs or None)
        self.keep_workers()
        return job

    # ---- results -----------------------------------------------------------------------------------------------
    def ask(self, kind: str, params: dict | Params) -> Asked:
        """Where the result of (kind, params) stands; KindError, StoreError or RunError when it cannot be asked."""
        key = self.result_key(kind, params)
        asked = Asked(key, result=self.result_by_key(key))
        if asked.result is None:
            asked.job = self._store.find_active(key)
            if asked.job is None:
                asked.last = self._store.latest(key)
                if asked.last is not None and asked.last.status == "stopped" and asked.last.result_key:
                    asked.partial = self.result_by_key(asked.last.result_key)
        return asked

    def result_key(self, kind: str, params: dict | Params) -> str:
        """The content key the result of (kind, params) is stored under."""
        k = kinds.get(kind)
        return result_key(self._store, k, k.parse(params))

    def result(self, kind: str, params: dict | Params):
        """(the stored result or None, its content key)."""
        asked = self.ask(kind, params)
        return asked.result, asked.key

    def result_by_key(self, key: str):
        """A stored result by its content key, or None. Finished results never change under their key: the last
        few read are kept in memory (pages ask on every rerun); a stopped job's partial one is read each time."""
        from aecore.analysis.results import ResultStore

        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        res = ResultStore(self._store.results_dir).get_key(key)
        if res is not None and not key.endswith("-partial"):
            with self._lock:
                self._results[key] = res
                while len(self._results) > RESULTS_KEPT:
                    self._results.popitem(last=False)
        return res

    def has_result(self, key: str) -> bool:
        return (self._store.results_dir / f"{key}.zip").is_file()

    # ---- kept runs ---------------------------------------------------------------------------------------------
    def runs(self, workspace: str) -> list[RunEntry]:
        return self._store.runs(workspace)

    def all_runs(self) -> list[RunEntry]:
        """Every workspace's runs (the teacher view)."""
        return self._store.runs()

    def visible_runs(self, workspace: str, teacher: bool = False) -> list[RunEntry]:
        """The workspace's own runs, then runs shared with the class (every run for a teacher)."""
        mine = self._store.runs(workspace)
        others = [r for r in (self._store.runs() if teacher else self._store.runs(shared=True)) if r.workspace != workspace]
        return mine + others

    def run_entry(self, run_id: str) -> RunEntry:
        return self._store.run(run_id)

    def can_open(self, run_id: str, workspace: str, teacher: bool = False) -> bool:
        try:
            r = self._store.run(run_id)
        except StoreError:
            return False
        return teacher or r.shared or r.workspace == workspace

    def load(self, ref: str):
        """A run by reference ("zoo:NAME" or "run:ID")."""
        return load_ref(self._store, ref)

    def run_dataset(self, ref: str) -> str:
        """The data set a run was trained on (its weights are not read)."""
        return ref_dataset(self._store, ref)

    def rename_run(self, run_id: str, name: str, workspace: str | None) -> RunEntry:
        _yours(workspace)
        return self._store.rename_run(run_id, name, workspace)

    def share_run(self, run_id: str, shared: bool, workspace: str | None) -> RunEntry:
        """Share a run with the class or stop sharing it (workspace None: a teacher publishing any run)."""
        _yours(workspace)
        return self._store.share_run(run_id, shared, workspace)

    def delete_run(self, run_id: str, workspace: str) -> None:
        _yours(workspace)
        self._store.delete_run(run_id, workspace)

    def used_mb(self, workspace: str) -> float:
        return self._store.used_bytes(workspace) / 2**20

    def keep_upload(self, workspace: str, run, name: str) -> RunEntry:
        """Keep an uploaded (already validated) run in the workspace."""
        from aecore.engine.keep import keep_run

        _yours(workspace)
        if self.settings.quota_mb and self._store.used_bytes(workspace) > self.settings.quota_mb * 2**20:
            raise StoreError(f"your runs use more than this workspace's {self.settings.quota_mb:g} MB: delete some first")
        with _door(self._store.home / "runs"):
            return self._store.run(keep_run(self._store, workspace, run, name))

    # ---- files the pages hand over or read -------------------------------------------------------------------
    def save_upload(self, data: bytes | memoryview, suffix: str) -> str:
        """Keep an uploaded file for a worker to read; returns its token (the job deletes the file when it ends)."""
        folder = self._store.uploads_dir
        token = f"{secrets.token_hex(8)}{suffix if suffix in ('.zip', '.npz') else ''}"
        with _door(folder):
            folder.mkdir(parents=True, exist_ok=True)
            try:
                (folder / token).write_bytes(data)
            except OSError:
                (folder / token).unlink(missing_ok=True)  # half a file is no upload
                raise
        return token

    def job_recording(self, job_id: int) -> Path:
        """Where a training job records its watch-it-learn frames as it trains."""
        from aecore.training.watch import WATCH_FILE

        return self._store.checkpoint_dir(job_id).parent / WATCH_FILE

    def run_recording(self, workspace: str, run_id: str) -> Path:
        """Where a kept run's recording of its training is (the file may be absent)."""
        from aecore.training.watch import WATCH_FILE

        entry = self._store.run(run_id)
        return self._store.run_dir(entry.workspace, run_id) / WATCH_FILE


def _duration(s: float) -> str:
    if s < 60:
        return f"{max(5, round(s / 5) * 5):.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
