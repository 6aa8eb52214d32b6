"""Evaluation in batches: reconstructions, codes, per-image and per-digit errors, PSNR."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aecore.data.dataset import Split, float_images
from aecore.data.noise import Noise, corrupt
from aecore.models.autoencoders import Autoencoder

EVAL_BATCH = 512  # images per forward pass: small enough to stay in the CPU's cache (2048 was 2x slower)


def model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _batches(x: np.ndarray | torch.Tensor, device: torch.device, batch: int):
    """Yield float image batches [b,1,28,28] in [0,1] on `device` from uint8 [N,28,28] or float tensors."""
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        if isinstance(xb, np.ndarray):
            yield float_images(xb, device)
        else:
            yield xb.to(device, torch.float32).view(-1, 1, 28, 28)


def _as_images(t: torch.Tensor) -> torch.Tensor:
    """A batch [b,C,H,W] as the data sets hold images: [b,H,W] when grey, [b,H,W,C] when colour (on the CPU)."""
    return t[:, 0].cpu() if t.shape[1] == 1 else t.permute(0, 2, 3, 1).cpu()


@torch.no_grad()
def reconstruct(model: Autoencoder, x, noise: Noise | None = None, seed: int = 0, batch: int = EVAL_BATCH):
    """(inputs, reconstructions) as float numpy [N,28,28] ([N,H,W,C] for colour images); inputs are corrupted when
    `noise` is given."""
    model.eval()
    dev = model_device(model)
    g = torch.Generator(device=dev).manual_seed(seed)
    ins, outs = [], []
    for xb in _batches(x, dev, batch):
        xi = corrupt(xb, noise, g) if noise is not None else xb
        ins.append(_as_images(xi))
        outs.append(_as_images(model(xi).clamp(0, 1)))  # [b,28,28]
    return torch.cat(ins).numpy(), torch.cat(outs).numpy()


def _encoded_batches(model: Autoencoder, x, batch: int):
    """(inputs [b,C,H,W], codes [b,k], reconstructions [b,C,H,W] in [0,1]) batch by batch: one encode and one decode each."""
    model.eval()
    for xb in _batches(x, model_device(model), batch):
        z = model.encode(xb)  # [b, k]
        yield xb, z, model.decode(z).clamp_(0, 1).float()


@torch.inference_mode()
def codes_and_reconstructions(model: Autoencoder, x, batch: int = EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes [N, k] and reconstructions [N,28,28] ([N,H,W,C] in colour) in [0,1] (float32 numpy) in one pass
    over `x`."""
    codes, outs = [], []
    for _, z, out in _encoded_batches(model, x, batch):
        codes.append(z.float().cpu())
        outs.append(_as_images(out))  # [b,28,28]
    if not codes:
        return np.zeros((0, model.latent_dim), np.float32), np.zeros((0, 28, 28), np.float32)
    return torch.cat(codes).numpy(), torch.cat(outs).numpy()


@torch.inference_mode()
def codes_and_errors(model: Autoencoder, x, batch: int = EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes [N, k] and each image's mean squared error [N] (as per_image_errors' "mse") in one pass over
    `x`, holding one batch of reconstructions at a time (70,000 of them would be 220 MB, far more in colour)."""
    codes, errors = [], []
    for xb, z, out in _encoded_batches(model, x, batch):
        codes.append(z.float().cpu())
        errors.append(((out - xb) ** 2).flatten(1).mean(1).cpu())  # [b]
    if not codes:
        return np.zeros((0, model.latent_dim), np.float32), np.zeros(0, np.float32)
    return torch.cat(codes).numpy(), torch.cat(errors).numpy()


@torch.no_grad()
def encode(model: Autoencoder, x, batch: int = EVAL_BATCH) -> np.ndarray:
    """Latent codes [N, k] as float32 numpy."""
    model.eval()
    dev = model_device(model)
    return torch.cat([model.encode(xb).float().cpu() for xb in _batches(x, dev, batch)]).numpy()


@torch.no_grad()
def decode(model: Autoencoder, z: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
    """Images [N,28,28] ([N,H,W,C] for a colour model) in [0,1] from codes [N, k]."""
    model.eval()
    dev = model_device(model)
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    out = [_as_images(model.decode(z[i : i + batch].to(dev)).clamp(0, 1)) for i in range(0, len(z), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 28, 28), np.float32)


@torch.no_grad()
def per_image_errors(model: Autoencoder, x, noise: Noise | None = None, seed: int = 0, batch: int = EVAL_BATCH) -> dict[str, np.ndarray]:
    """Per-image mean MSE and BCE against the clean images, [N] each."""
    model.eval()
    dev = model_device(model)
    g = torch.Generator(device=dev).manual_seed(seed)
    mse, bce = [], []
    for xb in _batches(x, dev, batch):
        xi = corrupt(xb, noise, g) if noise is not None else xb
        out = model(xi).clamp(0, 1)  # [b,1,28,28]
        mse.append(((out - xb) ** 2).flatten(1).mean(1).cpu())
        bce.append(F.binary_cross_entropy(out, xb, reduction="none").flatten(1).mean(1).cpu())
    return {"mse": torch.cat(mse).numpy(), "bce": torch.cat(bce).numpy()}


def mse(images, reference) -> float:
    """Mean squared error per pixel of images against a reference (both in [0, 1], any equal shapes)."""
    return float(((np.asarray(images, np.float64) - np.asarray(reference, np.float64)) ** 2).mean())


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]."""
    return float("inf") if mse <= 0 else 10.0 * math.log10(1.0 / mse)


def per_digit(values: np.ndarray, y: np.ndarray, n_classes: int = 10) -> list[float | None]:
    """Mean of `values` for each digit 0-9 (each class 0..n_classes-1; None where it is absent)."""
    y = np.asarray(y)
    return [float(values[y == d].mean()) if (y == d).any() else None for d in range(n_classes)]


def evaluate(model: Autoencoder, split: Split, noise: Noise | None = None, seed: int = 0) -> dict:
    """Test metrics: test_mse, test_bce (per pixel), psnr, per_digit_mse [10], n."""
    err = per_image_errors(model, split.x, noise, seed)
    mse = float(err["mse"].mean())
    return {
        "test_mse": mse,
        "test_bce": float(err["bce"].mean()),
        "psnr": psnr(mse),
        "per_digit_mse": per_digit(err["mse"], split.y),
        "n": int(len(split)),
    }
