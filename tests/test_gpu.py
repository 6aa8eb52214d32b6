"""GPU checks, run where a CUDA device exists (skipped on CPU-only machines such as CI)."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_a_worker_trains_on_the_gpu(mnist, tiny, tmp_path):
    from aecore.engine.settings import EngineSettings
    from aecore.engine.store import DONE, Store
    from aecore.engine.submit import submit
    from aecore.engine.worker import Worker

    settings = EngineSettings(home=str(tmp_path))
    store = Store(tmp_path)
    job = submit(store, settings, "gpu-test-ws", "train",
                 {"config": tiny(model="conv", latent=8, device="cuda", epochs=2).to_dict()}, "gpu", mnist)
    Worker(store, settings).run(once=True)
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert "cuda" in store.run(job.run_id).summary or store.run(job.run_id).status == "done"


def test_auto_picks_the_gpu(mnist, tiny):
    from aecore.train import train

    run = train(tiny(device="auto"), mnist)
    assert run.device.startswith("cuda")
