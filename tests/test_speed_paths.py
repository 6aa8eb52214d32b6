"""The trainer's fast paths (channels-last, fused optimizer steps, one-pass inference) give the plain loop's results."""

import dataclasses

import numpy as np
import pytest
import torch

from aecore.training.config import ConfigError, TrainConfig
from aecore.models.evaluate import codes_and_reconstructions, encode, reconstruct
from aecore.training.trainer import autocast_dtype, make_optimizer, make_schedule, train


def _weights(run):
    return {k: v.detach().clone() for k, v in run.model.state_dict().items()}


def test_the_fast_loop_gives_the_plain_loops_weights_with_sgd(mnist, tiny):
    # SGD does not amplify rounding differences the way Adam's normalised first steps do: the weights agree closely
    cfg = tiny(model="conv-tutorial", latent=None, optimizer="sgd", lr=0.05, epochs=1, limit=300, batch_size=20, val_fraction=0.0)
    fast, plain = _weights(train(cfg, mnist)), _weights(train(cfg, mnist, fast=False))
    for k in plain:
        assert torch.allclose(fast[k], plain[k], atol=1e-5, rtol=1e-4), k


def test_the_fast_loop_learns_as_well_as_the_plain_one_with_adam(mnist, tiny):
    cfg = tiny(model="conv", latent=8, epochs=2, limit=600, batch_size=50, lr=3e-3, schedule="cosine")
    fast, plain = train(cfg, mnist), train(cfg, mnist, fast=False)
    for a, b in zip(fast.history, plain.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=0.05)


def test_a_trained_model_is_handed_back_in_the_plain_memory_layout(mnist, tiny):
    run = train(tiny(model="conv", latent=4, epochs=1, limit=200), mnist)
    assert all(p.is_contiguous() for p in run.model.parameters())


def test_a_state_saved_by_the_plain_loop_resumes_in_the_fast_one(mnist, tiny):
    cfg = tiny(model="conv", latent=4, epochs=2, limit=300, batch_size=50)
    states = []
    paused = train(cfg, mnist, fast=False, max_steps=3, on_state=states.append)
    assert paused.status == "paused"
    done = train(cfg, mnist, resume=dict(states[-1], history=[]))
    plain = train(cfg, mnist, fast=False)
    assert done.status == "done"
    assert done.history[-1]["train_loss"] == pytest.approx(plain.history[-1]["train_loss"], rel=0.05)


def test_fast_optimizers_are_fused_or_multi_tensor():
    params = [torch.nn.Parameter(torch.zeros(3, 3)) for _ in range(2)]
    assert make_optimizer("adam", params, 1e-3, fast=True).defaults["fused"] is True
    assert make_optimizer("adamw", params, 1e-3, 1e-4, fast=True).defaults["fused"] is True
    assert make_optimizer("sgd", params, 1e-3, fast=True).defaults["foreach"] is True
    assert make_optimizer("adam", params, 1e-3).defaults["fused"] in (None, False)


def test_onecycle_warms_up_to_the_learning_rate_then_anneals():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=6e-3)
    sched = make_schedule("onecycle", opt, 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(6e-3 / 25)
    assert max(lrs) == pytest.approx(6e-3, rel=1e-3) and 25 <= int(np.argmax(lrs)) <= 35
    assert lrs[-1] < 1e-5
    assert make_schedule("constant", opt, 100) is None


def test_recipe_settings_are_checked():
    assert TrainConfig(optimizer="adamw", schedule="onecycle", weight_decay=1e-4).resolved().schedule == "onecycle"
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp8").resolved()
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="step").resolved()
    assert TrainConfig.from_dict(TrainConfig(precision="fp32").to_dict()).precision == "fp32"


def test_mixed_precision_on_the_cpu_only_when_asked(mnist, tiny):
    assert autocast_dtype(TrainConfig(), torch.device("cpu")) is None
    assert autocast_dtype(TrainConfig(precision="bf16"), torch.device("cpu")) == torch.bfloat16
    cfg = tiny(model="conv", latent=8, epochs=2, limit=600, batch_size=50, lr=3e-3)
    bf16, fp32 = train(dataclasses.replace(cfg, precision="bf16"), mnist), train(cfg, mnist)
    assert bf16.history[-1]["val_loss"] == pytest.approx(fp32.history[-1]["val_loss"], rel=0.1)
    assert next(bf16.model.parameters()).dtype == torch.float32


def test_codes_and_reconstructions_in_one_pass_match_the_separate_ones(mnist):
    from aecore.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("conv", latent=6)
    x = mnist.test.x[:700]
    codes, recon = codes_and_reconstructions(model, x)
    assert codes.shape == (700, 6) and recon.shape == (700, 28, 28)
    np.testing.assert_allclose(codes, encode(model, x), atol=1e-5)
    np.testing.assert_allclose(recon, reconstruct(model, x)[1], atol=1e-5)
    empty_codes, empty_recon = codes_and_reconstructions(model, x[:0])
    assert empty_codes.shape == (0, 6) and empty_recon.shape == (0, 28, 28)


def test_the_conv_models_width_is_a_setting_that_survives_a_save(mnist, tiny, tmp_path):
    from aecore.models.autoencoders import ModelError, count_parameters
    from aecore.models.registry import build_model
    from aecore.training.runs import load_run, save_run

    assert count_parameters(build_model("conv", 8, width=16)) < count_parameters(build_model("conv", 8))
    with pytest.raises(ModelError, match="fixed width"):
        build_model("conv-tutorial", width=16)
    with pytest.raises(ConfigError, match="width"):
        TrainConfig(model="conv", width=1000).resolved()
    with pytest.raises(ConfigError, match="fixed width"):
        TrainConfig(model="dense", width=16).resolved()
    run = train(tiny(model="conv", latent=4, width=8, epochs=1, limit=200), mnist)
    save_run(run, tmp_path / "r")
    again = load_run(tmp_path / "r")
    assert again.config.width == 8 and again.model.encoder[0].out_channels == 8


def test_a_failed_compile_falls_back_to_the_plain_model(monkeypatch):
    from aecore.training import trainer as train_mod

    def broken_compile(model, **kw):
        def call(x):
            raise RuntimeError("no compiler here")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    model = torch.nn.Linear(3, 2)
    step = train_mod._GPUStep(model, batch=20, total_steps=1000)
    x = torch.ones(4, 3)
    assert torch.equal(step(x), model(x)) and step.compiled is None
    assert train_mod._GPUStep(model, batch=20, total_steps=10).compiled is None  # too short to be worth compiling


@pytest.mark.parametrize("name,wd,schedule", [("adam", 0.0, None), ("adamw", 1e-3, "onecycle"), ("adam", 1e-4, "cosine")])
def test_the_lean_step_gives_torchs_fused_step_bit_for_bit_and_resumes(name, wd, schedule):
    from aecore.training.fused_step import LeanStep
    from aecore.models.registry import build_model

    def setup():
        torch.manual_seed(0)
        model = build_model("conv-tutorial").to(memory_format=torch.channels_last)
        opt = make_optimizer(name, model.parameters(), 3e-3, wd, fast=True)
        return model, opt, make_schedule(schedule or "", opt, 12)

    x = torch.rand(12, 20, 1, 28, 28, generator=torch.Generator().manual_seed(1))  # 12 batches of 20 images

    def steps(model, opt, sched, step, zero, batches):
        for xb in batches:
            zero()
            torch.nn.functional.mse_loss(model(xb), xb).backward()
            step()
            if sched is not None:
                sched.step()

    ref, ref_opt, ref_sched = setup()
    steps(ref, ref_opt, ref_sched, ref_opt.step, lambda: ref_opt.zero_grad(set_to_none=True), x)
    lean, opt, sched = setup()
    assert opt.param_groups[0]["fused"]
    stepper = LeanStep(opt)
    assert stepper.fused
    steps(lean, opt, sched, stepper.step, stepper.zero_grad, x[:6])
    saved = opt.state_dict()  # the moments live in opt.state: a saved state resumes through a new LeanStep
    again, opt2, sched2 = setup()
    again.load_state_dict(lean.state_dict())
    opt2.load_state_dict(saved)
    if sched is not None:
        sched2.load_state_dict(sched.state_dict())
    stepper2 = LeanStep(opt2)
    steps(again, opt2, sched2, stepper2.step, stepper2.zero_grad, x[6:])
    for (k, a), b in zip(ref.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k
    assert float(opt2.state[next(again.parameters())]["step"]) == 12


def test_the_lean_step_hands_other_optimizers_to_torch():
    from aecore.training.fused_step import LeanStep

    p = torch.nn.Parameter(torch.ones(3))
    for opt in (torch.optim.SGD([p], lr=0.1), torch.optim.Adam([p], lr=0.1, amsgrad=True, fused=True)):
        stepper = LeanStep(opt)
        assert not stepper.fused
        stepper.zero_grad()
        (p * 2).sum().backward()
        before = p.detach().clone()
        stepper.step()
        assert not torch.equal(p.detach(), before)


def test_the_lean_step_leaves_an_optimizer_with_step_hooks_to_torch():
    from aecore.training.fused_step import LeanStep

    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1, fused=True)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(1))  # e.g. an EMA of the weights
    stepper = LeanStep(opt)
    for _ in range(2):
        stepper.zero_grad()
        (p * 2).sum().backward()
        stepper.step()
    assert calls == [1, 1] and float(opt.state[p]["step"]) == 2


@pytest.mark.parametrize("ci,co,k,bias", [(4, 16, 2, True), (16, 1, 2, True), (3, 5, 3, False)])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_the_patch_transposed_conv_gives_torchs_values_and_gradients(ci, co, k, bias, layout):
    from aecore.models.patch_conv import PatchConvTranspose2d

    torch.manual_seed(0)
    ref = torch.nn.ConvTranspose2d(ci, co, k, stride=k, bias=bias)
    ours = PatchConvTranspose2d(ci, co, k, bias=bias)
    ours.load_state_dict(ref.state_dict())  # the same parameters under the same names
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.to(memory_format=layout), ours.to(memory_format=layout)
    x = torch.randn(5, ci, 7, 6).contiguous(memory_format=layout)
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    yr, yo = ref(xr), ours(xo)
    assert yo.shape == yr.shape == (5, co, 7 * k, 6 * k)
    assert torch.allclose(yo, yr, atol=1e-6)
    g = torch.randn_like(yr)
    yr.backward(g), yo.backward(g)
    assert torch.allclose(xo.grad, xr.grad, atol=1e-5)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-4), name
        fmt = layout if p.dim() == 4 else torch.contiguous_format
        assert p.is_contiguous(memory_format=fmt) and p.grad.is_contiguous(memory_format=fmt), name  # one memory order


def test_the_patch_transposed_conv_leaves_other_cases_to_torch():
    from aecore.models.patch_conv import PatchConvTranspose2d

    torch.manual_seed(0)
    ours = PatchConvTranspose2d(4, 3, 2)
    ref = torch.nn.ConvTranspose2d(4, 3, 2, stride=2)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(ours.double()(x.double()), ref.double()(x.double()))  # float64: torch's kernel
    ours.float(), ref.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(ours(x), ref(x))  # autocast: torch's kernel in bf16
    assert ours(x, output_size=[11, 11]).shape == (2, 3, 11, 11)  # an output size: torch's kernel


def test_training_with_the_patch_transposed_conv_gives_the_weights_torchs_layer_gives(mnist, tiny, monkeypatch):
    from aecore.models.patch_conv import PatchConvTranspose2d

    cfg = tiny(model="conv-tutorial", latent=None, optimizer="sgd", lr=0.05, epochs=1, limit=300, batch_size=20, val_fraction=0.0)
    ours = _weights(train(cfg, mnist))
    monkeypatch.setattr(PatchConvTranspose2d, "forward", torch.nn.ConvTranspose2d.forward)
    torchs = _weights(train(cfg, mnist))
    for k in torchs:
        assert torch.allclose(ours[k], torchs[k], atol=1e-5, rtol=1e-4), k
