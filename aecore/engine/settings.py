"""Engine settings: where the data home is and the limits a teacher sets, each from an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository (the default data home lives in it)


class SettingsError(ValueError):
    """An AELAB_* environment variable has an invalid value."""


@dataclass
class EngineSettings:
    """Limits of the shared engine; each field can be set by the environment variable in its comment."""

    home: str = str(ROOT / ".aelab")  # the data home: job store, runs, results, logs (AELAB_HOME)
    workers: int = 0  # worker processes; 0 = 1 on a GPU or up to 2 cores, else cores // 2 (AELAB_WORKERS)
    threads: int = 0  # torch/BLAS/numba threads per worker; 0 = (cores - view workers) // workers (AELAB_WORKER_THREADS)
    view_workers: int = 1  # extra 1-thread workers for short jobs pages wait for (codes, projections) (AELAB_VIEW_WORKERS)
    per_workspace: int = 2  # unfinished (queued or running) jobs one workspace may have (AELAB_JOBS_PER_WORKSPACE)
    max_queue: int = 200  # queued jobs over all workspaces (AELAB_MAX_QUEUE)
    budget_images: int = 3_000_000  # compute budget per training job: epochs x images seen (AELAB_JOB_BUDGET_IMAGES)
    time_limit_s: float = 1800.0  # wall-clock limit per job; it is stopped (weights kept) after this (AELAB_JOB_TIME_LIMIT_S)
    stale_s: float = 20.0  # a running job whose worker has not reported for this long is "interrupted" (AELAB_STALE_S)
    idle_exit_s: float = 600.0  # app-started workers exit after this long with nothing to do (AELAB_WORKER_IDLE_S)
    expire_days: float = 14.0  # anonymous workspaces unused for this many days are deleted (AELAB_EXPIRE_DAYS)
    quota_mb: float = 200.0  # disk a workspace's runs may use (AELAB_WORKSPACE_QUOTA_MB)
    executor: str = "process"  # "process" (local worker processes) or "ray" (AELAB_EXECUTOR)
    teacher_key: str = ""  # opens the teacher view (?teacher=KEY); empty = no teacher view (AELAB_TEACHER_KEY)

    _ENV = {
        "home": "AELAB_HOME", "workers": "AELAB_WORKERS", "threads": "AELAB_WORKER_THREADS",
        "view_workers": "AELAB_VIEW_WORKERS",
        "per_workspace": "AELAB_JOBS_PER_WORKSPACE", "max_queue": "AELAB_MAX_QUEUE",
        "budget_images": "AELAB_JOB_BUDGET_IMAGES", "time_limit_s": "AELAB_JOB_TIME_LIMIT_S",
        "stale_s": "AELAB_STALE_S", "idle_exit_s": "AELAB_WORKER_IDLE_S", "expire_days": "AELAB_EXPIRE_DAYS",
        "quota_mb": "AELAB_WORKSPACE_QUOTA_MB", "executor": "AELAB_EXECUTOR", "teacher_key": "AELAB_TEACHER_KEY",
    }

    @classmethod
    def from_env(cls, env=None) -> "EngineSettings":
        env = os.environ if env is None else env
        s = cls()
        for f in fields(cls):
            if f.name.startswith("_"):
                continue
            var = cls._ENV[f.name]
            raw = env.get(var)
            if raw in (None, ""):
                continue
            cast = type(getattr(s, f.name))
            try:
                value = cast(raw)
            except ValueError:
                raise SettingsError(f"{var} must be a {cast.__name__}, got {raw!r}") from None
            if cast in (int, float) and value < 0:
                raise SettingsError(f"{var} must not be negative, got {raw!r}")
            setattr(s, f.name, value)
        if s.executor not in ("process", "ray"):
            raise SettingsError(f"AELAB_EXECUTOR must be 'process' or 'ray', got {s.executor!r}")
        return s

    def resolved_workers(self) -> int:
        if self.workers > 0:
            return self.workers
        cores = os.cpu_count() or 2
        if _has_cuda():
            return 1
        return max(1, cores // 2) if cores > 2 else 1

    def resolved_threads(self) -> int:
        """Threads per training worker, so that all workers' threads together never exceed the cores."""
        cores = os.cpu_count() or 2
        per = max(1, (cores - self.view_workers) // self.resolved_workers())
        return min(self.threads, per) if self.threads > 0 else per

    @property
    def home_path(self) -> Path:
        return Path(self.home)


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch not importable here: treat as CPU-only
        return False
