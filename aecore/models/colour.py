"""Colour models: the conv-AE tutorial's Flowers102 autoencoders and classifier heads, and our conv AE at any shape."""

from __future__ import annotations

import torch
from torch import nn

from aecore.models.autoencoders import Autoencoder, ModelError, activation

VARIANTS = ("base", "bn", "bn-dropout", "upsample")  # the tutorial's experiment, in its order
VARIANT_TEXT = {
    "base": "base network",
    "bn": "+ BatchNorm",
    "bn-dropout": "+ BatchNorm + dropout in the head",
    "upsample": "upsampling decoder (BatchNorm, dropout head)",
}
# each variant's autoencoder by registry name (see TUTORIAL_MODELS; the dropout is in the head only)
VARIANT_MODEL = {"base": "flowers-tutorial", "bn": "flowers-bn", "bn-dropout": "flowers-bn", "upsample": "flowers-upsample"}


def latent_side(size: int) -> int:
    """Side of the tutorial encoder's 16-channel map: two (5x5 conv, no padding; 2x2 max-pool) stages.

    100 -> 96 -> 48 -> 44 -> 22 (the tutorial's 16x22x22); 64 -> 13; 32 -> 5; 28 -> 4."""
    return ((size - 4) // 2 - 4) // 2


def check_tutorial_size(size: int) -> int:
    if size % 4 or not 16 <= size <= 256:
        raise ModelError(f"the Flowers tutorial models need a square image side divisible by 4 from 16 to 256 "
                         f"(e.g. 28, 32, 64, 100), got {size}")
    return latent_side(size)


def decoder_kernels(size: int) -> tuple[int, int]:
    """Kernel sizes (k for the five 'full' convolutions, k_last for the last one) that grow the latent map back to
    `size`: each 'full' conv (padding k-1) adds k-1 pixels. At 100x100 they are the tutorial's 13 and 19."""
    grow = size - latent_side(size)  # 78 at size 100: 5 x 12 + 18
    a = min(round(12 * grow / 78), grow // 5)
    return a + 1, grow - 5 * a + 1


class FlowersAE(Autoencoder):
    """The conv-AE tutorial's colour autoencoder (Oxford Flowers 102, 100x100x3), layer for layer.

    Encoder (LeNet-like): Conv2d(C,6,5) - ReLU - MaxPool2d(2) - Conv2d(6,16,5) - ReLU - MaxPool2d(2) -> [B,16,L,L]
    (L = 22 at 100x100). Decoder "conv" (the tutorial's base): Conv2d(16,16,13,p=12) - ReLU - Conv2d(16,16,13,p=12)
    - ReLU - Conv2d(16,6,13,p=12) - ReLU - Conv2d(6,6,13,p=12) - ReLU - Conv2d(6,6,13,p=12) - ReLU -
    Conv2d(6,C,19,p=18) - Tanh. Decoder "upsample": nearest x2 - Conv2d(16,6,5,p=4) - BN - ReLU - nearest x2 -
    Conv2d(6,C,5,p=4) - BN - Tanh (a real, differentiable upsampling). `batchnorm` puts a BatchNorm2d after every
    convolution. At other sizes the layers are the same and the 'full' convolutions' kernels are scaled to reach
    the image size again (decoder_kernels); the code is the flattened map, latent_dim = 16*L*L.
    """

    def __init__(self, channels: int = 3, size: int = 100, batchnorm: bool = False, decoder: str = "conv",
                 out_act: str = "tanh"):
        super().__init__()
        if decoder not in ("conv", "upsample"):
            raise ModelError(f"decoder must be 'conv' or 'upsample', got {decoder!r}")
        L = check_tutorial_size(size)
        self.channels, self.size, self.side, self.batchnorm, self.decoder_kind = channels, size, L, batchnorm, decoder
        self.latent_dim = 16 * L * L

        def conv(i, o, k, p=0):
            return [nn.Conv2d(i, o, k, padding=p)] + ([nn.BatchNorm2d(o)] if batchnorm else [])

        self.encoder = nn.Sequential(
            *conv(channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # [B,6,(S-4)/2,..]
            *conv(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # [B,16,L,L]
        )
        if decoder == "conv":
            k, k_last = decoder_kernels(size)
            layers = []
            for i, o in ((16, 16), (16, 16), (16, 6), (6, 6), (6, 6)):
                layers += conv(i, o, k, k - 1) + [nn.ReLU()]  # each adds k-1 pixels
            layers += conv(6, channels, k_last, k_last - 1) + [activation(out_act)]  # [B,C,S,S]
            self.kernels = (k, k_last)
        else:
            layers = [
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 6, 5, padding=4), nn.BatchNorm2d(6), nn.ReLU(),
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(6, channels, 5, padding=4), nn.BatchNorm2d(channels),
                activation(out_act),  # [B,C,4L+12,..] = [B,C,S,S]
            ]
            self.kernels = (5, 5)
        self.decoder = nn.Sequential(*layers)

    def encode_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # [B,16,L,L]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)  # [B,16*L*L]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.reshape(-1, 16, self.side, self.side))  # [B,C,S,S]


class FlowersHead(nn.Module):
    """The tutorial's classifier head on the 16-channel latent map.

    Base: Conv2d(16,32,3) - ReLU - MaxPool2d(2) - Conv2d(32,64,3) - ReLU - MaxPool2d(2) - Flatten -
    Linear(64*4*4, 512) - ReLU - Linear(512, n_classes) (4x4 at 100x100). `batchnorm`: BatchNorm2d after each conv.
    `dropout`: Dropout2d(0.2) after the first pool, Dropout(0.5) before Linear(1024,512), BatchNorm1d(512), and
    Dropout(0.25) before the last Linear. On maps too small for two unpadded 3x3 convs (images under 64x64) the
    convs are padded by 1.
    """

    def __init__(self, side: int, n_classes: int = 102, batchnorm: bool = False, dropout: bool = False):
        super().__init__()

        def out(s, p):
            return ((s + 2 * p - 2) // 2 + 2 * p - 2) // 2

        pad = 0 if out(side, 0) >= 1 else 1
        m = out(side, pad)
        if m < 1:
            raise ModelError(f"a {side}x{side} latent map is too small for the classifier head")
        bn = batchnorm

        def conv(i, o):
            return [nn.Conv2d(i, o, 3, padding=pad)] + ([nn.BatchNorm2d(o)] if bn else [])

        layers = [*conv(16, 32), nn.ReLU(), nn.MaxPool2d(2)]
        if dropout:
            layers.append(nn.Dropout2d(0.2))
        layers += [*conv(32, 64), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
        if dropout:
            layers += [nn.Dropout(0.5), nn.Linear(64 * m * m, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.25)]
        else:
            layers += [nn.Linear(64 * m * m, 512), nn.ReLU()]
        layers.append(nn.Linear(512, n_classes))
        self.net = nn.Sequential(*layers)
        self.padding, self.flat = pad, 64 * m * m

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)  # [B, n_classes] logits from the map [B,16,L,L]


class ConvAnyAE(Autoencoder):
    """Our conv AE for any channels and square size: strided 3x3 convs (BatchNorm, ReLU) halve the image while it is
    even and over 8 pixels, a dense k-dim code, and the mirror with 4x4 stride-2 transposed convs.

    At 1x28x28 it has the same layers as models.ConvAE (28 -> 14 -> 7); 32 -> 16 -> 8; 64 -> 32 -> 16 -> 8.
    """

    def __init__(self, latent: int = 16, channels: int = 3, size: int = 32, out_act: str = "sigmoid",
                 upsample: str = "transpose", width: int = 32):
        super().__init__()
        from aecore.models.autoencoders import _up

        if not 8 <= size <= 256:
            raise ModelError(f"the conv model needs an image side from 8 to 256, got {size}")
        self.latent_dim, self.channels, self.size = latent, channels, size
        widths, s = [], size
        while s % 2 == 0 and s > 8:
            widths.append(width * 2 ** min(len(widths), 2))
            s //= 2
        if not widths:
            raise ModelError(f"the conv model needs an even image side, got {size}")
        self.map = (widths[-1], s, s)

        def up(i, o):
            return nn.ConvTranspose2d(i, o, 4, stride=2, padding=1) if upsample == "transpose" else _up(i, o, upsample)

        enc, c = [], channels
        for w in widths:
            enc += [nn.Conv2d(c, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        n = widths[-1] * s * s
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(n, latent))  # [B,k]
        dec = [nn.Linear(latent, n), nn.BatchNorm1d(n), nn.ReLU(), nn.Unflatten(1, self.map)]
        outs = widths[-2::-1] + [channels]
        c = widths[-1]
        for i, w in enumerate(outs):
            dec.append(up(c, w))
            dec += [nn.BatchNorm2d(w), nn.ReLU()] if i < len(outs) - 1 else [activation(out_act)]
            c = w
        self.decoder = nn.Sequential(*dec)  # [B,C,S,S]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # [B, k]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # [B, C, S, S]


def tutorial_variant(variant: str, channels: int = 3, size: int = 100, n_classes: int = 102
                     ) -> tuple[FlowersAE, FlowersHead]:
    """The autoencoder and classifier head of one step of the tutorial's experiment (see VARIANTS)."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    bn = variant != "base"
    ae = FlowersAE(channels, size, batchnorm=bn, decoder="upsample" if variant == "upsample" else "conv")
    head = FlowersHead(ae.side, n_classes, batchnorm=bn, dropout=variant in ("bn-dropout", "upsample"))
    return ae, head


# The tutorial models by registry name (aecore.models.registry.MODELS): name -> (batchnorm, decoder)
TUTORIAL_MODELS = {"flowers-tutorial": (False, "conv"), "flowers-bn": (True, "conv"), "flowers-upsample": (True, "upsample")}


def build_tutorial(name: str, channels: int, size: int, out_act: str = "tanh") -> FlowersAE:
    bn, decoder = TUTORIAL_MODELS[name]
    return FlowersAE(channels, size, batchnorm=bn, decoder=decoder, out_act=out_act)
