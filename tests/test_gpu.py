"""GPU checks, run where a CUDA device exists (skipped on CPU-only machines such as CI)."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_trains_on_the_gpu_and_lands_on_cpu_after_a_job(mnist, tiny):
    from aecore.jobs import DONE, JobRunner, RunnerSettings, train_job

    r = JobRunner(RunnerSettings(workers=1))
    job = r.submit("u", "gpu", train_job(tiny(model="conv", latent=8, device="cuda", epochs=2), mnist))
    import time

    t = time.time()
    while job.active and time.time() - t < 120:
        time.sleep(0.05)
    assert job.status == DONE and job.result.device.startswith("cuda")
    assert next(job.result.model.parameters()).device.type == "cpu"  # device memory given back
    r.shutdown()


def test_auto_picks_the_gpu(mnist, tiny):
    from aecore.train import train

    run = train(tiny(device="auto"), mnist)
    assert run.device.startswith("cuda")
