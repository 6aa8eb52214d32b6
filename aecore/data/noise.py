"""Input corruptions for denoising autoencoders: masking, Gaussian and salt-and-pepper noise."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aecore.errors import AELabError

NOISE_KINDS = ("none", "masking", "gaussian", "saltpepper")
NOISE_LIMITS = {"masking": (0.0, 1.0), "gaussian": (0.0, 2.0), "saltpepper": (0.0, 1.0)}


class NoiseError(AELabError):
    """An unknown corruption or a level outside its range."""


@dataclass(frozen=True)
class Noise:
    """A corruption: `kind` and its `level` (masking/salt-and-pepper: fraction of pixels; gaussian: sigma)."""

    kind: str = "none"
    level: float = 0.0

    def __post_init__(self):
        if self.kind not in NOISE_KINDS:
            raise NoiseError(f"unknown noise {self.kind!r}; choose one of {', '.join(NOISE_KINDS)}")
        if self.kind != "none":
            lo, hi = NOISE_LIMITS[self.kind]
            if not (lo <= float(self.level) <= hi):
                raise NoiseError(f"{self.kind} noise level must be in [{lo}, {hi}], got {self.level}")

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.level > 0

    def __str__(self) -> str:
        return "none" if not self.active else f"{self.kind}:{self.level:g}"

    @classmethod
    def parse(cls, text: str | None) -> "Noise":
        """'masking:0.5' -> Noise('masking', 0.5); '' or 'none' -> no noise."""
        if text is None or text.strip() in ("", "none"):
            return cls()
        kind, sep, level = text.partition(":")
        if not sep:
            raise NoiseError(f"noise must look like KIND:LEVEL (e.g. masking:0.5), got {text!r}")
        try:
            value = float(level)
        except ValueError:
            raise NoiseError(f"noise level must be a number, got {level!r}") from None
        if kind.strip() == "none" and value != 0:
            raise NoiseError(f"'none' takes no level (got {text!r}): use none, or e.g. masking:0.5")
        return cls(kind.strip(), value)


def corrupt(x: torch.Tensor, noise: Noise, generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of images x in [0, 1] (any shape); x itself is left unchanged."""
    if not noise.active:
        return x
    # Random numbers are drawn on the generator's device, then moved (keeps CPU seeds reproducible).
    gdev = generator.device if generator is not None else x.device
    u = torch.rand(x.shape, generator=generator, device=gdev).to(x.device)  # same shape as x
    if noise.kind == "masking":
        return x * (u >= noise.level)
    if noise.kind == "saltpepper":
        out = x.clone()
        hit = u < noise.level
        salt = torch.rand(x.shape, generator=generator, device=gdev).to(x.device) < 0.5
        out[hit & salt] = 1.0
        out[hit & ~salt] = 0.0
        return out
    # gaussian
    n = torch.randn(x.shape, generator=generator, device=gdev).to(x.device)
    return (x + noise.level * n).clamp_(0.0, 1.0)
