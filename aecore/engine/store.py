"""The job store: every job, workspace, kept run and worker in one SQLite database (WAL) under the data home."""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import queue
import shutil
import socket
import sqlite3
import time
from pathlib import Path

import numpy as np

from aecore.engine.failures import (
    StoreError,
    StoreUnavailable,  # noqa: F401
    _store_failure,
    unavailable,
)
from aecore.engine.fairness import _fair_order, _running_counts
from aecore.engine.records import (
    ACTIVE,
    DIVERGED,  # noqa: F401
    DONE,
    FAILED,  # noqa: F401
    FINISHED,  # noqa: F401
    INTERRUPTED,
    LOST,
    MAX_CURVE_POINTS,  # noqa: F401
    MAX_NAME,  # noqa: F401
    PAUSE,
    PAUSED,  # noqa: F401
    QUEUED,
    RESUMABLE,
    RUNNING,
    STOP,
    STOPPED,
    TEACHER_STOP,
    Job,
    Lease,
    RunEntry,
    Waiting,
    WorkerEntry,
    _job,
    _run,
    clean_name,
    layout_bytes,
    preview_array,
    preview_bytes,
    thin,
)
from aecore.engine.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from aecore.engine.workspaces import (
    MAX_STUDENT_NAME,
    RESERVED_WORKSPACES,
    SHELL_WORKSPACE,  # noqa: F401
    WARM_UP_WORKSPACE,
    _check_client,
    is_signed,
    new_token,  # noqa: F401
    read_secret,
    signed_token,
    valid_token,
)


def _tree_bytes(top: Path) -> int:
    """Bytes of the files under `top`. A job that ends removes its saved states while a page counts them: what is gone
    counts as nothing (os.walk passes over a folder that vanished; Path.rglob raised FileNotFoundError to the page)."""
    total = 0
    for folder, _, files in os.walk(top):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
            except OSError:
                pass
    return total


def _queued(c: sqlite3.Connection) -> list[Waiting]:
    """The queued jobs, oldest first, as much of each as the queue's order needs."""
    rows = c.execute(f"SELECT {Waiting.COLUMNS} FROM jobs WHERE status=? ORDER BY id", (QUEUED,))
    return [Waiting(i, ws, lane, submitted, work_s or 0.0) for i, ws, lane, submitted, work_s in rows]


class Store:
    """The engine's database and the files beside it (runs, checkpoints, results, logs) under `home`."""

    def __init__(self, home: str | os.PathLike):
        self.home = Path(home)
        self.path = self.home / "jobs.sqlite"
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._secret: bytes | None = None
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise unavailable(e, self.home) from e
        with self._use() as c:
            self._migrate(c)

    # ---- plumbing ----------------------------------------------------------------------------------
    # Connections are pooled, not tied to threads: Streamlit runs every script run on a new thread,
    # and opening a connection (with its PRAGMAs) per page run costs more than the query.
    def _open(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=30000")
        except BaseException:
            c.close()
            raise
        return c

    @contextlib.contextmanager
    def _use(self):
        """A pooled connection. A failure of the disk or the database (full, read-only, busy, damaged) leaves as a
        StoreUnavailable with a plain message (the connection is dropped: it may be mid-transaction); a StoreError
        of the store's own checks passes through."""
        try:
            c = self._pool.get_nowait()
        except queue.Empty:
            try:
                c = self._open()
            except Exception as e:
                if _store_failure(e):
                    raise unavailable(e, self.path) from e
                raise
        try:
            yield c
        except Exception as e:
            if not _store_failure(e):
                self._pool.put(c)
                raise
            with contextlib.suppress(Exception):
                c.close()
            raise unavailable(e, self.path) from e
        except BaseException:
            self._pool.put(c)
            raise
        else:
            self._pool.put(c)

    @contextlib.contextmanager
    def _tx(self):
        """A write transaction (BEGIN IMMEDIATE: one writer at a time, others wait). A failed statement or COMMIT
        rolls it back (SQLite may have done so itself: a full disk ends the transaction)."""
        with self._use() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        c.execute("ROLLBACK")
                raise

    def _q(self, sql: str, args=()) -> list[sqlite3.Row]:
        with self._use() as c:
            return c.execute(sql, args).fetchall()

    def _migrate(self, c: sqlite3.Connection) -> None:
        """Create a new store, or bring an older file up to SCHEMA_VERSION (each step in its own transaction)."""
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        c.execute("BEGIN IMMEDIATE")
        try:
            version = c.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it meanwhile
            existing = c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'").fetchone()
            if not existing:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        c.execute(statement)
            else:
                for v in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS.get(v, []):
                        c.execute(statement)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    c.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return int(self._q("PRAGMA user_version")[0][0])

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # ---- folders -------------------------------------------------------------------------------------
    def run_dir(self, workspace: str, run_id: str) -> Path:
        return self.home / "runs" / workspace / run_id

    def checkpoint_dir(self, job_id: int) -> Path:
        return self.home / "jobs" / str(job_id) / "checkpoint"

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def uploads_dir(self) -> Path:
        """Files a page hands to a worker (an uploaded zip of images); the job deletes its file when it ends."""
        return self.home / "uploads"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    # ---- workspaces --------------------------------------------------------------------------------
    @property
    def secret(self) -> bytes:
        """The server's secret that signs the workspace ids it issues (read_secret)."""
        if self._secret is None:
            try:
                self._secret = read_secret(self.home)
            except OSError as e:
                raise unavailable(e, self.home / "secret") from e
        return self._secret

    def issued(self, ws: str | None) -> bool:
        """Whether a browser may use `ws`: an id this server signed (never a reserved one: the shell's, the warm-up's)."""
        return is_signed(ws, self.secret) and ws not in RESERVED_WORKSPACES

    def issue_workspace(self, client: str = "", per_hour: int = 0) -> str:
        """A new workspace for `client` (what the server sees of a browser: its address, or its session); StoreError
        when `per_hour` workspaces were issued to that client in the last hour already (0: no cap)."""
        token = signed_token(self.secret)
        now, client = time.time(), str(client)[:100]
        with self._tx() as c:
            if per_hour and client:
                n = c.execute("SELECT COUNT(*) FROM workspaces WHERE client=? AND created>?",
                              (client, now - 3600)).fetchone()[0]
                if n >= per_hour:
                    raise StoreError(f"your computer was given {n} new workspaces in the last hour, the most one "
                                     "computer may have (so that no one can fill the class's queue): open the link "
                                     "of a workspace you have (with ?ws=…), or try again later")
            c.execute("INSERT INTO workspaces(id, created, seen, client) VALUES(?,?,?,?)", (token, now, now, client))
        return token

    def touch_workspace(self, ws: str) -> None:
        """Create the workspace if new and note that it was used now."""
        if not valid_token(ws):
            raise StoreError("a workspace id is 8-64 letters, digits, '-' or '_'")
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT INTO workspaces(id, created, seen) VALUES(?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET seen=excluded.seen", (ws, now, now))

    def workspaces(self) -> list[dict]:
        return [dict(r) for r in self._q("SELECT * FROM workspaces ORDER BY seen DESC")]

    def set_workspace_name(self, ws: str, name: str) -> str:
        """Keep the name a student gives for the teacher (workspaces.name, in the store since schema 2): one line of
        printable text, at most MAX_STUDENT_NAME characters; '' clears it. Returns the name as kept."""
        if not valid_token(ws):
            raise StoreError("a workspace id is 8-64 letters, digits, '-' or '_'")
        kept = " ".join("".join(ch if ch.isprintable() else " " for ch in str(name)).split())[:MAX_STUDENT_NAME].strip()
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT INTO workspaces(id, created, seen, name) VALUES(?,?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET name=excluded.name, seen=excluded.seen", (ws, now, now, kept))
        return kept

    def workspace_names(self) -> dict[str, str]:
        """Workspace id -> the name its student gave (only those that gave one)."""
        return {r["id"]: r["name"] for r in self._q("SELECT id, name FROM workspaces WHERE name<>''")}

    def expire(self, days: float) -> list[str]:
        """Delete workspaces unused for `days` (their unshared runs and finished jobs); returns their ids.

        The choice and the deletion are one transaction (a student coming back at that moment, or a job queued
        meanwhile, keeps the workspace); the files go after it commits."""
        cutoff = time.time() - days * 86400
        with self._tx() as c:
            gone = [r[0] for r in c.execute(
                "SELECT id FROM workspaces WHERE seen < ? AND NOT EXISTS "
                "(SELECT 1 FROM jobs WHERE jobs.workspace=workspaces.id AND status IN (?,?))", (cutoff, *ACTIVE))]
            runs, jobs = [], []
            for ws in gone:
                runs += [_run(r) for r in c.execute("SELECT * FROM runs WHERE workspace=? AND shared=0", (ws,))]
                jobs += [r[0] for r in c.execute("SELECT id FROM jobs WHERE workspace=?", (ws,))]
                c.execute("DELETE FROM runs WHERE workspace=? AND shared=0", (ws,))
                c.execute("DELETE FROM jobs WHERE workspace=?", (ws,))
                c.execute("DELETE FROM workspaces WHERE id=?", (ws,))
        for r in runs:
            self._delete_run_files(r)
        for job_id in jobs:
            shutil.rmtree(self.checkpoint_dir(job_id).parent, ignore_errors=True)  # resume states
        return gone

    # ---- jobs ----------------------------------------------------------------------------------------
    def submit(self, workspace: str, kind: str, params: dict, label: str, *, cost: float = 0.0, work_s: float = 0.0,
               per_workspace: int | None = None, max_queue: int | None = None, name: str | None = None,
               result_key: str | None = None, lane: str = "train", view_per_workspace: int | None = None,
               per_client: int | None = None) -> Job:
        """Queue a job; StoreError when the workspace has too many unfinished jobs (`per_workspace`, not counting
        view jobs) or waiting view jobs (`view_per_workspace`), when the workspace's client (the browser the server
        issued it to) has `per_client` jobs waiting over all its workspaces, or when the queue is full."""
        if not valid_token(workspace):
            raise StoreError("a workspace id is 8-64 letters, digits, '-' or '_'")
        blob = json.dumps(params, sort_keys=True)
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT INTO workspaces(id, created, seen) VALUES(?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET seen=excluded.seen", (workspace, now, now))
            if per_workspace is not None:
                mine = c.execute("SELECT COUNT(*) FROM jobs WHERE workspace=? AND status IN (?,?) AND lane<>'view'",
                                 (workspace, *ACTIVE)).fetchone()[0]
                if mine >= per_workspace:
                    raise StoreError(f"you already have {mine} job(s) queued or running (the limit is {per_workspace}); "
                                     "wait for one to finish or stop it")
            if view_per_workspace is not None and lane == "view":
                waiting = c.execute("SELECT COUNT(*) FROM jobs WHERE workspace=? AND status=? AND lane='view'",
                                    (workspace, QUEUED)).fetchone()[0]
                if waiting >= view_per_workspace:
                    raise StoreError(f"{waiting} of your results are waiting to be computed already (the limit is "
                                     f"{view_per_workspace}); wait for them, or stop one")
            _check_client(c, workspace, per_client)
            if max_queue is not None:
                queued = c.execute("SELECT COUNT(*) FROM jobs WHERE status=?", (QUEUED,)).fetchone()[0]
                if queued >= max_queue:
                    raise StoreError(f"the server's queue is full ({max_queue} jobs); try again in a minute")
            cur = c.execute(
                "INSERT INTO jobs(workspace, kind, label, params, status, submitted, cost, work_s, name, result_key, "
                "lane) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (workspace, kind, label[:200], blob, QUEUED, now, float(cost), float(work_s), name, result_key, lane))
            job_id = cur.lastrowid
        return self.job(job_id)

    def job(self, job_id: int, workspace: str | None = None, with_preview: bool = False) -> Job:
        """One job; with `workspace`, StoreError unless it belongs to that workspace (an id out of range: no job)."""
        rows = self._q("SELECT * FROM jobs WHERE id=?", (_job_id(job_id),))
        if not rows or (workspace is not None and rows[0]["workspace"] != workspace):
            raise StoreError(f"no job {job_id} in your workspace")
        return _job(rows[0])

    def preview(self, job_id: int) -> np.ndarray | None:
        """A training job's latest reconstruction preview, or a projection job's latest layout [n, 2]."""
        rows = self._q("SELECT preview FROM jobs WHERE id=?", (_job_id(job_id),))
        return preview_array(rows[0]["preview"]) if rows else None

    def jobs(self, workspace: str | None = None, statuses: tuple[str, ...] | None = None, limit: int = 200) -> list[Job]:
        """Jobs, newest first (of one workspace, and/or with one of `statuses`)."""
        where, args = [], []
        if workspace is not None:
            where.append("workspace=?")
            args.append(workspace)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        sql = ("SELECT id, workspace, kind, label, params, status, submitted, started, finished, heartbeat, worker, "
               "stop, progress, curve, history, error, run_id, result_key, cost, work_s, attempts, name, lane FROM jobs")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        return [_job(r) for r in self._q(sql, (*args, int(limit)))]

    def find_active(self, result_key: str) -> Job | None:
        """A queued or running job (of any workspace) that will produce `result_key`: results are shared."""
        rows = self._q("SELECT * FROM jobs WHERE result_key=? AND status IN (?,?) ORDER BY id DESC",
                       (result_key, *ACTIVE))
        return _job(rows[0]) if rows else None

    def latest(self, result_key: str) -> Job | None:
        """The newest finished job (of any workspace) that produced or tried to produce `result_key`."""
        rows = self._q("SELECT * FROM jobs WHERE result_key IN (?, ?) AND status NOT IN (?,?) ORDER BY id DESC LIMIT 1",
                       (result_key, result_key + "-partial", *ACTIVE))
        return _job(rows[0]) if rows else None

    def queue_order(self) -> list[Waiting]:
        """Queued jobs in the order workers take them: round robin over workspaces, oldest first within one.

        A workspace's n-th waiting job goes after every other workspace's (n-1)-th, counting its
        running jobs first, so one student's ten jobs never starve the others.
        """
        with self._use() as c:
            return _fair_order(_queued(c), _running_counts(c))

    def lane_places(self) -> dict[int, int]:
        """job id -> 1-based place among the queued jobs of its lane, in the order workers take them (one read of
        the queue for all of them, no waiting times worked out)."""
        counts: dict[str, int] = {}
        places = {}
        for j in self.queue_order():
            counts[j.lane] = counts.get(j.lane, 0) + 1
            places[j.id] = counts[j.lane]
        return places

    def position(self, job_id: int) -> int:
        """1-based place in the queue of its lane (0 when the job is not waiting)."""
        return self.lane_places().get(int(job_id), 0)

    def eta_s(self, job_id: int, workers: int) -> float | None:
        """Seconds until the job should start: work ahead of it (and left in running jobs) over the workers."""
        return self.waiting(job_id, workers)[1]

    def waiting(self, job_id: int, workers: int) -> tuple[int, float | None]:
        """(1-based place in the queue, seconds until it should start); (0, None) when the job is not waiting.

        The place counts the jobs ahead in the job's own lane. The time plays the queue out: each of `workers`
        workers first finishes what it runs (what is left of its work), then takes the jobs ahead in order, each
        costing a job's start (loading the data and the model) and its work: reference seconds times the speed
        factor (aecore.training.speed)."""
        order = self.queue_order()
        ids = [j.id for j in order]
        if int(job_id) not in ids:
            return 0, None
        place = ids.index(int(job_id))
        lane = order[place].lane
        ahead = [j for j in order[:place] if j.lane == lane]
        factor, start = self.speed_factor(), self.start_overhead_s()
        running = self._q("SELECT work_s, progress FROM jobs WHERE status=? AND lane=?", (RUNNING, lane))
        left = sorted((w or 0.0) * factor * (1 - (json.loads(p) if p else {}).get("fraction", 0.0)) for w, p in running)
        free = (left + [0.0] * max(0, workers - len(left)))[:max(1, workers)]  # when each worker is free again
        heapq.heapify(free)
        for j in ahead:
            heapq.heappush(free, heapq.heappop(free) + start + j.work_s * factor)
        return len(ahead) + 1, free[0]

    def speed_factor(self) -> float:
        """How this server's recent training jobs ran against the reference machine: the median over the last ten
        finished ones of their training seconds (images over their images per second) over their reference seconds;
        1.0 when there are none. Under 1: a faster machine (a GPU); over 1: a busier or slower one."""
        rows = self._q("SELECT cost, work_s, progress FROM jobs WHERE kind='train' AND status=? AND progress IS NOT "
                       "NULL AND work_s > 0 AND cost > 0 ORDER BY id DESC LIMIT 10", (DONE,))
        ratios = []
        for cost, work_s, progress in rows:
            rate = json.loads(progress).get("images_per_s", 0)
            if rate > 0:
                ratios.append(cost / rate / work_s)
        return float(min(100.0, max(0.001, np.median(ratios)))) if ratios else 1.0

    def start_overhead_s(self) -> float:
        """Seconds a job costs beyond its images (a worker loads the data set and builds the model): the median over
        recent finished training jobs of their time less their images over their rate; 2 s when there are none."""
        rows = self._q("SELECT started, finished, cost, progress FROM jobs WHERE kind='train' AND status=? AND "
                       "progress IS NOT NULL AND started IS NOT NULL AND finished IS NOT NULL ORDER BY id DESC LIMIT 10",
                       (DONE,))
        extra = []
        for started, finished, cost, progress in rows:
            rate = json.loads(progress).get("images_per_s", 0)
            if rate > 0:
                extra.append(max(0.0, (finished - started) - (cost or 0.0) / rate))
        return float(min(30.0, max(0.2, np.median(extra)))) if extra else 2.0

    def claim(self, worker: str, lane: str | None = None) -> Job | None:
        """Atomically take the next queued job (fair order; only jobs of `lane` if given) and mark it running; the
        returned job's worker and attempt are the lease its reports and its ending must show (Lease.of(job))."""
        now = time.time()
        with self._tx() as c:
            queued = [j for j in _queued(c) if lane is None or j.lane == lane]
            if not queued:
                return None
            job = _fair_order(queued, _running_counts(c))[0]
            c.execute("UPDATE jobs SET status=?, started=?, heartbeat=?, worker=?, attempts=attempts+1 WHERE id=?",
                      (RUNNING, now, now, worker, job.id))
            c.execute("UPDATE workers SET job=?, heartbeat=? WHERE id=?", (job.id, now, worker))
        return self.job(job.id)

    def report(self, lease: Lease, progress: dict | None = None, curve: list | None = None,
               history: list | None = None, preview: np.ndarray | None = None,
               layout: np.ndarray | None = None) -> int:
        """A worker's progress report (also its heartbeat); returns the stop flag (0, STOP, PAUSE or TEACHER_STOP), or
        LOST when the job no longer runs under this lease (nothing is written then).

        `preview`: a training job's reconstructions of the preview digits; `layout`: a projection
        job's current 2-D layout (both kept in the job's preview column).
        """
        sets, args = ["heartbeat=?"], [time.time()]
        if progress is not None:
            sets.append("progress=?")
            args.append(json.dumps(progress))
        if curve is not None:
            sets.append("curve=?")
            args.append(json.dumps(thin(curve)))
        if history is not None:
            sets.append("history=?")
            args.append(json.dumps(history))
        if preview is not None or layout is not None:
            sets.append("preview=?")
            args.append(preview_bytes(preview) if preview is not None else layout_bytes(layout))
        with self._tx() as c:
            cur = c.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id=? AND worker=? AND attempts=? AND status=?",
                            (*args, lease.job, lease.worker, lease.attempt, RUNNING))
            if cur.rowcount == 0:
                return LOST
            row = c.execute("SELECT stop FROM jobs WHERE id=?", (lease.job,)).fetchone()
        return int(row[0]) if row else 0

    def finish(self, lease: Lease, status: str, error: str = "", result_key: str | None = None,
               run: dict | None = None) -> bool:
        """Record how a job ended, and register the run it kept (`run`: its row, see engine.keep.write_run, with
        "name" and "share"), in one transaction: only while the job still runs under `lease`. Returns False (and
        records nothing) when it does not: the job was interrupted meanwhile and belongs to a later attempt."""
        now = time.time()
        with self._tx() as c:
            held = c.execute("SELECT run_id FROM jobs WHERE id=? AND worker=? AND attempts=? AND status=?",
                             (lease.job, lease.worker, lease.attempt, RUNNING)).fetchone()
            if held is None:
                return False
            run_id = None
            if run is not None:
                run_id = run["id"]
                if c.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():  # a resumed job's own run
                    c.execute("UPDATE runs SET status=?, digest=?, bytes=?, summary=? WHERE id=?",
                              (run["status"], run["digest"], int(run["bytes"]), run["summary"], run_id))
                else:
                    c.execute("INSERT INTO runs(id, workspace, name, created, status, digest, bytes, job, summary) "
                              "VALUES(?,?,?,?,?,?,?,?,?)",
                              (run_id, run["workspace"], _free_name(c, run["workspace"], run["name"]), now,
                               run["status"], run["digest"], int(run["bytes"]), lease.job, run["summary"]))
                if run.get("share"):
                    c.execute("UPDATE runs SET shared=1 WHERE id=?", (run_id,))
            c.execute("UPDATE jobs SET status=?, error=?, finished=?, run_id=COALESCE(?, run_id), "
                      "result_key=COALESCE(?, result_key) WHERE id=?",
                      (status, error, now, run_id, result_key, lease.job))
            c.execute("UPDATE workers SET job=NULL WHERE job=?", (lease.job,))
        return True

    def request_stop(self, job_id: int, workspace: str | None = None, teacher: bool = False) -> Job:
        """Stop a job: a queued one is dropped at once, a running one stops within a step (weights kept).

        With `workspace`, only that workspace's jobs (StoreError otherwise); None = a teacher or the shell.
        `teacher`: the student is told that their teacher stopped it.
        """
        job = self.job(job_id, workspace)
        who = "by the teacher " if teacher else ""
        with self._tx() as c:
            c.execute("UPDATE jobs SET status=?, error=?, finished=? WHERE id=? AND status=?",
                      (STOPPED, f"stopped {who}before it started", time.time(), job.id, QUEUED))
            c.execute("UPDATE jobs SET stop=? WHERE id=? AND status IN (?,?)",
                      (TEACHER_STOP if teacher else STOP, job.id, QUEUED, RUNNING))
        return self.job(job.id)

    def request_pause(self, job_id: int, workspace: str | None = None) -> Job:
        """Pause a running training job after its current step (a queued one is left waiting)."""
        job = self.job(job_id, workspace)
        if job.kind != "train":  # the one kind that keeps its exact state where it pauses
            raise StoreError("only training jobs can be paused")
        with self._tx() as c:
            c.execute("UPDATE jobs SET stop=? WHERE id=? AND status=? AND stop=0", (PAUSE, job.id, RUNNING))
        return self.job(job.id)

    def stop_flag(self, lease: Lease) -> int:
        """0 = go on, STOP, PAUSE or TEACHER_STOP; LOST when the job no longer runs under this lease (a read only)."""
        rows = self._q("SELECT stop, worker, attempts, status FROM jobs WHERE id=?", (lease.job,))
        if not rows or (rows[0]["worker"], rows[0]["attempts"], rows[0]["status"]) != (lease.worker, lease.attempt,
                                                                                        RUNNING):
            return LOST
        return int(rows[0]["stop"])

    def resume(self, job_id: int, workspace: str | None = None, per_workspace: int | None = None,
               steps: int | None = None, per_client: int | None = None) -> Job:
        """Queue an interrupted, stopped or paused job again; training continues exactly where it ended
        (or from its last finished epoch after a crash). `steps`: pause again after that many steps.

        The check and the change are one statement in one transaction: of two resumes at once, one queues the job
        and the other is told it is queued already."""
        with self._tx() as c:
            row = c.execute("SELECT * FROM jobs WHERE id=?", (_job_id(job_id),)).fetchone()
            if row is None or (workspace is not None and row["workspace"] != workspace):
                raise StoreError(f"no job {job_id} in your workspace")
            job = _job(row)
            if job.status not in RESUMABLE:
                raise StoreError(f"job {job.id} is {job.status}; only interrupted, stopped or paused jobs can be resumed")
            if steps is not None and (job.kind != "train" or int(steps) < 1):
                raise StoreError("step by step works for training jobs, at least one step at a time")
            if per_workspace is not None:
                mine = c.execute("SELECT COUNT(*) FROM jobs WHERE workspace=? AND status IN (?,?) AND lane<>'view'",
                                 (job.workspace, *ACTIVE)).fetchone()[0]
                if mine >= per_workspace:
                    raise StoreError(f"you already have {mine} job(s) queued or running (the limit is {per_workspace})")
            _check_client(c, job.workspace, per_client)
            params = dict(job.params)
            params.pop("max_steps", None)
            if steps is not None:
                params["max_steps"] = int(steps)
            cur = c.execute(f"UPDATE jobs SET status=?, stop=0, error='', finished=NULL, submitted=?, params=? "
                            f"WHERE id=? AND status IN ({','.join('?' * len(RESUMABLE))})",
                            (QUEUED, time.time(), json.dumps(params, sort_keys=True), job.id, *RESUMABLE))
            if cur.rowcount != 1:
                raise StoreError(f"job {job.id} was resumed already")
        return self.job(job.id)

    def interrupt_stale(self, stale_s: float) -> list[int]:
        """Mark running jobs whose worker died (or went silent for `stale_s`) as interrupted."""
        now = time.time()
        host = socket.gethostname()
        workers = {w.id: w for w in self.workers()}
        hit = []
        for j in self.jobs(statuses=(RUNNING,)):
            w = workers.get(j.worker or "")
            dead = w is not None and w.host == host and not pid_alive(w.pid)
            silent = now - (j.heartbeat or j.started or now) > stale_s
            if dead or silent:
                hit.append(j)
        for j in hit:
            msg = (f"interrupted: its worker stopped after {j.epochs_done} finished epoch(s); "
                   "resume to continue from there")
            with self._tx() as c:  # only the attempt seen stale: a job resumed and claimed meanwhile is left alone
                c.execute("UPDATE jobs SET status=?, error=?, finished=? WHERE id=? AND status=? AND attempts=?",
                          (INTERRUPTED, msg, now, j.id, RUNNING, j.attempts))
        return [j.id for j in hit]

    # ---- workers -------------------------------------------------------------------------------------
    def register_worker(self, worker_id: str, pid: int) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO workers(id, pid, host, started, heartbeat, job) VALUES(?,?,?,?,?,NULL)",
                      (worker_id, pid, socket.gethostname(), now, now))

    def worker_heartbeat(self, worker_id: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE workers SET heartbeat=? WHERE id=?", (time.time(), worker_id))

    def unregister_worker(self, worker_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM workers WHERE id=?", (worker_id,))

    def workers(self) -> list[WorkerEntry]:
        return [WorkerEntry(**dict(r)) for r in self._q("SELECT * FROM workers")]

    def live_workers(self, max_age_s: float = 15.0) -> list[WorkerEntry]:
        """Workers that reported recently and (on this host) whose process still runs; drops the others."""
        now, host = time.time(), socket.gethostname()
        live, dead = [], []
        for w in self.workers():
            if now - w.heartbeat > max_age_s or (w.host == host and not pid_alive(w.pid)):
                dead.append(w.id)
            else:
                live.append(w)
        for wid in dead:
            self.unregister_worker(wid)
        return live

    # ---- kept runs -----------------------------------------------------------------------------------
    def add_run(self, workspace: str, run_id: str, name: str, status: str, digest: str, nbytes: int,
                job: int | None = None, summary: str = "") -> RunEntry:
        """Register a run whose files are in run_dir(workspace, run_id); a name already used gets " (2)", " (3)"…"""
        with self._tx() as c:
            final = _free_name(c, workspace, name)
            c.execute("INSERT INTO runs(id, workspace, name, created, status, digest, bytes, job, summary) "
                      "VALUES(?,?,?,?,?,?,?,?,?)",
                      (run_id, workspace, final, time.time(), status, digest, int(nbytes), job, summary))
        return self.run(run_id)

    def run(self, run_id: str) -> RunEntry:
        rows = self._q("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id!r}")
        return _run(rows[0])

    def runs(self, workspace: str | None = None, shared: bool | None = None) -> list[RunEntry]:
        where, args = [], []
        if workspace is not None:
            where.append("workspace=?")
            args.append(workspace)
        if shared is not None:
            where.append("shared=?")
            args.append(int(shared))
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created DESC"
        return [_run(r) for r in self._q(sql, args)]

    def _own_run(self, run_id: str, workspace: str | None) -> RunEntry:
        r = self.run(run_id)
        if workspace is not None and r.workspace != workspace:
            raise StoreError("that run belongs to another workspace")
        return r

    def rename_run(self, run_id: str, name: str, workspace: str | None = None) -> RunEntry:
        r = self._own_run(run_id, workspace)
        name = clean_name(name)
        with self._tx() as c:
            taken = {x[0] for x in c.execute("SELECT name FROM runs WHERE workspace=? AND id<>?",
                                             (r.workspace, run_id)).fetchall()}
            if name in taken:
                raise StoreError(f"you already have a run named “{name}”")
            c.execute("UPDATE runs SET name=? WHERE id=?", (name, run_id))
        return self.run(run_id)

    def share_run(self, run_id: str, shared: bool, workspace: str | None = None) -> RunEntry:
        self._own_run(run_id, workspace)
        with self._tx() as c:
            c.execute("UPDATE runs SET shared=? WHERE id=?", (int(shared), run_id))
        return self.run(run_id)

    def delete_run(self, run_id: str, workspace: str | None = None) -> None:
        r = self._own_run(run_id, workspace)
        with self._tx() as c:
            c.execute("DELETE FROM runs WHERE id=?", (run_id,))
        self._delete_run_files(r)

    def _delete_run_files(self, r: RunEntry) -> None:
        shutil.rmtree(self.run_dir(r.workspace, r.id), ignore_errors=True)

    def used_bytes(self, workspace: str) -> int:
        """Disk used by the workspace's runs and by the saved states of its resumable jobs."""
        runs = int(self._q("SELECT COALESCE(SUM(bytes), 0) FROM runs WHERE workspace=?", (workspace,))[0][0])
        jobs = self._q("SELECT id FROM jobs WHERE workspace=? AND kind='train'", (workspace,))
        return runs + sum(_tree_bytes(self.checkpoint_dir(job_id).parent) for (job_id,) in jobs)

    def drop_queued(self, workspace: str, kind: str) -> int:
        """Stop this workspace's queued jobs of `kind` (a newer ask replaces them: a slider dragged through
        ten perplexities queues one t-SNE, not ten); returns how many."""
        with self._tx() as c:
            cur = c.execute("UPDATE jobs SET status=?, error=?, finished=? WHERE workspace=? AND kind=? AND status=?",
                            (STOPPED, "replaced by a newer request", time.time(), workspace, kind, QUEUED))
            return cur.rowcount

    def promote(self, job_id: int, workspace: str) -> None:
        """A student now waits for a queued start-up warm-up job: it becomes theirs, with their priority."""
        with self._tx() as c:
            c.execute("UPDATE jobs SET workspace=? WHERE id=? AND workspace=? AND status=?",
                      (workspace, int(job_id), WARM_UP_WORKSPACE, QUEUED))


def _free_name(c: sqlite3.Connection, workspace: str, name: str) -> str:
    """`name` made plain, with " (2)", " (3)"… when the workspace has a run of that name already."""
    name = clean_name(name)
    taken = {r[0] for r in c.execute("SELECT name FROM runs WHERE workspace=?", (workspace,)).fetchall()}
    final, n = name, 2
    while final in taken:
        final, n = f"{name} ({n})", n + 1
    return final


def pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)


def _job_id(job_id) -> int:
    """A job id for SQL: ids beyond SQLite's integers name no job (rather than overflow)."""
    try:
        i = int(job_id)
    except (TypeError, ValueError):
        return -1
    return i if -2**63 <= i < 2**63 else -1
