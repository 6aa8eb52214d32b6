"""Training speed of conv-tutorial: our trainer vs the tutorials' Dataset + ToTensor + DataLoader loop, and on a GPU
vs a bare loop too.

    python bench/train_speed.py [--device auto|cpu|cuda] [--images 20000] [--batches 20,256] [--trials 5]
    python bench/train_speed.py --device cuda [--batches 20,256,2048] [--variants graph,fp32,nchw,nograph]

Both loops train the tutorial conv AE (Adam 1e-3, MSE) on the same images in this process: the
tutorial loop the model as the tutorial writes it, with torch's own layers; ours `conv-tutorial`,
the same layers and parameters (its 2x2 transposed convolutions computed as matrix products on the CPU, the
same results up to float rounding). A busy machine
cannot tilt the comparison: after a warm-up of each, the loops take turns (ours, tutorial, ours,
tutorial, ... `--trials` passes each over `--images` images), and the figures are the median images per
second of each loop and the ratio of those medians. Then it times the inference the app does for a
trained `conv` k=16: codes and reconstructions of the whole 10,000-image test set. The last line is
a JSON list with one object per batch size.

On a GPU (`--device cuda`) it also times, in the same turns, the bare loop: thirty lines of eager PyTorch with the
whole training set as one uint8 tensor on the GPU, the tutorial conv AE from torch's layers, torch's Adam, MSE
(`bare_loop` below): "vs_bare" is ours over it (the target: >= 0.9 at batch 256 and 2048). Ours runs two epochs
per pass there and counts the second (the first holds the CUDA-graph capture); each pass covers at least 30 batches.
`--variants` adds our trainer with GPU settings changed, each against the same bare loop: "fp32" (no bf16
autocast), "nchw" (torch's default memory layout instead of channels-last), "fp32nchw" (both: the bare loop's
numerics), "nograph" (no whole-step CUDA graph: the trainer of before, the model compiled for batches up to 512;
its compiles take seconds, so it is left out of bench/gpu_check.sh). The tutorial loop runs at most `--tutorial-images`
images per pass on a GPU (it is the slow one). Every figure is also printed as one JSON line
{"figure": ..., "value": ...} for bench/gpu_check.sh.
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


def ours(limit: int, batch: int, device: torch.device, ds, epochs: int = 1, variant: str = "graph") -> float:
    """Our trainer over `limit` images for `epochs` epochs: its own images/s for the last epoch (setup not counted).
    `variant` (GPU settings of aecore.training.trainer): "graph" as it is, "fp32" without autocast, "nchw" in
    torch's default memory layout, "fp32nchw" both (the bare loop's numerics), "nograph" without the whole-step
    CUDA graph."""
    import aecore.training.trainer as trainer

    cfg = TrainConfig(model="conv-tutorial", epochs=epochs, batch_size=batch, lr=1e-3, limit=limit, val_fraction=0.0,
                      device=device.type, precision="fp32" if variant.startswith("fp32") else "auto")
    before = trainer.GRAPH_STEP, trainer.CUDA_CHANNELS_LAST
    trainer.GRAPH_STEP = "off" if variant == "nograph" else before[0]
    trainer.CUDA_CHANNELS_LAST = False if variant.endswith("nchw") else before[1]
    try:
        run = train(cfg, ds)
    finally:
        trainer.GRAPH_STEP, trainer.CUDA_CHANNELS_LAST = before
    return run.history[-1]["images_per_s"]


class BareLoop:
    """The bare loop: the whole training set as one uint8 tensor on the device, the tutorial conv AE from torch's
    layers, torch's Adam (its default, multi-tensor step), MSE, eager; a pass takes a fresh random order."""

    def __init__(self, x: np.ndarray, batch: int, device: torch.device):
        torch.manual_seed(0)
        self.device, self.batch = device, batch
        self.x = torch.tensor(x).to(device).unsqueeze(1)  # [N, 1, 28, 28] uint8 on the device
        self.model = tutorial_model().to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def images_per_s(self, limit: int | None = None) -> float:
        model, opt, x, b = self.model, self.opt, self.x, self.batch
        n = len(x) if limit is None else min(limit, len(x))
        sync(self.device)
        t = time.perf_counter()
        perm = torch.randperm(len(x), device=self.device)[:n]
        done = 0
        for i in range(0, n - b + 1, b):
            xb = x[perm[i:i + b]].float().div_(255)
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += b
        sync(self.device)
        return done / (time.perf_counter() - t)


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


def figure(name: str, value: float, **more) -> None:
    """One figure as a JSON line (bench/gpu_check.sh collects them)."""
    print(json.dumps({"figure": name, "value": value, **more}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=20000, help="training images per pass (trial)")
    ap.add_argument("--batches", default="", help="default 20,256 (and 2048 on a GPU)")
    ap.add_argument("--trials", type=int, default=5, help="passes of each loop, taking turns")
    ap.add_argument("--variants", default="fp32,nchw,fp32nchw", help="GPU: our trainer with settings changed "
                    "(fp32, nchw, fp32nchw, nograph)")
    ap.add_argument("--tutorial-images", type=int, default=10000, help="GPU: images per pass of the tutorial loop")
    a = ap.parse_args()
    device = resolve_device(a.device)
    gpu = device.type == "cuda"
    ds = load_mnist()
    batches = [int(v) for v in (a.batches or ("20,256,2048" if gpu else "20,256")).split(",")]
    variants = ["graph"] + ([v for v in a.variants.split(",") if v] if gpu else [])
    print(f"device: {device_label(device)} · torch {torch.__version__} · {a.images} images per pass · "
          f"{a.trials} passes of each loop, taking turns", flush=True)
    rows = []
    for b in batches:
        images = min(len(ds.train.x), max(a.images, 30 * b)) if gpu else a.images
        x = ds.train.x[:images]
        epochs = 2 if gpu else 1  # on a GPU the first epoch holds the graph's capture: count the second
        tut_images = min(images, a.tutorial_images) if gpu else images
        tut = TutorialLoop(x[:tut_images], b, device)
        bare = BareLoop(x, b, device) if gpu else None
        for v in variants:  # warm-up of each (first calls, caches, cuDNN's choices)
            ours(min(images, 50 * b), b, device, ds, epochs, v)
        tut.images_per_s(limit=50 * b)
        if bare is not None:
            bare.images_per_s(limit=50 * b)
        mine = {v: [] for v in variants}
        theirs, bares = [], []
        for _ in range(a.trials):
            for v in variants:
                mine[v].append(ours(images, b, device, ds, epochs, v))
            theirs.append(tut.images_per_s())
            if bare is not None:
                bares.append(bare.images_per_s())
        om, tm = statistics.median(mine["graph"]), statistics.median(theirs)
        row = {"batch": b, "ours_images_per_s": round(om), "tutorial_images_per_s": round(tm),
               "speedup": round(om / tm, 2), "ours_epoch_s": round(60000 / om, 2),
               "ours_trials": [round(v) for v in mine["graph"]], "tutorial_trials": [round(v) for v in theirs]}
        print(f"batch {b:5d}: ours {om:10,.0f} images/s · tutorial loop {tm:10,.0f} images/s · "
              f"{om / tm:5.2f}x (medians of {a.trials}) · an MNIST epoch takes {60000 / om:.2f} s with ours", flush=True)
        print(f"            trials ours {[round(v) for v in mine['graph']]} · tutorial {[round(v) for v in theirs]}",
              flush=True)
        figure(f"train_b{b}_vs_tutorial", round(om / tm, 2), ours=round(om), tutorial=round(tm), device=device.type)
        if bare is not None:
            bm = statistics.median(bares)
            row.update(bare_images_per_s=round(bm), vs_bare=round(om / bm, 2), bare_trials=[round(v) for v in bares])
            print(f"            bare loop {bm:10,.0f} images/s · ours {om / bm:5.2f}x the bare loop", flush=True)
            figure(f"train_b{b}_vs_bare", round(om / bm, 2), ours=round(om), bare=round(bm))
            for v in variants[1:]:
                vm = statistics.median(mine[v])
                row[f"{v}_images_per_s"] = round(vm)
                print(f"            variant {v:8s} {vm:10,.0f} images/s · {vm / bm:5.2f}x the bare loop", flush=True)
                figure(f"train_b{b}_{v}_vs_bare", round(vm / bm, 2), ours=round(vm), bare=round(bm))
            if b == 20:
                figure("train_b20_images_per_s", round(om), target=50000)
        rows.append(row)
    secs, what = inference_seconds(ds, device)
    print(f"inference: codes + reconstructions of the 10,000 test images with {what}: {secs:.3f} s "
          f"({10000 / secs:,.0f} images/s, median of 5)", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
