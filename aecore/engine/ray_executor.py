"""Running jobs as Ray tasks (AELAB_EXECUTOR=ray): a local worker claims a job and Ray runs it, here or on a cluster."""

from __future__ import annotations

from aecore.engine.context import Context
from aecore.engine.kinds import Outcome
from aecore.engine.store import Job, Store
from aecore.settings import Settings


def _run_remote(home: str, job_id: int, time_limit_s: float, threads: int) -> dict:
    """Body of the Ray task: the same job code a local worker runs, reporting into (and ending in) the same store."""
    from aecore.engine.process import limit_threads, load_dataset
    from aecore.engine.runner import record, run_job
    from aecore.engine.store import Store
    from aecore.settings import current, use

    use(current().with_(home=home))
    limit_threads(threads)
    store = Store(home)
    job = store.job(job_id)
    out = run_job(store, job, Context(store, job, time_limit_s=time_limit_s), load_dataset)
    record(store, job, out)
    return {"status": out.status, "error": out.error}


def ray_execute(settings: Settings):
    """An executor for Worker: each claimed job becomes one Ray task (a GPU per training job where there are GPUs).

    Connects to the settings' `ray_address` (RAY_ADDRESS) when set (an existing cluster), else starts Ray locally.
    The task writes progress into the store under the data home, so every Ray node must see that folder (a shared
    file system) -- see the README's notes on several machines.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address=settings.ray_address or None, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    remote = ray.remote(max_retries=0)(_run_remote)
    gpus = ray.cluster_resources().get("GPU", 0)

    def execute(store: Store, job: Job, ctx: Context) -> Outcome:
        threads = settings.resolved_threads()
        opts = {"num_cpus": threads}
        if gpus and job.kind == "train":
            opts["num_gpus"] = 1
        ref = remote.options(**opts).remote(str(store.home), job.id, settings.time_limit_s, threads)
        try:
            return Outcome(**ray.get(ref), recorded=True)
        except ray.exceptions.RayError as e:
            return Outcome("failed", f"the Ray task failed: {type(e).__name__}: {str(e)[:300]}")

    return execute
