"""t-SNE speed: scikit-learn's TSNE against ours (openTSNE, as the Latent page's jobs run it), in the same run.

    python bench/projection_speed.py [--model conv-k16] [--sizes 2000,10000] [--threads 2]

For each size n, the codes of n test images of a zoo model are laid out by both (2-D, perplexity 30,
PCA start, the same threads): scikit-learn with 250 + 500 iterations at its default Barnes-Hut angle
0.5, ours as the Latent page runs it (aecore.projection: TSNE_ITERATIONS, TSNE_THETA). Both print
the final KL divergence, so the times compare layouts of the same quality. "first frame" is how long
after the call our job has a layout to show (the page draws it while t-SNE converges).
One line per size, then the JSON line of the largest size:
    {"n": 10000, "sklearn_s": X, "ours_s": X, "first_frame_s": X, "sklearn_kl": X, "ours_kl": X}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.data import load_mnist  # noqa: E402
from aecore.evaluate import encode  # noqa: E402
from aecore.projection import project, sample_indices  # noqa: E402
from aecore.zoo import load_zoo  # noqa: E402


def sklearn_tsne(z: np.ndarray, threads: int) -> tuple[float, float]:
    from sklearn.manifold import TSNE

    t = time.perf_counter()
    tsne = TSNE(n_components=2, perplexity=30.0, init="pca", random_state=0, max_iter=750, n_jobs=threads)
    tsne.fit_transform(z)
    return time.perf_counter() - t, float(tsne.kl_divergence_)


def our_tsne(z: np.ndarray, threads: int) -> tuple[float, float, float]:
    t, first = time.perf_counter(), []

    def on_layout(xy, done, total):
        if not first:
            first.append(time.perf_counter() - t)
        return False

    p = project(z, "tsne", seed=0, perplexity=30.0, on_layout=on_layout, n_jobs=threads)
    return time.perf_counter() - t, first[0], p.info["kl_divergence"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="conv-k16")
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    ds = load_mnist()
    model = load_zoo(args.model).model
    project(encode(model, ds.test.x[:200]), "tsne", perplexity=10.0)  # warm-up: imports and compiled code
    row = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        z = encode(model, ds.test.x[sample_indices(len(ds.test), n, seed=0)])  # [n, k]
        ours, first, kl = our_tsne(z, args.threads)
        theirs, their_kl = sklearn_tsne(z, args.threads)
        row = {"n": n, "sklearn_s": round(theirs, 2), "ours_s": round(ours, 2), "first_frame_s": round(first, 2),
               "sklearn_kl": round(their_kl, 3), "ours_kl": round(kl, 3)}
        print(f"n={n}: sklearn {theirs:.1f} s (KL {their_kl:.3f}), ours {ours:.1f} s (KL {kl:.3f}), "
              f"{ours / theirs:.2f}x the time; first frame after {first:.2f} s", flush=True)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
