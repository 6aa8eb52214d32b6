"""GPU checks, run where a CUDA device exists (skipped on CPU-only machines such as CI)."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_a_worker_trains_on_the_gpu(mnist, tiny, tmp_path):
    from aecore.settings import Settings
    from aecore.engine.store import DONE, Store
    from aecore.engine.submit import submit
    from aecore.engine.worker import Worker

    settings = Settings(home=str(tmp_path))
    store = Store(tmp_path)
    job = submit(store, settings, "gpu-test-ws", "train",
                 {"config": tiny(model="conv", latent=8, device="cuda", epochs=2).to_dict()}, "gpu", mnist)
    Worker(store, settings).run(once=True)
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert "cuda" in store.run(job.run_id).summary or store.run(job.run_id).status == "done"


def test_auto_picks_the_gpu(mnist, tiny):
    from aecore.training.trainer import train

    run = train(tiny(device="auto"), mnist)
    assert run.device.startswith("cuda")


def test_mixed_precision_and_compiled_steps_learn_like_fp32(mnist, tiny):
    from aecore.training.trainer import train

    bf16 = train(tiny(model="conv", latent=8, device="cuda", epochs=2, batch_size=20), mnist)
    fp32 = train(tiny(model="conv", latent=8, device="cuda", epochs=2, batch_size=20, precision="fp32"), mnist)
    assert bf16.status == fp32.status == "done"
    assert bf16.history[-1]["val_loss"] == pytest.approx(fp32.history[-1]["val_loss"], rel=0.1)
    assert next(bf16.model.parameters()).dtype == torch.float32  # the weights stay fp32


def test_the_plain_gpu_loop_still_runs(mnist, tiny):
    from aecore.training.trainer import train

    run = train(tiny(model="conv-tutorial", device="cuda", epochs=1), mnist, fast=False)
    assert run.status == "done" and run.device.startswith("cuda")


def test_codes_and_reconstructions_on_the_gpu_match_the_cpu(mnist):
    import numpy as np

    from aecore.models.evaluate import codes_and_reconstructions
    from aecore.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("conv", latent=6).eval()
    codes_cpu, recon_cpu = codes_and_reconstructions(model, mnist.test.x[:500])
    codes_gpu, recon_gpu = codes_and_reconstructions(model.to("cuda"), mnist.test.x[:500])
    np.testing.assert_allclose(codes_gpu, codes_cpu, atol=1e-3)
    np.testing.assert_allclose(recon_gpu, recon_cpu, atol=1e-3)
