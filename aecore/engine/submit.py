"""Submitting a job: its kind checks its parameters, the teacher's limits apply, results are keyed by content."""

from __future__ import annotations

from aecore.engine import kinds
from aecore.engine.refs import parse_ref, result_key
from aecore.engine.store import WARM_UP_WORKSPACE, Job, Store, StoreError
from aecore.settings import Settings


def submit(store: Store, settings: Settings, workspace: str, kind: str, params, label: str, dataset=None,
           name: str | None = None, teacher: bool = False) -> Job:
    """Queue a job after checking it (KindError, ConfigError, DataError or StoreError, each with a plain message).

    `params`: the kind's Params or a JSON object of them; `dataset`: the data set it reads, when the caller has it
    loaded (else it is loaded here). A result that some job (of any workspace) is computing already is not queued
    twice: that job is returned, and everyone who asked sees its progress. Short view jobs (codes, projections,
    probes) do not count against the workspace's job limit, but against its cap on waiting view jobs; every job
    counts against the cap on waiting jobs of the client its workspace was issued to.
    """
    k = kinds.get(kind)
    p = k.parse(params)
    for ref in p.run_refs():  # read only runs one may open
        what, run_id = parse_ref(ref)
        if what == "run" and not teacher:
            r = store.run(run_id)  # StoreError if there is no such run
            if not (r.shared or r.workspace == workspace):
                raise StoreError("that run belongs to another workspace and is not shared with the class")
    wanted = k.dataset_name(p, store)
    if wanted and (dataset is None or dataset.name != wanted):
        from aecore.data.catalog import load_dataset

        dataset = load_dataset(wanted)
    p = k.prepare(p, dataset)
    if k.keeps_runs:
        _check_device(p, settings)
        if settings.quota_mb and store.used_bytes(workspace) > settings.quota_mb * 2**20:
            raise StoreError(f"your runs use more than this workspace's {settings.quota_mb:g} MB: "
                             "delete some on the Train page first")
    cost = k.cost(p, dataset)
    if k.trains and settings.budget_images and cost > settings.budget_images:
        raise StoreError(f"this job would process {cost:,.0f} images, over the per-job budget of "
                         f"{settings.budget_images:,} set for this class: use fewer epochs or images")
    key = result_key(store, k, p) if k.keyed else None
    if key is not None:
        running = store.find_active(key)
        if running is not None:
            if running.workspace != workspace:
                store.promote(running.id, workspace)
            return running
    if k.lane == "view" and workspace != WARM_UP_WORKSPACE:
        store.drop_queued(workspace, k.name)
    lane = job_lane(k, cost, settings)
    return store.submit(workspace, k.name, p.to_dict(), label, cost=cost, work_s=k.seconds(p, dataset),
                        per_workspace=None if lane == "view" else settings.per_workspace,
                        view_per_workspace=(settings.view_per_workspace or None) if workspace != WARM_UP_WORKSPACE else None,
                        per_client=settings.client_jobs or None,
                        max_queue=settings.max_queue, name=name, result_key=key, lane=lane)


def job_lane(k, cost: float, settings: Settings) -> str:
    """The lane a job waits in: its kind's, except that a view job costing more than `settings.view_max_cost` (a
    t-SNE of 70,000 points from a link: minutes of work) goes to the training lane.

    Why a lane and not a second view worker: every page waits on the view lane, and a view worker busy for minutes
    holds up every other workspace's short job (codes, a small projection), whichever worker count; a second view
    worker would only take two such links to block it again. In the training lane the long projection is taken by
    the training workers (more threads), in their round robin over workspaces, and it counts as one of the
    workspace's unfinished jobs, like any other long job; the view worker only ever runs jobs of seconds."""
    if k.lane == "view" and settings.view_max_cost and cost > settings.view_max_cost:
        return "train"
    return k.lane


def _check_device(p, settings: Settings) -> None:
    """A training job's device must exist where the workers run (this machine, unless the jobs go to Ray)."""
    config = getattr(p, "config", None)
    if config is None or settings.executor != "process":
        return
    from aecore.training.device import DeviceError, resolve_device

    try:
        resolve_device(config.device)
    except DeviceError as e:
        raise StoreError(str(e)) from None
