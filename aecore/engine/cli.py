"""The engine's command line: worker, submit, jobs, stop, pause, resume (on the store under AELAB_HOME)."""

from __future__ import annotations

import json
import sys
import time

from aecore.engine.progress import describe
from aecore.engine.store import SHELL_WORKSPACE, Store
from aecore.settings import Settings, current

CLI_WORKSPACE = SHELL_WORKSPACE  # where jobs queued from a shell go unless --workspace says otherwise (no browser's)


def add_commands(sub, add_train_options) -> None:
    """Add the engine's sub-commands to the main parser's sub-parsers."""
    w = sub.add_parser("worker", help="run queued jobs (the app starts workers itself; this starts one by hand)")
    w.add_argument("--once", action="store_true", help="exit when the queue is empty")
    w.add_argument("--idle-exit", type=float, default=None, help="exit after this many seconds with nothing to do")
    w.add_argument("--lane", choices=["all", "view"], default="all",
                   help="view: only the short jobs pages wait for (codes, projections, probes), with 1 thread")
    s = sub.add_parser("submit", help="queue a job for the workers; prints its id on the last line")
    ss = s.add_subparsers(dest="kind", required=True, parser_class=sub._parser_class)
    t = ss.add_parser("train", help="queue a training job (the train command's flags)")
    add_train_options(t)
    t.add_argument("--name", default=None, help="the run's name in the workspace")
    t.add_argument("--workspace", default=CLI_WORKSPACE, help=f"workspace to queue it in (default {CLI_WORKSPACE})")
    t.add_argument("--share", action="store_true", help="share the finished run with the class")
    j = sub.add_parser("jobs", help="list jobs")
    j.add_argument("--json", action="store_true", help="a JSON list of objects (id, status, epoch, workspace, …)")
    j.add_argument("--workspace", default=None)
    for verb, text in (("stop", "stop a job (a running one keeps its weights)"),
                       ("pause", "pause a running training job after its current step"),
                       ("resume", "queue an interrupted, stopped or paused job again: it goes on exactly where it "
                                  "ended (after a crash, from its last finished epoch)")):
        v = sub.add_parser(verb, help=text)
        v.add_argument("id", type=int)
        if verb == "resume":
            v.add_argument("--steps", type=int, default=None, help="train this many steps, then pause again")


def _store() -> tuple[Store, Settings]:
    settings = current()
    return Store(settings.home), settings


def cmd_worker(a) -> None:
    from aecore.engine.worker import main

    main(once=a.once, idle_exit_s=a.idle_exit, lane=a.lane)


def cmd_submit(a, config) -> None:
    from aecore.data.catalog import load_dataset
    from aecore.engine.submit import submit

    store, settings = _store()
    dataset = load_dataset(config.dataset)
    params = {"config": config.to_dict(), "share": bool(a.share)}
    job = submit(store, settings, a.workspace, "train", params, config.describe(), dataset, name=a.name)
    if not store.live_workers():
        print("note: no worker is running; start the app or `python -m aecore worker`", file=sys.stderr)
    print(job.id, flush=True)


def _row(j) -> dict:
    p = j.progress or {}
    return {"id": j.id, "status": j.status, "epoch": j.epochs_done, "epochs": p.get("epochs"), "kind": j.kind,
            "workspace": j.workspace, "label": j.label, "fraction": p.get("fraction"), "loss": p.get("loss"),
            "error": j.error, "run_id": j.run_id, "submitted": j.submitted, "finished": j.finished,
            "progress": describe(j.progress, detail=False) if j.status == "running" else ""}


def cmd_jobs(a) -> None:
    store, settings = _store()
    store.interrupt_stale(settings.stale_s)
    jobs = store.jobs(workspace=a.workspace)
    if a.json:
        print(json.dumps([_row(j) for j in jobs]))
        return
    for j in jobs:
        when = time.strftime("%H:%M:%S", time.localtime(j.submitted))
        doing = f"  [{describe(j.progress, detail=False)}]" if j.status == "running" else ""
        print(f"{j.id:>6}  {j.status:<11} epoch {j.epochs_done:<4} {when}  {j.workspace[:12]:<12}  {j.label}{doing}")


def cmd_stop(a) -> None:
    store, _ = _store()
    j = store.request_stop(a.id)
    print(f"{j.id} {j.status}{' (stop requested)' if j.status == 'running' else ''}")


def cmd_pause(a) -> None:
    store, _ = _store()
    j = store.request_pause(a.id)
    print(f"{j.id} {j.status}{' (pause requested)' if j.status == 'running' else ''}")


def cmd_resume(a) -> None:
    store, settings = _store()
    j = store.resume(a.id, steps=a.steps)
    print(f"{j.id} {j.status}")
