"""How long work takes: seconds per 1,000 images of each model on the reference machine, the one time model behind
every estimate the app gives (the Experiments page's captions, the queue's "starts in about", the Latent page's
"about N s of work").

An estimate is a job's *reference seconds* (its images times its models' seconds per image, from the table below)
times this server's *speed factor*: how much slower or faster its recent training jobs ran than the table says
(1.0 on the reference machine and before any job finished; far under 1 on a GPU). The job store keeps each job's
reference seconds and works the factor out (aecore.engine.store.Store.speed_factor).

The table: one torch thread (a training worker's on a 2-core CPU), batch 64-128, 28x28 grey images, measured by
bench/teaching_defaults.py as the recipes' seconds over the images they train on (aecore.analysis.recipes; a test
checks that every recipe's measured seconds and this model agree within 1.6x)."""

from __future__ import annotations

# seconds per 1,000 training images, one thread, 28x28 grey (scaled by pixels for other sizes)
SECONDS_PER_1000: dict[str, float] = {
    "linear": 0.015,  # sweep: 540,000 images in 8 s
    "dense": 0.018,  # sweep: 540,000 images in 10 s
    "mlp-deep": 0.035,  # sweep: 540,000 images in 22 s (one-cycle); stacked and AE vs PCA agree
    "mlp-hinton": 0.22,  # stacked: 72,000 images in 15 s
    "conv-tutorial": 0.13,  # A/B "linear vs conv" (with its Upsample decoder, x UPSAMPLE_COST)
    "conv": 0.45,  # sweep: 108,000 images in 51 s (ConvTranspose decoder)
    "conv-bn": 0.5,  # conv with BatchNorm: a guess a little over conv's
    "conv-sharp": 0.7,  # conv with a full-resolution layer more: a guess
}
DEFAULT_SECONDS_PER_1000 = 0.5  # a model not in the table: about a conv AE's
UPSAMPLE_COST = 1.8  # a nearest-Upsample + conv decoder against ConvTranspose (A/B: 67 s for both sides)
TUTORIAL_SECONDS_PER_1000 = 0.83  # the conv-AE tutorial's variants at 32x32 colour, batches 16/32: 57,600 in 48 s
TUTORIAL_SIDE = 32  # the size that figure is for; its 'full' convolutions grow their kernels with the image: ~side^3
OTHER_IMAGES_PER_S = 3000.0  # a job that does not train: its cost (images, or image-equivalents) per second


def seconds_per_image(model: str, image_shape: tuple[int, int, int] = (1, 28, 28), upsample: str | None = None) -> float:
    """Reference seconds one training image of `image_shape` (channels, height, width) costs `model`."""
    c, h, w = image_shape
    per = SECONDS_PER_1000.get(model, DEFAULT_SECONDS_PER_1000) / 1000.0
    if upsample == "nearest" and model.startswith("conv"):
        per *= UPSAMPLE_COST
    return per * (c * h * w) / (28 * 28)


def tutorial_seconds_per_image(side: int) -> float:
    """Reference seconds one image costs a variant of the conv-AE tutorial's comparison (autoencoder or classifier)."""
    return TUTORIAL_SECONDS_PER_1000 / 1000.0 * (side / TUTORIAL_SIDE) ** 3


def train_images(config, dataset) -> int:
    """Training images of a resolved config on its data set (after the subset, limit and validation share)."""
    from aecore.training.trainer import train_size

    return train_size(config, dataset)


def images_processed(config, dataset) -> float:
    """Images a training run processes: epochs x training images, plus each layer pair's pretraining epochs."""
    from aecore.models.registry import get_spec

    spec = get_spec(config.model)
    layers = spec.layers if config.pretrain_epochs and spec.stackable else 0
    return float(train_images(config, dataset) * (config.epochs + config.pretrain_epochs * layers))


def training_seconds(config, dataset) -> float:
    """Reference seconds of a training run: the images it processes times its model's seconds per image."""
    return images_processed(config, dataset) * seconds_per_image(config.model, dataset.image_shape, config.upsample)


def other_seconds(cost: float) -> float:
    """Reference seconds of a job that does not train, from its cost."""
    return float(cost) / OTHER_IMAGES_PER_S


def eta_text(seconds: float) -> str:
    """How a page says a duration: "a few seconds", "about 40 s", "about 3 min", "about 1.5 h"."""
    if seconds < 5:
        return "a few seconds"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
