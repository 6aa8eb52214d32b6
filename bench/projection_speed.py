"""t-SNE speed: scikit-learn's TSNE against ours (openTSNE, as the Latent page's jobs run it), in the same run.

    python bench/projection_speed.py [--model conv-k16] [--sizes 2000,10000] [--threads 2] [--device cuda] [--torchdr]

For each size n, the codes of n test images of a zoo model are laid out by both (2-D, perplexity 30,
PCA start, the same threads): scikit-learn with 250 + 500 iterations at its default Barnes-Hut angle
0.5, ours as the Latent page runs it (aecore.analysis.projection: TSNE_ITERATIONS, TSNE_THETA). Both print
the final KL divergence, so the times compare layouts of the same quality. "first frame" is how long
after the call our job has a layout to show (the page draws it while t-SNE converges).
With `--device cuda` it also times the t-SNE the page runs on a GPU (TorchDR, aecore.analysis.tsne_gpu) and adds
"gpu_s", "gpu_first_frame_s"; `--torchdr` times TorchDR on `--device` whatever it is (also the CPU). Every layout is also scored by how many of each point's 10 nearest codes
stay among its 10 nearest points on the map ("kept10": 1 is perfect), which compares TorchDR (no KL
reported) with the others. One line per size, then the JSON line of the largest size:
    {"n": 10000, "sklearn_s": X, "ours_s": X, "first_frame_s": X, "sklearn_kl": X, "ours_kl": X, ...}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.models.evaluate import encode  # noqa: E402
from aecore.analysis.projection import project, sample_indices  # noqa: E402
from aecore.training.zoo import load_zoo  # noqa: E402


def sklearn_tsne(z: np.ndarray, threads: int) -> tuple[float, float, np.ndarray]:
    from sklearn.manifold import TSNE

    t = time.perf_counter()
    tsne = TSNE(n_components=2, perplexity=30.0, init="pca", random_state=0, max_iter=750, n_jobs=threads)
    xy = tsne.fit_transform(z)
    return time.perf_counter() - t, float(tsne.kl_divergence_), xy


def our_tsne(z: np.ndarray, threads: int, device: str = "cpu", backend: str = "auto"):
    """Seconds, seconds to the first frame, the projection (as the page's job runs it on `device`)."""
    t, first = time.perf_counter(), []

    def on_layout(xy, done, total):
        if not first:
            first.append(time.perf_counter() - t)
        return False

    p = project(z, "tsne", seed=0, perplexity=30.0, on_layout=on_layout, n_jobs=threads, device=device,
                tsne_backend=backend)
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - t, first[0], p


def kept10(z: np.ndarray, xy: np.ndarray) -> float:
    """Mean share of each point's 10 nearest codes that are among its 10 nearest points on the map."""
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=11).fit(z).kneighbors(z, return_distance=False)[:, 1:]  # [n, 10]
    b = NearestNeighbors(n_neighbors=11).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return float(np.mean([len(set(p) & set(q)) for p, q in zip(a, b)]) / 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="conv-k16")
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cuda: also time the GPU t-SNE (TorchDR)")
    ap.add_argument("--torchdr", action="store_true", help="time TorchDR's t-SNE on --device (also the CPU)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    ds = load_mnist()
    model = load_zoo(args.model).model
    project(encode(model, ds.test.x[:200]), "tsne", perplexity=10.0)  # warm-up: imports and compiled code
    if args.device == "cuda":
        project(encode(model, ds.test.x[:200]), "tsne", perplexity=10.0, device="cuda")  # CUDA start-up
    row = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        z = encode(model, ds.test.x[sample_indices(len(ds.test), n, seed=0)])  # [n, k]
        ours, first, p = our_tsne(z, args.threads)
        kl = p.info["kl_divergence"]
        theirs, their_kl, their_xy = sklearn_tsne(z, args.threads)
        row = {"n": n, "sklearn_s": round(theirs, 2), "ours_s": round(ours, 2), "first_frame_s": round(first, 2),
               "sklearn_kl": round(their_kl, 3), "ours_kl": round(kl, 3),
               "sklearn_kept10": round(kept10(z, their_xy), 3), "ours_kept10": round(kept10(z, p.xy), 3)}
        print(f"n={n}: sklearn {theirs:.1f} s (KL {their_kl:.3f}), ours {ours:.1f} s (KL {kl:.3f}), "
              f"{ours / theirs:.2f}x the time; first frame after {first:.2f} s; neighbours kept: sklearn "
              f"{row['sklearn_kept10']:.3f}, ours {row['ours_kept10']:.3f}", flush=True)
        if args.device == "cuda" or args.torchdr:
            gpu, gpu_first, g = our_tsne(z, args.threads, device=args.device, backend="torchdr" if args.torchdr else "auto")
            row.update(gpu_s=round(gpu, 2), gpu_first_frame_s=round(gpu_first, 2), gpu_kept10=round(kept10(z, g.xy), 3),
                       gpu_backend=g.info.get("backend"))
            print(f"        {g.info.get('backend')}: {gpu:.1f} s, {gpu / ours:.2f}x openTSNE's time, first frame after "
                  f"{gpu_first:.2f} s; neighbours kept {row['gpu_kept10']:.3f}", flush=True)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
