"""Training speed of conv-tutorial: our trainer vs the tutorials' Dataset + ToTensor + DataLoader loop.

    python bench/train_speed.py [--device auto|cpu|cuda] [--images 20000] [--batches 20,256] [--trials 5]

Both loops train the tutorial conv AE (Adam 1e-3, MSE) on the same images in this process: the
tutorial loop the model as the tutorial writes it, with torch's own layers; ours `conv-tutorial`,
the same layers and parameters (its 2x2 transposed convolutions computed as matrix products, the
same results up to float rounding). A busy machine
cannot tilt the comparison: after a warm-up of each, the two loops take turns (ours, tutorial, ours,
tutorial, ... `--trials` passes each over `--images` images), and the figures are the median images per
second of each loop and the ratio of those medians. Then it times the inference the app does for a
trained `conv` k=16: codes and reconstructions of the whole 10,000-image test set. The last line is
a JSON list with one object per batch size.
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
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.training.config import TrainConfig  # noqa: E402
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.training.device import device_label, resolve_device  # noqa: E402
from aecore.models.evaluate import codes_and_reconstructions  # noqa: E402
from aecore.models.registry import build_model  # noqa: E402
from aecore.training.trainer import train  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def tutorial_model() -> torch.nn.Module:
    """The tutorial conv AE as the tutorial writes it (PRODUCT.md, models 2), torch's layers only."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(16, 4, 3, padding=1), nn.MaxPool2d(2),
        nn.ConvTranspose2d(4, 16, 2, stride=2), nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid(),
    )


class TutorialLoop:
    """The tutorials' loop: a torchvision-style Dataset of PIL images, ToTensor, DataLoader, plain Adam."""

    def __init__(self, x: np.ndarray, batch: int, device: torch.device):
        from PIL import Image
        from torch.utils.data import DataLoader, Dataset
        from torchvision.transforms import ToTensor

        class MNISTLike(Dataset):
            def __init__(self, images):
                self.images, self.tf = images, ToTensor()

            def __len__(self):
                return len(self.images)

            def __getitem__(self, i):
                return self.tf(Image.fromarray(self.images[i], mode="L")), 0

        torch.manual_seed(0)
        self.device = device
        self.model = tutorial_model().to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loader = DataLoader(MNISTLike(x), batch_size=batch, shuffle=True)

    def images_per_s(self, limit: int | None = None) -> float:
        """One pass over the images (or the first `limit`), as the tutorial writes it."""
        model, opt, device = self.model, self.opt, self.device
        sync(device)
        t = time.perf_counter()
        n = 0
        for xb, _ in self.loader:
            xb = xb.to(device)
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(xb)
            if limit is not None and n >= limit:
                break
        sync(device)
        return n / (time.perf_counter() - t)


def ours(limit: int, batch: int, device: torch.device, ds, epochs: int = 1) -> float:
    """Our trainer, one epoch over `limit` images: its own images/s for the epoch (setup not counted)."""
    cfg = TrainConfig(model="conv-tutorial", epochs=epochs, batch_size=batch, lr=1e-3, limit=limit, val_fraction=0.0,
                      device=device.type)
    run = train(cfg, ds)
    return run.history[-1]["images_per_s"]


def inference_seconds(ds, device: torch.device, repeats: int = 5) -> tuple[float, str]:
    """Median seconds for codes + reconstructions of the 10,000 test images with a conv k=16 model."""
    from aecore.training.zoo import load_zoo

    try:
        model, what = load_zoo("conv-k16").model, "the zoo's conv-k16"
    except Exception:  # no zoo here: an untrained model of the same shape costs the same
        torch.manual_seed(0)
        model, what = build_model("conv", latent=16), "an untrained conv k=16"
    model = model.to(device)
    codes_and_reconstructions(model, ds.test.x[:512])  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        codes_and_reconstructions(model, ds.test.x)
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times), what


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=20000, help="training images per pass (trial)")
    ap.add_argument("--batches", default="20,256")
    ap.add_argument("--trials", type=int, default=5, help="passes of each loop, taking turns")
    a = ap.parse_args()
    device = resolve_device(a.device)
    ds = load_mnist()
    x = ds.train.x[: a.images]
    print(f"device: {device_label(device)} · torch {torch.__version__} · {a.images} images per pass · "
          f"{a.trials} passes of each loop, taking turns", flush=True)
    rows = []
    for b in [int(v) for v in a.batches.split(",")]:
        tut = TutorialLoop(x, b, device)
        ours(min(a.images, 50 * b), b, device, ds)  # warm-up of each (first calls, caches)
        tut.images_per_s(limit=50 * b)
        mine, theirs = [], []
        for _ in range(a.trials):
            mine.append(ours(a.images, b, device, ds))
            theirs.append(tut.images_per_s())
        om, tm = statistics.median(mine), statistics.median(theirs)
        rows.append({"batch": b, "ours_images_per_s": round(om), "tutorial_images_per_s": round(tm),
                     "speedup": round(om / tm, 2), "ours_epoch_s": round(60000 / om, 2),
                     "ours_trials": [round(v) for v in mine], "tutorial_trials": [round(v) for v in theirs]})
        print(f"batch {b:5d}: ours {om:10,.0f} images/s · tutorial loop {tm:10,.0f} images/s · "
              f"{om / tm:5.2f}x (medians of {a.trials}) · an MNIST epoch takes {60000 / om:.2f} s with ours", flush=True)
        print(f"            trials ours {[round(v) for v in mine]} · tutorial {[round(v) for v in theirs]}", flush=True)
    secs, what = inference_seconds(ds, device)
    print(f"inference: codes + reconstructions of the 10,000 test images with {what}: {secs:.3f} s "
          f"({10000 / secs:,.0f} images/s, median of 5)", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
