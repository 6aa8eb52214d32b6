"""The autoencoder models, by name: the tutorials' architectures and our own conv AE."""

from __future__ import annotations

from .errors import AELabError
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from aecore.patch_conv import PatchConvTranspose2d

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")
UPSAMPLES = ("transpose", "nearest")


class ModelError(AELabError):
    """A model name or model option is invalid."""


def activation(name: str) -> nn.Module:
    """An activation module by name ('none' is the identity)."""
    table = {"none": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    if name not in table:
        raise ModelError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return table[name]()


class Autoencoder(nn.Module):
    """Base class: encode(x [B,1,28,28]) -> z [B, latent_dim]; decode(z) -> x_hat [B,1,28,28]."""

    latent_dim: int

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """Dense encoder sizes[0]->...->sizes[-1] and its mirror as decoder.

    The encoder is a list of blocks (Linear + activation), one per layer, so that
    greedy layer-wise pretraining can train block i with its mirror decoder block.
    """

    def __init__(self, sizes: list[int], hidden_act: str = "relu", code_act: str = "none", out_act: str = "sigmoid"):
        super().__init__()
        self.sizes = list(sizes)
        self.latent_dim = sizes[-1]
        n = len(sizes) - 1
        self.encoder = nn.ModuleList(
            nn.Sequential(nn.Linear(sizes[i], sizes[i + 1]), activation(code_act if i == n - 1 else hidden_act))
            for i in range(n)
        )
        rev = sizes[::-1]
        self.decoder = nn.ModuleList(
            nn.Sequential(nn.Linear(rev[i], rev[i + 1]), activation(out_act if i == n - 1 else hidden_act))
            for i in range(n)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)  # [B, 784]
        for block in self.encoder:
            h = block(h)
        return h  # [B, k]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for block in self.decoder:
            h = block(h)
        return h.view(-1, 1, 28, 28)  # [B, 1, 28, 28]

    def layer_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(encoder block i, its mirror decoder block) from the outside in, for stacked pretraining."""
        n = len(self.encoder)
        return [(self.encoder[i], self.decoder[n - 1 - i]) for i in range(n)]


def _up(c_in: int, c_out: int, upsample: str) -> nn.Module:
    """x2 spatial upsampling from c_in to c_out channels: ConvTranspose or nearest + 3x3 conv."""
    if upsample == "transpose":
        return PatchConvTranspose2d(c_in, c_out, 2)  # nn.ConvTranspose2d(c_in, c_out, 2, stride=2), faster on a CPU
    if upsample == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1))
    raise ModelError(f"unknown upsampling {upsample!r}; choose one of {', '.join(UPSAMPLES)}")


class CodeMapAE(Autoencoder):
    """A conv AE whose code is its encoder's feature map [B, *code_shape], flattened to [B, latent_dim] by encode."""

    code_shape: tuple[int, int, int]  # (channels, height, width) of the map

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)  # [B, latent_dim]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.view(-1, *self.code_shape))  # [B, C, H, W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the code map goes straight to the decoder: flatten + view would copy it twice in channels-last
        return self.decoder(self.encoder(x))  # [B, C, H, W]


class ConvTutorialAE(CodeMapAE):
    """The tutorial conv AE: 1-16-4 conv/pool encoder (latent 4x7x7 = 196), two x2 upsamplings."""

    def __init__(self, hidden_act: str = "none", out_act: str = "sigmoid", upsample: str = "transpose"):
        super().__init__()
        self.code_shape = (4, 7, 7)
        self.latent_dim = 4 * 7 * 7
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), activation(hidden_act), nn.MaxPool2d(2),  # [B,16,14,14]
            nn.Conv2d(16, 4, 3, padding=1), activation(hidden_act), nn.MaxPool2d(2),  # [B,4,7,7]
        )
        self.decoder = nn.Sequential(
            _up(4, 16, upsample), activation(hidden_act),  # [B,16,14,14]
            _up(16, 1, upsample), activation(out_act),  # [B,1,28,28]
        )


class ConvBNAE(CodeMapAE):
    """LeNet-like BatchNorm encoder (latent map 16x7x7 = 784) and an upsample+conv+BN decoder."""

    def __init__(self, out_act: str = "sigmoid", upsample: str = "nearest", in_channels: int = 1):
        super().__init__()
        self.code_shape = (16, 7, 7)
        self.latent_dim = 16 * 7 * 7
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),  # [B,6,14,14]
            nn.Conv2d(6, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # [B,16,7,7]
        )
        self.decoder = nn.Sequential(
            _up(16, 16, upsample), nn.BatchNorm2d(16), nn.ReLU(),  # [B,16,14,14]
            _up(16, 6, upsample), nn.BatchNorm2d(6), nn.ReLU(),  # [B,6,28,28]
            nn.Conv2d(6, in_channels, 3, padding=1), activation(out_act),  # [B,1,28,28]
        )


class ConvAE(Autoencoder):
    """Our default: strided conv encoder 1-32-64 with BatchNorm to a dense k-dim code, mirrored decoder.

    Small (about 0.15M parameters at k=16) and fast on a CPU, yet sharper than the tutorials'
    models. BatchNorm keeps it from collapsing to a blank output at higher learning rates, and
    the 4x4 stride-2 transposed convolutions avoid the 2x2 kernels' blockiness.
    """

    def __init__(self, latent: int = 16, out_act: str = "sigmoid", upsample: str = "transpose", width: int = 32,
                 refine: int = 0):
        """`refine` > 0: the last upsampling gives `refine` channels at 28x28 and a 3x3 conv makes the image from them
        (capacity at full resolution for sharper edges; `conv-sharp` uses 8)."""
        super().__init__()
        self.latent_dim = latent
        w = width

        def up(i, o):
            return nn.ConvTranspose2d(i, o, 4, stride=2, padding=1) if upsample == "transpose" else _up(i, o, upsample)

        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),  # [B,w,14,14]
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),  # [B,2w,7,7]
            nn.Flatten(), nn.Linear(2 * w * 49, latent),  # [B,k]
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, 2 * w * 49), nn.BatchNorm1d(2 * w * 49), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),  # [B,2w,7,7]
            up(2 * w, w), nn.BatchNorm2d(w), nn.ReLU(),  # [B,w,14,14]
            *([up(w, refine), nn.ReLU(), nn.Conv2d(refine, 1, 3, padding=1)] if refine else [up(w, 1)]),  # [B,1,28,28]
            activation(out_act),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # [B, k]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # [B, 1, 28, 28]


class Classifier(nn.Module):
    """An autoencoder's encoder with a linear classifier head on its code (for fine-tuning)."""

    def __init__(self, autoencoder: Autoencoder, n_classes: int = 10, dropout: float = 0.2):
        super().__init__()
        self.autoencoder = autoencoder
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(autoencoder.latent_dim, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.autoencoder.encode(x))  # [B, n_classes] logits


@dataclass(frozen=True)
class ModelSpec:
    """What a model name means and which options it takes."""

    name: str
    summary: str  # one line for `python -m aecore models` and the app
    build: Callable[..., Autoencoder]
    latent: int | None  # default latent size; None when the latent size is fixed by the architecture
    fixed_latent: int | None = None  # the architecture's latent size when it is fixed
    hidden_acts: tuple[str, ...] = ()  # hidden activation choices ((): not an option)
    default_hidden: str = "relu"
    conv: bool = False  # takes `upsample`
    default_upsample: str = "transpose"
    stackable: bool = False  # supports greedy layer-wise pretraining
    layers: int = 1  # dense layers of the encoder: layer-wise pretraining trains this many layer pairs
    default_optimizer: str = "adam"
    default_lr: float = 1e-3  # the learning rate a config without one gets (TrainConfig.lr=None) and the app proposes
    default_width: int | None = None  # channels of the first conv layer where the width is a choice (None: fixed)
    # builds the model for images other than 1x28x28: (latent, hidden_act, out_act, upsample, channels, size);
    # None = 28x28 grey only
    any_shape: Callable[..., Autoencoder] | None = None


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec(
            "linear", "Linear(784,k) -> Linear(k,784), sigmoid out: the tutorial's linear AE (PCA-like)",
            lambda latent, hidden_act, out_act, upsample: MLPAutoencoder([784, latent], "none", "none", out_act),
            latent=32, stackable=False, default_lr=1e-2,
        ),
        ModelSpec(
            "dense", "784-k-784 with a choice of code and output activation (tutorial k sweeps, 784-256 RMSprop)",
            lambda latent, hidden_act, out_act, upsample: MLPAutoencoder([784, latent], hidden_act, hidden_act, out_act),
            # tanh code by default: a ReLU code of a few numbers dies in a short run (k=2: both units
            # dead after 2 epochs, the output stuck at the mean image); ReLU stays a choice
            latent=32, hidden_acts=ACTIVATIONS, default_hidden="tanh", default_lr=1e-2,
        ),
        ModelSpec(
            "conv-tutorial", "the tutorial conv AE: Conv 1-16-4 + MaxPool, latent 4x7x7=196, ConvTranspose decoder",
            lambda latent, hidden_act, out_act, upsample: ConvTutorialAE(hidden_act, out_act, upsample),
            latent=None, fixed_latent=196, hidden_acts=("none", "relu"), default_hidden="none", conv=True,
        ),
        ModelSpec(
            "mlp-deep", "deep MLP AE 784-128-64-12-k, ReLU, linear code (tutorial: k=3, Adam 0.005)",
            lambda latent, hidden_act, out_act, upsample: MLPAutoencoder([784, 128, 64, 12, latent], hidden_act, "none", out_act),
            latent=3, hidden_acts=("relu", "sigmoid", "tanh"), stackable=True, layers=4, default_lr=0.005,
        ),
        ModelSpec(
            "mlp-hinton", "deep AE 784-1000-500-250-k (Hinton & Salakhutdinov 2006: k=30), linear code",
            lambda latent, hidden_act, out_act, upsample: MLPAutoencoder([784, 1000, 500, 250, latent], hidden_act, "none", out_act),
            latent=30, hidden_acts=("relu", "sigmoid", "tanh"), stackable=True, layers=4,
        ),
        ModelSpec(
            "conv-bn", "LeNet-like BatchNorm conv encoder (latent 16x7x7=784), upsample+conv+BN decoder",
            lambda latent, hidden_act, out_act, upsample: ConvBNAE(out_act, upsample),
            latent=None, fixed_latent=784, conv=True, default_upsample="nearest",
        ),
        ModelSpec(
            "conv", "our default: strided conv encoder to a dense k-dim code, mirrored decoder (best quality)",
            lambda latent, hidden_act, out_act, upsample, width=32: ConvAE(latent, out_act, upsample, width),
            latent=16, conv=True, default_lr=3e-3, default_width=32,
            any_shape=lambda latent, hidden_act, out_act, upsample, channels, size, width=32: _colour().ConvAnyAE(
                latent, channels, size, out_act, upsample, width),
        ),
        ModelSpec(
            "conv-sharp", "our conv AE with a 3x3 refinement layer at full resolution: the best error per CPU second",
            lambda latent, hidden_act, out_act, upsample, width=32: ConvAE(latent, out_act, upsample, width, refine=8),
            latent=16, conv=True, default_lr=3e-3, default_width=32,
        ),
    ]
    + [
        ModelSpec(
            name, summary,
            lambda latent, hidden_act, out_act, upsample, name=name: _colour().build_tutorial(name, 1, 28, out_act),
            latent=None, fixed_latent=256, default_lr=1e-3,  # the latent map 16x4x4 at 28x28 (16x22x22 at 100x100)
            any_shape=lambda latent, hidden_act, out_act, upsample, channels, size, name=name: _colour().build_tutorial(
                name, channels, size, out_act),  # the tutorial's Tanh with out_act="tanh"
        )
        for name, summary in (
            ("flowers-tutorial", "the conv-AE tutorial's colour AE (Flowers102): LeNet encoder, large-kernel conv decoder (tutorial: tanh out)"),
            ("flowers-bn", "the Flowers tutorial AE with BatchNorm after every convolution"),
            ("flowers-upsample", "the Flowers tutorial AE, BatchNorm encoder, nearest-upsampling decoder (sharpest)"),
        )
    ]
}


def _colour():
    from . import colour  # the colour models import this module: imported when first built

    return colour


LATENT_RANGE = (1, 256)
WIDTH_RANGE = (4, 128)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build_model(
    name: str,
    latent: int | None = None,
    hidden_act: str | None = None,
    out_act: str = "sigmoid",
    upsample: str | None = None,
    image_shape: tuple[int, int, int] = (1, 28, 28),
    width: int | None = None,
) -> Autoencoder:
    """Build a model by registry name for images of `image_shape` (C, H, W); options a model does not take must be
    None/default. `width`: channels of the first conv layer where the model offers the choice (`conv`: 32 by
    default, its second layer has twice as many; 28x28 grey images); None = the model's default."""
    spec = get_spec(name)
    image_shape = tuple(int(v) for v in image_shape)
    if image_shape != (1, 28, 28):
        if spec.any_shape is None:
            others = ", ".join(n for n, s in MODELS.items() if s.any_shape is not None)
            raise ModelError(f"{name} takes 28x28 grey images only; for {image_shape[0]}x{image_shape[1]}x"
                             f"{image_shape[2]} images use one of {others}")
        if image_shape[1] != image_shape[2]:
            raise ModelError(f"images must be square, got {image_shape[1]}x{image_shape[2]}")
    if spec.latent is None:
        latent = spec.fixed_latent
    else:
        latent = spec.latent if latent is None else int(latent)
        lo, hi = LATENT_RANGE
        if not lo <= latent <= hi:
            raise ModelError(f"latent size must be between {lo} and {hi}, got {latent}")
    hidden_act = hidden_act or spec.default_hidden
    if spec.hidden_acts and hidden_act not in spec.hidden_acts:
        raise ModelError(f"{name} takes hidden activation {', '.join(spec.hidden_acts)}, not {hidden_act!r}")
    if out_act not in ACTIVATIONS:
        raise ModelError(f"unknown output activation {out_act!r}; choose one of {', '.join(ACTIVATIONS)}")
    upsample = upsample or spec.default_upsample
    if upsample not in UPSAMPLES:
        raise ModelError(f"unknown upsampling {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
    kw = {}  # the model's own default width unless another is asked for
    if width is not None and width != spec.default_width:
        if spec.default_width is None:
            raise ModelError(f"{name} has a fixed width; the width is a choice of the 'conv' model")
        lo, hi = WIDTH_RANGE
        if isinstance(width, bool) or not isinstance(width, int) or not lo <= width <= hi:
            raise ModelError(f"width must be a whole number between {lo} and {hi}, got {width!r}")
        kw = {"width": width}
    if image_shape != (1, 28, 28):
        return spec.any_shape(latent, hidden_act, out_act, upsample, image_shape[0], image_shape[1], **kw)
    return spec.build(latent, hidden_act, out_act, upsample, **kw)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
