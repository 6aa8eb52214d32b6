"""The models by name: what each name builds and which options it takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from aecore.models import colour
from aecore.models.autoencoders import (
    ACTIVATIONS,
    LATENT_RANGE,
    UPSAMPLES,
    WIDTH_RANGE,
    Autoencoder,
    ConvAE,
    ConvBNAE,
    ConvTutorialAE,
    MLPAutoencoder,
    ModelError,
)


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
            any_shape=lambda latent, hidden_act, out_act, upsample, channels, size, width=32: colour.ConvAnyAE(
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
            lambda latent, hidden_act, out_act, upsample, name=name: colour.build_tutorial(name, 1, 28, out_act),
            latent=None, fixed_latent=256, default_lr=1e-3,  # the latent map 16x4x4 at 28x28 (16x22x22 at 100x100)
            any_shape=lambda latent, hidden_act, out_act, upsample, channels, size, name=name: colour.build_tutorial(
                name, channels, size, out_act),  # the tutorial's Tanh with out_act="tanh"
        )
        for name, summary in (
            ("flowers-tutorial", "the conv-AE tutorial's colour AE (Flowers102): LeNet encoder, large-kernel conv decoder (tutorial: tanh out)"),
            ("flowers-bn", "the Flowers tutorial AE with BatchNorm after every convolution"),
            ("flowers-upsample", "the Flowers tutorial AE, BatchNorm encoder, nearest-upsampling decoder (sharpest)"),
        )
    ]
}


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
