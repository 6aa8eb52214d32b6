"""Running one job to its end: its kind's `run`, and every way it can end turned into an Outcome (bugs logged)."""

from __future__ import annotations

import errno
import logging
import shutil
from pathlib import Path
from typing import Any, Callable

from aecore.engine import kinds
from aecore.engine.context import Context
from aecore.engine.kinds import Outcome
from aecore.engine.store import DIVERGED, FAILED, STOPPED, Job, Lease, Store, StoreError
from aecore.errors import AELabError, Stopped

log = logging.getLogger(__name__)
DISK_FULL = "the disk is full: the server has no space left for this job; ask your teacher to free some, then try again"


def run_job(store: Store, job: Job, ctx: Context, dataset_fn: Callable[[str], Any]) -> Outcome:
    """Run one job; a refusal (bad input, a limit) ends it "failed" with its own message, a bug with a short message
    for the student and the traceback, with the job's id, in the worker's log."""
    from aecore.training.trainer import TrainingDiverged

    try:
        kind = kinds.get(job.kind)
        p = kind.parse(job.params)
        name = kind.dataset_name(p, store)
        return kind.run(p, ctx, dataset_fn(name) if name else None)
    except TrainingDiverged as e:  # only from experiments: training keeps its last good run itself
        return Outcome(DIVERGED, str(e))
    except Stopped:
        return Outcome(STOPPED, f"{ctx.stop_reason or 'stopped'} before it finished; nothing was kept")
    except AELabError as e:  # bad input or a limit: the message is for the student
        log.info("job %s (%s) refused: %s", job.id, job.kind, e)
        return Outcome(FAILED, str(e))
    except MemoryError:
        log.warning("job %s (%s) ran out of memory", job.id, job.kind, exc_info=True)
        return Outcome(FAILED, "the job ran out of memory; use fewer images or a smaller model")
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("job %s (%s): the disk is full", job.id, job.kind)
            return Outcome(FAILED, DISK_FULL)
        log.exception("job %s (%s) failed", job.id, job.kind)
        return Outcome(FAILED, f"the server could not read or write a file ({e.strerror or type(e).__name__}); it is "
                               f"logged as job {job.id}: tell your teacher if it happens again")
    except Exception as e:  # a bug: the worker lives on and the student gets a plain message
        log.exception("job %s (%s) failed with a bug", job.id, job.kind)
        return Outcome(FAILED, f"something went wrong on the server ({type(e).__name__}); it is logged as job "
                               f"{job.id}: tell your teacher if it happens again")


def record(store: Store, job: Job, out: Outcome) -> bool:
    """Write the run the job kept (if any) and record its ending with it in one transaction; False when the job no
    longer ran under this worker's lease (then nothing the job made is kept). StoreError when the store cannot record
    it (then nothing the job made is kept either, and the job is still running under the lease)."""
    from aecore.engine.keep import install_run, new_run_id, write_run

    lease = Lease.of(job)
    row = None
    if out.run is not None:
        try:
            own = job.run_id if job.run_id and _exists(store, job.run_id) else None
            row = write_run(store, job.workspace, out.run, own or new_run_id(), out.extras, staged=bool(own))
        except OSError as e:
            full = e.errno in (errno.ENOSPC, errno.EDQUOT)
            if full:
                log.error("job %s: its run could not be written: the disk is full", job.id)
            else:
                log.exception("job %s: its run could not be written", job.id)
            out = Outcome(FAILED, "the disk is full: the server has no space left to keep the run; ask your teacher "
                                  "to free some, then try again" if full
                          else f"the run could not be written ({e.strerror or type(e).__name__})")
            row = None
        else:
            row.update(name=out.run_name or job.label, share=out.share)
            install_run(store, row)
    try:
        ok = store.finish(lease, out.status, out.error, result_key=out.result_key, run=row)
    except StoreError:  # the store cannot record it (a full disk, a read-only store): the run files go, the worker
        if row is not None and not (job.run_id and row["id"] == job.run_id):  # ends the job once it can (Worker)
            shutil.rmtree(store.run_dir(job.workspace, row["id"]), ignore_errors=True)
        raise
    if not ok:
        log.warning("job %s: attempt %s ended after the job was taken from it; its results are dropped", job.id,
                    job.attempts)
        if row is not None and not (job.run_id and row["id"] == job.run_id):
            shutil.rmtree(store.run_dir(job.workspace, row["id"]), ignore_errors=True)
        return False
    if out.cleanup:
        shutil.rmtree(Path(out.cleanup), ignore_errors=True)
    return True


def _exists(store: Store, run_id: str) -> bool:
    try:
        store.run(run_id)
        return True
    except StoreError:
        return False
