"""The store's records: job statuses, stop flags, the Job, Lease and run rows, and how their columns are kept."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import dataclass, field

import numpy as np

QUEUED, RUNNING, DONE, STOPPED, FAILED, DIVERGED, INTERRUPTED, PAUSED = (
    "queued", "running", "done", "stopped", "failed", "diverged", "interrupted", "paused")
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, STOPPED, FAILED, DIVERGED, INTERRUPTED, PAUSED)
RESUMABLE = (INTERRUPTED, STOPPED, PAUSED)
STOP, PAUSE, TEACHER_STOP = 1, 2, 3  # the stop flag: end the job, pause it (resumable where it paused), a teacher's stop
LOST = -1  # what a report answers a worker whose hold on the job has ended (it was interrupted, then resumed)
MAX_CURVE_POINTS = 600  # per-step loss points kept per job (thinned evenly beyond this)
MAX_NAME = 80  # characters of a run name


@dataclass(frozen=True)
class Lease:
    """A worker's hold on a running job: which worker claimed it and which attempt this is. Reports and the ending
    count only while the job is still running under this very lease."""

    job: int
    worker: str
    attempt: int

    @classmethod
    def of(cls, job: "Job") -> "Lease":
        return cls(job.id, job.worker or "", job.attempts)


@dataclass
class Job:
    """One job as the store holds it."""

    id: int
    workspace: str
    kind: str  # "train", "sweep", "projection", … (see aecore.engine.kinds)
    label: str
    params: dict
    status: str
    submitted: float
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    worker: str | None = None
    stop: bool = False
    progress: dict | None = None  # the latest aecore.training.trainer.Progress as a dict (+ "fraction")
    curve: list = field(default_factory=list)  # [[epoch as a fraction, mean loss so far], …] per reported step
    history: list = field(default_factory=list)  # the finished epochs' rows (EpochStats dicts)
    error: str = ""
    run_id: str | None = None  # the kept run (training jobs)
    result_key: str | None = None  # the result in the result store (experiments, projections)
    cost: float = 0.0  # estimated images to process (the compute budget it uses)
    work_s: float = 0.0  # reference seconds of work (aecore.training.speed); times the speed factor: its duration
    attempts: int = 0  # how often it was started (a resumed job counts again)
    name: str | None = None  # the run name asked for (training jobs)
    lane: str = "train"  # "view": a short job a page waits for (served first, not counted against the job limit)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def resumable(self) -> bool:
        """Interrupted, stopped or paused: it can go on where it ended."""
        return self.status in RESUMABLE

    @property
    def epochs_done(self) -> int:
        return sum(1 for r in self.history if r.get("phase", "train") == "train")

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["epoch"] = self.epochs_done
        return d


@dataclass(frozen=True, slots=True)
class Waiting:
    """What the queue's order and a waiting time need of a queued job: no params, progress, curve or history to
    decode (every queued student's page asks for its place every second or so)."""

    id: int
    workspace: str
    lane: str
    submitted: float
    work_s: float

    COLUMNS = "id, workspace, lane, submitted, work_s"  # the SELECT that fills one, in this order


@dataclass
class RunEntry:
    """A kept run: its files live in runs/<workspace>/<id>/ under the data home."""

    id: str
    workspace: str
    name: str
    created: float
    shared: bool
    status: str
    digest: str  # sha256 of the weights: experiment results are keyed by it
    bytes: int
    job: int | None
    summary: str


@dataclass
class WorkerEntry:
    id: str
    pid: int
    host: str
    started: float
    heartbeat: float
    job: int | None


def preview_bytes(images: np.ndarray) -> bytes:
    """Preview images (float [n,28,28] in 0..1) as compact .npy bytes."""
    buf = io.BytesIO()
    np.save(buf, np.clip(images, 0, 1).astype(np.float16), allow_pickle=False)
    return buf.getvalue()


def layout_bytes(xy: np.ndarray) -> bytes:
    """A projection's current layout [n, 2] as .npy bytes (float32: t-SNE coordinates reach the hundreds)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(xy, np.float32), allow_pickle=False)
    return buf.getvalue()


def preview_array(data: bytes | None) -> np.ndarray | None:
    if not data:
        return None
    return np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32)


def thin(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    """Keep at most `limit` points, evenly spread, always keeping the last."""
    if len(points) <= limit:
        return points
    step = len(points) / (limit - 1)
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]


def clean_name(name: str) -> str:
    """A run name as plain text: printable, single-line, at most MAX_NAME characters."""
    name = " ".join("".join(ch for ch in str(name) if ch.isprintable()).split())[:MAX_NAME]
    return name or "run"


def _loads(s, default):
    if s is None or s == "":
        return default
    try:
        return json.loads(s)
    except ValueError:
        return default


def _job(r: sqlite3.Row) -> Job:
    return Job(
        id=r["id"], workspace=r["workspace"], kind=r["kind"], label=r["label"], params=_loads(r["params"], {}),
        status=r["status"], submitted=r["submitted"], started=r["started"], finished=r["finished"],
        heartbeat=r["heartbeat"], worker=r["worker"], stop=bool(r["stop"]), progress=_loads(r["progress"], None),
        curve=_loads(r["curve"], []), history=_loads(r["history"], []), error=r["error"] or "", run_id=r["run_id"],
        result_key=r["result_key"], cost=r["cost"] or 0.0, work_s=r["work_s"] or 0.0, attempts=r["attempts"], name=r["name"], lane=r["lane"],
    )


def _run(r: sqlite3.Row) -> RunEntry:
    return RunEntry(id=r["id"], workspace=r["workspace"], name=r["name"], created=r["created"], shared=bool(r["shared"]),
                    status=r["status"], digest=r["digest"], bytes=r["bytes"], job=r["job"], summary=r["summary"])
