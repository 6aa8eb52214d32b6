"""The comparisons' defaults (aecore.analysis.recipes): valid configs of the tutorials' models, inside the per-job
budget, estimates that scale, and one small direction check (the full-size checks are bench/teaching_defaults.py)."""

import dataclasses

import numpy as np
import pytest
import torch

from aecore.analysis import experiments as ex
from aecore.analysis import recipes
from aecore.data.dataset import Dataset, Split
from aecore.engine.kinds import REGISTRY
from aecore.models.autoencoders import LATENT_RANGE
from aecore.settings import Settings
from aecore.training import speed
from aecore.training.config import TrainConfig


def test_every_default_is_a_valid_config():
    for model, r in recipes.SWEEPS.items():
        assert r.model == model and r.latents == recipes.LATENT_SETS[r.latent_set]
        for ks in recipes.LATENT_SETS.values():  # every latent size the page offers
            assert all(LATENT_RANGE[0] <= k <= LATENT_RANGE[1] for k in ks)
            for k in ks:
                r.config(latent=k).resolved()
    for preset, r in recipes.AB.items():
        cfgs = recipes.ab_defaults(preset)
        assert len(cfgs) == 2 == len(r.sides) and list(cfgs) == [s.label for s in r.sides]
        for c in cfgs.values():
            res = c.resolved()
            assert (res.epochs, res.limit, res.batch_size, res.seed) == (r.epochs, r.images, r.batch, 0)
            assert c.latent is not None  # the caption says k=196 for the conv-tutorial, not k=None
        assert r.shows and r.tutorial and r.seconds > 0
    for run in (recipes.AE_VS_PCA.run, recipes.CLASSIFY.run, recipes.ONE_DIGIT.run):
        run.config().resolved()
    assert recipes.ONE_DIGIT.run.config().resolved().digits == (recipes.ONE_DIGIT.digit,)
    for r in recipes.STACKED.values():
        dataclasses.replace(r.config(), pretrain_epochs=r.pretrain).resolved()
    s = recipes.colour_defaults()
    assert 1 <= s["ae_epochs"] <= 500 and 1 <= s["clf_epochs"] <= 500 and s["ae_batch"] >= 1 and s["clf_batch"] >= 1


def test_ab_defaults_use_the_tutorials_models():
    def sides(preset):
        return list(recipes.ab_defaults(preset).values())

    lin, conv = sides("linear vs conv")
    assert (lin.model, lin.latent, lin.out_act) == ("linear", 32, "sigmoid")
    assert (conv.model, conv.latent, conv.hidden_act) == ("conv-tutorial", 196, "none")  # the tutorial's layers
    assert "k=196" in conv.describe()
    relu, sig = sides("ReLU vs sigmoid output")
    assert relu.model == sig.model == "dense" and (relu.out_act, sig.out_act) == ("relu", "sigmoid")
    mse, bce = sides("MSE vs BCE loss")
    assert mse.model == bce.model == "dense" and (mse.loss, bce.loss) == ("mse", "bce")
    tr, up = sides("ConvTranspose vs Upsample decoder")
    assert tr.model == up.model == "conv" and (tr.upsample, up.upsample) == ("transpose", "nearest")
    for a, b in (sides(p) for p in recipes.AB):  # each pair differs only in what it compares (and the lr per model)
        diff = {f.name for f in dataclasses.fields(TrainConfig) if getattr(a, f.name) != getattr(b, f.name)}
        assert diff <= {"model", "latent", "lr", "hidden_act", "upsample", "out_act", "loss"}, diff


def test_ab_configs_takes_its_defaults_from_the_recipes():
    assert list(ex.AB_PRESETS) == list(recipes.AB)
    for preset in recipes.AB:
        assert ex.ab_configs(preset) == recipes.ab_defaults(preset)
        assert [c["model"] for c in ex.AB_PRESETS[preset]] == [s.model for s in recipes.AB[preset].sides]
    cfgs = ex.ab_configs("linear vs conv", epochs=1, limit=None, batch_size=50, seed=3, dataset="mnist", device="cpu")
    assert all((c.epochs, c.limit, c.batch_size, c.seed, c.device) == (1, None, 50, 3, "cpu") for c in cfgs.values())
    assert [c.lr for c in cfgs.values()] == [1e-2, 3e-3]  # each side keeps its own learning rate
    with pytest.raises(ex.ExperimentError, match="unknown comparison"):
        ex.ab_configs("linear vs nothing")
    with pytest.raises(recipes.RecipeError, match="unknown comparison"):
        recipes.ab_defaults("linear vs nothing")


def test_every_default_job_fits_the_budget(mnist):
    budget = Settings().budget_images
    assert budget == recipes.BUDGET_IMAGES == 3_000_000
    cost = {}
    for model, r in recipes.SWEEPS.items():
        p = REGISTRY["sweep"].parse({"base": r.config().to_dict(), "latents": list(r.latents)})
        cost[f"sweep:{model}"] = REGISTRY["sweep"].cost(p, mnist)
        for ks in recipes.LATENT_SETS.values():  # any offered latent set at the recipe's sizes
            assert r.work(latents=ks) <= budget, (model, ks)
    for preset in recipes.AB:
        p = REGISTRY["compare"].parse({"configs": {k: c.to_dict() for k, c in recipes.ab_defaults(preset).items()}})
        cost[f"ab:{preset}"] = REGISTRY["compare"].cost(p, mnist)
    for model, r in recipes.STACKED.items():
        p = REGISTRY["stacked"].parse({"base": r.config().to_dict(), "pretrain": r.pretrain})
        cost[f"stacked:{model}"] = REGISTRY["stacked"].cost(p, mnist)
    for name, run in (("ae_vs_pca", recipes.AE_VS_PCA.run), ("classify", recipes.CLASSIFY.run),
                      ("one_digit", recipes.ONE_DIGIT.run)):
        cost[name] = REGISTRY["train"].cost(REGISTRY["train"].parse({"config": run.config().to_dict()}), mnist)
    c = recipes.COLOUR
    for n in (c.n_train, 40, 2040, 60000):  # the assumed set, a tiny one, Flowers102's training split, MNIST
        x = np.zeros((n, 4, 4, 3), np.uint8)
        ds = Dataset("colour", Split(x, np.arange(n) % c.classes), Split(x[:4], np.arange(4) % c.classes),
                     tuple(map(str, range(c.classes))))
        s = recipes.colour_defaults(n)
        p = REGISTRY["tutorial"].parse({"dataset": "colour", "ae_epochs": s["ae_epochs"], "clf_epochs": s["clf_epochs"],
                                        "limit": s["limit"], "labels": s["labels"]})
        cost[f"colour:{n}"] = REGISTRY["tutorial"].cost(p, ds)
        assert cost[f"colour:{n}"] == pytest.approx(c.work(n), rel=0.01)
    assert all(0 < v <= budget for v in cost.values()), {k: v for k, v in cost.items() if v > budget}
    mine = recipes.job_images()  # the recipes' own count agrees with the engine's within the validation share
    for key in ("sweep:dense", "sweep:conv", "ab:linear vs conv", "stacked:mlp-deep", "ae_vs_pca"):
        assert mine[key] == pytest.approx(cost[key], rel=0.01), key


def test_colour_steps_become_epochs_for_any_set_size():
    c = recipes.COLOUR
    assert c.n_train == 480 and recipes.colour_defaults() == {
        "ae_epochs": 20, "clf_epochs": 10, "ae_batch": 16, "clf_batch": 32, "lr": 3e-3, "limit": None, "labels": None}
    for n in (12, 144, 480, 1020, 2040, 60000):
        s = recipes.colour_defaults(n)
        seen = s["limit"] or n
        steps = (seen // s["ae_batch"]) * s["ae_epochs"]
        assert c.min_epochs <= s["ae_epochs"] <= c.max_epochs
        if s["ae_epochs"] < c.max_epochs:  # a tiny set stops at max_epochs, short of the steps
            assert c.ae_steps <= steps <= 1.1 * c.ae_steps
        assert s["limit"] is None or s["limit"] < n  # a large set is sampled down, not trained on for hours
    assert recipes.colour_defaults(60000)["limit"] == c.ae_steps * c.ae_batch // c.min_epochs
    with pytest.raises(recipes.RecipeError):
        recipes.colour_defaults(1)


def _reference_seconds(mnist) -> dict[str, tuple[float, float]]:
    """comparison -> (the one time model's reference seconds at the recipe's defaults, the recipe's measured seconds)."""
    out = {}
    for model, r in recipes.SWEEPS.items():
        p = REGISTRY["sweep"].parse({"base": r.config().to_dict(), "latents": list(r.latents)})
        out[f"sweep:{model}"] = (REGISTRY["sweep"].seconds(p, mnist), r.seconds)
    for preset, r in recipes.AB.items():
        p = REGISTRY["compare"].parse({"configs": {k: c.to_dict() for k, c in recipes.ab_defaults(preset).items()}})
        out[f"ab:{preset}"] = (REGISTRY["compare"].seconds(p, mnist), r.seconds)
    for model, r in recipes.STACKED.items():
        p = REGISTRY["stacked"].parse({"base": r.config().to_dict(), "pretrain": r.pretrain})
        out[f"stacked:{model}"] = (REGISTRY["stacked"].seconds(p, mnist), r.seconds)
    for name, rec in (("ae_vs_pca", recipes.AE_VS_PCA), ("one_digit", recipes.ONE_DIGIT)):
        p = REGISTRY["train"].parse({"config": rec.run.config().to_dict()})
        out[name] = (REGISTRY["train"].seconds(p, mnist), rec.seconds)
    c = recipes.COLOUR
    x = np.zeros((c.classes * c.per_class, c.size, c.size, 3), np.uint8)
    y = np.arange(len(x)) % c.classes
    ds = Dataset("colour", Split(x[:c.n_train], y[:c.n_train]), Split(x[:8], y[:8]), tuple("abcd"))
    s = recipes.colour_defaults(c.n_train)
    p = REGISTRY["tutorial"].parse({"dataset": "colour", **{k: s[k] for k in ("ae_epochs", "clf_epochs", "limit",
                                                                               "labels", "ae_batch", "clf_batch")}})
    out["colour"] = (REGISTRY["tutorial"].seconds(p, ds), c.seconds)
    return out


def test_one_time_model_agrees_with_every_measured_recipe(mnist):
    """The pages' estimates (aecore.training.speed through each kind's `seconds`) at each comparison's defaults are
    within 1.6x of the seconds bench/teaching_defaults.py measured for it."""
    for name, (model, measured) in _reference_seconds(mnist).items():
        assert measured / 1.6 <= model <= measured * 1.6, (name, round(model, 1), measured)
    sweep = REGISTRY["sweep"]
    r = recipes.SWEEPS["dense"]
    p = sweep.parse({"base": r.config().to_dict(), "latents": list(r.latents)})
    twice = sweep.parse({"base": r.config(epochs=2 * r.epochs).to_dict(), "latents": list(r.latents)})
    one = sweep.parse({"base": r.config().to_dict(), "latents": [2]})
    assert sweep.seconds(twice, mnist) == pytest.approx(2 * sweep.seconds(p, mnist))
    assert sweep.seconds(one, mnist) == pytest.approx(sweep.seconds(p, mnist) / len(r.latents))
    assert speed.tutorial_seconds_per_image(64) == pytest.approx(8 * speed.tutorial_seconds_per_image(32))
    assert speed.seconds_per_image("conv", upsample="nearest") > speed.seconds_per_image("conv")
    # the aims: dense comparisons under ~20 s, conv ones under ~90 s on a 2-core CPU
    def aim(models):
        return 90 if any(m.startswith("conv") for m in models) else 25  # "~20 s": the deep MLP's sweep took 22 s
    assert all(r.seconds <= aim([m]) for m, r in recipes.SWEEPS.items())
    assert all(r.seconds <= aim([s.model for s in r.sides]) for r in recipes.AB.values())
    assert all(r.seconds <= 20 for r in recipes.STACKED.values())
    assert recipes.COLOUR.seconds <= 90
    assert speed.eta_text(3) == "a few seconds" and speed.eta_text(42.4) == "about 42 s"
    assert speed.eta_text(600) == "about 10 min" and speed.eta_text(7200) == "about 2.0 h"
    with pytest.raises(recipes.RecipeError, match="fixed latent"):
        recipes.sweep_defaults("conv-tutorial")
    assert recipes.sweep_defaults("mlp-hinton").seconds > 0  # a sweepable model without a recipe of its own


def test_the_dense_sweep_beats_pca_at_small_k(mnist):
    """The dense sweep's default recipe at two of its sizes (about a second of training): under PCA, falling with k.
    (The old default, a tanh code for 2 epochs of 10,000 images, was above PCA at every k.)"""
    r = recipes.sweep_defaults("dense")
    threads = torch.get_num_threads()
    torch.set_num_threads(recipes.THREADS)  # as measured (a worker's one thread): faster than two on a busy machine
    try:
        res = ex.latent_sweep(r.config(device="cpu"), [2, 8], mnist)
    finally:
        torch.set_num_threads(threads)
    (k2, k8) = res.tables["sweep"]
    assert k2["test_mse"] < k2["pca_test_mse"] and k8["test_mse"] < 0.95 * k8["pca_test_mse"]
    assert k8["test_mse"] < k2["test_mse"]
