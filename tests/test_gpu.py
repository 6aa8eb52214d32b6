"""GPU checks, run where a CUDA device exists (skipped on CPU-only machines such as CI)."""

import numpy as np
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

    # conv-tutorial's code is its 4x7x7 map: the fixture's latent=8 does not apply to it (None: the model's own)
    run = train(tiny(model="conv-tutorial", latent=None, device="cuda", epochs=1), mnist, fast=False)
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


# ---- the whole training step as one CUDA graph (aecore.training.trainer._GraphStep) ---------------------------------
@pytest.fixture
def graph_steps(monkeypatch):
    """Every _GraphStep a training makes, and cuDNN's deterministic kernels (two runs can then match bit for bit)."""
    import aecore.training.trainer as trainer

    made = []
    init = trainer._GraphStep.__init__

    def spy(self, *a, **k):
        init(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(trainer._GraphStep, "__init__", spy)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    return made


@pytest.mark.parametrize("kw", [dict(model="conv-tutorial", latent=None, batch_size=20, precision="fp32", lr=1e-3),
                                dict(model="conv", latent=16, batch_size=128, optimizer="adamw", schedule="onecycle",
                                     lr=6e-3, weight_decay=1e-4, limit=3000)])
def test_the_captured_step_gives_the_eager_steps_weights(mnist, tiny, graph_steps, monkeypatch, kw):
    import aecore.training.trainer as trainer

    config = tiny(device="cuda", **dict(dict(limit=1200, epochs=2), **kw))
    captured = trainer.train(config, mnist)
    assert graph_steps and graph_steps[-1].graph is not None, graph_steps[-1].capture_error  # it was captured
    monkeypatch.setattr(trainer, "GRAPH_STEP", "eager")
    eager = trainer.train(config, mnist)
    assert graph_steps[-1].graph is None
    a, b = captured.model.state_dict(), eager.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # a replay runs the very kernels the eager step runs
    monkeypatch.setattr(trainer, "GRAPH_STEP", "off")
    before = trainer.train(config, mnist)  # the trainer of before: the same learning, up to rounding
    assert captured.history[-1]["val_loss"] == pytest.approx(before.history[-1]["val_loss"], rel=0.05)


def test_a_captured_run_pauses_and_goes_on_with_the_weights_of_one_that_never_paused(mnist, tiny, graph_steps):
    from aecore.training.trainer import train

    config = tiny(model="conv", latent=8, device="cuda", limit=1500, batch_size=32, epochs=2)
    straight = train(config, mnist)
    states = []
    assert train(config, mnist, max_steps=30, on_state=states.append).status == "paused"
    resumed = train(config, mnist, resume=states[-1])
    assert resumed.status == "done" and graph_steps[-1].graph is not None
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_captured_step_is_fast_at_batch_20(mnist):
    from aecore.training.config import TrainConfig
    from aecore.training.trainer import train

    config = TrainConfig(model="conv-tutorial", batch_size=20, lr=1e-3, epochs=2, limit=20000, val_fraction=0.0,
                         device="cuda")
    run = train(config, mnist)
    assert run.history[-1]["images_per_s"] > 20000, run.history  # bench/train_speed.py: the target is 50,000


# ---- maps on the GPU (aecore.analysis.tsne_gpu) -------------------------------------------------------------------
@pytest.fixture(scope="module")
def codes3000(mnist):
    from aecore.models.evaluate import encode
    from aecore.training.zoo import load_zoo

    return encode(load_zoo("conv-k16").model, mnist.test.x[:3000])


def _kept10(z, xy):
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=11).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=11).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return float((a[:, :, None] == b[:, None, :]).any(2).mean())


def test_the_gpu_tsne_is_exact_repeatable_and_as_good_as_opentsne(codes3000):
    import time

    from aecore.analysis.projection import project
    from aecore.analysis.tsne_gpu import gpu_tsne_available

    z = codes3000
    assert gpu_tsne_available("cuda", len(z))
    frames = []
    t = time.perf_counter()
    gpu = project(z, "tsne", seed=0, device="cuda", keep=True, on_layout=lambda xy, d, n: frames.append(d) and False)
    seconds = time.perf_counter() - t
    assert "exact t-SNE" in gpu.info["backend"] and "gpu_error" not in gpu.info, gpu.info
    assert frames[:2] == [0, 25] and frames[-1] == gpu.info["iterations"]
    again = project(z, "tsne", seed=0, device="cuda")
    assert np.array_equal(again.xy, gpu.xy)  # the same codes, the same layout
    cpu = project(z, "tsne", seed=0, device="cpu")
    assert _kept10(z, gpu.xy) >= _kept10(z, cpu.xy) - 0.01
    assert seconds < 30  # includes building openTSNE's placer on the CPU; bench/projection_speed.py times the map
    placed = gpu.placer.place(z[:4])
    assert np.all(np.linalg.norm(placed - gpu.xy[:4], axis=1) < 0.05 * np.ptp(gpu.xy, axis=0).max())
    cloud = project(z, "tsne", seed=0, dims=3, device="cuda")
    assert cloud.xy.shape == (3000, 3) and "exact t-SNE" in cloud.info["backend"]


def test_the_triton_kernel_sums_what_torch_sums_on_the_gpu():
    from aecore.analysis.tsne_gpu import repulsion_torch, repulsion_triton

    torch.manual_seed(0)
    for d in (2, 3):
        y = (torch.randn(5000, d, device="cuda") * 20).contiguous()
        f1, z1 = repulsion_triton(y)
        f2, z2 = repulsion_torch(y)
        assert torch.allclose(f1, f2, rtol=1e-3, atol=1e-4) and torch.allclose(z1, z2, rtol=1e-4)


def test_the_gpu_umap_is_repeatable_and_about_as_good_as_umap_learn(codes3000):
    from aecore.analysis.projection import project
    from aecore.analysis.tsne_gpu import gpu_umap_available

    z = codes3000
    assert gpu_umap_available("cuda", len(z))
    gpu = project(z, "umap", seed=0, device="cuda", keep=True)
    assert "UMAP (aecore)" in gpu.info["backend"] and "gpu_error" not in gpu.info, gpu.info
    assert np.array_equal(project(z, "umap", seed=0, device="cuda").xy, gpu.xy)
    cpu = project(z, "umap", seed=0, device="cpu")
    assert _kept10(z, gpu.xy) >= _kept10(z, cpu.xy) - 0.03


# ---- a class on one card ---------------------------------------------------------------------------------------------
def test_several_workers_train_at_once_on_the_gpu_each_with_its_share(mnist, tiny, tmp_path):
    import time

    from aecore.engine.pool import ensure_workers, gpu_share, stop_workers
    from aecore.engine.store import DONE, FINISHED, Store
    from aecore.engine.submit import submit
    from aecore.settings import Settings

    settings = Settings(home=str(tmp_path), gpu_workers=3, idle_exit_s=0.0)
    assert settings.resolved_workers() == 3 and gpu_share(settings) == pytest.approx(0.9 / 4)
    store = Store(tmp_path)
    try:
        ensure_workers(store, settings)
        t = time.time()
        while len(store.live_workers()) < 4:  # three training workers and the view worker, imports done
            assert time.time() - t < 120, "the workers did not start"
            time.sleep(0.2)
        ids = [submit(store, settings, f"gpu-class-{i}", "train",
                      {"config": tiny(model="conv", latent=8, device="cuda", epochs=3, limit=10000).to_dict()},
                      f"student {i}", mnist).id for i in range(3)]
        t = time.time()
        while not all(store.job(i).status in FINISHED for i in ids):
            assert time.time() - t < 300, [store.job(i).status for i in ids]
            time.sleep(0.2)
        jobs = [store.job(i) for i in ids]
        assert all(j.status == DONE for j in jobs), [j.error for j in jobs]
        assert len({j.worker for j in jobs}) >= 2  # side by side, not one after another
        assert all(s.started < e.finished for s in jobs for e in jobs)  # their running times overlap
    finally:
        stop_workers(store)
