"""The GPU's code paths, checked on the CPU: the whole-step training function (run eagerly, as a CUDA graph replays
it), our exact t-SNE and UMAP in torch (the Triton kernel under Triton's interpreter), the page's choice between GPU
and CPU, and several workers sharing one GPU. tests/test_gpu.py runs the same paths on a GPU where there is one."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT


@pytest.fixture
def graph_mode(monkeypatch):
    """Set aecore.training.trainer.GRAPH_STEP for one test."""
    import aecore.training.trainer as trainer

    def set_mode(mode: str):
        monkeypatch.setattr(trainer, "GRAPH_STEP", mode)

    return set_mode


def _train(graph_mode, mode, mnist, tiny, **kw):
    from aecore.training.trainer import train

    graph_mode(mode)
    return train(tiny(**kw), mnist)


def _same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- the whole-step training function ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(model="conv-tutorial", latent=None, batch_size=20, lr=1e-3, limit=330),  # a last batch of 17: the plain step
    dict(model="conv", latent=8, batch_size=32, optimizer="adamw", weight_decay=1e-4, limit=450),  # BatchNorm, AdamW
    dict(model="dense", latent=4, batch_size=50),
])
def test_the_graph_step_run_eagerly_gives_the_plain_loops_weights_bit_for_bit(graph_mode, mnist, tiny, kw):
    plain = _train(graph_mode, "off", mnist, tiny, **kw)
    step_fn = _train(graph_mode, "eager", mnist, tiny, **kw)
    assert _same_weights(plain, step_fn)
    assert [r["train_loss"] for r in plain.history] == [r["train_loss"] for r in step_fn.history]
    assert [r["val_loss"] for r in plain.history] == [r["val_loss"] for r in step_fn.history]


def test_the_graph_step_with_a_schedule_is_the_plain_loop_within_rounding(graph_mode, mnist, tiny):
    # a schedule's learning rate reaches the captured step as a float32 device scalar: the same rate rounded to float32
    kw = dict(model="conv", latent=8, batch_size=32, optimizer="adamw", schedule="onecycle", lr=6e-3, limit=700)
    from aecore.training.trainer import train

    graph_mode("off")
    one_plain = train(tiny(**kw), mnist, max_steps=1)
    graph_mode("eager")
    one_step_fn = train(tiny(**kw), mnist, max_steps=1)
    for k, v in one_plain.model.state_dict().items():  # one step: the rate's rounding, a float32 ulp of the weights
        w = one_step_fn.model.state_dict()[k]
        assert torch.allclose(v.float(), w.float(), rtol=0, atol=1e-6), k
    # later steps: Adam divides each gradient by its own size, so a last-bit change of a near-zero gradient's sign moves
    # its weight by a whole step; the runs stay apart by such steps and learn the same (0.3 % apart on one thread,
    # where the reductions sum in another order)
    plain = _train(graph_mode, "off", mnist, tiny, **kw)
    step_fn = _train(graph_mode, "eager", mnist, tiny, **kw)
    assert step_fn.history[-1]["train_loss"] == pytest.approx(plain.history[-1]["train_loss"], rel=1e-2)
    assert step_fn.history[-1]["val_loss"] == pytest.approx(plain.history[-1]["val_loss"], rel=1e-2)


def test_the_graph_step_pauses_mid_epoch_and_goes_on_with_the_same_weights(graph_mode, mnist, tiny):
    from aecore.training.trainer import train

    graph_mode("eager")
    kw = dict(model="conv", latent=8, batch_size=32, limit=700, epochs=2)
    straight = train(tiny(**kw), mnist)
    states = []
    paused = train(tiny(**kw), mnist, max_steps=7, on_state=states.append)  # 7 of epoch 1's 19 full batches
    assert paused.status == "paused" and states[-1]["step"] == 7
    resumed = train(tiny(**kw), mnist, resume=states[-1])
    assert resumed.status == "done" and _same_weights(straight, resumed)


def test_only_clean_fused_runs_take_the_graph_step(monkeypatch):
    import aecore.training.trainer as trainer
    from aecore.data.noise import Noise
    from aecore.models.registry import build_model
    from aecore.training.fused_step import LeanStep

    model = build_model("conv", latent=8)
    fused = LeanStep(trainer.make_optimizer("adam", model.parameters(), 1e-3, fast=True))
    plain_sgd = LeanStep(trainer.make_optimizer("sgd", model.parameters(), 1e-3, fast=True))
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    mode = trainer._graph_mode
    assert mode(True, cuda, None, Noise(), fused, model, 1000, 20, 100) == "graph"
    assert mode(True, cpu, None, Noise(), fused, model, 1000, 20, 100) is None  # a CPU step is not launch-bound
    assert mode(True, cuda, None, Noise(), fused, model, 1000, 20, 10) is None  # too short to capture
    assert mode(False, cuda, None, Noise(), fused, model, 1000, 20, 100) is None  # the plain loop
    assert mode(True, cuda, None, Noise("masking", 0.5), fused, model, 1000, 20, 100) is None  # noise draws numbers
    assert mode(True, cuda, lambda x: x, Noise(), fused, model, 1000, 20, 100) is None  # a pretraining pair
    assert mode(True, cuda, None, Noise(), plain_sgd, model, 1000, 20, 100) is None  # no fused step
    assert mode(True, cuda, None, Noise(), fused, model, 10, 20, 100) is None  # no full batch
    with_dropout = torch.nn.Sequential(model, torch.nn.Dropout(0.1))
    assert mode(True, cuda, None, Noise(), fused, with_dropout, 1000, 20, 100) is None
    monkeypatch.setattr(trainer, "GRAPH_STEP", "off")
    assert mode(True, cuda, None, Noise(), fused, model, 1000, 20, 100) is None
    monkeypatch.setattr(trainer, "GRAPH_STEP", "eager")
    assert mode(True, cpu, None, Noise(), fused, model, 1000, 20, 100) == "eager"


def test_a_training_worker_caps_its_share_of_the_gpu(monkeypatch):
    import aecore.training.trainer as trainer
    from aecore.settings import Settings, use

    calls = []
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, d=None: calls.append((f, str(d))))
    monkeypatch.setattr(trainer, "_capped", set())
    prev = use(Settings(gpu_memory_fraction=0.0))
    try:
        trainer.cap_gpu_memory(torch.device("cuda"))
        assert calls == []  # no cap asked for (a single `aecore train`)
        use(Settings(gpu_memory_fraction=0.25))
        trainer.cap_gpu_memory(torch.device("cpu"))
        trainer.cap_gpu_memory(torch.device("cuda"))
        trainer.cap_gpu_memory(torch.device("cuda"))
        assert calls == [(0.25, "cuda")]  # once per process and device
    finally:
        use(prev)


# ---- several workers on one GPU ------------------------------------------------------------------------------------
def test_a_gpu_machine_runs_many_workers_each_with_its_share_of_the_memory(monkeypatch, tmp_path):
    import aecore.settings
    from aecore.engine import pool
    from aecore.settings import Settings

    monkeypatch.setattr(aecore.settings, "_has_cuda", lambda: True)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    s = Settings(home=str(tmp_path))
    assert s.resolved_workers() == 15 and s.resolved_threads() == 1  # one per core beside the view worker
    assert Settings(gpu_workers=4).resolved_workers() == 4 and Settings(gpu_workers=4).resolved_threads() == 3
    assert Settings(workers=2, gpu_workers=4).resolved_workers() == 2  # AELAB_WORKERS wins
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert Settings().resolved_workers() == 16  # at most 16
    env = {"AELAB_GPU_WORKERS": "6", "AELAB_GPU_MEMORY_FRACTION": "0.1"}
    assert Settings.from_env(env).gpu_workers == 6 and Settings.from_env(env).gpu_memory_fraction == 0.1
    assert pool.gpu_share(Settings(gpu_workers=8)) == pytest.approx(0.1)  # 0.9 over 8 + 1 view worker
    assert pool.gpu_share(Settings(gpu_workers=8, gpu_memory_fraction=0.05)) == 0.05
    started = []

    class Popen:
        def __init__(self, cmd, env, **kw):
            started.append(env)
            self.pid = 10**6 + len(started)

    monkeypatch.setattr(pool.subprocess, "Popen", Popen)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    (tmp_path / "logs").mkdir()
    pool.spawn_worker(Settings(home=str(tmp_path), gpu_workers=8), lane="all")
    assert started[-1]["AELAB_GPU_MEMORY_FRACTION"] == "0.1" and started[-1]["OMP_NUM_THREADS"] == "1"
    monkeypatch.setattr(aecore.settings, "_has_cuda", lambda: False)
    assert pool.gpu_share(Settings()) == 0.0  # no GPU: no cap
    pool.spawn_worker(Settings(home=str(tmp_path)), lane="all")
    assert "AELAB_GPU_MEMORY_FRACTION" not in started[-1] or started[-1]["AELAB_GPU_MEMORY_FRACTION"] in ("", "0.0")


# ---- exact t-SNE ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def codes(mnist):
    from aecore.models.evaluate import encode
    from aecore.training.zoo import load_zoo

    return encode(load_zoo("conv-k16").model, mnist.test.x[:500]), mnist.test.y[:500]  # [500, 16], [500]


def kept10(z, xy) -> float:
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=11).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=11).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return float((a[:, :, None] == b[:, None, :]).any(2).mean())


@pytest.fixture
def short_tsne(monkeypatch):
    """Our exact t-SNE with 50 + 100 iterations (the contract, not the convergence, is under test)."""
    import aecore.analysis.tsne_gpu as g

    monkeypatch.setattr(g, "EXACT_TSNE_ITERATIONS", (50, 100))


def test_exact_tsne_affinities_are_opentsnes(codes):
    from openTSNE.affinity import PerplexityBasedNN

    import aecore.analysis.tsne_gpu as g

    z, _ = codes
    theirs = PerplexityBasedNN(z, perplexity=30, method="exact").P.toarray()
    nbr, d2 = g.knn(torch.as_tensor(z), 90)
    rows, cols, vals, deg = g.joint_affinities(nbr, g.perplexity_rows(d2, 30.0), len(z))
    ours = np.zeros_like(theirs)
    ours[rows.numpy(), cols.numpy()] = vals.numpy()
    assert np.abs(ours - theirs).max() < 1e-8 and int(deg.sum()) == len(rows)
    assert torch.equal(rows, torch.sort(rows, stable=True).values)  # rows in order: sums per point in a fixed order


def test_exact_tsne_keeps_as_many_neighbours_as_opentsne(codes):
    from aecore.analysis.projection import project

    z, labels = codes
    z, labels = z[:400], labels[:400]
    ours = project(z, "tsne", seed=0, tsne_backend="exact")
    theirs = project(z, "tsne", seed=0, tsne_backend="opentsne")
    assert "exact t-SNE" in ours.info["backend"] and ours.info["iterations"] == 1000
    assert kept10(z, ours.xy) >= kept10(z, theirs.xy) - 0.02
    assert ours.info["kl_divergence"] == pytest.approx(theirs.info["kl_divergence"], abs=0.05)
    d = np.linalg.norm(ours.xy[:, None] - ours.xy[None], axis=-1) + np.eye(len(z)) * 1e9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.8  # digits apart on the map


def test_exact_tsne_streams_stops_repeats_and_draws_3d(codes, short_tsne):
    from aecore.analysis.projection import project

    z, _ = codes
    z = z[:300]
    seen = []
    full = project(z, "tsne", seed=3, tsne_backend="exact", on_layout=lambda xy, d, t: seen.append((d, t, xy)) and False)
    assert [d for d, _, _ in seen[:3]] == [0, 25, 50] and seen[-1][0] == 150 and len(seen) == 150 // 25 + 1
    assert all(t == 150 for _, t, _ in seen) and np.array_equal(seen[-1][2], full.xy)
    assert not np.shares_memory(seen[1][2], seen[2][2])  # copies, not views of the live layout
    again = project(z, "tsne", seed=3, tsne_backend="exact")
    assert np.array_equal(again.xy, full.xy)  # the same inputs, the same layout
    stopped = project(z, "tsne", seed=3, tsne_backend="exact", on_layout=lambda xy, d, t: d >= 75)
    assert stopped.info["stopped_at"] == 75 and stopped.placer is None
    assert np.array_equal(stopped.xy, dict((d, xy) for d, _, xy in seen)[75])  # Stop keeps the layout reached
    cloud = project(z, "tsne", seed=3, dims=3, tsne_backend="exact")
    assert cloud.xy.shape == (300, 3) and np.isfinite(cloud.xy).all()


def test_exact_tsne_keeps_repeated_codes_in_their_places(codes, short_tsne):
    from aecore.analysis.projection import project

    z, _ = codes
    z = np.concatenate([z[:250], z[:50]])  # [300, 16]: points 250..299 repeat points 0..49
    full = project(z, "tsne", seed=0, tsne_backend="exact")
    twins = np.linalg.norm(full.xy[250:] - full.xy[:50], axis=1)
    assert np.median(twins) < 0.01 * np.median(np.linalg.norm(full.xy[250:] - full.xy[50:100], axis=1))


def test_exact_tsne_places_new_codes_through_opentsne_on_its_layout(codes, short_tsne):
    from aecore.analysis.projection import Placer, project

    z, _ = codes
    p = project(z[:300], "tsne", seed=1, tsne_backend="exact", keep=True)
    assert "neighbours" not in p.info  # the arrays went to the placer, not to the job's summary
    placed = Placer.from_bytes(p.placer.to_bytes()).place(z[10:14])
    assert np.all(np.linalg.norm(placed - p.xy[10:14], axis=1) < 0.05 * np.ptp(p.xy, axis=0).max())


def test_auto_lays_maps_out_on_the_gpu_only_where_it_applies(monkeypatch):
    import aecore.analysis.tsne_gpu as g
    from aecore.analysis.projection import _tsne_impl

    assert _tsne_impl("auto", "cpu", 5000) == "opentsne"
    assert not g.gpu_tsne_available("cpu", 5000) and not g.gpu_umap_available("cpu", 5000)
    assert not g.gpu_tsne_available("cuda", g.GPU_TSNE_MIN - 1) and not g.gpu_tsne_available("cuda", g.GPU_TSNE_MAX + 1)
    monkeypatch.setattr(g, "gpu_tsne_available", lambda device, n: True)
    monkeypatch.setattr(g, "_cuda_free", lambda device: 10**11)
    assert _tsne_impl("auto", "cuda", 5000) == "exact"
    assert _tsne_impl("auto", "cuda", g.GPU_TSNE_MIN - 1) == "torchdr"  # only where a test forces the GPU path
    assert _tsne_impl("opentsne", "cuda", 5000) == "opentsne"
    assert g.exact_tsne_bytes(70000) < 4 * 2**30  # all of MNIST fits beside the training workers


def test_a_failing_exact_tsne_falls_back_to_opentsne(codes, monkeypatch):
    import aecore.analysis.projection as projection
    import aecore.analysis.tsne_gpu as g

    def fails(*a, **k):
        raise RuntimeError("CUDA out of memory. Tried to allocate 3 GiB")

    monkeypatch.setattr(projection, "_tsne_impl", lambda backend, device, n: "exact")
    monkeypatch.setattr(g, "tsne_exact", fails)
    z, _ = codes
    p = projection.project(z[:200], "tsne", seed=1, device="cuda", keep=True)
    assert "openTSNE" in p.info["backend"] and p.info["gpu_error"].startswith("RuntimeError: CUDA out of memory")
    assert p.placer is not None


@pytest.mark.skipif(__import__("importlib").util.find_spec("triton") is None, reason="no Triton here")
def test_the_triton_repulsion_kernel_sums_what_torch_sums():
    # the kernel the GPU runs, executed by Triton's interpreter on the CPU (set before Triton is imported)
    code = (
        "import torch\n"
        "import aecore.analysis.tsne_gpu as g\n"
        "torch.manual_seed(0)\n"
        "for d in (2, 3):\n"
        "    y = torch.randn(150, d) * 5\n"
        "    y[7] = y[3]\n"  # a repeated point
        "    f1, z1 = g.repulsion_triton(y.contiguous())\n"
        "    f2, z2 = g.repulsion_torch(y)\n"
        "    assert torch.allclose(f1, f2, rtol=1e-4, atol=1e-5), (f1 - f2).abs().max()\n"
        "    assert torch.allclose(z1, z2, rtol=1e-5, atol=1e-4), (z1 - z2).abs().max()\n"
        "print('ok')\n")
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


# ---- UMAP in torch -------------------------------------------------------------------------------------------------
@pytest.fixture
def short_umap(monkeypatch):
    import aecore.analysis.projection as projection

    monkeypatch.setattr(projection, "umap_epochs", lambda n: 100)


def test_torch_umap_streams_stops_repeats_places_and_draws_3d(codes, short_umap):
    from aecore.analysis.projection import Placer, project

    z, labels = codes
    z, labels = z[:400], labels[:400]
    seen = []
    full = project(z, "umap", seed=2, umap_backend="torch", keep=True,
                   on_layout=lambda xy, d, t: seen.append((d, t, xy)) and False)
    assert "UMAP (aecore)" in full.info["backend"] and full.info["iterations"] == 100
    assert seen[0][0] == 0 and seen[1][0] == 5 and seen[-1][0] == 100 and np.array_equal(seen[-1][2], full.xy)
    again = project(z, "umap", seed=2, umap_backend="torch")
    assert np.array_equal(again.xy, full.xy)  # same seed, same layout
    other = project(z, "umap", seed=3, umap_backend="torch")
    assert not np.array_equal(other.xy, full.xy)
    stopped = project(z, "umap", seed=2, umap_backend="torch", on_layout=lambda xy, d, t: d >= 50)
    assert stopped.info["stopped_at"] == 50 and stopped.placer is None
    assert np.array_equal(stopped.xy, dict((d, xy) for d, _, xy in seen)[50])
    d = np.linalg.norm(full.xy[:, None] - full.xy[None], axis=-1) + np.eye(len(z)) * 1e9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.8
    placer = Placer.from_bytes(full.placer.to_bytes())
    placed = placer.place(z[10:14])
    assert np.all(np.linalg.norm(placed - full.xy[10:14], axis=1) < 0.05 * np.ptp(full.xy, axis=0).max())
    assert project(z, "umap", seed=2, dims=3, umap_backend="torch").xy.shape == (400, 3)


def test_torch_umap_keeps_about_as_many_neighbours_as_umap_learn(codes, short_umap):
    from aecore.analysis.projection import project

    z, _ = codes
    ours = project(z, "umap", seed=0, umap_backend="torch")
    theirs = project(z, "umap", seed=0, umap_backend="umap-learn")
    assert "umap-learn" in theirs.info["backend"]
    assert kept10(z, ours.xy) >= kept10(z, theirs.xy) - 0.03


def test_a_failing_gpu_umap_falls_back_to_umap_learn(codes, monkeypatch, short_umap):
    import aecore.analysis.tsne_gpu as g
    from aecore.analysis.projection import project

    def fails(*a, **k):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(g, "GPU_UMAP_MIN", 100)
    monkeypatch.setattr(g, "gpu_umap_available", lambda device, n: True)
    monkeypatch.setattr(g, "umap_torch", fails)
    z, _ = codes
    p = project(z[:300], "umap", seed=1, device="cuda", n_neighbors=10)
    assert p.info["backend"] == "umap-learn on the CPU" and p.info["gpu_error"].startswith("RuntimeError: CUDA error")


def test_the_knn_placer_pickles(codes):
    from aecore.analysis.tsne_gpu import KnnPlacer

    z, _ = codes
    xy = np.random.default_rng(0).normal(size=(len(z), 2)).astype(np.float32)
    placer = pickle.loads(pickle.dumps(KnnPlacer(z, xy, 15)))
    out = placer.transform(z[:3])
    assert out.shape == (3, 2) and np.isfinite(out).all()
