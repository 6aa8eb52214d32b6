"""The quality bars of the core library, measured on full MNIST (slow: minutes per line).

    python bench/quality.py conv30        # conv k=30 for a fixed CPU time budget vs Hinton & Salakhutdinov 2006
    python bench/quality.py tutorial      # conv-tutorial, 30 epochs, batch 20, Adam 1e-3, MSE (no hidden activations)
    python bench/quality.py tutorial-relu # the same with ReLU hidden activations
    python bench/quality.py linear        # linear k=32 vs PCA-32
    python bench/quality.py all

Each prints one JSON line with the figures and the reference they are compared with.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.config import TrainConfig  # noqa: E402
from aecore.data import load_mnist  # noqa: E402
from aecore.evaluate import evaluate  # noqa: E402
from aecore.pca import pca_mse  # noqa: E402
from aecore.train import train  # noqa: E402

HINTON_MSE = 3.00 / 784  # squared error per test image / pixels


def run(cfg: TrainConfig, ds):
    t = time.perf_counter()
    r = train(cfg, ds, on_epoch=lambda e: print(f"  epoch {e.epoch}: train {e.train_loss:.5f} ({e.seconds:.1f}s)", file=sys.stderr, flush=True))
    return r, evaluate(r.model, ds.test), time.perf_counter() - t


def conv30(ds, epochs: int = 16):
    cfg = TrainConfig(model="conv", latent=30, epochs=epochs, batch_size=128, lr=3e-3, schedule="cosine", val_fraction=0.0, device="cpu")
    r, ev, secs = run(cfg, ds)
    return {"bench": "conv k=30 (cosine, lr 3e-3, batch 128, CPU)", "epochs": epochs, "seconds": round(secs, 1),
            "test_mse": round(ev["test_mse"], 5), "squared_error_per_image": round(ev["test_mse"] * 784, 3),
            "hinton_2006_mse": round(HINTON_MSE, 5), "beats_hinton": ev["test_mse"] < HINTON_MSE,
            "pca30_test_mse": round(pca_mse(ds.test.x, 30, ds), 5)}


def tutorial(ds, hidden_act: str = "none"):
    cfg = TrainConfig(model="conv-tutorial", hidden_act=hidden_act, epochs=30, batch_size=20, lr=1e-3, val_fraction=0.0, device="cpu")
    r, ev, secs = run(cfg, ds)
    return {"bench": f"conv-tutorial (hidden activation {hidden_act}) 30 epochs, batch 20, Adam 1e-3", "seconds": round(secs, 1),
            "final_train_mse": round(r.final_train_loss, 5), "test_mse": round(ev["test_mse"], 5), "tutorial_reports": 0.0095}


def tutorial_relu(ds):
    return tutorial(ds, "relu")


def linear(ds):
    cfg = TrainConfig(model="linear", latent=32, epochs=30, batch_size=128, lr=1e-3, val_fraction=0.0, device="cpu")
    r, ev, secs = run(cfg, ds)
    return {"bench": "linear k=32, 30 epochs, Adam 1e-3", "seconds": round(secs, 1), "test_mse": round(ev["test_mse"], 5),
            "pca32_test_mse": round(pca_mse(ds.test.x, 32, ds), 5)}


def main(which: list[str]) -> int:
    ds = load_mnist()
    table = {"conv30": conv30, "tutorial": tutorial, "tutorial-relu": tutorial_relu, "linear": linear}
    for name in (list(table) if not which or which == ["all"] else which):
        print(json.dumps(table[name](ds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
