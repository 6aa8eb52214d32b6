"""Classes from codes on any data set: the linear probe, a classifier head on an autoencoder's code fine-tuned with its
encoder (the one fine-tuning loop), accuracy overall and per class, and the conv-AE tutorial's Flowers102 experiment."""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aecore.data.catalog import load_dataset
from aecore.data.dataset import DataError, Dataset, as_nchw, device_images, show_images, subset_indices, to_float
from aecore.errors import AELabError
from aecore.models.autoencoders import Autoencoder, Classifier
from aecore.models.colour import VARIANT_MODEL, VARIANT_TEXT, VARIANTS, FlowersAE, FlowersHead, tutorial_variant
from aecore.models.evaluate import evaluate, model_device, reconstruct
from aecore.training.config import ConfigError, TrainConfig
from aecore.training.trainer import Progress, _is_stopped, steps_per_epoch, train

MAX_EPOCHS = 500


class ClassifyError(AELabError):
    """Invalid settings for fine-tuning or the comparison."""


class MapClassifier(nn.Module):
    """The tutorial's classifier: the autoencoder's conv encoder and a head on its 16-channel map."""

    def __init__(self, autoencoder: FlowersAE, head: FlowersHead):
        super().__init__()
        self.encoder = autoencoder.encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))  # [B, n_classes]


def make_classifier(autoencoder: Autoencoder, n_classes: int, batchnorm: bool | None = None,
                    dropout: bool | None = None) -> nn.Module:
    """A classifier on a copy of the autoencoder's encoder: the tutorial's head for its Flowers models
    (BatchNorm as the encoder has, dropout when asked), a dropout + linear head on the code for the others."""
    ae = copy.deepcopy(autoencoder)
    if isinstance(ae, FlowersAE):
        bn = ae.batchnorm if batchnorm is None else batchnorm
        return MapClassifier(ae, FlowersHead(ae.side, n_classes, batchnorm=bn, dropout=bool(dropout)))
    return Classifier(ae, n_classes=n_classes)


def fit_autoencoder(model: Autoencoder, dataset: Dataset, epochs: int = 5, batch: int = 255, lr: float = 1e-3,
                    seed: int = 0, limit: int | None = None, on_progress: Callable | None = None, stop=None,
                    phase: str = "autoencoder", stage: int = 1, stages: int = 1, name: str = "conv") -> list[dict]:
    """Train an autoencoder on the training images through the trainer (the tutorial's recipe: MSE, Adam 1e-3,
    batch 255, no validation split), in place; `name`: its registry name, for the run's config. Returns one row per
    epoch (epoch, train_loss, seconds)."""
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ClassifyError(f"epochs must be between 1 and {MAX_EPOCHS}, got {epochs}")
    n = len(subset_indices(dataset.train.y, None, limit, seed))
    if n < 2:
        raise ClassifyError("need at least 2 training images")
    config = TrainConfig(model=name, dataset=dataset.name, epochs=epochs, batch_size=min(batch, n), lr=lr, seed=seed,
                         limit=limit, val_fraction=0.0, loss="mse", optimizer="adam",
                         device=model_device(model).type)
    staged = None if on_progress is None else (
        lambda p: on_progress(dataclasses.replace(p, phase=phase, stage=stage, stages=stages)))
    try:
        run = train(config, dataset, on_progress=staged, stop=stop, model=model)
    except ConfigError as e:
        raise ClassifyError(str(e)) from None
    return [{"epoch": r["epoch"], "train_loss": r["train_loss"], "seconds": r["seconds"]} for r in run.history]


@torch.no_grad()
def predict(clf: nn.Module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Predicted class of each uint8 image [N,H,W(,C)] -> [N] int64."""
    clf.eval()
    dev, images = model_device(clf), as_nchw(x)
    out = [clf(to_float(images[i:i + batch].to(dev))).argmax(1).cpu() for i in range(0, len(images), batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


def accuracy(clf: nn.Module, x: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    """Overall accuracy, accuracy per class ([n_classes], NaN for a class with no images) and the confusion
    matrix [true, predicted]."""
    pred = predict(clf, x)
    y = np.asarray(y, np.int64)
    conf = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(conf, (y, pred), 1)
    n = conf.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(n > 0, np.diag(conf) / np.maximum(n, 1), np.nan)
    return {"accuracy": float((pred == y).mean()) if len(y) else float("nan"), "per_class": per, "confusion": conf}


def finetune(classifier: nn.Module, dataset: Dataset, epochs: int = 5, batch: int = 64, lr: float = 1e-3,
             seed: int = 0, labels: int | None = None, freeze_encoder: bool = False, on_progress: Callable | None = None,
             stop=None, phase: str = "classifier", stage: int = 1, stages: int = 1) -> dict:
    """The one fine-tuning loop: train a classifier (encoder + head; only the head with `freeze_encoder`) with
    cross-entropy and Adam on `labels` labelled training images (None: all), batches as the trainer takes them;
    returns train and test accuracy, per class, and its history."""
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ClassifyError(f"epochs must be between 1 and {MAX_EPOCHS}, got {epochs}")
    n_classes = dataset.n_classes
    dev = model_device(classifier)
    images = device_images(dataset.train.x, dev)  # [N,C,H,W] uint8, on the device once
    idx = torch.as_tensor(subset_indices(dataset.train.y, None, labels, seed))
    if len(idx) < 2:
        raise ClassifyError("need at least 2 labelled training images")
    y_all = torch.as_tensor(np.asarray(dataset.train.y, np.int64)).to(dev)
    body = classifier.encoder if isinstance(classifier, MapClassifier) else classifier.autoencoder
    params = classifier.head.parameters() if freeze_encoder else classifier.parameters()
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = len(idx)
    bs = min(batch, n)
    steps = steps_per_epoch(n, bs)  # the last batch takes what is left (never a lone image: BatchNorm)
    history, t_start, status = [], time.perf_counter(), "done"
    for ep in range(1, epochs + 1):
        classifier.train()
        if freeze_encoder:
            body.eval()
        perm, total, right, seen, t0 = idx[torch.randperm(len(idx), generator=g)].to(dev), 0.0, 0, 0, time.perf_counter()
        for s in range(steps):
            if _is_stopped(stop):
                status = "stopped"
                break
            b = perm[s * bs:(s + 1) * bs if s + 1 < steps else n]  # [b] indices of this batch
            x, y = to_float(images[b]), y_all[b]  # [b,C,H,W] in [0,1], [b]
            logits = classifier(x)  # [b, n_classes]
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            right += int((logits.argmax(1) == y).sum())
            seen += len(b)
        if status == "stopped":
            break
        dt = time.perf_counter() - t0
        history.append({"epoch": ep, "loss": total / seen, "train_acc_running": right / seen, "seconds": dt})
        if on_progress is not None:
            on_progress(Progress(phase, ep, epochs, steps, steps, total / seen, seen / max(dt, 1e-9),
                                 time.perf_counter() - t_start, stage, stages))
    lab = idx.numpy()
    tr = accuracy(classifier, dataset.train.x[lab], dataset.train.y[lab], n_classes)
    te = accuracy(classifier, dataset.test.x, dataset.test.y, n_classes)
    return {"train_acc": tr["accuracy"], "test_acc": te["accuracy"], "per_class": te["per_class"],
            "confusion": te["confusion"], "history": history, "status": status, "labels": len(lab),
            "seconds": time.perf_counter() - t_start}


def linear_probe(seed: int = 0):
    """The linear probe on codes (the Experiments page's and the latent-space map's): a scaled logistic regression,
    unfitted (sklearn pipeline; fit(codes [n,k], labels [n]))."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=seed))


def per_class_rows(dataset: Dataset, per_class: np.ndarray, **extra) -> list[dict]:
    """Rows {class, name, n_test, test_acc} (plus `extra` columns) for a per-class accuracy array."""
    counts = np.bincount(np.asarray(dataset.test.y, np.int64), minlength=dataset.n_classes)
    names = dataset.class_names
    return [{**extra, "class": i, "name": names[i], "n_test": int(counts[i]),
             "test_acc": None if np.isnan(per_class[i]) else float(per_class[i])} for i in range(dataset.n_classes)]


# ---- the tutorial's experiment ------------------------------------------------------------------
def tutorial_experiment(dataset: Dataset | str, variants: tuple[str, ...] = VARIANTS, ae_epochs: int = 5,
                        clf_epochs: int = 5, ae_batch: int = 255, clf_batch: int = 64, lr: float = 1e-3,
                        seed: int = 0, limit: int | None = None, labels: int | None = None,
                        device: str | torch.device = "cpu", on_progress: Callable | None = None, stop=None):
    """The conv-AE tutorial's experiment on one data set: for each variant (base -> BatchNorm -> BatchNorm +
    dropout -> upsampling decoder) train the autoencoder (MSE, Adam), then fine-tune its encoder with the
    variant's head (cross-entropy, Adam); an accuracy table, accuracy per class and reconstructions.

    Returns an aecore.analysis.results.Result of kind "flowers": tables "accuracy" (variant, description, ae_test_mse,
    train_acc, test_acc, gap, chance, seconds), "per_class" (variant, class, name, n_test, test_acc) and "history";
    images "originals" and "recon:<variant>" ([n,H,W] or [n,H,W,3] floats in [0, 1]); summary
    {variant: test accuracy, "chance": 1/classes}. The tutorial's own settings are 100 AE and 60 classifier
    epochs at 100x100 (reported: base about 15%, the upsampling decoder about 26% on Flowers102).
    """
    from aecore.analysis.results import Result

    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise ClassifyError(f"variants must be some of {', '.join(VARIANTS)}, got {', '.join(bad) or 'none'}")
    c, s, _ = ds.image_shape
    try:
        for v in variants:  # every variant builds at this image size: say so before any training
            tutorial_variant(v, c, s, ds.n_classes)
    except ValueError as e:
        raise ClassifyError(str(e)) from None
    show = show_images(ds)
    acc_rows, class_rows, hist_rows = [], [], []
    images = {"originals": (ds.test.x[show].astype(np.float32) / 255.0)}
    status, stages = "done", 2 * len(variants)
    for i, v in enumerate(variants):
        if _is_stopped(stop):
            status = "stopped"
            break
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ae, head = tutorial_variant(v, c, s, ds.n_classes)  # fresh weights from the seed
        ae.to(device)
        t0 = time.perf_counter()
        rows = fit_autoencoder(ae, ds, ae_epochs, ae_batch, lr, seed, limit, on_progress, stop,
                               f"{v} · autoencoder", 2 * i + 1, stages, name=VARIANT_MODEL[v])
        hist_rows += [{"variant": v, "phase": "autoencoder", **r} for r in rows]
        if _is_stopped(stop):
            status = "stopped"
            break
        mse = evaluate(ae, ds.test)["test_mse"]
        images[f"recon:{v}"] = reconstruct(ae, ds.test.x[show])[1]  # [n,H,W(,C)] in [0, 1]
        clf = MapClassifier(ae, head).to(device)  # the autoencoder is not used after this
        res = finetune(clf, ds, clf_epochs, clf_batch, lr, seed, labels, False, on_progress, stop,
                       f"{v} · classifier", 2 * i + 2, stages)
        hist_rows += [{"variant": v, "phase": "classifier", **r} for r in res["history"]]
        if res["status"] == "stopped":
            status = "stopped"
            break
        acc_rows.append({"variant": v, "description": VARIANT_TEXT[v], "ae_test_mse": mse, "train_acc": res["train_acc"],
                         "test_acc": res["test_acc"], "gap": res["train_acc"] - res["test_acc"],
                         "chance": 1.0 / ds.n_classes, "seconds": time.perf_counter() - t0})
        class_rows += per_class_rows(ds, res["per_class"], variant=v)
    params = {"dataset": ds.name, "variants": list(variants), "ae_epochs": ae_epochs, "clf_epochs": clf_epochs,
              "ae_batch": ae_batch, "clf_batch": clf_batch, "lr": lr, "seed": seed, "limit": limit, "labels": labels}
    summary = {r["variant"]: r["test_acc"] for r in acc_rows}
    summary["chance"] = 1.0 / ds.n_classes
    return Result("flowers", params, {"accuracy": acc_rows, "per_class": class_rows, "history": hist_rows}, images,
                  summary, status)


def classify_run(run, dataset: Dataset | None = None, epochs: int = 5, labels: int | None = None, lr: float = 1e-3,
                 seed: int = 0, freeze_encoder: bool = False, on_progress=None, stop=None) -> dict:
    """A classifier head on a trained run's code (the tutorial's head for its Flowers models), fine-tuned with the
    encoder (or alone with `freeze_encoder`): {test_acc, train_acc, per_class rows, confusion, ...}."""
    ds = dataset or load_dataset(run.config.dataset)
    model = run.model
    if isinstance(model, FlowersAE) and (model.channels, model.size, model.size) != ds.image_shape:
        raise DataError(f"the run was trained on {model.channels}x{model.size}x{model.size} images but "
                        f"{ds.name} has {'x'.join(map(str, ds.image_shape))}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = make_classifier(model, ds.n_classes).to(model_device(model))
    res = finetune(clf, ds, epochs, 64, lr, seed, labels, freeze_encoder, on_progress, stop)
    res["per_class"] = per_class_rows(ds, res["per_class"])
    res["confusion"] = res["confusion"].tolist()
    res["chance"] = 1.0 / ds.n_classes
    res["dataset"] = ds.name
    return res
