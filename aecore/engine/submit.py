"""Submitting a job: validate its params, check the teacher's limits, key results by content, queue it."""

from __future__ import annotations

from .kinds import EXPERIMENT_KINDS, KINDS, KindError, estimate_cost, result_key
from .settings import EngineSettings
from .store import VIEW_KINDS, WARM_UP_WORKSPACE, Job, Store, StoreError


def submit(store: Store, settings: EngineSettings, workspace: str, kind: str, params: dict, label: str,
           dataset, name: str | None = None, teacher: bool = False) -> Job:
    """Queue a job after checking it (ConfigError, KindError or StoreError with a plain message).

    A result that some job (of any workspace) is computing already is not queued twice: that job
    is returned, and everyone who asked sees its progress. Short view jobs (codes, projections,
    probes) do not count against the workspace's job limit.
    """
    if kind not in KINDS:
        raise KindError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")
    if kind == "train":
        from ..config import TrainConfig
        from ..train import check_config

        config = check_config(TrainConfig.from_dict(params["config"]), dataset)
        params = dict(params, config=config.to_dict())
        if settings.executor == "process":  # the workers run on this machine: it must have the device
            from ..device import DeviceError, resolve_device

            try:
                resolve_device(config.device)
            except DeviceError as e:
                raise StoreError(str(e)) from None
        if settings.quota_mb and store.used_bytes(workspace) > settings.quota_mb * 2**20:
            raise StoreError(f"your runs use more than this workspace's {settings.quota_mb:g} MB: "
                             "delete some on the Train page first")
    for ref in [params.get("run"), *dict(params.get("runs") or {}).values()]:  # read only runs one may open
        if isinstance(ref, str) and ref.startswith("run:") and not teacher:
            r = store.run(ref[4:])  # StoreError if there is no such run
            if not (r.shared or r.workspace == workspace):
                raise StoreError("that run belongs to another workspace and is not shared with the class")
    cost = estimate_cost(kind, params, dataset)
    if kind == "train" or kind in ("sweep", "compare", "stacked"):
        if settings.budget_images and cost > settings.budget_images:
            raise StoreError(f"this job would process {cost:,.0f} images, over the per-job budget of "
                             f"{settings.budget_images:,} set for this class: use fewer epochs or images")
    key = result_key(store, kind, params) if kind in EXPERIMENT_KINDS else None
    if key is not None:
        running = store.find_active(key)
        if running is not None:
            if running.workspace != workspace:
                store.promote(running.id, workspace)
            return running
    if kind in VIEW_KINDS and workspace != WARM_UP_WORKSPACE:
        store.drop_queued(workspace, kind)
    limit = None if kind in VIEW_KINDS else settings.per_workspace
    return store.submit(workspace, kind, params, label, cost=cost, per_workspace=limit,
                        max_queue=settings.max_queue, name=name, result_key=key)
