"""The autoencoders: the tutorials' architectures (linear, dense, deep MLPs, the conv AEs) and our own conv AE."""

from __future__ import annotations

import torch
from torch import nn

from aecore.errors import AELabError
from aecore.models.patch_conv import PatchConvTranspose2d

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


LATENT_RANGE = (1, 256)


WIDTH_RANGE = (4, 128)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
