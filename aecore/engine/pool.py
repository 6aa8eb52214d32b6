"""Starting worker processes on demand (the app calls ensure_workers; nobody has to start them by hand)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from aecore.engine.store import Store
from aecore.settings import ROOT, Settings, thread_env

_children: list[subprocess.Popen] = []  # workers this process started (polled, so none stays a zombie)


def ensure_workers(store: Store, settings: Settings, idle_exit_s: float | None = None) -> int:
    """Start workers until `settings.resolved_workers()` are alive; returns how many were started.

    A lock file makes this safe to call from many sessions and app replicas at once: the workers are the data home's,
    shared by every replica, and one replica counts the workers another has just started (`workers.starting`).
    """
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)
    want = settings.resolved_workers()
    started = 0
    store.logs_dir.mkdir(parents=True, exist_ok=True)
    with open(store.home / "workers.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        registered = store.live_workers()
        pids = {w.pid for w in registered}
        idle = idle_exit_s if idle_exit_s is not None else settings.idle_exit_s
        starting = _read_starting(store.home, pids)
        for lane, want_n in (("all", want), ("view", settings.view_workers)):
            live = sum(1 for w in registered if worker_lane(w.id) == lane) + sum(1 for s in starting if s[1] == lane)
            for _ in range(max(0, want_n - live)):
                p = spawn_worker(settings, idle, lane)
                _children.append(p)
                starting.append((p.pid, lane, p.started_at))
                started += 1
        (store.home / STARTING).write_text("".join(f"{pid} {lane} {t:.3f}\n" for pid, lane, t in starting))
    return started


STARTING = "workers.starting"  # workers started by any process on this data home that have not registered yet


def _read_starting(home: Path, registered_pids: set[int]) -> list[tuple[int, str, float]]:
    """Workers some process (this one or another replica) started in the last minute that are alive and have not
    registered in the store yet (importing torch takes a while): (pid, lane, started)."""
    from aecore.engine.store import pid_alive

    out = []
    try:
        lines = (home / STARTING).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            pid, lane, t = line.split()
            pid, t = int(pid), float(t)
        except ValueError:
            continue
        if pid not in registered_pids and time.time() - t < 60 and pid_alive(pid):
            out.append((pid, lane, t))
    return out


def worker_lane(worker_id: str) -> str:
    """A worker's lane, read from its id: "view" (short jobs pages wait for) or "all" (training and the rest)."""
    return "view" if worker_id.startswith("wv-") else "all"


def gpu_share(settings: Settings) -> float:
    """The share of the GPU's memory each worker process may take: Settings.gpu_memory_fraction if set, else 0.9
    split over all the workers (training and view lanes) on a machine with CUDA, 0 (no cap) without one."""
    if settings.gpu_memory_fraction:
        return settings.gpu_memory_fraction
    from aecore.settings import _has_cuda

    return round(0.9 / (settings.resolved_workers() + settings.view_workers), 4) if _has_cuda() else 0.0


def spawn_worker(settings: Settings, idle_exit_s: float = 0.0, lane: str = "all") -> subprocess.Popen:
    """Start `python -m aecore worker` in the background, with capped threads and, on a GPU, its share of the card's
    memory (several workers train side by side on one GPU), its output in the logs folder."""
    env = settings.with_(gpu_memory_fraction=gpu_share(settings)).child_env(
        **thread_env(1 if lane == "view" else settings.resolved_threads()))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    log = open(Path(settings.home) / "logs" / f"worker-{int(time.time() * 1000)}.log", "ab")
    cmd = [sys.executable, "-m", "aecore", "worker"]
    if idle_exit_s:
        cmd += ["--idle-exit", str(idle_exit_s)]
    if lane != "all":
        cmd += ["--lane", lane]
    p = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    log.close()
    p.started_at, p.lane = time.time(), lane
    return p


def stop_workers(store: Store, timeout_s: float = 10.0) -> None:
    """Ask every worker on this host to finish (SIGTERM: a running job is left resumable), then wait."""
    import signal

    from aecore.engine.store import pid_alive

    for w in store.workers():
        try:
            os.kill(w.pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + timeout_s
    for p in _children:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
    for w in store.workers():
        if pid_alive(w.pid) and time.time() > deadline:
            try:
                os.kill(w.pid, signal.SIGKILL)
            except OSError:
                pass
