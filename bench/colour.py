"""Colour images on this machine: seconds per epoch of the colour models at 32x32 and 64x64, and the conv-AE
tutorial's accuracy table on a generated set of coloured shapes.

    python bench/colour.py [--images 1000] [--per-class 150] [--ae-epochs 10] [--clf-epochs 10]

Speed: each model trains through the trainer (MSE, Adam 1e-3, batch 255 as the tutorial) on `--images` generated colour images (80% of them: the training split) for one
warm-up and two timed epochs; the figure is the median seconds per epoch, scaled to 1,000 images. Accuracy: the
four variants (base -> BatchNorm -> BatchNorm + dropout head -> upsampling decoder) on 4 classes x `--per-class`
shapes at 32x32 (20% held out). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.analysis import classify
from aecore.data import imported as datasets  # noqa: E402
from aecore.data.catalog import load_dataset  # noqa: E402
from aecore.models.registry import build_model  # noqa: E402
from aecore.settings import current, use  # noqa: E402
from aecore.data.shapes import make_shapes  # noqa: E402
from scratch import home_removed_at_exit  # noqa: E402


def speed(images: int, size: int) -> dict:
    x, y, names = make_shapes(4, images // 4, size, seed=0)
    ds = _imported(f"shapes{size}", x, y, names)  # the trainer takes data sets by name
    out = {}
    for name in ("flowers-tutorial", "flowers-bn", "flowers-upsample", "conv"):
        torch.manual_seed(0)
        m = build_model(name, latent=16 if name == "conv" else None, image_shape=(3, size, size))
        rows = classify.fit_autoencoder(m, ds, epochs=3, batch=255, name=name)
        per_epoch = statistics.median(r["seconds"] for r in rows[1:])
        out[name] = round(per_epoch * 1000 / len(ds.train), 3)
    return out


def _imported(name: str, x, y, names):
    """The images as an imported data set of the bench's own data home (20% of each class held out)."""
    p = datasets.home() / f"{name}.npz"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, x=x, y=y, class_names=np.array(names))
    datasets.add(p, name, replace=True)
    return load_dataset(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--ae-epochs", type=int, default=10)
    ap.add_argument("--clf-epochs", type=int, default=10)
    a = ap.parse_args()
    use(current().with_(home=home_removed_at_exit(prefix="aelab-bench-")))  # a data home of its own
    result = {"threads": torch.get_num_threads(), "seconds_per_1000_images": {}}
    for size in (32, 64):
        result["seconds_per_1000_images"][size] = s = speed(a.images, size)
        print(f"{size}x{size}x3: " + ", ".join(f"{k} {v:.2f} s" for k, v in s.items()) + " per 1,000 images", flush=True)
    x, y, names = make_shapes(4, a.per_class, 32, seed=0)
    shapes = _imported("shapes", x, y, names)
    t0 = time.perf_counter()
    res = classify.tutorial_experiment(shapes, ae_epochs=a.ae_epochs, clf_epochs=a.clf_epochs,
                                       ae_batch=32, clf_batch=32)
    for r in res.tables["accuracy"]:
        print(f"{r['variant']:11s} test {r['test_acc']:6.1%} train {r['train_acc']:6.1%} AE test MSE "
              f"{r['ae_test_mse']:.4f} ({r['seconds']:.1f} s)", flush=True)
    result["accuracy"] = {r["variant"]: round(r["test_acc"], 3) for r in res.tables["accuracy"]}
    result["comparison_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
