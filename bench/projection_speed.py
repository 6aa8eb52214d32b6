"""Latent-map speed and quality: t-SNE (and UMAP) as the Latent page's jobs make them, against the CPU's, in one run.

    python bench/projection_speed.py [--model conv-k16] [--sizes 2000,10000] [--threads 2] [--device cpu|cuda]
                                     [--sklearn-max 10000] [--cpu-max 70000] [--bh-max 10000] [--umap]
                                     [--umap-cpu-max 10000] [--torchdr]

For each size n, the codes of n images of a zoo model are laid out (2-D, perplexity 30, PCA start, `--threads`
threads): up to 10,000 a seeded sample of the test images; above, a seeded sample of all 70,000 MNIST images (the
10,000 test images first, then the 60,000 training images, as the page's "all" source), so `--sizes 30000,70000`
means 30,000 and all 70,000 codes. Layouts of each n:
  - "ours": openTSNE as the page runs it on the CPU (aecore.analysis.projection: TSNE_ITERATIONS, TSNE_THETA,
    Barnes-Hut) up to --bh-max points; above, openTSNE's own default for large n (FFT-accelerated gradients,
    250 + 500 iterations), which is faster there ("cpu_method" says which);
  - "sklearn": scikit-learn's TSNE (250 + 500 iterations, Barnes-Hut 0.5), for n <= --sklearn-max;
  - "gpu" (with --device cuda): what the page runs on a GPU, our exact t-SNE (aecore.analysis.tsne_gpu.tsne_exact);
  - "torchdr" (with --torchdr): TorchDR's exact t-SNE on --device (also the CPU), n <= 30,000.
The CPU layouts run only for n <= --cpu-max. Each is scored by its time, the time to its first frame (how long
after the call the page has a layout to draw), the final KL divergence where the method reports it, and "kept10":
the share of each point's 10 nearest codes that stay among its 10 nearest points on the map (1 is perfect).
With --umap, UMAP too: umap-learn on the CPU (n <= --umap-cpu-max) and, on a GPU, ours in torch
(aecore.analysis.tsne_gpu.umap_torch). One line per size, one JSON line per figure ({"figure": ...}, each a ratio
against a baseline measured in this run), then the JSON list of all rows.

    python bench/projection_speed.py --engine [--sizes 2000,10000] [--methods pca,tsne,umap]

measures what a student waits for instead: each map made by the engine's workers as the Latent page asks for it
(the page's parameters, the page's lanes: one training worker and one view worker on this machine's settings), while
a training job of another workspace runs beside it the whole time (the run's codes asked first, as the page does
when it opens). Per method and size: the seconds from the click
(the job's submit) to the first picture (the first layout the page can draw), to the first report after the start
(for UMAP: its neighbour search), to the finished map, and, on a second map of the same size, from Stop to the job's
end. The first UMAP in a worker also compiles umap-learn's numba code: it is measured as it comes (a student's first
UMAP), then again ("umap_warm"). The last line is JSON, with the goals (issue 27 item 8) beside each figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.analysis.latent import pool_images  # noqa: E402
from aecore.analysis.projection import project, sample_indices  # noqa: E402
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.models.evaluate import encode  # noqa: E402
from aecore.training.zoo import load_zoo  # noqa: E402
from scratch import home_removed_at_exit  # noqa: E402


def sklearn_tsne(z: np.ndarray, threads: int) -> tuple[float, float, np.ndarray]:
    from sklearn.manifold import TSNE

    t = time.perf_counter()
    tsne = TSNE(n_components=2, perplexity=30.0, init="pca", random_state=0, max_iter=750, n_jobs=threads)
    xy = tsne.fit_transform(z)
    return time.perf_counter() - t, float(tsne.kl_divergence_), xy


def timed(z: np.ndarray, method: str, threads: int, device: str = "cpu", **backend):
    """Seconds, seconds to the first frame, the projection (as the page's job runs it on `device`)."""
    t, first = time.perf_counter(), []

    def on_layout(xy, done, total):
        if not first:
            first.append(time.perf_counter() - t)
        return False

    p = project(z, method, seed=0, perplexity=30.0, on_layout=on_layout, n_jobs=threads, device=device, **backend)
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - t, first[0], p


def opentsne_fft(z: np.ndarray, threads: int):
    """openTSNE with its defaults for large n (FFT gradients): seconds, seconds to the first frame (its PCA start,
    which the page would draw before the affinities), KL divergence, layout."""
    from openTSNE import TSNE

    t = time.perf_counter()
    embedding = TSNE(n_components=2, perplexity=30.0, n_jobs=threads, random_state=0, negative_gradient_method="fft",
                     verbose=False).fit(z)
    return time.perf_counter() - t, float(embedding.kl_divergence), np.asarray(embedding, np.float32)


_NEAREST: list = [None, None]  # the code array last scored and its points' 10 nearest codes (found once per size)


def nearest10(x: np.ndarray) -> np.ndarray:
    """Each row's 10 nearest other rows [n, 10] (Euclidean; all cores)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=11, n_jobs=-1).fit(x).kneighbors(x, return_distance=False)[:, 1:]


def kept10(z: np.ndarray, xy: np.ndarray) -> float:
    """Mean share of each point's 10 nearest codes that are among its 10 nearest points on the map."""
    if _NEAREST[0] is not z:
        _NEAREST[:] = [z, nearest10(z)]
    a, b = _NEAREST[1], nearest10(xy)
    return float((a[:, :, None] == b[:, None, :]).any(2).mean())


def codes(model, ds, n: int) -> np.ndarray:
    """Codes [n, k] of n images: a seeded sample of the test set up to its size, else of all 70,000 images."""
    if n <= len(ds.test):
        return encode(model, ds.test.x[sample_indices(len(ds.test), n, seed=0)])
    idx = sample_indices(len(ds.test) + len(ds.train), n, seed=0)  # point numbers: test first, then training
    return np.concatenate([encode(model, pool_images(ds, idx[i:i + 5000])) for i in range(0, len(idx), 5000)])


def figure(name: str, value, **more) -> None:
    print(json.dumps({"figure": name, "value": value, **more}), flush=True)


def engine_run(sizes: list[int], methods: list[str]) -> None:
    """Maps through the engine with a training job beside them (see the module's docstring)."""
    
    from aecore.engine.client import Engine
    from aecore.engine.pool import stop_workers
    from aecore.engine.store import new_token
    from aecore.settings import Settings

    home = home_removed_at_exit(prefix="aelab-maps-")
    settings = Settings.from_env({}).with_(home=home, idle_exit_s=300)
    eng = Engine.open(settings)
    trainer, student = new_token(home), new_token(home)
    rows = []

    def until(job_id: int, ws: str, ok, t0: float, limit_s: float = 600) -> float:
        while time.perf_counter() - t0 < limit_s:
            if ok(eng.job(job_id, ws)):
                return time.perf_counter() - t0
            time.sleep(0.02)
        raise TimeoutError(f"job {job_id}: not there after {limit_s} s")

    try:
        beside = eng.submit(trainer, "train", dict(config=dict(model="conv", latent=16, epochs=40, limit=20000,
                                                                batch_size=64, device="cpu")))
        until(beside.id, trainer, lambda j: j.status == "running" and j.progress, time.perf_counter())
        codes = eng.submit(student, "codes", dict(run="zoo:conv-k16"))  # as the Latent page does when it opens
        until(codes.id, student, lambda j: j.status == "done", time.perf_counter())
        for n in sizes:
            for method in methods:
                for label, seed in ((method, 0), *([("umap_warm", 1)] if method == "umap" else [])):
                    params = dict(run="zoo:conv-k16", method=method, n=n, seed=seed)
                    t0 = time.perf_counter()
                    job = eng.submit(student, "projection", params)
                    lane = job.lane
                    first = until(job.id, student, lambda j: j.status == "done" or eng.live_layout(j.id) is not None, t0)
                    report = until(job.id, student, lambda j: j.status == "done" or bool(j.progress), t0)
                    phase = (eng.job(job.id, student).progress or {}).get("phase", "")
                    done = until(job.id, student, lambda j: j.status in ("done", "failed", "stopped"), t0)
                    status = eng.job(job.id, student).status
                    stop_s = None
                    if method in ("tsne", "umap") and label == method:  # Stop, on a second map of the same size
                        t1 = time.perf_counter()
                        again = eng.submit(student, "projection", dict(params, seed=seed + 7))
                        until(again.id, student, lambda j: j.status == "running" and eng.live_layout(j.id) is not None,
                              t1)
                        time.sleep(1.0)  # the student watches it for a second, then clicks Stop
                        t2 = time.perf_counter()
                        eng.stop(again.id, student)
                        stop_s = round(until(again.id, student, lambda j: not j.active, t2), 2)
                    row = dict(method=label, n=n, lane=lane, first_picture_s=round(first, 2),
                               first_report_s=round(report, 2), first_phase=phase, done_s=round(done, 2),
                               status=status, stop_s=stop_s, training_beside=eng.job(beside.id, trainer).status)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        eng.stop(beside.id, trainer)
    finally:
        stop_workers(eng._store)
    goals = {"first_picture_s": 2.0, "done_s_10000": 30.0, "stop_s": 1.0}
    print(json.dumps({"engine_maps": rows, "goals": goals}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="conv-k16")
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cuda: also the GPU's t-SNE (and UMAP with --umap)")
    ap.add_argument("--sklearn-max", type=int, default=10000, help="scikit-learn's t-SNE up to this many points")
    ap.add_argument("--cpu-max", type=int, default=70000, help="openTSNE on the CPU up to this many points")
    ap.add_argument("--bh-max", type=int, default=10000, help="openTSNE as the page runs it (Barnes-Hut) up to this "
                    "many points, its FFT gradients above")
    ap.add_argument("--umap", action="store_true", help="UMAP too")
    ap.add_argument("--umap-cpu-max", type=int, default=10000, help="umap-learn up to this many points")
    ap.add_argument("--torchdr", action="store_true", help="TorchDR's t-SNE on --device (also the CPU)")
    ap.add_argument("--engine", action="store_true", help="maps through the engine, a training job beside them")
    ap.add_argument("--methods", default="pca,tsne,umap", help="with --engine: the methods to time")
    args = ap.parse_args()
    if args.engine:
        return engine_run([int(v) for v in args.sizes.split(",")], args.methods.split(","))
    import torch

    torch.set_num_threads(args.threads)
    gpu = args.device == "cuda"
    ds = load_mnist()
    model = load_zoo(args.model).model
    warm = encode(model, ds.test.x[:2000])
    project(warm[:200], "tsne", perplexity=10.0)  # warm-up: imports and compiled code
    if gpu:  # CUDA's start-up and the kernels' compilation, outside the timings
        model = model.to("cuda")  # the codes of up to 70,000 images in a moment
        project(warm, "tsne", device="cuda", tsne_backend="exact")
        if args.umap:
            project(warm, "umap", device="cuda", umap_backend="torch")
    rows = []
    umap_cpu_ref = None  # (n, seconds) of the largest umap-learn run, the baseline of larger GPU-only sizes
    for n in [int(s) for s in args.sizes.split(",")]:
        z = codes(model, ds, n)  # [n, k]
        row: dict = {"n": n}
        line = [f"n={n}:"]
        if n <= args.cpu_max and n <= args.bh_max:
            ours, first, p = timed(z, "tsne", args.threads, tsne_backend="opentsne")
            row.update(cpu_method="openTSNE Barnes-Hut (the page's)", ours_s=round(ours, 2), first_frame_s=round(first, 2),
                       ours_kl=round(p.info["kl_divergence"], 3), ours_kept10=round(kept10(z, p.xy), 3))
        elif n <= args.cpu_max:
            ours, kl, xy = opentsne_fft(z, args.threads)
            row.update(cpu_method="openTSNE FFT", ours_s=round(ours, 2), first_frame_s=0.0, ours_kl=round(kl, 3),
                       ours_kept10=round(kept10(z, xy), 3))
        if "ours_s" in row:
            line.append(f"{row['cpu_method']} {row['ours_s']:.1f} s (KL {row['ours_kl']:.3f}, kept10 "
                        f"{row['ours_kept10']:.3f}, first frame {row['first_frame_s']:.2f} s)")
        if n <= args.sklearn_max:
            theirs, their_kl, their_xy = sklearn_tsne(z, args.threads)
            row.update(sklearn_s=round(theirs, 2), sklearn_kl=round(their_kl, 3),
                       sklearn_kept10=round(kept10(z, their_xy), 3))
            line.append(f"sklearn {theirs:.1f} s (KL {their_kl:.3f}, kept10 {row['sklearn_kept10']:.3f})")
            if "ours_s" in row:
                figure(f"tsne_{n}_opentsne_vs_sklearn", round(row["ours_s"] / theirs, 2), opentsne_s=row["ours_s"],
                       sklearn_s=row["sklearn_s"])
        if gpu:
            g_s, g_first, g = timed(z, "tsne", args.threads, device="cuda", tsne_backend="exact")
            row.update(gpu_s=round(g_s, 2), gpu_first_frame_s=round(g_first, 3), gpu_kept10=round(kept10(z, g.xy), 3),
                       gpu_kl=round(g.info.get("kl_divergence", float("nan")), 3), gpu_backend=g.info.get("backend"))
            line.append(f"{row['gpu_backend']} {g_s:.2f} s (KL {row['gpu_kl']:.3f}, kept10 {row['gpu_kept10']:.3f}, "
                        f"first frame {g_first:.3f} s)")
            target = 1.0 if n <= 10000 else 5.0
            if "ours_s" in row:
                faster, as_good = g_s < row["ours_s"], row["gpu_kept10"] >= row["ours_kept10"]
                row["prefer_gpu"] = bool(faster and as_good)
                figure(f"tsne_{n}_gpu_speedup_vs_opentsne", round(row["ours_s"] / g_s, 2), gpu_s=row["gpu_s"],
                       opentsne_s=row["ours_s"], target_gpu_s=target, meets_target=g_s <= target)
                figure(f"tsne_{n}_gpu_kept10_vs_opentsne", round(row["gpu_kept10"] / row["ours_kept10"], 3),
                       gpu_kept10=row["gpu_kept10"], opentsne_kept10=row["ours_kept10"], as_good=as_good)
                if row["cpu_method"].startswith("openTSNE Barnes-Hut"):
                    figure(f"tsne_{n}_gpu_first_frame_vs_opentsne", round(g_first / max(row["first_frame_s"], 1e-3), 2),
                           gpu_first_frame_s=row["gpu_first_frame_s"], opentsne_first_frame_s=row["first_frame_s"],
                           target_s=0.5, meets_target=g_first <= 0.5)
            figure(f"tsne_{n}_gpu_first_frame_share_of_gpu_map", round(g_first / g_s, 3),
                   gpu_first_frame_s=row["gpu_first_frame_s"], gpu_s=row["gpu_s"], target_s=0.5,
                   meets_target=g_first <= 0.5)
        if args.torchdr and n <= 30000:
            d_s, d_first, d = timed(z, "tsne", args.threads, device=args.device, tsne_backend="torchdr")
            row.update(torchdr_s=round(d_s, 2), torchdr_kept10=round(kept10(z, d.xy), 3))
            line.append(f"TorchDR {d_s:.1f} s (kept10 {row['torchdr_kept10']:.3f})")
        if args.umap:
            if n <= args.umap_cpu_max:
                u_s, u_first, u = timed(z, "umap", args.threads, umap_backend="umap-learn")
                row.update(umap_cpu_s=round(u_s, 2), umap_cpu_kept10=round(kept10(z, u.xy), 3))
                line.append(f"umap-learn {u_s:.1f} s (kept10 {row['umap_cpu_kept10']:.3f})")
                umap_cpu_ref = (n, u_s)
            if gpu:
                v_s, v_first, v = timed(z, "umap", args.threads, device="cuda", umap_backend="torch")
                row.update(umap_gpu_s=round(v_s, 2), umap_gpu_first_frame_s=round(v_first, 3),
                           umap_gpu_kept10=round(kept10(z, v.xy), 3))
                line.append(f"UMAP on the GPU {v_s:.2f} s (kept10 {row['umap_gpu_kept10']:.3f})")
                if "umap_cpu_s" in row:
                    row["prefer_gpu_umap"] = bool(v_s < row["umap_cpu_s"] and
                                                  row["umap_gpu_kept10"] >= row["umap_cpu_kept10"] - 0.01)
                    figure(f"umap_{n}_gpu_speedup_vs_umap_learn", round(row["umap_cpu_s"] / v_s, 2),
                           gpu_s=row["umap_gpu_s"], umap_learn_s=row["umap_cpu_s"], gpu_kept10=row["umap_gpu_kept10"],
                           umap_learn_kept10=row["umap_cpu_kept10"], target_gpu_s=5.0 if n > 10000 else None)
                elif umap_cpu_ref is not None:  # no umap-learn at this size: against its largest run here
                    figure(f"umap_{n}_gpu_speedup_vs_umap_learn_at_{umap_cpu_ref[0]}",
                           round(umap_cpu_ref[1] / v_s, 2), gpu_s=row["umap_gpu_s"],
                           umap_learn_s_at_smaller_n=round(umap_cpu_ref[1], 2), target_gpu_s=5.0,
                           meets_target=v_s <= 5.0, gpu_kept10=row["umap_gpu_kept10"])
        print(" ".join(line[:1]) + " " + "; ".join(line[1:]), flush=True)
        rows.append(row)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
