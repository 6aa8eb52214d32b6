"""The engine as the web app sees it: submit, look, stop, resume, kept runs and results, workers kept alive."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .kinds import keep_run, load_ref, result_key
from .pool import ensure_workers
from .settings import EngineSettings
from .store import FINISHED, WARM_UP_WORKSPACE, RunEntry, Store, StoreError
from .submit import submit


@dataclass
class Engine:
    """One per web process: the store, the settings, and the worker processes it starts on demand."""

    settings: EngineSettings
    store: Store
    _checked: float = field(default=0.0, repr=False)

    @classmethod
    def open(cls, settings: EngineSettings | None = None, start_workers: bool = True) -> "Engine":
        settings = settings or EngineSettings.from_env()
        eng = cls(settings, Store(settings.home))
        eng.store.expire(settings.expire_days)
        if start_workers:
            eng.warm_zoo()
            eng.keep_workers()  # queued jobs from before a restart run again at once
        return eng

    def warm_zoo(self) -> int:
        """Queue the test-set codes of every pretrained run not computed yet (pages need them first)."""
        from ..zoo import zoo_names

        n = 0
        for name in zoo_names():
            params = {"run": f"zoo:{name}"}
            res, _ = self.result("codes", params)
            if res is None:
                submit(self.store, self.settings, WARM_UP_WORKSPACE, "codes", params, f"codes of zoo:{name}", None)
                n += 1
        return n

    def keep_workers(self) -> int:
        """Start workers if fewer than configured are alive (cheap; called on submit and while jobs wait)."""
        return ensure_workers(self.store, self.settings)

    def housekeeping(self, every_s: float = 5.0) -> None:
        """Mark jobs of dead workers interrupted and restart workers when jobs wait (at most every few seconds)."""
        now = time.time()
        if now - self._checked < every_s:
            return
        self._checked = now
        self.store.interrupt_stale(self.settings.stale_s)
        if self.store.jobs(statuses=("queued",), limit=1):
            self.keep_workers()

    # ---- jobs ------------------------------------------------------------------------------------------
    def submit(self, workspace: str, kind: str, params: dict, label: str, dataset, name: str | None = None,
               teacher: bool = False):
        job = submit(self.store, self.settings, workspace, kind, params, label, dataset, name=name, teacher=teacher)
        self.keep_workers()
        return job

    def jobs(self, workspace: str):
        self.housekeeping()
        return self.store.jobs(workspace=workspace)

    def waiting_text(self, job) -> str:
        """"place 3 in the queue, starts in about 40 s" for a queued job."""
        pos, eta = self.store.waiting(job.id, self.settings.resolved_workers())
        when = "" if eta is None else (", starts in about " + _duration(eta))
        return f"place {pos} in the queue{when}"

    # ---- results -----------------------------------------------------------------------------------------
    def result(self, kind: str, params: dict):
        """(stored Result or None, its content key)."""
        from ..experiments import ResultStore

        key = result_key(self.store, kind, params)
        return ResultStore(self.store.results_dir).get_key(key), key

    def result_by_key(self, key: str):
        from ..experiments import ResultStore

        return ResultStore(self.store.results_dir).get_key(key)

    # ---- kept runs ---------------------------------------------------------------------------------------
    def keep_upload(self, workspace: str, run, name: str) -> RunEntry:
        """Keep an uploaded (already validated) run in the workspace."""
        if self.settings.quota_mb and self.store.used_bytes(workspace) > self.settings.quota_mb * 2**20:
            raise StoreError(f"your runs use more than this workspace's {self.settings.quota_mb:g} MB: delete some first")
        return self.store.run(keep_run(self.store, workspace, run, name))

    def visible_runs(self, workspace: str, teacher: bool = False) -> list[RunEntry]:
        """The workspace's own runs, then runs shared with the class (every run for a teacher)."""
        mine = self.store.runs(workspace)
        others = [r for r in (self.store.runs() if teacher else self.store.runs(shared=True)) if r.workspace != workspace]
        return mine + others

    def load(self, ref: str):
        return load_ref(self.store, ref)

    def can_open(self, run_id: str, workspace: str, teacher: bool = False) -> bool:
        try:
            r = self.store.run(run_id)
        except StoreError:
            return False
        return teacher or r.shared or r.workspace == workspace


def _duration(s: float) -> str:
    if s < 60:
        return f"{max(5, round(s / 5) * 5):.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


__all__ = ["Engine", "FINISHED", "StoreError"]
