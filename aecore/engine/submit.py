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
    probes) do not count against the workspace's job limit.
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
    return store.submit(workspace, k.name, p.to_dict(), label, cost=cost,
                        per_workspace=None if k.lane == "view" else settings.per_workspace,
                        max_queue=settings.max_queue, name=name, result_key=key, lane=k.lane)


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
