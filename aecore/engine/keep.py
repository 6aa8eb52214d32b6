"""Writing a run into a workspace's kept runs: its files atomically, then its row in the store."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from aecore.engine.refs import file_digest
from aecore.engine.store import RunEntry, Store


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


def write_run(store: Store, workspace: str, run, run_id: str, extras: dict[str, Path] | None = None,
              staged: bool = False) -> dict:
    """The run's files in runs/<workspace>/<id>/ (and `extras` beside them, e.g. {"watch.npz": path}); returns the
    row the store registers for it (id, digest, size, summary). Nothing is registered yet. `staged`: the run replaces
    one of that id (a resumed job's run keeps its identity): its files wait beside it until `install_run`."""
    from aecore.training.runs import save_run

    final = store.run_dir(workspace, run_id)
    d = save_run(run, final.with_name(f".{run_id}.new-{secrets.token_hex(4)}") if staged else final)
    for fname, src in (extras or {}).items():
        if Path(src).is_file():
            shutil.copyfile(src, d / fname)
    v = run.final_val_loss
    summary = f"{run.config.describe()} · {run.status}" + (f" · val loss {v:.5f}" if v is not None else "")
    return {"id": run_id, "workspace": workspace, "status": run.status, "digest": file_digest(d / "weights.pt"),
            "bytes": sum(p.stat().st_size for p in d.iterdir()), "summary": summary, "dir": str(d)}


def install_run(store: Store, row: dict) -> None:
    """Put a staged run's files in place of its run's (the old ones go); a new run is in place already."""
    final, new = store.run_dir(row["workspace"], row["id"]), Path(row["dir"])
    if new == final:
        return
    old = final.with_name(f".{row['id']}.old-{secrets.token_hex(4)}")
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def keep_run(store: Store, workspace: str, run, name: str, job_id: int | None = None,
             extras: dict[str, Path] | None = None) -> str:
    """Write a run into the workspace's kept runs (atomically) and register it; returns its id."""
    row = write_run(store, workspace, run, new_run_id(), extras)
    entry: RunEntry = store.add_run(workspace, row["id"], name or run.name or run.config.describe(), row["status"],
                                    row["digest"], row["bytes"], job_id, row["summary"])
    return entry.id
