"""Training configuration: one dataclass with commented defaults, validated with clear messages."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from aecore.data.catalog import is_dataset_name
from aecore.data.dataset import BUNDLED, DATASETS, DataError, parse_digits
from aecore.data.noise import Noise, NoiseError
from aecore.errors import AELabError
from aecore.models.autoencoders import ACTIVATIONS, LATENT_RANGE, UPSAMPLES, WIDTH_RANGE, ModelError
from aecore.models.registry import MODELS, get_spec

LOSSES = ("mse", "bce")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
MAX_EPOCHS = 1000
MAX_BATCH = 60000


class ConfigError(AELabError):
    """A training setting is invalid; the message says which and why."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as config.json next to the weights."""

    model: str = "conv"  # registry name, see aecore.models.registry.MODELS
    latent: int | None = None  # code size k; None = the model's default (fixed for conv-tutorial/conv-bn)
    hidden_act: str | None = None  # hidden/code activation where the model offers a choice; None = model default
    out_act: str = "sigmoid"  # decoder output activation: sigmoid keeps pixels in [0, 1]
    upsample: str | None = None  # conv decoders: "transpose" or "nearest"; None = model default
    width: int | None = None  # `conv`, `conv-sharp`: channels of the first conv layer (the second has twice as many); None = 32
    loss: str = "mse"  # "mse" or "bce" (bce needs a sigmoid output)
    optimizer: str = "adam"  # "adam", "adamw" (Adam with decoupled weight decay), "rmsprop" or "sgd"
    lr: float | None = None  # learning rate; None = the model's default (aecore.models.registry.MODELS[model].default_lr)
    schedule: str = "constant"  # learning rate over the run: "constant"; "cosine" (anneals to 0 by the last step);
    # "onecycle" (warms up to lr over the first 30% of the steps, then anneals to nearly 0)
    batch_size: int = 256  # images per step
    epochs: int = 10  # passes over the training images
    seed: int = 0  # same seed, same result on the CPU
    noise: str = "none"  # input corruption for denoising, e.g. "masking:0.5", "gaussian:0.3"
    digits: tuple[int, ...] | None = None  # train on these digits only (None = all)
    limit: int | None = None  # at most this many training images (seeded sample)
    val_fraction: float = 0.1  # share of the training images held out for validation loss
    dataset: str = BUNDLED  # "mnist" (bundled), a torchvision data set or an imported one
    device: str = "auto"  # "auto" (GPU when present), "cpu" or "cuda"
    pretrain_epochs: int = 0  # >0: greedy layer-wise pretraining of each layer pair first (stacked AE)
    weight_decay: float = 0.0  # L2 penalty passed to the optimizer (decoupled from the gradient with "adamw")
    precision: str = "auto"  # "auto": bf16 mixed precision on a GPU, fp32 on the CPU; "fp32"; "bf16" (also on a CPU)
    log_every: int = 50  # steps between progress callbacks
    extra: dict = field(default_factory=dict)  # free-form notes (e.g. preset name); not used in training

    # ---- derived -------------------------------------------------------------------------
    def resolved(self) -> "TrainConfig":
        """A copy with model defaults filled in and types normalised; raises ConfigError."""
        c = dataclasses.replace(self)
        try:
            spec = get_spec(c.model)
        except ModelError as e:
            raise ConfigError(str(e)) from None
        if spec.latent is None:
            if c.latent not in (None, spec.fixed_latent):
                raise ConfigError(
                    f"{c.model} has a fixed latent size of {spec.fixed_latent} (its conv code map); "
                    f"pick a dense model or 'conv' to choose k"
                )
            c.latent = spec.fixed_latent
        elif c.latent is None:
            c.latent = spec.latent
        if c.lr is None:
            c.lr = spec.default_lr
        if c.hidden_act is None:
            c.hidden_act = spec.default_hidden if spec.hidden_acts else None
        if c.upsample is None:
            c.upsample = spec.default_upsample if spec.conv else None
        if isinstance(c.digits, str):
            if not c.digits.strip():
                raise ConfigError("the digit subset is empty: pick at least one digit (leave it out to train on all digits)")
            try:
                c.digits = parse_digits(c.digits)
            except DataError as e:
                raise ConfigError(str(e)) from None
        elif c.digits is not None:
            c.digits = tuple(sorted(set(int(d) for d in c.digits)))
            if c.digits == tuple(range(10)):
                c.digits = None  # every digit: the same as no subset
        try:
            c.noise = str(Noise.parse(str(c.noise)))
        except NoiseError as e:
            raise ConfigError(str(e)) from None
        c.validate()
        return c

    def validate(self) -> None:
        """Raise ConfigError with a clear message for the first invalid setting."""
        try:
            spec = get_spec(self.model)
        except ModelError as e:
            raise ConfigError(str(e)) from None

        def number(name, value, lo, hi, integer=False):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
                raise ConfigError(f"{name} must be {'a whole number' if integer else 'a number'}, got {value!r}")
            if not math.isfinite(value) or not lo <= value <= hi:
                raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, got {value:g}")

        if spec.latent is not None and self.latent is not None:
            number("latent size", self.latent, *LATENT_RANGE, integer=True)
        number("epochs", self.epochs, 1, MAX_EPOCHS, integer=True)
        number("batch size", self.batch_size, 1, MAX_BATCH, integer=True)
        number("seed", self.seed, 0, 2**31 - 1, integer=True)
        if self.lr is None:
            pass  # the model's default, filled in by resolved()
        elif isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ConfigError(f"learning rate must be a positive number, got {self.lr!r}")
        elif self.lr > 10:
            raise ConfigError(f"learning rate {self.lr:g} is far too large (the loss would diverge); use at most 10")
        number("validation fraction", self.val_fraction, 0.0, 0.5)
        number("pretraining epochs", self.pretrain_epochs, 0, MAX_EPOCHS, integer=True)
        number("weight decay", self.weight_decay, 0.0, 1.0)
        number("log interval", self.log_every, 1, 10**6, integer=True)
        if self.limit is not None:
            number("image limit", self.limit, 2, 10**7, integer=True)
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if not is_dataset_name(self.dataset):
            raise ConfigError(f"unknown data set {self.dataset!r}; choose one of {', '.join(DATASETS)} or one imported "
                              "with `python -m aecore data add` (see `python -m aecore data list`)")
        if self.out_act not in ACTIVATIONS:
            raise ConfigError(f"unknown output activation {self.out_act!r}; choose one of {', '.join(ACTIVATIONS)}")
        if self.loss == "bce" and self.out_act != "sigmoid":
            raise ConfigError(
                "binary cross-entropy needs outputs in [0, 1]: choose a sigmoid output activation, or MSE loss"
            )
        if spec.hidden_acts:
            if self.hidden_act not in spec.hidden_acts:
                raise ConfigError(f"{self.model} takes hidden activation {', '.join(spec.hidden_acts)}, not {self.hidden_act!r}")
        elif self.hidden_act not in (None, spec.default_hidden):
            raise ConfigError(f"{self.model} has no hidden activation option")
        if spec.conv:
            if self.upsample not in UPSAMPLES:
                raise ConfigError(f"upsampling must be one of {', '.join(UPSAMPLES)}, got {self.upsample!r}")
        elif self.upsample not in (None,):
            raise ConfigError(f"{self.model} is not convolutional: upsampling does not apply")
        if self.width is not None and self.width != spec.default_width:
            if spec.default_width is None:
                raise ConfigError(f"{self.model} has a fixed width; the width is a choice of the 'conv' and 'conv-sharp' models")
            number("width", self.width, *WIDTH_RANGE, integer=True)
        if self.pretrain_epochs and not spec.stackable:
            stackable = ", ".join(n for n, s in MODELS.items() if s.stackable)
            raise ConfigError(f"layer-wise pretraining applies to the deep MLP models ({stackable}), not {self.model}")
        try:
            Noise.parse(self.noise)
        except NoiseError as e:
            raise ConfigError(str(e)) from None
        if self.digits is not None:
            if len(self.digits) == 0:
                raise ConfigError("the digit subset is empty: pick at least one digit")
            if self.dataset in DATASETS and any(d not in range(10) for d in self.digits):
                raise ConfigError(f"digits must be 0-9, got {list(self.digits)}")
            if any(not 0 <= d < 1000 for d in self.digits):  # an imported set's class labels (at most 1,000 classes)
                raise ConfigError(f"class labels must be 0-999, got {list(self.digits)}")

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["digits"] = list(self.digits) if self.digits is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from JSON (a saved run, a job): every field's type is checked, so crafted files fail cleanly."""
        if not isinstance(d, dict):
            raise ConfigError("a config must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k)[:30] for k in set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown[:5])}")
        d = dict(d)
        for key, value in d.items():
            kind = _FIELD_KINDS.get(key)
            if kind is None or (value is None and kind in _OPTIONAL):  # a field added later: checked by validate()
                continue
            if kind in ("text", "text?"):
                ok = isinstance(value, str) and len(value) <= 64
            elif kind in ("int", "int?"):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif kind in ("number", "number?"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            elif kind == "digits?":
                ok = (isinstance(value, str) and len(value) <= 40) or (
                    isinstance(value, (list, tuple)) and len(value) <= 10
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
            else:  # extra: free-form notes, flat and small
                ok = isinstance(value, dict) and len(value) <= 32 and all(
                    isinstance(k, str) and len(k) <= 64 and (value[k] is None or isinstance(value[k], (bool, int, float))
                                                             or (isinstance(value[k], str) and len(value[k]) <= 200))
                    for k in value)
            if not ok:
                shown = repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise ConfigError(f"{key} must be {_KIND_TEXT[kind]}, got {shown}")
        if isinstance(d.get("digits"), list):
            d["digits"] = tuple(d["digits"])
        return cls(**d)

    @property
    def noise_spec(self) -> Noise:
        return Noise.parse(self.noise)

    def describe(self) -> str:
        """A short human label, e.g. 'conv k=16, mse, adam 0.001, 10 ep'."""
        k = self.latent if self.latent is not None or self.model not in MODELS else (
            MODELS[self.model].fixed_latent or MODELS[self.model].latent)  # a fixed code map says its size, not None
        bits = [f"{self.model} k={k}"] + ([f"on {self.dataset}"] if self.dataset != BUNDLED else [])
        if self.noise not in ("none", None):
            bits.append(f"noise {self.noise}")
        if self.digits:
            bits.append("digits " + ",".join(map(str, self.digits)))
        if self.limit:
            bits.append(f"{self.limit:,} images")
        if self.pretrain_epochs:  # a stacked AE: its layer-wise pretraining is half of what it is
            bits.append(f"pretrained {self.pretrain_epochs} ep a layer")
        lr = self.lr if self.lr is not None or self.model not in MODELS else MODELS[self.model].default_lr
        bits.append(f"{self.loss}, {self.optimizer} {lr if lr is None else format(lr, 'g')}, {self.epochs} ep")
        return ", ".join(bits)



# What each field of a config read from JSON may hold (see TrainConfig.from_dict).
_FIELD_KINDS = {
    "model": "text", "latent": "int?", "hidden_act": "text?", "out_act": "text", "upsample": "text?", "loss": "text",
    "optimizer": "text", "lr": "number?", "schedule": "text", "batch_size": "int", "epochs": "int", "seed": "int",
    "noise": "text", "digits": "digits?", "limit": "int?", "val_fraction": "number", "dataset": "text",
    "device": "text", "pretrain_epochs": "int", "weight_decay": "number", "log_every": "int", "extra": "extra",
    "precision": "text", "width": "int?",
}
_OPTIONAL = {"int?", "text?", "digits?", "number?"}
_KIND_TEXT = {
    "text": "text (at most 64 characters)", "text?": "text (at most 64 characters) or null", "int": "a whole number",
    "int?": "a whole number or null", "number": "a number", "number?": "a number or null (the model's default)", "digits?": "a list of digits 0-9 or null",
    "extra": "a small object of plain values",
}


def fitting_batch(n_train: int, preferred: int = 128) -> int:
    """A batch size a set of n_train training images can fill: `preferred` for a large set, a quarter of a small one
    (so an epoch is a few steps), never more than the images there are."""
    if n_train <= 0 or n_train >= 4 * preferred:
        return preferred
    return max(1, min(n_train, max(8, n_train // 4)))


def images_to_train_on(config: "TrainConfig", dataset) -> int:
    """How many images one epoch of a config trains on (its subset, limit and validation share); 0 when it cannot."""
    from aecore.data.dataset import DataError, train_size

    try:
        c = config.resolved()
        return train_size(dataset.train.y, c.digits, c.limit, c.val_fraction)  # counted, not drawn
    except (ConfigError, DataError, ValueError):
        return 0
