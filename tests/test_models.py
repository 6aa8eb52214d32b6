"""Every model in the registry has the right shapes and round-trips encode/decode."""

import pytest
import torch

from aecore.models.registry import MODELS, build_model
from aecore.models.autoencoders import ModelError, count_parameters


@pytest.mark.parametrize("name", list(MODELS))
def test_shapes_and_round_trip(name):
    spec = MODELS[name]
    m = build_model(name, latent=5 if spec.latent is not None else None).eval().requires_grad_(False)
    x = torch.rand(3, 1, 28, 28)
    z = m.encode(x)
    k = 5 if spec.latent is not None else spec.fixed_latent
    assert z.shape == (3, k) and m.latent_dim == k
    out = m.decode(z)
    assert out.shape == (3, 1, 28, 28)
    assert torch.allclose(m(x), out)
    assert 0 <= float(out.min()) and float(out.max()) <= 1  # sigmoid output by default


def test_tutorial_architectures_exactly():
    m = build_model("conv-tutorial")
    convs = [l for l in m.modules() if isinstance(l, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    kind = lambda c: "ConvTranspose2d" if isinstance(c, torch.nn.ConvTranspose2d) else "Conv2d"  # noqa: E731
    assert [(kind(c), c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        ("Conv2d", 1, 16, (3, 3)), ("Conv2d", 16, 4, (3, 3)),
        ("ConvTranspose2d", 4, 16, (2, 2)), ("ConvTranspose2d", 16, 1, (2, 2)),
    ]
    assert [c.stride for c in convs] == [(1, 1), (1, 1), (2, 2), (2, 2)]
    assert not any(isinstance(l, torch.nn.ReLU) for l in m.modules())  # no hidden activations by default
    assert any(isinstance(l, torch.nn.ReLU) for l in build_model("conv-tutorial", hidden_act="relu").modules())
    lin = [l for l in build_model("mlp-hinton", latent=30).modules() if isinstance(l, torch.nn.Linear)]
    assert [l.out_features for l in lin] == [1000, 500, 250, 30, 250, 500, 1000, 784]
    lin = [l for l in build_model("mlp-deep", latent=3).modules() if isinstance(l, torch.nn.Linear)]
    assert [l.out_features for l in lin] == [128, 64, 12, 3, 12, 64, 128, 784]
    assert count_parameters(build_model("linear", latent=32)) == 784 * 32 + 32 + 32 * 784 + 784


def test_upsample_choice_changes_decoder():
    t = build_model("conv", latent=4, upsample="transpose")
    n = build_model("conv", latent=4, upsample="nearest")
    assert any(isinstance(l, torch.nn.ConvTranspose2d) for l in t.modules())
    assert any(isinstance(l, torch.nn.Upsample) for l in n.modules())
    assert n(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)


def test_bad_options_are_explained():
    with pytest.raises(ModelError, match="unknown model"):
        build_model("vae")
    with pytest.raises(ModelError, match="between 1 and 256"):
        build_model("dense", latent=0)
    with pytest.raises(ModelError, match="upsampling"):
        build_model("conv", upsample="bilinear")


def test_conv_sharp_refines_at_full_resolution():
    """conv-sharp: conv whose last upsampling gives 8 channels at 28x28, then a 3x3 conv makes the image."""
    import torch

    from aecore.models.registry import build_model
    from aecore.models.autoencoders import count_parameters

    sharp, plain = build_model("conv-sharp", latent=30, width=48), build_model("conv", latent=30, width=48)
    x = torch.rand(3, 1, 28, 28)
    assert sharp(x).shape == (3, 1, 28, 28) and sharp.encode(x).shape == (3, 30)
    last = [m for m in sharp.decoder if isinstance(m, torch.nn.Conv2d)][-1]
    assert (last.in_channels, last.out_channels, last.kernel_size) == (8, 1, (3, 3))
    assert 0 < count_parameters(sharp) - count_parameters(plain) < 10_000  # a little capacity, where the edges are
    assert build_model("conv-sharp", latent=4, upsample="nearest")(x).shape == (3, 1, 28, 28)
