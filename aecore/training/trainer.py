"""The trainer: one loop for every model, data on the device, callbacks, cooperative stop, NaN guard."""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from aecore.data.catalog import dataset_image_shape, load_dataset
from aecore.data.dataset import DataError, Dataset, device_images, subset_indices, to_float, train_val_indices
from aecore.data.dataset import train_size as count_train_images
from aecore.data.noise import Noise, corrupt
from aecore.models.autoencoders import Autoencoder, MLPAutoencoder, ModelError
from aecore.models.evaluate import EVAL_BATCH
from aecore.models.registry import build_model
from aecore.training.config import ConfigError, TrainConfig
from aecore.training.device import DeviceError, resolve_device
from aecore.training.fused_step import LeanStep
from aecore.training.runs import Run, save_run


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class Progress:
    """What a progress callback receives every `log_every` steps and at the end of each epoch."""

    phase: str  # "pretrain layer 1/3", "train"
    epoch: int  # 1-based epoch within the phase
    epochs: int
    step: int  # 1-based step within the epoch
    steps: int  # steps per epoch
    loss: float  # mean training loss over the steps since the epoch began
    images_per_s: float  # throughput since the epoch began
    elapsed_s: float  # since training began
    stage: int = 1  # experiments that train several models: which one this is
    stages: int = 1

    @property
    def fraction(self) -> float:
        """Share of the whole job done, 0..1."""
        phase = ((self.epoch - 1) + self.step / max(self.steps, 1)) / max(self.epochs, 1)
        return ((self.stage - 1) + phase) / max(self.stages, 1)


@dataclass
class EpochStats:
    """One row of a run's history."""

    epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float
    images_per_s: float
    phase: str = "train"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; `run` holds the last good weights and history."""

    def __init__(self, message: str, run: Run):
        super().__init__(message)
        self.run = run


# Model construction draws from torch's global RNG; this lock keeps seeding per run when
# several jobs build models in parallel threads.
_init_lock = threading.Lock()


def seeded_model(config: TrainConfig) -> Autoencoder:
    """Build the config's model with weights initialised from its seed (thread-safe)."""
    with _init_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        try:
            return build_model(config.model, config.latent, config.hidden_act, config.out_act, config.upsample,
                               width=config.width, image_shape=dataset_image_shape(config.dataset))
        except (ModelError, DataError) as e:
            raise ConfigError(str(e)) from None


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean per-pixel MSE or binary cross-entropy."""
    if loss == "bce":
        return F.binary_cross_entropy(x_hat.clamp(0.0, 1.0), x)
    return F.mse_loss(x_hat, x)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0, fast: bool = False) -> torch.optim.Optimizer:
    """The optimizer by name. `fast`: one fused kernel (Adam, AdamW) or multi-tensor steps (the others) for all
    parameters instead of a Python loop over them: the same update up to float rounding."""
    params = list(params)
    foreach = True if fast else None  # one multi-tensor step instead of a loop over the parameters
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        if fast:
            try:
                return cls(params, lr=lr, weight_decay=weight_decay, fused=True)
            except (RuntimeError, ValueError):  # a device or dtype without a fused kernel
                pass
        return cls(params, lr=lr, weight_decay=weight_decay, foreach=foreach)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=foreach)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, foreach=foreach)
    raise ConfigError(f"unknown optimizer {name!r}")


def make_schedule(name: str, opt: torch.optim.Optimizer, total_steps: int):
    """The learning-rate schedule stepped after every step (None for a constant rate).

    "cosine" anneals from the rate to 0 by the last step; "onecycle" warms up over the first 30%
    of the steps from a 25th of the rate to the rate, then anneals to nearly 0 (Smith's one-cycle).
    """
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    if name == "onecycle":
        lr = opt.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(total_steps, 2), pct_start=0.3,
                                                   cycle_momentum=False)
    return None


def uses_conv(model: torch.nn.Module) -> bool:
    """Whether the model has 2-D convolutions (which run faster on channels-last tensors)."""
    return any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in model.modules())


def fast_layout(model: torch.nn.Module) -> torch.nn.Module:
    """Put a conv model's weights in channels-last layout, in place (about 2x faster convolutions and
    pooling on the CPU at batch 256, and what the GPU's tensor cores want). Same values, other strides."""
    if uses_conv(model):
        model.to(memory_format=torch.channels_last)
    return model


def plain_layout(model: torch.nn.Module) -> torch.nn.Module:
    """Back to the default contiguous layout, in place (saved weights look as they always did)."""
    if uses_conv(model):
        model.to(memory_format=torch.contiguous_format)
    return model


def _match_state_layout(opt: torch.optim.Optimizer) -> None:
    """After loading an optimizer state, give each moment buffer its parameter's strides: a fused step
    walks parameter, gradient and buffers element by element in memory order."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for k, v in list(st.items()):
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for the forward pass, None for full fp32.

    "auto": bf16 on a GPU that has it, fp32 on the CPU (the same numbers as ever); "bf16": bf16 on either
    (on a CPU with AMX/AVX-512 bf16 about 1.6x faster for conv models); "fp32": never.
    """
    if config.precision == "fp32" or device.type not in ("cpu", "cuda"):
        return None
    if config.precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


# How a training step runs on a GPU (bench/train_speed.py --device cuda times these against a bare loop):
GRAPH_STEP = "auto"  # "auto": on a GPU, each step of a full batch is one replay of a CUDA graph that holds the whole
# step (batch gather, forward, loss, backward, fused Adam, loss sum) when the run qualifies (_graph_mode); "eager":
# that same step function run without capture, on any device (how the CPU tests check it against the plain loop);
# "off": never (the loop of before: the model compiled with CUDA graphs for batches up to 512)
GRAPH_WARMUP = 3  # eager steps before the capture (cuDNN/cuBLAS set-up, the optimizer's state), on a side stream
GRAPH_MIN_STEPS = 20  # runs shorter than this stay eager (a capture costs tens of milliseconds)
CUDA_CHANNELS_LAST = True  # conv models in channels-last memory on a GPU as on the CPU (False: torch's default layout)


def _graph_mode(fast: bool, dev: torch.device, encode_fn, noise: Noise, stepper: LeanStep, model: torch.nn.Module,
                n: int, bs: int, total_steps: int) -> str | None:
    """"graph", "eager" or None: whether full-batch steps run as _GraphStep (captured or not) or as the plain loop.

    It qualifies when its step is a function of device tensors alone: the fast loop, clean inputs (noise draws
    random numbers), no pretraining pair (encode_fn), the fused Adam/AdamW step without hooks, no dropout, and at
    least one full batch."""
    if not fast or GRAPH_STEP == "off" or encode_fn is not None or noise.active or n // bs < 1:
        return None
    if not stepper.graph_safe() or any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules()):
        return None
    if GRAPH_STEP == "eager":
        return "eager"
    return "graph" if dev.type == "cuda" and total_steps >= GRAPH_MIN_STEPS else None


class _GraphStep:
    """A training step of exactly `bs` images as a function of device tensors alone, so one CUDA graph holds all of
    it and a step costs one launch (a batch-20 step is ~50 tiny kernels: launching them one by one from Python is
    what bounds small batches on a GPU).

    The epoch's order lives in a fixed buffer (`perm`, viewed as rows of `bs` indices) and the next row's number
    in a device counter (`at`) that the step itself advances; the loss sum is a fixed device scalar. The step
    sets the gradients to None, gathers the batch, runs forward (in autocast without its weight cache, which a
    capture cannot hold), the loss and backward, then LeanStep.step_in_place: the same operations in the same order
    as the plain loop, so run eagerly (GRAPH_STEP "eager") it gives bit for bit the plain loop's weights. With a
    schedule, the learning rate is a device scalar refilled before each step (rounded to float32 there).
    The first GRAPH_WARMUP steps run eagerly on a side stream, then the step is captured (capturing runs
    nothing) and replayed; if capturing fails, the steps stay eager."""

    def __init__(self, model: torch.nn.Module, stepper: LeanStep, images: torch.Tensor, n: int, bs: int,
                 amp: torch.dtype | None, loss_name: str, scheduled: bool, capture: bool):
        dev = images.device
        self.model, self.stepper, self.images, self.amp, self.loss_name, self.bs = model, stepper, images, amp, loss_name, bs
        self.perm = torch.zeros(n, dtype=torch.long, device=dev)  # [n] the epoch's order
        self.rows = self.perm[: (n // bs) * bs].view(n // bs, bs)  # [full batches, bs] a view of it
        self.at = torch.zeros(1, dtype=torch.long, device=dev)  # [1] the next step's row
        self.loss_sum = torch.zeros((), device=dev)
        self.lr = torch.zeros((), dtype=torch.float32, device=dev) if scheduled else None
        self.capture = capture and dev.type == "cuda"
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warm = 0
        self.capture_error = ""

    def begin_epoch(self, perm: torch.Tensor, first_row: int, loss_sum: float) -> None:
        self.perm.copy_(perm)
        self.at.fill_(first_row)
        self.loss_sum.fill_(loss_sum)

    def _body(self) -> None:
        for p in self.stepper.params:
            p.grad = None  # backward writes the gradients (in a capture: into the graph's own memory)
        idx = self.rows.index_select(0, self.at).view(-1)  # [bs] this step's images
        self.at.add_(1)
        x = to_float(self.images.index_select(0, idx))  # [bs, C, H, W] in [0, 1]
        if self.amp is None:
            out = self.model(x)
        else:
            with torch.autocast(x.device.type, dtype=self.amp, cache_enabled=False):
                out = self.model(x)
            out = out.float()  # the loss in fp32
        loss = reconstruction_loss(out, x, self.loss_name)
        loss.backward()
        self.stepper.step_in_place(self.lr)
        self.loss_sum.add_(loss.detach(), alpha=self.bs)

    def step(self, lr: float) -> None:
        """One step of `bs` images at learning rate `lr` (used when scheduled)."""
        if self.lr is not None:
            self.lr.fill_(lr)
        if self.graph is not None:
            self.graph.replay()
            return
        if not self.capture:
            self._body()
            return
        dev = self.images.device
        here = torch.cuda.current_stream(dev)
        if self.warm < GRAPH_WARMUP:  # as torch's docs do before a capture: warm up on a side stream
            side = torch.cuda.Stream(dev)
            side.wait_stream(here)
            with torch.cuda.stream(side):
                self._body()
            here.wait_stream(side)
            self.warm += 1
            return
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self._body()
        except Exception as e:  # an op that cannot be captured: eager steps from here on
            self.capture, self.capture_error = False, f"{type(e).__name__}: {e}"[:300]
            torch.cuda.synchronize(dev)
            self._body()
            return
        self.graph = graph
        graph.replay()


class _GPUStep:
    """On a GPU, small batches spend their time launching kernels: the model is compiled with CUDA graphs
    (torch.compile mode "reduce-overhead") and falls back to the plain model if compiling fails. Runs of
    fewer than `min_steps` steps are not worth the compile's seconds and stay eager."""

    def __init__(self, model: torch.nn.Module, batch: int, total_steps: int, min_steps: int = 500):
        self.model = model
        self.compiled = None
        if batch <= 512 and total_steps >= min_steps:
            try:
                self.compiled = torch.compile(model, mode="reduce-overhead", dynamic=False)
            except Exception:  # no compiler backend here: eager it is
                self.compiled = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(x)
            except Exception:  # a failed compile raises on the first call, before any gradient exists
                self.compiled = None
        return self.model(x)


_capped: set = set()  # devices whose memory this process has capped


def cap_gpu_memory(device: torch.device) -> None:
    """Hold this process to its share of the GPU's memory (Settings.gpu_memory_fraction, which the app sets for the
    workers it starts so that several can train on one card; 0 = no cap), once per process and device. A job that
    needs more fails with CUDA's out-of-memory error instead of starving the others."""
    from aecore.settings import current

    frac = current().gpu_memory_fraction
    if device.type != "cuda" or not frac or str(device) in _capped:
        return
    torch.cuda.set_per_process_memory_fraction(min(float(frac), 1.0), device)
    _capped.add(str(device))


@dataclass
class TrainData:
    """Index sets into a shared uint8 image tensor on the training device."""

    images: torch.Tensor  # [N, 1, 28, 28] uint8, shared, on device
    train_idx: torch.Tensor  # [n_train] int64 on device
    val_idx: torch.Tensor  # [n_val] int64 on device

    @classmethod
    def from_config(cls, config: TrainConfig, dataset: Dataset, device: torch.device) -> "TrainData":
        tr, va = _split(config, dataset)
        images = device_images(dataset.train.x, device)
        return cls(
            images,
            torch.as_tensor(tr, dtype=torch.long, device=device),
            torch.as_tensor(va, dtype=torch.long, device=device),
        )


def _split(config: TrainConfig, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices for a resolved config; ConfigError when they do not fit."""
    try:
        idx = subset_indices(dataset.train.y, config.digits, config.limit, config.seed)
        tr, va = train_val_indices(idx, config.val_fraction, config.seed)
    except DataError as e:
        raise ConfigError(str(e)) from None
    _check_batch(config, len(tr))
    return tr, va


def train_size(config: TrainConfig, dataset: Dataset) -> int:
    """len(_split(config, dataset)[0]), counted without drawing the seeded sample (pages ask on every rerun)."""
    try:
        n_train = count_train_images(dataset.train.y, config.digits, config.limit, config.val_fraction)
    except DataError as e:
        raise ConfigError(str(e)) from None
    _check_batch(config, n_train)
    return n_train


def _check_batch(config: TrainConfig, n_train: int) -> None:
    if config.batch_size > n_train:
        raise ConfigError(
            f"batch size {config.batch_size} is larger than the {n_train} training images; use at most {n_train}"
        )


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in an epoch of n images: a last batch of one image breaks BatchNorm (and is a noisy step
    anyway), so it joins the one before."""
    steps = math.ceil(n / batch_size)
    return steps - 1 if n % batch_size == 1 and steps > 1 else steps


def uses_batchnorm(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def check_config(config: TrainConfig, dataset: Dataset) -> TrainConfig:
    """The resolved config, checked against the data it will train on (ConfigError otherwise)."""
    config = config.resolved()
    _split(config, dataset)
    if config.batch_size < 2 and uses_batchnorm(seeded_model(config)):
        raise ConfigError(f"{config.model} uses BatchNorm, which needs at least 2 images per step: use a batch size of 2 or more")
    return config


def mean_image(data: TrainData) -> torch.Tensor:
    """The mean of the training images [C, H, W] ([1, 28, 28] for MNIST) in [0, 1] (float32, on the CPU)."""
    total = torch.zeros(data.images.shape[1:], dtype=torch.float64)
    for i in range(0, len(data.train_idx), 4096):
        total += data.images[data.train_idx[i : i + 4096]].double().sum(0).cpu()
    return (total / max(len(data.train_idx), 1) / 255.0).float()


def output_layer(model: torch.nn.Module) -> torch.nn.Module | None:
    """The decoder's last Linear / conv layer (the one that makes the pixels), or None."""
    decoder = getattr(model, "decoder", None)
    if decoder is None:
        return None
    layers = [m for m in decoder.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    return layers[-1] if layers else None


def start_at_mean_image(model: torch.nn.Module, mean: torch.Tensor, out_act: str) -> None:
    """Set the output layer's bias so a fresh model starts near the training data's mean image.

    With a sigmoid output and a zero bias every pixel starts at 0.5, far from MNIST's mostly
    black images, and a short run spends its steps just darkening the output. Starting at the
    mean image (the bias at the mean's logit, per pixel for a dense output layer, the overall
    mean for a conv one) gives a short classroom run a head start. Weights are unchanged.
    """
    layer = output_layer(model)
    if layer is None or layer.bias is None:
        return

    def pre_activation(m: torch.Tensor) -> torch.Tensor:  # the bias that puts the output at m
        m = m.double().clamp(1e-3, 1 - 1e-3)
        return torch.log(m / (1 - m)) if out_act == "sigmoid" else torch.atanh(m) if out_act == "tanh" else m

    with torch.no_grad():
        if isinstance(layer, torch.nn.Linear) and layer.out_features == mean.numel():
            layer.bias.copy_(pre_activation(mean).flatten().to(layer.bias.dtype))  # per pixel
        elif not isinstance(layer, torch.nn.Linear) and layer.bias.numel() == 1:
            layer.bias.fill_(float(pre_activation(mean.mean())))  # one grey level for the whole image


def _is_stopped(stop: StopFlag | None) -> bool:
    return stop is not None and stop.is_set()


def evaluate_loss(
    model: torch.nn.Module,
    images: torch.Tensor,
    idx: torch.Tensor,
    loss: str,
    noise: Noise,
    seed: int,
    batch: int = EVAL_BATCH,
    encode_fn: Callable | None = None,
    amp: torch.dtype | None = None,
) -> float:
    """Mean loss over images[idx] (corrupted with a fixed seed for denoising), no gradients; `amp`: the
    forward in that autocast dtype (the loss itself in fp32)."""
    if len(idx) == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    g = torch.Generator(device=images.device).manual_seed(seed + 7)
    total = torch.zeros((), device=images.device, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(idx), batch):
            x = to_float(images[idx[i : i + batch]])  # [b,1,28,28]
            target = encode_fn(x) if encode_fn else x
            with torch.autocast(images.device.type, dtype=amp) if amp is not None else contextlib.nullcontext():
                out = model(corrupt(target, noise, g)).float()
            total += reconstruction_loss(out, target, loss).double() * len(x)
    model.train(was_training)
    return float(total / len(idx))


def _run_epochs(
    model: torch.nn.Module,
    params,
    data: TrainData,
    config: TrainConfig,
    epochs: int,
    phase: str,
    loss_name: str,
    on_progress: Callable[[Progress], None] | None,
    on_epoch: Callable[[EpochStats], None] | None,
    stop: StopFlag | None,
    generator: torch.Generator,
    t_start: float,
    encode_fn: Callable | None = None,
    checkpoint: Callable[[EpochStats], None] | None = None,
    noise: Noise | None = None,
    state: dict | None = None,
    on_state: Callable[[dict], None] | None = None,
    max_steps: int | None = None,
    on_step: Callable[[torch.nn.Module, int], None] | None = None,
    fast: bool = True,
) -> tuple[list[EpochStats], str]:
    """Train for `epochs`; returns the epoch rows and how it ended: 'done', 'stopped', 'paused' or 'diverged'.

    `on_state` receives the complete training state (weights, optimizer, schedule, random
    generator, the epoch's shuffled order and its running loss) after every epoch and when the
    loop stops or pauses; `state` continues from such a state exactly, step for step, as if it
    had never stopped. `max_steps`: pause after this many steps. `on_step(model, n)` is called with
    the model (in training mode) before the first step of a fresh run (n=0) and after every step n
    (counted over all epochs), e.g. to record codes as the model learns.

    `fast` (the default) runs conv models channels-last with a fused optimizer step, and on a GPU in
    bf16 mixed precision with the model compiled for small batches; `fast=False` is the plain loop
    (same results up to float rounding, slower).
    """
    noise = config.noise_spec if noise is None else noise
    dev = data.images.device
    if fast and (dev.type != "cuda" or CUDA_CHANNELS_LAST):
        fast_layout(model)  # before the optimizer sees the parameters (same Parameter objects, new strides)
    opt = make_optimizer(config.optimizer, params, config.lr, config.weight_decay, fast=fast)
    n = len(data.train_idx)
    bs = config.batch_size
    steps = steps_per_epoch(n, bs)
    sched = make_schedule(config.schedule, opt, epochs * steps)
    amp = autocast_dtype(config, dev) if fast else None
    rows: list[EpochStats] = []
    first_epoch, first_step = 1, 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        _match_state_layout(opt)
        if sched is not None and state.get("scheduler"):
            sched.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        first_epoch, first_step = int(state["epoch"]), int(state["step"])
    stepper = LeanStep(opt)  # after loading a state: it holds the state's tensors
    mode = _graph_mode(fast, dev, encode_fn, noise, stepper, model, n, bs, epochs * steps)
    graph = (_GraphStep(model, stepper, data.images, n, bs, amp, loss_name, sched is not None, mode == "graph")
             if mode else None)
    small_gpu = fast and dev.type == "cuda" and encode_fn is None and graph is None
    forward = _GPUStep(model, bs, epochs * steps) if small_gpu else model

    def snapshot(epoch: int, step: int, perm, loss_sum, seen: int, elapsed: float) -> dict:
        return {"version": STATE_VERSION, "phase": phase, "epoch": epoch, "step": step,
                "perm": None if perm is None else perm.cpu(), "loss_sum": float(loss_sum), "seen": int(seen),
                "elapsed": float(elapsed), "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched is not None else None,
                "generator": generator.get_state()}

    model.train()
    taken = 0
    if on_step is not None and state is None:
        on_step(model, 0)
    for epoch in range(first_epoch, epochs + 1):
        resumed = state is not None and epoch == first_epoch
        t0 = time.perf_counter() - (float(state["elapsed"]) if resumed else 0.0)
        if resumed and state.get("perm") is not None:
            perm = state["perm"].to(dev)  # [n] the epoch's order, drawn before it stopped
        else:
            perm = data.train_idx[torch.randperm(n, generator=generator, device=dev)]  # [n] int64
        first = first_step if resumed else 0
        if graph is not None:
            loss_sum = graph.loss_sum  # the graph adds to this very tensor
            graph.begin_epoch(perm, first, float(state["loss_sum"]) if resumed else 0.0)
        else:
            loss_sum = torch.tensor(float(state["loss_sum"]) if resumed else 0.0, device=dev)
        seen = int(state["seen"]) if resumed else 0
        for step in range(first + 1, steps + 1):
            stopped = _is_stopped(stop)
            if stopped or (max_steps is not None and taken >= max_steps):
                if on_state is not None:
                    on_state(snapshot(epoch, step - 1, perm, loss_sum, seen, time.perf_counter() - t0))
                return rows, "stopped" if stopped else "paused"
            taken += 1
            end = step * bs if step < steps else n  # the last batch takes what is left (bs + 1 at most)
            if graph is not None and end - (step - 1) * bs == bs:  # a full batch: the step function (one launch)
                graph.step(opt.param_groups[0]["lr"])
                b = bs
            else:
                # index_select: the same rows as images[...] in a quarter of the time (6 us a step at batch 20)
                x = to_float(data.images.index_select(0, perm[(step - 1) * bs : end]))  # [b,1,28,28] in [0,1]
                if encode_fn is not None:
                    with torch.no_grad():
                        x = encode_fn(x)  # [b, d] codes of the layers below
                x_in = corrupt(x, noise, generator)
                if amp is None:
                    out = forward(x_in)
                else:
                    with torch.autocast(dev.type, dtype=amp):
                        out = forward(x_in)
                    out = out.float()  # the loss in fp32
                loss = reconstruction_loss(out, x, loss_name)
                stepper.zero_grad()
                loss.backward()
                stepper.step()
                loss_sum.add_(loss.detach(), alpha=len(x))  # stays on the device: no sync per step
                b = len(x)
            if sched is not None:
                sched.step()
            seen += b
            if on_step is not None:
                on_step(model, (epoch - 1) * steps + step)
            if on_progress is not None and (step % config.log_every == 0 or step == steps):
                mean = float(loss_sum) / seen  # syncs the device, only every log_every steps
                if not math.isfinite(mean):
                    return rows, "diverged"
                dt = time.perf_counter() - t0
                on_progress(Progress(phase, epoch, epochs, step, steps, mean, seen / max(dt, 1e-9), time.perf_counter() - t_start))
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            return rows, "diverged"
        val_loss = (
            evaluate_loss(model, data.images, data.val_idx, loss_name, noise, config.seed, encode_fn=encode_fn, amp=amp)
            if len(data.val_idx)
            else None
        )
        if val_loss is not None and not math.isfinite(val_loss):
            return rows, "diverged"
        dt = time.perf_counter() - t0
        row = EpochStats(epoch, train_loss, val_loss, dt, seen / max(dt, 1e-9), phase)
        rows.append(row)
        if checkpoint is not None:
            checkpoint(row)
        if on_state is not None and epoch < epochs:
            on_state(snapshot(epoch + 1, 0, None, 0.0, 0, 0.0))
        if on_epoch is not None:
            on_epoch(row)
    return rows, "done"


def train(
    config: TrainConfig,
    dataset: Dataset | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    stop: StopFlag | None = None,
    model: Autoencoder | None = None,
    checkpoint_dir: str | None = None,
    on_snapshot: Callable[[Autoencoder, EpochStats], None] | None = None,
    resume: dict | None = None,
    on_state: Callable[[dict], None] | None = None,
    max_steps: int | None = None,
    on_step: Callable[[torch.nn.Module, int], None] | None = None,
    fast: bool = True,
) -> Run:
    """Train a model as `config` says and return the Run (status 'done', 'stopped' or 'paused').

    Raises ConfigError for invalid settings and TrainingDiverged (carrying the last good
    weights) when the loss becomes NaN or infinite. `stop.is_set()` is checked between steps;
    a stopped run keeps the weights trained so far. Pass `model` to continue training it.

    Exact pause and resume: `on_state` receives the full training state after every epoch of
    the main phase and when it stops or pauses (after `max_steps` steps); `resume=` that state
    continues the run so that it ends with the same weights as a run that never stopped.
    `on_step(model, n)`: called before the first step (n=0) and after every step n of the main phase.
    `fast=False`: the plain training loop (see _run_epochs), for checking the fast one.
    """
    config = config.resolved()
    dataset = dataset or load_dataset(config.dataset)
    if dataset.name != config.dataset:
        raise ConfigError(f"the config asks for {config.dataset!r} but the data set given is {dataset.name!r}")
    try:
        device = resolve_device(config.device)
    except DeviceError as e:
        raise ConfigError(str(e)) from None
    cap_gpu_memory(device)
    data = TrainData.from_config(config, dataset, device)
    if resume is not None:
        check_state(resume, config)
        model = seeded_model(config)
        model.load_state_dict(resume["model"])
    if model is None:
        model = seeded_model(config)
        start_at_mean_image(model, mean_image(data), config.out_act)
    if len(data.train_idx) < 2 and uses_batchnorm(model):
        raise ConfigError(f"{config.model} uses BatchNorm, which needs at least 2 training images per step; "
                          f"only {len(data.train_idx)} is left after holding out validation images: use more images")
    model = model.to(device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    history: list[dict] = list(resume["history"]) if resume is not None else []
    t_start = time.perf_counter()

    good_state = copy.deepcopy(model.state_dict())

    def checkpoint(row: EpochStats):
        nonlocal good_state
        history.append(row.to_dict())
        good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if checkpoint_dir is not None:
            partial = Run(config=config, model=model, history=list(history), status="checkpoint",
                          message=f"checkpoint after {len(history)} epochs", seconds=time.perf_counter() - t_start,
                          device=str(device))
            save_run(partial, checkpoint_dir)
        if on_snapshot is not None:
            was = model.training
            model.eval()
            with torch.no_grad():
                on_snapshot(model, row)
            model.train(was)

    def finish(status: str, message: str = "") -> Run:
        plain_layout(model)
        if status == "diverged":
            model.load_state_dict(good_state)
        run = Run(config=config, model=model.eval(), history=history, status=status, message=message,
                  seconds=time.perf_counter() - t_start, device=str(device))
        return run

    # Greedy layer-wise pretraining (stacked AE): each encoder block with its mirror decoder block,
    # trained to reconstruct the codes of the (frozen) blocks below it.
    def keep_state(st: dict) -> None:
        if on_state is not None:
            on_state(dict(st, history=list(history), seconds=time.perf_counter() - t_start))

    if config.pretrain_epochs and isinstance(model, MLPAutoencoder) and resume is None:
        pairs = model.layer_pairs()
        for i, (enc, dec) in enumerate(pairs):
            below = [p[0] for p in pairs[:i]]

            def encode_below(x, below=below):
                h = x.flatten(1)  # [b, 784]
                for block in below:
                    h = block(h)
                return h if below else x  # pixels for the outermost pair

            pair = torch.nn.Sequential(torch.nn.Flatten(), enc, dec) if i == 0 else torch.nn.Sequential(enc, dec)
            if i == 0:
                pair = _Reshaped(pair)
            phase = f"pretrain layer {i + 1}/{len(pairs)}"
            rows, how = _run_epochs(
                pair, list(enc.parameters()) + list(dec.parameters()), data, config, config.pretrain_epochs, phase,
                config.loss if i == 0 else "mse", on_progress, on_epoch, stop, generator, t_start,
                encode_fn=encode_below if i else None, checkpoint=checkpoint,
                noise=None if i == 0 else Noise(),  # inner layers see clean codes
                fast=fast,
            )
            if how == "stopped":
                return finish("stopped", f"stopped during {phase}")
            if how == "diverged":
                raise TrainingDiverged(_diverged_message(config), finish("diverged", _diverged_message(config)))

    rows, how = _run_epochs(
        model, model.parameters(), data, config, config.epochs, "train", config.loss,
        on_progress, on_epoch, stop, generator, t_start, checkpoint=checkpoint,
        state=resume, on_state=keep_state if on_state is not None else None, max_steps=max_steps, on_step=on_step,
        fast=fast,
    )
    if how == "diverged":
        msg = _diverged_message(config)
        raise TrainingDiverged(msg, finish("diverged", msg))
    if how == "stopped":
        done = sum(1 for r in history if r["phase"] == "train")
        return finish("stopped", f"stopped by the user after {done} of {config.epochs} epochs")
    if how == "paused":
        return finish("paused", f"paused after {max_steps} step(s)")
    return finish("done")


STATE_VERSION = 1
STATE_KEYS = ("version", "phase", "epoch", "step", "perm", "loss_sum", "seen", "elapsed", "model", "optimizer",
              "scheduler", "generator", "history")


def check_state(state: dict, config: TrainConfig) -> dict:
    """A training state to resume from, checked (ConfigError with a plain message if it cannot be used)."""
    if not isinstance(state, dict) or any(k not in state for k in STATE_KEYS) or state["version"] != STATE_VERSION:
        raise ConfigError("the saved training state is incomplete or from another version; start the run again")
    if state["phase"] != "train" or not 1 <= int(state["epoch"]) <= config.epochs:
        raise ConfigError("the saved training state does not belong to this run's settings")
    return state


def save_state(state: dict, path) -> None:
    """Write a training state atomically (a crash never leaves half a file)."""
    import os
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path) -> dict:
    """Read a training state written by save_state (tensors and plain values only: nothing is unpickled)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or foreign file: the caller falls back to the last finished epoch
        raise ConfigError(f"the saved training state cannot be read: {type(e).__name__}") from None


class _Reshaped(torch.nn.Module):
    """Wraps a flat pixel autoencoder so it maps [B,1,28,28] to [B,1,28,28]."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x).view(-1, 1, 28, 28)


def _diverged_message(config: TrainConfig) -> str:
    return (
        f"training diverged: the loss became NaN or infinite (learning rate {config.lr:g} with "
        f"{config.optimizer}). The weights of the last good epoch were kept; lower the learning rate."
    )
