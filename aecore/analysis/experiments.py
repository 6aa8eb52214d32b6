"""The tutorials' comparisons as functions: latent sweep, A/B, AE vs PCA, probes, anomaly detection, stacked AE."""


from __future__ import annotations

import dataclasses

import numpy as np
import torch

from aecore.analysis import classify, recipes
from aecore.analysis.pca import pca_codes, pca_mse, pca_reconstruct
from aecore.analysis.projection import project
from aecore.analysis.results import Result
from aecore.data.catalog import load_dataset
from aecore.data.dataset import Dataset, subset_indices
from aecore.errors import AELabError, stop_point
from aecore.models.evaluate import encode, evaluate, model_device, mse, per_image_errors, reconstruct
from aecore.training.config import TrainConfig
from aecore.training.runs import Run
from aecore.training.trainer import Progress, train

N_SHOW = 8  # test images shown in reconstruction grids


# The A/B presets: name -> each side's TrainConfig fields. The settings (and each preset's shared epochs, images and
# batch) live in aecore.analysis.recipes, with what each shows at its defaults and the seconds it takes.
AB_PRESETS = {name: tuple(side.fields() for side in r.sides) for name, r in recipes.AB.items()}


class ExperimentError(AELabError):
    """Invalid experiment parameters."""


def _staged(on_progress, stage: int, stages: int, label: str):
    if on_progress is None:
        return None

    def cb(p: Progress):
        on_progress(dataclasses.replace(p, phase=f"{label} · {p.phase}", stage=stage, stages=stages))

    return cb


def _stopped(stop) -> bool:
    return stop is not None and stop.is_set()


def _show_idx(dataset: Dataset, n: int = N_SHOW, seed: int = 0) -> np.ndarray:
    """n test images, one per digit (per class, taking the classes in turn) where possible (stable across experiments)."""
    from aecore.data.dataset import show_images

    return show_images(dataset, n, seed, repeat=True)


def _base(config: TrainConfig | dict) -> TrainConfig:
    return config if isinstance(config, TrainConfig) else TrainConfig(**config)


# ---- 1. latent size sweep ----------------------------------------------------------------------
def latent_sweep(
    base: TrainConfig | dict,
    latents: list[int],
    dataset: Dataset | None = None,
    on_progress=None,
    stop=None,
) -> Result:
    """Train `base` at each latent size; train/val/test loss, PCA's test MSE at the same k, reconstructions."""
    base = _base(base)
    latents = sorted(set(int(k) for k in latents))
    if not latents:
        raise ExperimentError("give at least one latent size")
    from aecore.models.registry import get_spec

    if get_spec(base.model).latent is None:
        raise ExperimentError(f"{base.model} has a fixed latent size; sweep a dense model or 'conv'")
    for k in latents:
        dataclasses.replace(base, latent=k).resolved()  # validates every k up front
    dataset = dataset or load_dataset(base.dataset)
    show = _show_idx(dataset)
    rows, recons = [], []
    status = "done"
    for i, k in enumerate(latents, 1):
        if _stopped(stop):
            status = "stopped"
            break
        run = train(dataclasses.replace(base, latent=k), dataset, on_progress=_staged(on_progress, i, len(latents), f"k={k}"), stop=stop)
        if run.status == "stopped":
            status = "stopped"
            break
        ev = evaluate(run.model, dataset.test)
        rows.append({
            "latent": k,
            "train_loss": run.final_train_loss,
            "val_loss": run.final_val_loss,
            "test_mse": ev["test_mse"],
            "pca_test_mse": pca_mse(dataset.test.x, k, dataset),
            "seconds": run.seconds,
        })
        recons.append(reconstruct(run.model, dataset.test.x[show])[1])
    images = {"originals": dataset.test.x[show].astype(np.float32) / 255.0}
    if recons:
        images["recons"] = np.stack(recons)  # [n_k, N_SHOW, 28, 28]
    params = {"base": base.to_dict(), "latents": latents}
    return Result("sweep", params, {"sweep": rows}, images, {"rows": rows}, status)


# ---- 2. architecture A/B -----------------------------------------------------------------------
def compare(
    configs: dict[str, TrainConfig | dict],
    dataset: Dataset | None = None,
    on_progress=None,
    stop=None,
) -> Result:
    """Train each labelled config; loss curves, final numbers and reconstructions of the same images."""
    if len(configs) < 2:
        raise ExperimentError("compare needs at least two configurations")
    cfgs = {label: _base(c) for label, c in configs.items()}
    for c in cfgs.values():
        c.resolved()
    dataset = dataset or load_dataset(next(iter(cfgs.values())).dataset)
    show = _show_idx(dataset)
    curves, finals, images = [], [], {"originals": dataset.test.x[show].astype(np.float32) / 255.0}
    status = "done"
    for i, (label, cfg) in enumerate(cfgs.items(), 1):
        if _stopped(stop):
            status = "stopped"
            break
        run = train(cfg, dataset, on_progress=_staged(on_progress, i, len(cfgs), label), stop=stop)
        for r in run.train_history:
            curves.append({"model": label, "epoch": r["epoch"], "train_loss": r["train_loss"], "val_loss": r["val_loss"]})
        ev = evaluate(run.model, dataset.test)
        finals.append({"model": label, "config": run.config.describe(), "final_train_loss": run.final_train_loss,
                       "final_val_loss": run.final_val_loss, "test_mse": ev["test_mse"], "test_bce": ev["test_bce"],
                       "psnr": ev["psnr"], "seconds": run.seconds})
        images[f"recon:{label}"] = reconstruct(run.model, dataset.test.x[show])[1]
        if run.status == "stopped":
            status = "stopped"
            break
    params = {label: c.to_dict() for label, c in cfgs.items()}
    return Result("compare", params, {"curves": curves, "final": finals}, images, {"final": finals}, status)


def ab_configs(preset: str, epochs: int | None = None, limit=recipes.DEFAULT, seed: int = 0,
               batch_size: int | None = None, **common) -> dict[str, TrainConfig]:
    """The labelled configs of a named A/B preset (see AB_PRESETS) with shared training settings: epochs, limit
    (None = all images) and batch_size default to the preset's recipe (aecore.analysis.recipes.AB); `common`
    (dataset, device, ...) applies to both sides."""
    if preset not in AB_PRESETS:
        raise ExperimentError(f"unknown comparison {preset!r}; choose one of {', '.join(AB_PRESETS)}")
    return recipes.ab_defaults(preset, epochs=epochs, limit=limit, seed=seed, batch_size=batch_size, **common)


# ---- 3. AE vs PCA ------------------------------------------------------------------------------
def ae_vs_pca(run: Run, dataset: Dataset | None = None, n_points: int = 2000, seed: int = 0, stop=None) -> Result:
    """The run's test error and reconstructions next to PCA's at the same k, and both 2-D code maps (`stop`: looked at
    between the steps; Stopped ends it)."""
    dataset = dataset or load_dataset(run.config.dataset)
    k = run.model.latent_dim
    if k > 256:
        raise ExperimentError(f"PCA is fitted with at most 256 components; this model's code has {k}")
    stop_point(stop)
    ev = evaluate(run.model, dataset.test)
    stop_point(stop)
    p_mse = pca_mse(dataset.test.x, k, dataset)
    stop_point(stop)
    show = _show_idx(dataset)
    idx = subset_indices(dataset.test.y, limit=min(n_points, len(dataset.test)), seed=seed)
    ae_z = encode(run.model, dataset.test.x[idx])
    ae_xy = project(ae_z, "raw" if k <= 2 else "pca", seed=seed).xy
    pca_xy = pca_codes(dataset.test.x[idx], 2, dataset)
    stop_point(stop)
    pixels = int(np.prod(dataset.image_shape))  # 784 for MNIST
    table = [
        {"method": f"autoencoder ({run.config.model})", "k": k, "test_mse": ev["test_mse"],
         "squared_error_per_image": ev["test_mse"] * pixels},
        {"method": "PCA", "k": k, "test_mse": p_mse, "squared_error_per_image": p_mse * pixels},
    ]
    codes = [{"index": int(i), "digit": int(dataset.test.y[i]), "ae_x": float(a[0]), "ae_y": float(a[1]),
              "pca_x": float(b[0]), "pca_y": float(b[1])} for i, a, b in zip(idx, ae_xy, pca_xy)]
    images = {
        "originals": dataset.test.x[show].astype(np.float32) / 255.0,
        "ae": reconstruct(run.model, dataset.test.x[show])[1],
        "pca": pca_reconstruct(dataset.test.x[show], k, dataset),
    }
    summary = {"k": k, "ae_test_mse": ev["test_mse"], "pca_test_mse": p_mse, "ae_2d": "raw" if k <= 2 else "pca of codes"}
    return Result("ae_vs_pca", {"run": run.config.to_dict(), "n_points": n_points, "seed": seed}, {"errors": table, "codes": codes}, images, summary)


# ---- 4. features for classification ------------------------------------------------------------
def _fit_score(train_x, train_y, test_x, test_y, seed):
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=5)
    return (
        float(classify.linear_probe(seed).fit(train_x, train_y).score(test_x, test_y)),
        float(knn.fit(train_x, train_y).score(test_x, test_y)),
    )


def probe(run: Run, labels: int = 1000, dataset: Dataset | None = None, seed: int = 0, n_test: int = 10000,
          stop=None) -> Result:
    """Logistic regression and 5-NN accuracy on the run's codes vs PCA codes of the same size vs raw pixels (`stop`:
    looked at between the steps; Stopped ends it)."""
    dataset = dataset or load_dataset(run.config.dataset)
    if not 10 <= labels <= len(dataset.train):
        raise ExperimentError(f"labels must be between 10 and {len(dataset.train)}, got {labels}")
    tr = subset_indices(dataset.train.y, limit=labels, seed=seed)
    te = subset_indices(dataset.test.y, limit=min(n_test, len(dataset.test)), seed=seed)
    ytr, yte = dataset.train.y[tr], dataset.test.y[te]
    k = run.model.latent_dim
    feats = {
        "latent": lambda: (encode(run.model, dataset.train.x[tr]), encode(run.model, dataset.test.x[te])),
        "pca": lambda: (pca_codes(dataset.train.x[tr], min(k, 256), dataset),
                        pca_codes(dataset.test.x[te], min(k, 256), dataset)),
        "pixels": lambda: (dataset.train.x[tr].reshape(len(tr), -1) / 255.0,
                           dataset.test.x[te].reshape(len(te), -1) / 255.0),
    }
    rows, summary = [], {"labels": labels, "latent": k}
    for name, features in feats.items():
        stop_point(stop)
        a, b = features()
        stop_point(stop)
        lr_acc, knn_acc = _fit_score(a, ytr, b, yte, seed)
        rows.append({"features": name, "dims": a.shape[1], "logreg_acc": lr_acc, "knn_acc": knn_acc})
        summary[f"{name}_logreg_acc"] = lr_acc
        summary[f"{name}_knn_acc"] = knn_acc
    return Result("probe", {"run": run.config.to_dict(), "labels": labels, "seed": seed, "n_test": n_test}, {"probe": rows}, {}, summary)


def finetune(
    run: Run,
    labels: int = 1000,
    epochs: int = 5,
    dataset: Dataset | None = None,
    seed: int = 0,
    lr: float = 3e-3,
    on_progress=None,
    stop=None,
) -> Result:
    """Semi-supervised: a classifier head on the code, trained with the encoder frozen, then (a fresh head) fine-tuned
    with it; both through aecore.analysis.classify.finetune, batches of 32."""
    import copy

    from aecore.models.autoencoders import Classifier

    dataset = dataset or load_dataset(run.config.dataset)
    if not 10 <= labels <= len(dataset.train):
        raise ExperimentError(f"labels must be between 10 and {len(dataset.train)}, got {labels}")
    if not 1 <= epochs <= 200:
        raise ExperimentError(f"epochs must be between 1 and 200, got {epochs}")
    dev = model_device(run.model)
    rows = []
    for stage, (mode, freeze) in enumerate([("head only (frozen encoder)", True), ("fine-tuned encoder + head", False)], 1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            clf = Classifier(copy.deepcopy(run.model), dataset.n_classes).to(dev)
        res = classify.finetune(clf, dataset, epochs, 32, lr, seed, labels, freeze, on_progress, stop, mode, stage, 2)
        rows.append({"mode": mode, "labels": labels, "epochs": epochs, "test_acc": res["test_acc"]})
        if res["status"] == "stopped":
            break
    summary = {r["mode"]: r["test_acc"] for r in rows}
    return Result("finetune", {"run": run.config.to_dict(), "labels": labels, "epochs": epochs, "seed": seed, "lr": lr},
                  {"finetune": rows}, {}, summary, "stopped" if _stopped(stop) else "done")


# ---- 5. one digit only: anomaly detection ------------------------------------------------------
def anomaly(run: Run, normal: int | tuple[int, ...] | None = None, dataset: Dataset | None = None,
            stop=None) -> Result:
    """Reconstruction error as an anomaly score: ROC AUC of 'not normal' overall and per other digit (`stop`: looked
    at between the steps; Stopped ends it)."""
    from sklearn.metrics import roc_auc_score

    dataset = dataset or load_dataset(run.config.dataset)
    if normal is None:
        normal = run.config.digits
        if not normal:
            raise ExperimentError("say which digits are normal (the run was trained on all digits)")
    normal = (normal,) if isinstance(normal, int) else tuple(normal)
    n_classes = dataset.n_classes
    if not normal or any(d not in range(n_classes) for d in normal):
        raise ExperimentError(f"normal digits (classes) must be 0-{n_classes - 1}, got {normal}")
    y = dataset.test.y
    stop_point(stop)
    err = per_image_errors(run.model, dataset.test.x)["mse"]
    stop_point(stop)
    is_anom = ~np.isin(y, normal)
    if is_anom.all() or not is_anom.any():
        raise ExperimentError("need both normal and anomalous test images")
    auc = float(roc_auc_score(is_anom, err))
    per = {}
    rows = []
    for d in range(n_classes):
        sel = y == d
        if not sel.any():
            continue
        row = {"digit": d, "normal": d in normal, "mean_mse": float(err[sel].mean()), "median_mse": float(np.median(err[sel])), "n": int(sel.sum())}
        if d not in normal:
            m = np.isin(y, normal) | sel
            row["auc"] = per[str(d)] = float(roc_auc_score(sel[m], err[m]))
        rows.append(row)
    show = np.array([np.flatnonzero(y == d)[0] for d in range(min(n_classes, 10)) if (y == d).any()])
    ins, outs = reconstruct(run.model, dataset.test.x[show])
    errors = [{"index": int(i), "digit": int(y[i]), "mse": float(e)} for i, e in enumerate(err)]
    summary = {"normal": list(normal), "auc": auc, "per_digit_auc": per}
    return Result("anomaly", {"run": run.config.to_dict(), "normal": list(normal)},
                  {"per_digit": rows, "errors": errors}, {"originals": ins, "recons": outs}, summary)


# ---- 6. stacked AE: greedy layer-wise pretraining vs end to end --------------------------------
def stacked_vs_endtoend(
    base: TrainConfig | dict,
    pretrain_epochs: int = 1,
    dataset: Dataset | None = None,
    on_progress=None,
    stop=None,
) -> Result:
    """The same deep MLP trained end to end and with greedy layer-wise pretraining first."""
    base = _base(base)
    if pretrain_epochs < 1:
        raise ExperimentError("pretraining needs at least 1 epoch per layer")
    configs = {
        "end to end": dataclasses.replace(base, pretrain_epochs=0),
        f"layer-wise pretrained ({pretrain_epochs} ep/layer)": dataclasses.replace(base, pretrain_epochs=pretrain_epochs),
    }
    res = compare(configs, dataset, on_progress, stop)
    res.kind = "stacked"
    return res


# ---- denoising: error versus noise level -------------------------------------------------------
def noise_curve(runs: dict[str, Run], kind: str, levels: list[float], dataset: Dataset | None = None,
                n: int = 1000, seed: int = 0, stop=None) -> list[dict]:
    """Test MSE against the clean images at each noise level: of the corrupted input and of each run's output
    (`stop`: looked at before each run at each level; Stopped ends it)."""
    from aecore.data.dataset import float_images
    from aecore.data.noise import Noise, corrupt

    if not runs:
        raise ExperimentError("give at least one run")
    dataset = dataset or load_dataset(next(iter(runs.values())).config.dataset)
    idx = subset_indices(dataset.test.y, limit=min(n, len(dataset.test)), seed=seed)
    x = dataset.test.x[idx]
    clean = float_images(x)  # [n,1,28,28]
    rows = []
    for level in levels:
        noise = Noise(kind, float(level))
        for label, run in runs.items():
            stop_point(stop)
            err = per_image_errors(run.model, x, noise, seed)["mse"]
            rows.append({"level": float(level), "model": label, "mse": float(err.mean())})
        noisy = corrupt(clean, noise, torch.Generator().manual_seed(seed))  # the same draw the models saw
        rows.append({"level": float(level), "model": "corrupted input", "mse": mse(noisy, clean)})
    return rows
