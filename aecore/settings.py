"""Every path and knob of AE Lab in one object, made once per process from the AELAB_* environment variables."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, fields, replace
from pathlib import Path

from aecore.errors import AELabError

ROOT = Path(__file__).resolve().parent.parent  # the repository: the bundled data, the zoo and the default data home


class SettingsError(AELabError):
    """An AELAB_* environment variable has an invalid value."""


@dataclass
class Settings:
    """Where things live and the limits a teacher sets; each field can be set by the environment variable in its
    comment. The web process, every worker and the command line make theirs from the same environment (the app
    hands its own to the workers it starts), so they all read and write the same data home."""

    home: str = str(ROOT / ".aelab")  # the data home: jobs, runs, results, data sets, uploads, logs (AELAB_HOME)
    mnist: str = str(ROOT / "data" / "mnist.npz")  # the bundled MNIST (AELAB_MNIST)
    zoo: str = str(ROOT / "data" / "zoo")  # the pretrained runs (AELAB_ZOO)
    lessons: str = str(ROOT / "lessons")  # the lessons, one TOML file each (AELAB_LESSONS)
    workers: int = 0  # worker processes; 0 = gpu_workers on a GPU, 1 up to 2 cores, else cores // 2 (AELAB_WORKERS)
    threads: int = 0  # torch/BLAS/numba threads per worker; 0 = (cores - view workers) // workers (AELAB_WORKER_THREADS)
    view_workers: int = 1  # extra 1-thread workers for short jobs pages wait for (codes, projections) (AELAB_VIEW_WORKERS)
    per_workspace: int = 2  # unfinished (queued or running) jobs one workspace may have (AELAB_JOBS_PER_WORKSPACE)
    max_queue: int = 200  # queued jobs over all workspaces (AELAB_MAX_QUEUE)
    view_per_workspace: int = 4  # view jobs a workspace may have waiting; 0 = no cap (AELAB_VIEW_JOBS_PER_WORKSPACE)
    # a view job costing more (images-equivalent: a t-SNE of 10,000 points costs 120,000, of 70,000 840,000) is taken
    # by the training workers, never by the view lane every page waits on; 0 = every view job stays in the view lane.
    # A map of up to 10,000 points stays a view job: it is made in ~15-30 s even while training runs beside it
    view_max_cost: float = 125_000.0  # (AELAB_VIEW_MAX_COST)
    # workspaces the server issues to one client (its IP address; on localhost, its browser session) per hour; 0 = no cap
    client_workspaces: int = 30  # (AELAB_CLIENT_WORKSPACES_PER_HOUR)
    client_jobs: int = 12  # queued jobs one client may have over all its workspaces; 0 = no cap (AELAB_CLIENT_QUEUED_JOBS)
    budget_images: int = 3_000_000  # compute budget per job that trains: images it processes (AELAB_JOB_BUDGET_IMAGES)
    time_limit_s: float = 1800.0  # wall-clock limit per job; it is stopped (work kept) after this (AELAB_JOB_TIME_LIMIT_S)
    # a running job whose worker has not reported for this long is "interrupted" (AELAB_STALE_S); a worker that died on
    # this machine is seen at once (its pid); a live one runs below the web server and, starved of CPU on a busy
    # machine, went 20 s silent (a 3-D map interrupted in CI while the suite filled both cores)
    stale_s: float = 60.0
    idle_exit_s: float = 600.0  # app-started workers exit after this long with nothing to do (AELAB_WORKER_IDLE_S)
    # how often an idle worker looks for a job: the wait between a click (Train, 1 step, Go on) and its start
    poll_s: float = 0.2  # (AELAB_WORKER_POLL_S)
    expire_days: float = 14.0  # anonymous workspaces unused for this many days are deleted (AELAB_EXPIRE_DAYS)
    quota_mb: float = 200.0  # disk a workspace's runs may use (AELAB_WORKSPACE_QUOTA_MB)
    gpu_memory_fraction: float = 0.0  # share of the GPU's memory each training worker may take; 0 = no cap (AELAB_GPU_MEMORY_FRACTION)
    executor: str = "process"  # "process" (local worker processes) or "ray" (AELAB_EXECUTOR)
    ray_address: str = ""  # an existing Ray cluster; empty = start Ray locally (RAY_ADDRESS)
    teacher_key: str = ""  # opens the teacher view (?teacher=KEY); empty = no teacher view (AELAB_TEACHER_KEY)
    debug: bool = False  # the command line shows a bug's whole traceback (AELAB_DEBUG)
    # page runs one server lets run at once; the others wait their turn, first come first served (a class clicking
    # together then waits half as long in the median: app_pages/kit/turns.py); 0 = all at once (AELAB_PAGE_TURNS)
    page_turns: int = 2
    gpu_workers: int = 0  # worker processes on a machine with a GPU (when AELAB_WORKERS is unset), all training on
    # the one card at once; 0 = one per core left after the view workers, at most 16 (AELAB_GPU_WORKERS)

    _ENV = {
        "home": "AELAB_HOME", "mnist": "AELAB_MNIST", "zoo": "AELAB_ZOO", "lessons": "AELAB_LESSONS",
        "workers": "AELAB_WORKERS",
        "threads": "AELAB_WORKER_THREADS", "view_workers": "AELAB_VIEW_WORKERS",
        "per_workspace": "AELAB_JOBS_PER_WORKSPACE", "max_queue": "AELAB_MAX_QUEUE",
        "view_per_workspace": "AELAB_VIEW_JOBS_PER_WORKSPACE", "view_max_cost": "AELAB_VIEW_MAX_COST",
        "client_workspaces": "AELAB_CLIENT_WORKSPACES_PER_HOUR", "client_jobs": "AELAB_CLIENT_QUEUED_JOBS",
        "budget_images": "AELAB_JOB_BUDGET_IMAGES", "time_limit_s": "AELAB_JOB_TIME_LIMIT_S",
        "stale_s": "AELAB_STALE_S", "idle_exit_s": "AELAB_WORKER_IDLE_S", "poll_s": "AELAB_WORKER_POLL_S", "expire_days": "AELAB_EXPIRE_DAYS",
        "quota_mb": "AELAB_WORKSPACE_QUOTA_MB", "gpu_memory_fraction": "AELAB_GPU_MEMORY_FRACTION",
        "executor": "AELAB_EXECUTOR", "ray_address": "RAY_ADDRESS",
        "teacher_key": "AELAB_TEACHER_KEY", "debug": "AELAB_DEBUG", "gpu_workers": "AELAB_GPU_WORKERS",
        "page_turns": "AELAB_PAGE_TURNS",
    }

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        """Settings from environment variables (unset or empty ones keep their default); SettingsError names a bad one."""
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
            if cast is bool:
                value = raw.strip().lower() not in ("0", "false", "no", "off")
            else:
                try:
                    value = cast(raw)
                except ValueError:
                    raise SettingsError(f"{var} must be a {cast.__name__}, got {raw!r}") from None
            if cast in (int, float) and value < 0:
                raise SettingsError(f"{var} must not be negative, got {raw!r}")
            setattr(s, f.name, value)
        if s.executor not in ("process", "ray"):
            raise SettingsError(f"AELAB_EXECUTOR must be 'process' or 'ray', got {s.executor!r}")
        s.home = str(Path(s.home).expanduser().resolve())  # a child process started elsewhere finds the same folder
        return s

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, for a process this one starts (a worker reads the same home)."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            if v != f.default:
                out[self._ENV[f.name]] = ("1" if v else "0") if isinstance(v, bool) else str(v)
        out["AELAB_HOME"] = str(Path(self.home).resolve())
        return out

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment for a child process: this one's, with these settings and `extra` on top."""
        return {**os.environ, **self.to_env(), **extra}

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    # ---- the data home's folders ------------------------------------------------------------------------
    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def datasets_dir(self) -> Path:
        """Imported data sets (one folder each), shared by everyone on the server."""
        return self.home_path / "datasets"

    @property
    def downloads_dir(self) -> Path:
        """torchvision's downloads (Fashion-MNIST, KMNIST) before they are read."""
        return self.home_path / "downloads"

    @property
    def mnist_path(self) -> Path:
        return Path(self.mnist)

    @property
    def zoo_dir(self) -> Path:
        return Path(self.zoo)

    @property
    def lessons_dir(self) -> Path:
        return Path(self.lessons)

    # ---- workers ------------------------------------------------------------------------------------------
    def resolved_workers(self) -> int:
        """Training/experiment worker processes: AELAB_WORKERS if set; on a GPU several at once (a class's small jobs
        are launch- and CPU-bound, so one card runs many side by side, each in its own share of the memory);
        on a CPU one per two cores."""
        if self.workers > 0:
            return self.workers
        cores = os.cpu_count() or 2
        if _has_cuda():
            return self.gpu_workers if self.gpu_workers > 0 else max(1, min(16, cores - self.view_workers))
        return max(1, cores // 2) if cores > 2 else 1

    def resolved_threads(self) -> int:
        """Threads per training worker, so that all workers' threads together never exceed the cores."""
        cores = os.cpu_count() or 2
        per = max(1, (cores - self.view_workers) // self.resolved_workers())
        return min(self.threads, per) if self.threads > 0 else per


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """Environment that caps BLAS, OpenMP and numba threads (read when those libraries load), and lets cuBLAS
    run deterministically where a GPU job asks for it (the GPU t-SNE)."""
    return dict({v: str(threads) for v in THREAD_VARS}, CUBLAS_WORKSPACE_CONFIG=":4096:8")


def cap_thread_env(threads: int) -> None:
    """Put the thread caps in this process's environment (for the libraries it has not loaded yet)."""
    os.environ.update(thread_env(threads))


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch not importable here: treat as CPU-only
        return False


_current: Settings | None = None
_lock = threading.Lock()


def current() -> Settings:
    """This process's settings: made from the environment on first use, or the ones `use` installed."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Settings.from_env()
    return _current


def use(settings: Settings | None) -> Settings | None:
    """Make `settings` this process's settings (None: read the environment again on next use); returns the previous
    ones. The app, a worker and the command line use the environment's; tests install their own."""
    global _current
    with _lock:
        prev, _current = _current, settings
    return prev
