"""AELAB_EXECUTOR=ray: a real training job run as a Ray task on a local Ray, reporting into the same store."""

import os

import pytest

from aecore.settings import Settings
from aecore.engine.store import DONE, Store
from aecore.engine.submit import submit
from aecore.engine.worker import Worker


def test_a_training_job_runs_through_a_local_ray(tmp_path, mnist, tiny):
    if not os.environ.get("CI"):
        pytest.importorskip("ray")  # CI installs requirements-ray.txt and must run this
    import ray
    from aecore.engine.ray_executor import ray_execute

    settings = Settings(home=str(tmp_path), executor="ray", workers=1, threads=1)
    store = Store(tmp_path)
    job = submit(store, settings, "ray-test-ws", "train", {"config": tiny(epochs=2, limit=600).to_dict()}, "via ray",
                 mnist, name="trained by ray")
    try:
        Worker(store, settings, execute=ray_execute(settings)).run(once=True)
    finally:
        ray.shutdown()
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert job.epochs_done == 2 and len(job.curve) >= 2  # progress came back from the Ray task
    assert store.run(job.run_id).name == "trained by ray"
