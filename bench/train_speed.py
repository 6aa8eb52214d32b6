"""Training speed of conv-tutorial: our trainer vs the tutorials' Dataset + ToTensor + DataLoader loop.

    python bench/train_speed.py [--device auto|cpu|cuda] [--images 20000] [--batches 20,256]

Both loops train the same model with Adam 1e-3 and MSE on the same images in this process;
each figure is images per second over one pass of --images training images after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.config import TrainConfig  # noqa: E402
from aecore.data import load_mnist  # noqa: E402
from aecore.device import device_label, resolve_device  # noqa: E402
from aecore.models import build_model  # noqa: E402
from aecore.train import train  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def tutorial_loop(x: np.ndarray, batch: int, device: torch.device) -> float:
    """The tutorials' loop: a torchvision-style Dataset of PIL images, ToTensor, DataLoader."""
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
    model = build_model("conv-tutorial").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(MNISTLike(x), batch_size=batch, shuffle=True)
    for i, (xb, _) in enumerate(loader):  # warm-up
        if i == 5:
            break
        xb = xb.to(device)
        loss = F.mse_loss(model(xb), xb)
        opt.zero_grad(); loss.backward(); opt.step()
    sync(device)
    t = time.perf_counter()
    n = 0
    for xb, _ in loader:
        xb = xb.to(device)
        loss = F.mse_loss(model(xb), xb)
        opt.zero_grad(); loss.backward(); opt.step()
        n += len(xb)
    sync(device)
    return n / (time.perf_counter() - t)


def our_loop(limit: int, batch: int, device: str, ds) -> float:
    cfg = TrainConfig(model="conv-tutorial", epochs=2, batch_size=batch, lr=1e-3, limit=limit, val_fraction=0.0, device=device)
    run = train(cfg, ds)
    return run.history[-1]["images_per_s"]  # the second epoch: warm


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--batches", default="20,256")
    a = ap.parse_args()
    device = resolve_device(a.device)
    ds = load_mnist()
    x = ds.train.x[: a.images]
    print(f"device: {device_label(device)} · torch {torch.__version__} · {a.images} images per pass")
    rows = []
    for b in [int(v) for v in a.batches.split(",")]:
        ours = our_loop(a.images, b, str(device.type), ds)
        theirs = tutorial_loop(x, b, device)
        rows.append({"batch": b, "ours_images_per_s": round(ours), "tutorial_images_per_s": round(theirs),
                     "speedup": round(ours / theirs, 2), "ours_epoch_s": round(60000 / ours, 2)})
        print(f"batch {b:5d}: ours {ours:12,.0f} images/s · tutorial loop {theirs:10,.0f} images/s · "
              f"{ours / theirs:5.1f}x · an MNIST epoch takes {60000 / ours:.2f} s with ours", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
