"""Watch it learn: the 2-D codes of a fixed set of test images and a few reconstructions, recorded as a model trains."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aecore.errors import AELabError
from aecore.models.evaluate import encode, reconstruct

WATCH_FILE = "watch.npz"  # a recording's file name, in a training job's folder and beside a kept run


class WatchError(AELabError):
    """A recording cannot be read."""


@dataclass(frozen=True)
class WatchConfig:
    points: int = 500  # test images whose codes are recorded (the same ones in every frame)
    frames: int = 120  # about this many frames over a whole run (plus one after every pause)
    seed: int = 0  # which test images (a sample stratified by digit)


def watch_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n sorted test indices, about n/10 of each digit, the same for a given seed."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = math.ceil(n / max(len(classes), 1))
    pick = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    return np.sort(np.concatenate(pick))[:n] if pick else np.zeros(0, np.int64)


def every_n_steps(total_steps: int, frames: int) -> int:
    """Steps between frames so that a run of `total_steps` steps gives about `frames` frames."""
    return max(1, math.ceil(max(total_steps, 1) / max(frames, 1)))


def to_plane(codes: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Codes [n, k] as points [n, 2]: the code itself for k ≤ 2 (k=1: y=0), else its first two principal
    components, turned (an orthogonal Procrustes fit) to line up with `previous` [n, 2] so that an
    animation does not flip or spin from frame to frame."""
    z = np.asarray(codes, np.float64)  # [n, k]
    if z.shape[1] == 1:
        return np.hstack([z, np.zeros_like(z)]).astype(np.float32)
    if z.shape[1] == 2:
        return z.astype(np.float32)
    zc = z - z.mean(0)
    _, _, vt = np.linalg.svd(zc, full_matrices=False)
    xy = zc @ vt[:2].T  # [n, 2]
    if previous is not None and len(previous) == len(xy):
        u, _, wt = np.linalg.svd(xy.T @ (previous - previous.mean(0)))  # rotation/reflection best matching previous
        xy = xy @ (u @ wt)
    return xy.astype(np.float32)


@dataclass
class Recording:
    """Frames of a training run: steps [F], xy [F, n, 2] (codes in the plane), recon [F, m, 28, 28] uint8."""

    index: np.ndarray  # [n] the test images recorded
    steps: np.ndarray  # [F] the training step of each frame (0 = before training)
    xy: np.ndarray  # [F, n, 2] float32
    recon: np.ndarray  # [F, m, 28, 28] uint8 reconstructions of the preview images
    preview: np.ndarray  # [m] the test images reconstructed
    latent: int  # k, the code size (k > 2: xy are principal components)

    def __len__(self) -> int:
        return len(self.steps)

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Axis ranges that hold every frame, so a replay shows movement rather than rescaling."""
        lo, hi = self.xy.reshape(-1, 2).min(0), self.xy.reshape(-1, 2).max(0)
        pad = 0.05 * np.maximum(hi - lo, 1e-6)
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))

    def upto(self, step: int) -> "Recording":
        """The frames recorded at or before `step` (a resumed run records again from there)."""
        keep = self.steps <= step
        return Recording(self.index, self.steps[keep], self.xy[keep], self.recon[keep], self.preview, self.latent)

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically (a page may read it while the job writes)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, index=self.index, steps=self.steps, xy=self.xy, recon=self.recon, preview=self.preview,
                     latent=np.int64(self.latent))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recording":
        try:
            with np.load(path, allow_pickle=False) as f:
                rec = cls(f["index"], f["steps"], f["xy"].astype(np.float32), f["recon"], f["preview"], int(f["latent"]))
        except (OSError, KeyError, ValueError, EOFError) as e:
            raise WatchError(f"cannot read the recording {Path(path).name}: {e}") from None
        F, n = len(rec.steps), len(rec.index)
        if rec.xy.shape != (F, n, 2) or rec.recon.shape[:2] != (F, len(rec.preview)) or rec.recon.dtype != np.uint8:
            raise WatchError(f"the recording {Path(path).name} has inconsistent shapes")
        return rec


class Recorder:
    """An `on_step(model, n)` callback for aecore.training.trainer: records a frame every `every` steps.

    Each frame holds the codes of `x_points` in the plane (see to_plane) and the reconstructions of
    `x_preview`; recording puts the model in eval mode for a moment and back to training mode.
    """

    def __init__(self, x_points: np.ndarray, index: np.ndarray, x_preview: np.ndarray, preview: np.ndarray,
                 every: int, start: Recording | None = None):
        self.x_points, self.x_preview, self.every = x_points, x_preview, max(1, int(every))  # uint8 [n,28,28], [m,28,28]
        self.index, self.preview = np.asarray(index), np.asarray(preview)
        self.latent = start.latent if start is not None else 0  # known from the first frame
        self.steps: list[int] = list(map(int, start.steps)) if start is not None else []
        self.xy: list[np.ndarray] = list(start.xy) if start is not None else []
        self.recon: list[np.ndarray] = list(start.recon) if start is not None else []

    def __call__(self, model: torch.nn.Module, step: int) -> None:
        if step % self.every == 0:
            self.record(model, step)

    def record(self, model: torch.nn.Module, step: int) -> None:
        """A frame at `step` now (replacing one already recorded at that step)."""
        was = model.training
        try:
            codes = encode(model, self.x_points)  # [n, k]; encode puts the model in eval mode
            _, rec = reconstruct(model, self.x_preview)  # [m, 28, 28] floats in [0, 1]
        finally:
            model.train(was)
        if not (np.isfinite(codes).all() and np.isfinite(rec).all()):
            return  # a diverging run: nothing to draw (the trainer stops it and keeps its last good weights)
        while self.steps and self.steps[-1] >= step:  # the same step again (e.g. a pause right after a frame)
            self.steps.pop(), self.xy.pop(), self.recon.pop()
        self.latent = codes.shape[1]
        self.xy.append(to_plane(codes, self.xy[-1] if self.xy else None))
        self.recon.append(np.round(rec * 255).astype(np.uint8))
        self.steps.append(int(step))

    def recording(self) -> Recording:
        n, m = len(self.index), len(self.preview)
        return Recording(self.index, np.asarray(self.steps, np.int64),
                         np.stack(self.xy) if self.xy else np.zeros((0, n, 2), np.float32),
                         np.stack(self.recon) if self.recon else np.zeros((0, m, 28, 28), np.uint8),
                         self.preview, self.latent)
