"""Classroom presets: a page and its settings, each with one line on what it shows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    explains: str  # one line: what the class will see
    page: str  # the page it opens ("train", "latent", ...)
    params: dict = field(default_factory=dict)  # query parameters the page reads


PRESETS: tuple[Preset, ...] = (
    Preset("tutorial-conv", "Tutorial conv AE",
           "The tutorials' conv AE (Adam 1e-3, batch 20): watch the loss fall towards ~0.01.",
           "train", {"model": "conv-tutorial", "batch": "20", "epochs": "3", "lr": "0.001"}),
    Preset("latent-2d", "2-D latent space",
           "A code of two numbers: see the digits sort themselves into regions of the plane.",
           "latent", {"run": "zoo:conv-k2", "method": "raw"}),
    Preset("latent-tsne", "t-SNE of the codes",
           "500 test images' 16-D codes laid out by t-SNE, coloured by digit.",
           "latent", {"run": "zoo:conv-k16", "method": "tsne", "n": "500"}),
    Preset("denoising", "Denoising",
           "Half the pixels are wiped out; the denoising AE fills them back in.",
           "denoising", {"run": "zoo:conv-k16-denoise", "noise": "masking", "level": "0.5"}),
    Preset("linear-vs-pca", "Linear AE vs PCA",
           "A linear autoencoder learns the same subspace as PCA: compare their errors at k=32.",
           "experiments", {"run": "zoo:linear-k32", "tab": "AE vs PCA"}),
    Preset("one-digit", "Trained on 1s only",
           "A model that only saw 1s: it turns every digit into a 1, and its error flags the others.",
           "reconstructions", {"run": "zoo:conv-k16-only1", "mode": "worst"}),
    Preset("latent-size", "Train with k=2",
           "Train our conv AE with a 2-number code yourself, then explore the plane.",
           "train", {"model": "conv", "latent": "2", "epochs": "3"}),
)


def preset(key: str) -> Preset:
    for p in PRESETS:
        if p.key == key:
            return p
    raise KeyError(f"no preset {key!r}")
