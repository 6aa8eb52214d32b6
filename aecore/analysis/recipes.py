"""Each comparison of the Experiments page at its default settings, in one place: the sizes, the per-model settings,
what each shows at those defaults beside what the tutorial reports, and how long it took on this project's 2-core CPU.

The Experiments page and `python -m aecore` take their defaults from here; `bench/teaching_defaults.py` runs every
comparison at these defaults, checks that it points the way its tutorial does, and prints the seconds recorded below.

Seconds: measured by bench/teaching_defaults.py with one torch thread, which is what a training worker gets on a
2-core machine (Settings.resolved_threads(): 2 cores - 1 view worker = 1 thread), as the bench process's CPU seconds:
the wall seconds on an otherwise idle machine (a busy class server takes longer, a GPU far less). They are what
aecore.training.speed's seconds per image were read from: the pages' estimates come from there, for any setting.

Why these settings (what the old defaults taught, measured with the same bench):
- sweep, dense: the tanh code of the `dense` model saturates in a short run and stayed above PCA at every k (2 epochs,
  10,000 images); with a linear code (hidden_act "none") and a sigmoid output the shallow AE is under PCA at every
  k = 2..10 and ties it at k = 1, as theory says a one-layer AE can at best match PCA plus what the sigmoid buys.
- linear vs conv: the tutorial's conv AE with its own 2x2 stride-2 ConvTranspose decoder builds each 4x4 patch from
  one code cell; it learns slowly and stays behind our linear AE (which converges to ~0.0099 within seconds) for any
  budget under a few minutes (30 epochs, batch 20, Adam 1e-3: 0.0124 test; with ReLU 0.0086 in 341 s, README).
  The same encoder and 4x7x7 code with the tutorial's other decoder, nearest Upsample + 3x3 conv (item 8 of the
  tutorials' models), beats the linear AE within 20 s: that is the default conv side.
- ReLU vs sigmoid output: with the tanh code ReLU output came out ahead; with a linear code sigmoid wins (and with a
  ReLU code a ReLU output dies: 0.061).
- the colour comparison: batch 255 on a set of a few hundred images is one step an epoch, so 3 + 3 epochs were a
  handful of steps (chance accuracy, black reconstructions); the recipe counts steps (batch 16 and 32) and derives
  the epochs from the data set's size (ColourRecipe.settings).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from aecore.errors import AELabError
from aecore.training.config import TrainConfig

MNIST_TRAIN = 60000  # images of MNIST's training split
THREADS = 1  # torch threads the seconds below were measured with (a training worker's on a 2-core CPU)
BUDGET_IMAGES = 3_000_000  # the per-job image budget (aecore.settings.Settings.budget_images); every default fits


class RecipeError(AELabError):
    """An unknown comparison, preset or model."""


class _Default:
    """The marker for "the recipe's value" where None already means something (an image limit of None = all)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()


def train_images(images: int | None, total: int = MNIST_TRAIN, val_fraction: float = 0.1) -> int:
    """Training images of a run with this image limit (None = all `total`), after the validation share."""
    n = total if images is None else min(int(images), total)
    return n - max(1, round(n * val_fraction)) if val_fraction else n


# ---- 1. latent size sweep -----------------------------------------------------------------------
# The latent sizes the page offers: the tutorials' two sweeps and a quick one.
LATENT_SETS: dict[str, tuple[int, ...]] = {
    "1..10": tuple(range(1, 11)),
    "10..100 step 10": tuple(range(10, 101, 10)),
    "2, 8, 32": (2, 8, 32),
}


@dataclass(frozen=True)
class SweepRecipe:
    """The latent sweep of one model at its defaults."""

    model: str
    epochs: int  # passes over the training images, at every k
    images: int | None  # training images (a seeded sample; None = all), 10% of them held out for validation
    batch: int  # images per step
    lr: float | None  # None = the model's default learning rate
    hidden_act: str | None = None  # code/hidden activation; None = the model's default
    latent_set: str = "1..10"  # which of LATENT_SETS the page starts with
    seconds: float = 0.0  # measured at these defaults, all of latent_set (training, test error and PCA at each k)
    shows: str = ""  # what it shows at these defaults (bench/teaching_defaults.py)
    optimizer: str = "adam"
    schedule: str = "constant"

    @property
    def latents(self) -> tuple[int, ...]:
        return LATENT_SETS[self.latent_set]

    def config(self, **overrides) -> TrainConfig:
        """The sweep's base config (its latent size is what the sweep varies); overrides replace any field."""
        fields = dict(model=self.model, latent=self.latents[0], hidden_act=self.hidden_act, lr=self.lr,
                      batch_size=self.batch, epochs=self.epochs, limit=self.images, optimizer=self.optimizer,
                      schedule=self.schedule)
        return TrainConfig(**{**fields, **overrides})

    def work(self, latents=None, epochs=None, images=DEFAULT) -> float:
        """Images the sweep trains on (the unit the seconds scale with)."""
        n = len(self.latents if latents is None else latents)
        e = self.epochs if epochs is None else epochs
        return float(n * e * train_images(self.images if images is DEFAULT else images))



SWEEPS: dict[str, SweepRecipe] = {r.model: r for r in (
    # a linear code and a sigmoid output: under PCA at every k = 2..10 (tied at k = 1) in 3 passes of 20,000 images
    SweepRecipe("dense", epochs=3, images=20000, batch=128, lr=1e-2, hidden_act="none", seconds=10.0,
                shows="test MSE falls with k (0.0605 at k=1 -> 0.0298 at k=10) and is under PCA at every k = 2..10 "
                      "(k=2 0.0551 vs 0.0557, k=8 0.0335 vs 0.0374); k=1 ties PCA (0.0605 vs 0.0607)"),
    SweepRecipe("linear", epochs=3, images=20000, batch=128, lr=1e-2, seconds=8.0,
                shows="the same numbers as `dense` with its linear code (they are the same network)"),
    # the deep MLP's nonlinear code: far under PCA at small k; one-cycle to 1e-2 trains it in 3 passes
    SweepRecipe("mlp-deep", epochs=3, images=20000, batch=128, lr=1e-2, schedule="onecycle", seconds=22.0,
                shows="far under PCA at every k (k=1 0.052 vs 0.061, k=2 0.042 vs 0.056, k=8 0.030 vs 0.037); it "
                      "falls to k=8 and then flattens (the 12-unit layer before the code), neighbouring k within a "
                      "few % of each other"),
    # our conv AE costs ~20x a dense one per image: three code sizes by default
    SweepRecipe("conv", epochs=2, images=20000, batch=128, lr=None, latent_set="2, 8, 32", seconds=51.0,
                shows="under PCA at every k (k=2 0.049 vs 0.056, k=32 0.0072 vs 0.0168), falling with k"),
)}

# A model without a recipe of its own sweeps with the model's defaults at this size.
SWEEP_FALLBACK = dict(epochs=3, images=20000, batch=128, lr=None, latent_set="2, 8, 32")

def sweep_defaults(model: str) -> SweepRecipe:
    """The sweep's defaults for a model (a sweepable model without its own recipe gets SWEEP_FALLBACK)."""
    from aecore.models.registry import MODELS

    if model in SWEEPS:
        return SWEEPS[model]
    if model not in MODELS:
        raise RecipeError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if MODELS[model].latent is None:
        raise RecipeError(f"{model} has a fixed latent size; sweep a dense model or 'conv'")
    from aecore.training.speed import seconds_per_image

    r = SweepRecipe(model, **SWEEP_FALLBACK)
    return dataclasses.replace(r, seconds=round(seconds_per_image(model) * r.work() + 3.0, 1),
                               shows="no recipe of its own: the seconds are an estimate")


# ---- 2. A/B presets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One side of an A/B comparison: every TrainConfig field it sets (the rest are shared or TrainConfig's own)."""

    label: str
    model: str
    latent: int | None = None  # None = the model's default (its fixed size for conv-tutorial: 196)
    hidden_act: str | None = None
    out_act: str = "sigmoid"
    upsample: str | None = None
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float | None = None  # None = the model's default
    schedule: str = "constant"
    weight_decay: float = 0.0

    def fields(self) -> dict:
        """The TrainConfig fields of this side, the latent size filled in (so a caption says k=196, not k=None)."""
        from aecore.models.registry import get_spec

        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "label"}
        spec = get_spec(self.model)
        if d["latent"] is None:
            d["latent"] = spec.fixed_latent if spec.latent is None else spec.latent
        return d


@dataclass(frozen=True)
class ABRecipe:
    """A named A/B comparison: two sides trained with the same epochs, images, batch and seed."""

    preset: str  # the name the page and the CLI offer
    sides: tuple[Side, ...]
    epochs: int
    images: int | None  # training images (None = all), 10% held out for validation
    batch: int
    seconds: float = 0.0  # measured at these defaults, both sides (training and test evaluation)
    shows: str = ""  # what it shows at these defaults (bench/teaching_defaults.py)
    tutorial: str = ""  # what the tutorial reports

    def configs(self, epochs=None, limit=DEFAULT, batch_size=None, seed: int = 0, **common) -> dict[str, TrainConfig]:
        """label -> TrainConfig; epochs, limit and batch_size default to the recipe's; `common` (e.g. dataset,
        device, or a field of a side) applies to both sides."""
        shared = dict(epochs=self.epochs if epochs is None else epochs,
                      limit=self.images if limit is DEFAULT else limit,
                      batch_size=self.batch if batch_size is None else batch_size, seed=seed)
        return {s.label: TrainConfig(**{**s.fields(), **shared, **common}) for s in self.sides}

    def work(self, epochs=None, images=DEFAULT) -> float:
        e = self.epochs if epochs is None else epochs
        return float(len(self.sides) * e * train_images(self.images if images is DEFAULT else images))



AB: dict[str, ABRecipe] = {r.preset: r for r in (
    ABRecipe(
        "linear vs conv",
        (Side("linear (k=32)", "linear", latent=32, lr=1e-2),
         # the tutorial's conv AE (Conv 1-16-4 + MaxPool, code 4x7x7 = 196, no hidden activations) with its Upsample
         # decoder: nearest x2 + 3x3 conv, twice. With the 2x2 ConvTranspose decoder it stays behind the linear AE
         # in any run shorter than a few minutes (see the module's docstring).
         Side("conv-tutorial (Upsample decoder)", "conv-tutorial", hidden_act="none", upsample="nearest", lr=3e-3)),
        epochs=3, images=20000, batch=64, seconds=14.0,
        shows="conv under linear: test MSE 0.0081 vs 0.0110 (seed 1: 0.0091 vs 0.0109)",
        tutorial="conv AE ~0.0095 vs linear ~0.014 after 30 epochs: the conv AE beats the linear one visibly"),
    ABRecipe(
        "ConvTranspose vs Upsample decoder",
        # our conv AE, k=16, with the zoo's recipe (AdamW 6e-3, one-cycle, weight decay 1e-4; fp32, not the zoo's bf16,
        # which is slow on CPUs without bf16 instructions)
        tuple(Side(label, "conv", latent=16, upsample=up, optimizer="adamw", lr=6e-3, schedule="onecycle",
                   weight_decay=1e-4) for label, up in (("ConvTranspose", "transpose"), ("Upsample", "nearest"))),
        epochs=3, images=20000, batch=128, seconds=67.0,
        shows="close: test MSE 0.0113 vs 0.0107, 6% apart (seed 1: 0.0108 vs 0.0108); Upsample trains ~1.8x slower",
        tutorial="close, ConvTranspose slightly better: validation loss 0.2122 vs 0.2127 at latent 16"),
    ABRecipe(
        "ReLU vs sigmoid output",
        tuple(Side(label, "dense", latent=32, hidden_act="none", out_act=act, lr=1e-2)
              for label, act in (("ReLU output", "relu"), ("sigmoid output", "sigmoid"))),
        epochs=3, images=20000, batch=128, seconds=2.0,
        shows="sigmoid under ReLU: test MSE 0.0102 vs 0.0125 (seeds 1, 2: 0.0101 vs 0.0122, 0.0103 vs 0.0123)",
        tutorial="sigmoid output better and sharper than ReLU output"),
    ABRecipe(
        "MSE vs BCE loss",
        tuple(Side(label, "dense", latent=32, hidden_act="none", loss=loss, lr=1e-2)
              for label, loss in (("MSE loss", "mse"), ("BCE loss", "bce"))),
        epochs=3, images=20000, batch=128, seconds=3.0,
        shows="a near tie, each ahead on the loss it was trained for (seeds 0, 1, 2): test MSE 0.01023 vs 0.01034, "
              "test BCE 0.0955 vs 0.0939; both far under PCA-32 (0.0168)",
        tutorial="both losses offered for every model (no winner reported); BCE is the usual choice for [0, 1] pixels"),
)}


def ab_defaults(preset: str, **overrides) -> dict[str, TrainConfig]:
    """The labelled configs of an A/B preset at its defaults; overrides: epochs, limit, batch_size, seed, and any
    TrainConfig field both sides share (dataset, device, ...)."""
    return ab_recipe(preset).configs(**overrides)


def ab_recipe(preset: str) -> ABRecipe:
    if preset not in AB:
        raise RecipeError(f"unknown comparison {preset!r}; choose one of {', '.join(AB)}")
    return AB[preset]


# ---- 3. AE vs PCA, 4. classification, 5. one digit: the runs to train for them ------------------
@dataclass(frozen=True)
class RunRecipe:
    """A run the run-based tabs are shown with (they analyse a picked run; this is the one to train for them)."""

    model: str
    latent: int | None
    epochs: int
    images: int | None
    batch: int
    lr: float | None = None
    hidden_act: str | None = None
    digits: tuple[int, ...] | None = None

    def config(self, **overrides) -> TrainConfig:
        fields = dict(model=self.model, latent=self.latent, epochs=self.epochs, limit=self.images,
                      batch_size=self.batch, lr=self.lr, hidden_act=self.hidden_act, digits=self.digits)
        return TrainConfig(**{**fields, **overrides})

    def work(self) -> float:
        if self.digits:
            return float(self.epochs * train_images(self.images, 6000 * len(self.digits)))  # ~6,000 per digit
        return float(self.epochs * train_images(self.images))


@dataclass(frozen=True)
class AEvsPCARecipe:
    run: RunRecipe
    n_points: int = 2000  # test images in the 2-D code maps
    seconds: float = 0.0  # training the run and the comparison
    shows: str = ""
    tutorial: str = "Hinton & Salakhutdinov 2006: deep AE 3.00 vs PCA 13.87 squared error per image at k=30"


@dataclass(frozen=True)
class ClassifyRecipe:
    run: RunRecipe
    labels: int = 1000  # labelled training images for the probes
    n_test: int = 10000  # test images they are scored on
    finetune_labels: int = 1000
    finetune_epochs: int = 5
    finetune_lr: float = 3e-3
    seconds: float = 0.0  # training the run, the probes and the fine-tuning
    shows: str = ""
    tutorial: str = "fine-tuning encoder + head beats the head alone (Flowers102: 15% -> 26% with the better models)"


@dataclass(frozen=True)
class OneDigitRecipe:
    run: RunRecipe
    seconds: float = 0.0  # training the run and the anomaly scores
    shows: str = ""
    tutorial: str = ("a model trained on one digit reconstructs that digit and draws it into the others: anomaly "
                     "detection")

    @property
    def digit(self) -> int:
        return self.run.digits[0]


AE_VS_PCA = AEvsPCARecipe(
    RunRecipe("mlp-deep", latent=2, epochs=5, images=20000, batch=128), seconds=3.0,
    shows="k=2: AE test MSE 0.041 vs PCA 0.056; the AE's raw 2-D codes separate the digits better (5-NN on half "
          "of the 2,000 plotted codes, scored on the other half: 77% vs 43% on PCA's)")

CLASSIFY = ClassifyRecipe(
    RunRecipe("mlp-deep", latent=8, epochs=5, images=20000, batch=128), seconds=7.0,
    shows="1,000 labels: logistic regression on the 8-D codes 82% vs PCA-8 78% vs pixels 87% (5-NN: 83%, 83%, 87%); "
          "a head on the frozen encoder 62%, fine-tuned with it 82%")

ONE_DIGIT = OneDigitRecipe(
    RunRecipe("conv", latent=16, epochs=3, images=None, batch=256, lr=2e-3, digits=(1,)), seconds=9.0,
    shows="trained on 1s only: ROC AUC 0.998 for 'not a 1' (the hardest, 7: 0.996)")


# ---- 6. stacked AE ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackedRecipe:
    """Greedy layer-wise pretraining vs end to end, for one deep MLP."""

    model: str
    latent: int
    hidden_act: str  # sigmoid units, as in Hinton & Salakhutdinov 2006: where pretraining matters
    pretrain: int  # pretraining epochs per layer pair
    epochs: int  # epochs of the whole network (both sides; the pretrained side first pretrains)
    images: int | None
    batch: int
    lr: float | None = None  # None = the model's default
    seconds: float = 0.0  # both sides
    shows: str = ""
    tutorial: str = ("layer-wise pretraining makes deep sigmoid autoencoders trainable (Hinton & Salakhutdinov 2006); "
                     "with ReLU and Adam end-to-end training does as well")

    def config(self, **overrides) -> TrainConfig:
        """The base config (no pretraining): the stacked experiment trains it as is and pretrained first."""
        fields = dict(model=self.model, latent=self.latent, hidden_act=self.hidden_act, epochs=self.epochs,
                      limit=self.images, batch_size=self.batch, lr=self.lr, pretrain_epochs=0)
        return TrainConfig(**{**fields, **overrides})

    def work(self, pretrain=None, epochs=None, images=DEFAULT) -> float:
        from aecore.models.registry import get_spec

        p = self.pretrain if pretrain is None else pretrain
        e = self.epochs if epochs is None else epochs
        n = train_images(self.images if images is DEFAULT else images)
        return float(n * (2 * e + p * get_spec(self.model).layers))



STACKED: dict[str, StackedRecipe] = {r.model: r for r in (
    StackedRecipe("mlp-deep", latent=8, hidden_act="sigmoid", pretrain=1, epochs=3, images=20000, batch=128,
                  seconds=5.0,
                  shows="end to end stays at the mean image (test MSE 0.0675, at every learning rate tried, "
                        "1e-3..1e-2, "
                        "and with 7 epochs); pretrained 0.0346 (seeds 1, 2: 0.0349, 0.0347). With ReLU units end to "
                        "end does as well at equal images (7 epochs 0.0249 vs 1/layer + 3: 0.0257)"),
    StackedRecipe("mlp-hinton", latent=30, hidden_act="sigmoid", pretrain=1, epochs=2, images=10000, batch=128,
                  seconds=15.0,
                  shows="end to end stays at the mean image (0.0675); pretrained 0.0391"),
)}


def stacked_defaults(model: str = "mlp-deep") -> StackedRecipe:
    if model not in STACKED:
        raise RecipeError(f"the stacked AE is offered for {', '.join(STACKED)}, not {model!r}")
    return STACKED[model]


# ---- 7. the conv-AE tutorial's colour comparison ------------------------------------------------
@dataclass(frozen=True)
class ColourRecipe:
    """The conv-AE tutorial's comparison (base -> BatchNorm -> + dropout -> upsampling decoder) on a small set.

    It counts optimizer steps, not epochs: a set of a few hundred images at the tutorial's batch 255 is one step an
    epoch. `settings(n_train)` turns the steps into epochs (and caps the images of a large set)."""

    ae_steps: int = 600  # autoencoder steps per variant
    clf_steps: int = 150  # classifier (encoder + head) steps per variant
    ae_batch: int = 16
    clf_batch: int = 32
    lr: float = 3e-3  # Adam, autoencoder and classifier (the tutorial: 1e-3 over 100 + 60 epochs)
    min_epochs: int = 3  # a large set is sampled down so that each image is seen at least this often
    max_epochs: int = 200  # the comparison's own limit is 500
    labels: int | None = None  # labelled images for the heads: all (the set's own labels)
    # the data set the defaults and seconds are for: make_shapes(4 classes, 150 each, 32x32), 20% held out
    classes: int = 4
    per_class: int = 150
    size: int = 32
    seconds: float = 48.0  # all four variants on that set
    shows: str = ("every variant far above chance (25%): 100% test accuracy each (the shapes are easy; 3 classes x 60: "
                  "92-100% vs 33%); AE test MSE base 0.0157, BatchNorm 0.0145 (+ dropout: the same AE), upsampling "
                  "0.0091, the mean image 0.0277: the upsampling decoder's reconstructions are the sharpest, the "
                  "others blurred but the right shape, place and colour")
    tutorial: str = ("Flowers102: base ~15% -> + BatchNorm higher -> + dropout higher -> upsampling decoder ~26%, "
                     "the sharpest reconstructions")

    @property
    def n_train(self) -> int:
        """Training images of the assumed set (20% of each class held out)."""
        return self.classes * (self.per_class - round(self.per_class * 0.2))

    def settings(self, n_train: int | None = None) -> dict:
        """Keyword arguments of aecore.analysis.classify.tutorial_experiment for a set of n_train training images
        (None: the assumed set): ae_epochs, clf_epochs, ae_batch, clf_batch, lr, limit, labels."""
        n = self.n_train if n_train is None else int(n_train)
        if n < 2:
            raise RecipeError("the colour comparison needs at least 2 training images")

        def plan(steps, batch):
            bs = min(batch, n)
            passes = steps * bs  # images the steps take
            limit = None if n * self.min_epochs <= passes else max(bs, passes // self.min_epochs)
            seen = n if limit is None else limit
            epochs = max(self.min_epochs, min(self.max_epochs, math.ceil(steps / max(1, seen // bs))))
            return epochs, limit, bs

        ae_epochs, limit, ae_bs = plan(self.ae_steps, self.ae_batch)
        clf_epochs, labels, clf_bs = plan(self.clf_steps, self.clf_batch)
        if self.labels is not None:
            labels = min(self.labels, labels or self.labels)
        return dict(ae_epochs=ae_epochs, clf_epochs=clf_epochs, ae_batch=ae_bs, clf_batch=clf_bs, lr=self.lr,
                    limit=limit, labels=labels)

    def work(self, n_train: int | None = None, size: int | None = None, variants: int = 4, **changes) -> float:
        """Image passes (AE + classifier) of `variants` variants, weighted by the image area's cost
        (~(side/32)^3: the tutorial's 'full' convolutions grow their kernels with the image)."""
        s = {**self.settings(n_train), **changes}
        n = self.n_train if n_train is None else int(n_train)
        ae = min(n, s["limit"] or n) * s["ae_epochs"]
        clf = min(n, s["labels"] or n) * s["clf_epochs"]
        return variants * (ae + clf) * ((size or self.size) / self.size) ** 3



COLOUR = ColourRecipe()


def colour_defaults(n_train: int | None = None) -> dict:
    """tutorial_experiment's settings for a set of n_train training images (see ColourRecipe.settings)."""
    return COLOUR.settings(n_train)


# ---- all of them ----------------------------------------------------------------------------------
COMPARISONS = ("sweep", "ab", "ae_vs_pca", "classify", "one_digit", "stacked", "colour")


def job_images() -> dict[str, float]:
    """Images each default job trains on (what the per-job budget counts), by comparison and key."""
    out = {f"sweep:{m}": r.work() for m, r in SWEEPS.items()}
    out.update({f"ab:{p}": r.work() for p, r in AB.items()})
    out.update({f"stacked:{m}": r.work() for m, r in STACKED.items()})
    out["ae_vs_pca"] = AE_VS_PCA.run.work()
    out["classify"] = CLASSIFY.run.work()
    out["one_digit"] = ONE_DIGIT.run.work()
    out["colour"] = COLOUR.work()
    return out
