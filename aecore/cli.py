"""The command line: list models, train, evaluate, project, and run the tutorials' experiments."""

from __future__ import annotations

import argparse
import dataclasses
import csv
import json
import sys
import time
from pathlib import Path


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise CliError(message)


def _emit(obj) -> None:
    print(json.dumps(obj, default=float), flush=True)


MAX_LIST = 64  # at most this many numbers in a list like --latents (each one is a training run)


def _int_list(text: str, max_items: int = MAX_LIST) -> list[int]:
    """'2,8,32' or '10-100:10' -> ints (ranges are counted before they are built)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                rng, _, step = part.partition(":")
                lo, hi = (int(v) for v in rng.split("-"))
                r = range(lo, hi + 1, int(step) if step else 1)
            else:
                r = range(int(part), int(part) + 1)
        except ValueError:
            raise CliError(f"expected numbers like 2,8,32 or 10-100:10 (a step of at least 1), got {text!r}") from None
        if len(out) + len(r) > max_items:
            raise CliError(f"{text!r} gives more than {max_items} numbers; each one is a training run: ask for fewer")
        out += list(r)
    if not out:
        raise CliError("expected at least one number")
    return out


def _bounded(lo, hi, cast=int):
    """An argparse type: a number in [lo, hi] (whole for int), else one clear line."""
    import math

    def parse(text: str):
        try:
            v = float(text) if cast is float else int(text)
        except ValueError:
            v = None
        if v is None or not math.isfinite(v) or not lo <= v <= hi:
            kind = "a whole number" if cast is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {kind} between {lo:,} and {hi:,}, got {text!r}")
        return v

    parse.__name__ = "bounded number"
    return parse


SEED = _bounded(0, 2**31 - 1)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """The training flags; a flag left out is None and takes TrainConfig's default (see _config)."""
    p.add_argument("--model")
    p.add_argument("--latent", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--schedule", help="constant | cosine | onecycle")
    p.add_argument("--loss")
    p.add_argument("--optimizer", help="adam | adamw | rmsprop | sgd")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--precision", help="auto (bf16 on a GPU) | fp32 | bf16")
    p.add_argument("--width", type=int, help="conv: channels of the first layer (default 32)")
    p.add_argument("--hidden-act")
    p.add_argument("--out-act")
    p.add_argument("--upsample")
    p.add_argument("--noise", help="masking:0.5 | gaussian:0.3 | saltpepper:0.2")
    p.add_argument("--digits", help="train on these digits only, e.g. 0,1")
    p.add_argument("--limit", type=int, help="at most this many training images")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--pretrain-epochs", type=int, help="greedy layer-wise pretraining epochs per layer")
    p.add_argument("--seed", type=int)
    p.add_argument("--device")
    p.add_argument("--dataset")


def _config(a, base=None):
    """The TrainConfig of the training flags, over `base` (a recipe's config) where a flag is not given (imported
    here: torch is loaded only by commands that need it)."""
    from aecore.training.config import TrainConfig

    given = dict(
        model=a.model, latent=a.latent, epochs=a.epochs, batch_size=a.batch, lr=a.lr, schedule=a.schedule, loss=a.loss,
        optimizer=a.optimizer, hidden_act=a.hidden_act, out_act=a.out_act, upsample=a.upsample, noise=a.noise,
        digits=a.digits, limit=a.limit, val_fraction=a.val_fraction, pretrain_epochs=a.pretrain_epochs,
        seed=a.seed, device=a.device, dataset=a.dataset, weight_decay=a.weight_decay, precision=a.precision,
        width=a.width,
    )
    fields = dataclasses.asdict(base) if base is not None else {}
    return TrainConfig(**{**fields, **{k: v for k, v in given.items() if v is not None}}).resolved()


class _LazyChoices:
    """argparse choices read on first use, so that building the parser imports nothing heavy."""

    def __init__(self, load):
        self._load = load

    def __contains__(self, value) -> bool:
        return value in self._load()

    def __iter__(self):
        return iter(self._load())


def _ab_presets():
    from aecore.analysis.experiments import AB_PRESETS  # imports torch and scikit-learn: only for `compare`

    return list(AB_PRESETS)


def _load(path: str):
    from aecore.training.runs import load_run

    return load_run(path)


def cmd_models(a) -> None:
    from aecore.models.registry import MODELS

    for name, s in MODELS.items():
        k = f"k={s.latent} (1-256)" if s.latent is not None else f"latent {s.fixed_latent} fixed"
        if s.latent is None and s.any_shape is not None:
            k = "latent 16xLxL map"  # L from the image size: 4 at 28x28, 22 at 100x100
        print(f"{name:16s} {k:18s} {s.summary}")


def cmd_train(a) -> None:
    from aecore.data.catalog import load_dataset
    from aecore.models.evaluate import evaluate
    from aecore.training.runs import check_out_dir, save_run
    from aecore.training.config import fitting_batch, images_to_train_on
    from aecore.training.trainer import TrainingDiverged, check_config, train

    config = _config(a)
    a.out = str(check_out_dir(a.out))  # before any training: never lose work to a bad --out, never clobber files
    dataset = load_dataset(config.dataset)
    if a.batch is None:  # the default batch fits the set (a small imported set has fewer images than 256)
        config = dataclasses.replace(config, batch_size=fitting_batch(images_to_train_on(config, dataset),
                                                                      config.batch_size))
    config = check_config(config, dataset)  # batch vs data size, before a worker is busy
    t0 = time.perf_counter()

    def on_epoch(e):
        val = f"{e.val_loss:.5f}" if e.val_loss is not None else "-"
        print(f"{e.phase} epoch {e.epoch}: train_loss {e.train_loss:.5f} val_loss {val} "
              f"({e.seconds:.1f}s, {e.images_per_s:,.0f} images/s)", flush=True)

    try:
        run = train(config, dataset, on_epoch=on_epoch, checkpoint_dir=a.out)
    except TrainingDiverged as e:
        save_run(e.run, a.out)
        raise CliError(f"{e} (last good weights saved in {a.out})") from None
    save_run(run, a.out)
    ev = evaluate(run.model, dataset.test)
    hist = run.train_history
    _emit({
        "model": config.model, "latent": config.latent, "epochs": len(hist), "status": run.status,
        "train_loss": run.final_train_loss, "val_loss": run.final_val_loss,
        "test_mse": ev["test_mse"], "test_bce": ev["test_bce"], "psnr": ev["psnr"],
        "seconds": time.perf_counter() - t0,
        "images_per_s": (sum(r["images_per_s"] for r in hist) / len(hist)) if hist else 0.0,
        "device": run.device, "out": str(a.out),
    })


def cmd_eval(a) -> None:
    from aecore.data.catalog import load_dataset
    from aecore.models.evaluate import evaluate

    run = _load(a.dir)
    _emit(evaluate(run.model, load_dataset(run.config.dataset).test))


def cmd_project(a) -> None:
    from aecore.analysis.projection import project, sample_indices
    from aecore.data.catalog import load_dataset
    from aecore.models.evaluate import encode

    _check_csv_out(a.out, CSV_HEADERS["project"], a.force)
    run = _load(a.dir)
    ds = load_dataset(run.config.dataset)
    idx = sample_indices(len(ds.test), a.n, a.seed)
    proj = project(encode(run.model, ds.test.x[idx]), a.method, seed=a.seed, perplexity=a.perplexity,
                   n_neighbors=a.n_neighbors, min_dist=a.min_dist)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADERS["project"].split(","))
        for i, (x, y) in zip(idx, proj.xy):
            w.writerow([int(i), int(ds.test.y[i]), f"{x:.6g}", f"{y:.6g}"])
    _emit({"method": a.method, "n": len(idx), "out": str(out), **proj.info})


def cmd_sweep(a) -> None:
    from aecore.analysis.experiments import latent_sweep
    from aecore.analysis.recipes import sweep_defaults

    recipe = sweep_defaults(a.model or "dense")  # the Experiments page's defaults: one place
    base = _config(a, recipe.config())
    latents = _int_list(a.latents) if a.latents else list(recipe.latents)
    _check_csv_out(a.out, CSV_HEADERS["sweep"], a.force)
    res = latent_sweep(base, latents, on_progress=None)
    for r in res.tables["sweep"]:
        print(f"k={r['latent']}: train_loss {r['train_loss']:.5f} test_mse {r['test_mse']:.5f} pca_test_mse {r['pca_test_mse']:.5f}", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(res.csv("sweep"))
    _emit({"out": a.out, "rows": res.tables["sweep"]})


def cmd_probe(a) -> None:
    from aecore.analysis.experiments import probe

    _emit(probe(_load(a.dir), labels=a.labels, seed=a.seed).summary)


def cmd_anomaly(a) -> None:
    from aecore.analysis.experiments import anomaly
    from aecore.data.dataset import parse_digits

    normal = parse_digits(a.normal) if a.normal is not None else None
    _emit(anomaly(_load(a.dir), normal).summary)


# The first line each command writes to its --out CSV: an existing file is replaced only when it starts so (a
# CSV the same command wrote before) or with --force.
CSV_HEADERS = {
    "project": "index,digit,x,y",
    "pca": "index,digit,ae_x,ae_y,pca_x,pca_y",
    "sweep": "latent,",
    "compare": "model,config,",  # compare and stacked
    "flowers": "variant,description,",
    "flowers-per-class": "variant,class,",
}


def _per_class_path(out: str) -> str:
    return str(Path(out).with_suffix("")) + "-per-class.csv"


def _check_csv_out(path: str | None, header: str | None = None, force: bool = False) -> None:
    """Refuse a CSV --out that cannot be written, before any work is done; and one that exists, unless it is a CSV
    this command wrote (its first line starts with `header`) or `force`: --out precious.txt must not destroy it."""
    import os

    if path is None:
        return
    p = Path(os.path.abspath(os.path.expanduser(path)))
    if not path.strip() or p.is_dir():
        raise CliError(f"--out {path!r} is a folder; name a .csv file, e.g. {Path(path or '.') / 'out.csv'}")
    if (p.exists() or p.is_symlink()) and not force:
        if p.is_symlink() or not p.is_file():
            raise CliError(f"--out {path} exists and is not a plain file: refusing to replace it; pick a new file name "
                           "(or add --force)")
        try:
            with open(p, "rb") as f:
                first = f.read(4096).split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        except OSError as e:
            raise CliError(f"--out {path} exists and cannot be read ({e.strerror}): refusing to replace it") from None
        if header is None or not first.startswith(header):
            raise CliError(f"--out {path} exists and is not a CSV this command wrote: refusing to overwrite it; pick "
                           "a new file name (or add --force to replace it)")
    parent = p.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CliError(f"cannot write {path}: permission denied")
    import tempfile

    try:  # access() can be wrong (read-only mounts, root): really try
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror}") from None


def _write_csv(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def cmd_compare(a) -> None:
    from aecore.analysis.experiments import ab_configs, compare

    _check_csv_out(a.out, CSV_HEADERS["compare"], a.force)
    given = {k: v for k, v in dict(epochs=a.epochs, limit=a.limit, batch_size=a.batch).items() if v is not None}
    res = compare(ab_configs(a.preset, seed=a.seed, device=a.device, **given))  # the page's defaults where not given
    if a.out:
        _write_csv(a.out, res.csv("final"))
    _emit({"preset": a.preset, "final": res.tables["final"]})


def cmd_stacked(a) -> None:
    from aecore.analysis.experiments import stacked_vs_endtoend

    from aecore.analysis.recipes import stacked_defaults

    if a.model is None:  # layer-wise pretraining needs a deep MLP; TrainConfig's default (conv) has no layers to stack
        a.model = "mlp-deep"
    recipe = stacked_defaults(a.model)  # the Experiments page's defaults: one place
    config = _config(a, recipe.config())
    _check_csv_out(a.out, CSV_HEADERS["compare"], a.force)
    res = stacked_vs_endtoend(config, a.pretrain_per_layer or recipe.pretrain)
    if a.out:
        _write_csv(a.out, res.csv("final"))
    _emit({"final": res.tables["final"]})


def cmd_pca(a) -> None:
    from aecore.analysis.experiments import ae_vs_pca

    _check_csv_out(a.out, CSV_HEADERS["pca"], a.force)
    res = ae_vs_pca(_load(a.dir), n_points=a.n)
    if a.out:
        _write_csv(a.out, res.csv("codes"))
    _emit(res.summary)


def cmd_finetune(a) -> None:
    from aecore.analysis.experiments import finetune

    _emit(finetune(_load(a.dir), labels=a.labels, epochs=a.epochs, seed=a.seed).summary)


def cmd_data(a) -> None:
    from aecore.data import imported as datasets

    if a.action == "list":
        for r in datasets.listing():
            shape = f"{r['size']}x{r['size']}x{r['channels']}"
            avail = "here" if r["available"] else "download on first use"
            print(f"{r['name']:20s} {shape:10s} {r['n_classes']:4d} classes  {r['n_train']:>6,} train {r['n_test']:>6,} test"
                  f"  {r['kind']} ({avail})")
        print(f"data home: {datasets.home()}")
        return
    if a.action == "info":
        _emit({k: v for k, v in datasets.info(a.name).items() if k != "limits"})
        return
    if a.action == "remove":
        datasets.remove(a.name)
        _emit({"removed": a.name})
        return
    if a.action == "fetch":
        ds = datasets.fetch(a.source, a.size, a.grey)
        _emit({"name": ds.name, "shape": list(ds.image_shape), "n_train": len(ds.train), "n_test": len(ds.test),
               "classes": len(ds.class_names)})
        return
    # add
    shown = [time.monotonic(), -1]

    def progress(done, total):  # after every image, and while headers are read or the set written: a line every 3 s
        if total >= 1000 and done != shown[1] and (done == total or time.monotonic() - shown[0] > 3):
            shown[:] = [time.monotonic(), done]
            print(f"decoded {done:,} of {total:,} images", file=sys.stderr, flush=True)

    m = datasets.add(a.path, a.name, size=a.size, grey=True if a.grey else None, test_fraction=a.test_fraction,
                     seed=a.seed, replace=a.replace, on_progress=progress)
    for note in m["notes"]:
        print(f"note: {note}", file=sys.stderr)
    _emit({k: m[k] for k in ("name", "kind", "size", "channels", "n_train", "n_test", "classes", "notes")})


def cmd_flowers(a) -> None:
    from aecore.analysis.classify import tutorial_experiment
    from aecore.data.catalog import load_dataset

    _check_csv_out(a.out, CSV_HEADERS["flowers"], a.force)
    if a.out:
        _check_csv_out(_per_class_path(a.out), CSV_HEADERS["flowers-per-class"], a.force)
    variants = tuple(v.strip() for v in a.variants.split(",") if v.strip())
    ds = load_dataset(a.dataset)

    def on_progress(p):
        print(f"{p.phase} epoch {p.epoch}/{p.epochs}: loss {p.loss:.4f}", file=sys.stderr, flush=True)

    from aecore.analysis.recipes import colour_defaults

    d = colour_defaults(len(ds.train))  # the Experiments page's defaults for a set of this size: one place
    pick = lambda given, key: d[key] if given is None else given  # noqa: E731
    res = tutorial_experiment(ds, variants, pick(a.ae_epochs, "ae_epochs"), pick(a.clf_epochs, "clf_epochs"),
                              pick(a.ae_batch, "ae_batch"), pick(a.clf_batch, "clf_batch"), lr=pick(a.lr, "lr"),
                              seed=a.seed, limit=pick(a.limit, "limit"), labels=pick(a.labels, "labels"),
                              device=a.device, on_progress=on_progress)
    for r in res.tables["accuracy"]:
        print(f"{r['variant']:11s} test accuracy {r['test_acc']:6.1%}  train {r['train_acc']:6.1%}  "
              f"AE test MSE {r['ae_test_mse']:.4f}  ({r['description']}, {r['seconds']:.0f}s)", flush=True)
    if a.out:
        _write_csv(a.out, res.csv("accuracy"))
        _write_csv(_per_class_path(a.out), res.csv("per_class"))
    _emit({"dataset": ds.name, "chance": res.summary["chance"], "accuracy": res.tables["accuracy"]})


def cmd_classify(a) -> None:
    from aecore.analysis.classify import classify_run

    res = classify_run(_load(a.dir), epochs=a.epochs, labels=a.labels, seed=a.seed, freeze_encoder=a.freeze)
    for r in res["per_class"]:
        acc = "-" if r["test_acc"] is None else f"{r['test_acc']:.1%}"
        print(f"{r['class']:4d} {r['name'][:30]:30s} {acc:>7s} of {r['n_test']:,}", flush=True)
    _emit({k: res[k] for k in ("dataset", "test_acc", "train_acc", "chance", "labels", "seconds")})


def cmd_serve(a) -> None:
    """Several app servers over one data home behind HAProxy, until Ctrl-C."""
    import logging

    from aecore.serving.replicas import ServeConfig, serve
    from aecore.settings import current

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = serve(current(), ServeConfig(replicas=a.replicas, port=a.port, address=a.address))
    if code:
        raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m aecore", description="AE Lab: autoencoders on MNIST and your own images from the terminal")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("models", help="list the models")
    sv = sub.add_parser("serve", help="the app for a class: several servers over one data home behind HAProxy")
    sv.add_argument("--replicas", type=int, default=2, help="Streamlit server processes (1..16)")
    sv.add_argument("--port", type=int, default=8501, help="the port students open (the proxy's)")
    sv.add_argument("--address", default="0.0.0.0", help="the proxy's address (127.0.0.1: this machine only)")
    t = sub.add_parser("train", help="train a model and save the run")
    _add_train_options(t)
    t.add_argument("--out", required=True, help="run directory to write")
    e = sub.add_parser("eval", help="test-set metrics of a saved run")
    e.add_argument("dir")
    pr = sub.add_parser("project", help="2-D projection of test-set codes to CSV")
    pr.add_argument("dir")
    pr.add_argument("--method", default="pca", choices=["raw", "pca", "tsne", "umap"])
    pr.add_argument("--n", type=_bounded(1, 10000), default=2000, help="test images to project (1-10000)")
    pr.add_argument("--seed", type=SEED, default=0)
    pr.add_argument("--perplexity", type=_bounded(2, 100, float), default=30.0)
    pr.add_argument("--n-neighbors", type=_bounded(2, 200), default=15)
    pr.add_argument("--min-dist", type=_bounded(0, 1, float), default=0.1)
    pr.add_argument("--out", required=True)
    pr.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    s = sub.add_parser("sweep", help="latent size sweep to CSV (with PCA at the same k)")
    _add_train_options(s)
    s.add_argument("--latents", "--latent-list", dest="latents", default=None,
                   help="e.g. 2,8,32 or 1-10 (default: the model's sweep on the Experiments page)")
    s.add_argument("--out", required=True)
    s.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    pb = sub.add_parser("probe", help="classification accuracy on codes vs PCA vs pixels")
    pb.add_argument("dir")
    pb.add_argument("--labels", type=_bounded(10, 60000), default=1000)
    pb.add_argument("--seed", type=SEED, default=0)
    an = sub.add_parser("anomaly", help="anomaly detection by reconstruction error (ROC AUC)")
    an.add_argument("dir")
    an.add_argument("--normal", default=None, help="the normal digit(s), e.g. 0; default: the run's digits")
    c = sub.add_parser("compare", help="architecture A/B: two configs trained and compared")
    c.add_argument("--preset", required=True, choices=_LazyChoices(_ab_presets), metavar="PRESET",
                   help="one of: %(choices)s")
    c.add_argument("--epochs", type=_bounded(1, 1000), default=None, help="default: the preset's, as on the page")
    c.add_argument("--limit", type=_bounded(2, 60000), default=None, help="default: the preset's, as on the page")
    c.add_argument("--batch", type=_bounded(1, 60000), default=None, help="default: the preset's, as on the page")
    c.add_argument("--seed", type=SEED, default=0)
    c.add_argument("--device", default="auto")
    c.add_argument("--out", default=None, help="CSV of the final numbers")
    c.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    st = sub.add_parser("stacked", help="layer-wise pretraining vs end-to-end training of a deep MLP (default "
                                        "--model mlp-deep)")
    _add_train_options(st)
    st.add_argument("--pretrain-per-layer", type=_bounded(1, 1000), default=None, help="default: the page's (1)")
    st.add_argument("--out", default=None)
    st.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    pc = sub.add_parser("pca", help="a saved run against PCA at the same k (error and 2-D codes)")
    pc.add_argument("dir")
    pc.add_argument("--n", type=_bounded(1, 10000), default=2000, help="test images in the code maps (1-10000)")
    pc.add_argument("--out", default=None, help="CSV of both 2-D code maps")
    pc.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    ft = sub.add_parser("finetune", help="classifier head on the code: frozen encoder, then fine-tuned")
    ft.add_argument("dir")
    ft.add_argument("--labels", type=_bounded(10, 60000), default=1000)
    ft.add_argument("--epochs", type=_bounded(1, 200), default=5)
    ft.add_argument("--seed", type=SEED, default=0)
    da = sub.add_parser("data", help="data sets: add your own images, list them")
    dsub = da.add_subparsers(dest="action", required=True, parser_class=_Parser)
    dadd = dsub.add_parser("add", help="import a folder or zip (one sub-folder per class), an .npz, or Flowers102's layout")
    dadd.add_argument("path")
    dadd.add_argument("--name", required=True, help="the data set's name, e.g. my-shapes")
    dadd.add_argument("--size", type=_bounded(8, 256), default=None, help="square side to resize to (28, 32, 64; default 32)")
    dadd.add_argument("--grey", action="store_true", help="keep grey images (default: colour)")
    dadd.add_argument("--test-fraction", type=_bounded(0.01, 0.89, float), default=0.2)
    dadd.add_argument("--seed", type=SEED, default=0)
    dadd.add_argument("--replace", action="store_true", help="replace a data set of the same name")
    dsub.add_parser("list", help="the data sets you can train on")
    dinfo = dsub.add_parser("info", help="an imported data set's manifest")
    dinfo.add_argument("name")
    drm = dsub.add_parser("remove", help="delete an imported data set")
    drm.add_argument("name")
    dfe = dsub.add_parser("fetch", help="download CIFAR-10 or Flowers102 with torchvision into the data home")
    dfe.add_argument("source", choices=["cifar10", "flowers102"])
    dfe.add_argument("--size", type=_bounded(8, 256), default=None)
    dfe.add_argument("--grey", action="store_true")
    fl = sub.add_parser("flowers", help="the conv-AE tutorial's experiment: base, BatchNorm, dropout, upsampling decoder")
    fl.add_argument("--dataset", required=True)
    fl.add_argument("--variants", default="base,bn,bn-dropout,upsample")
    fl.add_argument("--ae-epochs", type=_bounded(1, 500), default=None, help="default: the page's for this set's size")
    fl.add_argument("--clf-epochs", type=_bounded(1, 500), default=None, help="default: the page's for this set's size")
    fl.add_argument("--ae-batch", type=_bounded(2, 60000), default=None, help="default 16 (the tutorial's: 255)")
    fl.add_argument("--clf-batch", type=_bounded(2, 60000), default=None, help="default 32 (the tutorial's: 64)")
    fl.add_argument("--lr", type=_bounded(1e-6, 1.0, float), default=None, help="default 3e-3 (the tutorial's: 1e-3)")
    fl.add_argument("--limit", type=_bounded(2, 10**7), default=None, help="at most this many training images "
                                                                            "(default: the page's for this set)")
    fl.add_argument("--labels", type=_bounded(2, 10**7), default=None, help="labelled images for the classifier")
    fl.add_argument("--seed", type=SEED, default=0)
    fl.add_argument("--device", default="cpu")
    fl.add_argument("--out", default=None, help="CSV of the accuracy table (and NAME-per-class.csv)")
    fl.add_argument("--force", action="store_true", help="replace --out even if it is not a CSV this command wrote")
    cl = sub.add_parser("classify", help="a classifier head on a run's code, fine-tuned: accuracy overall and per class")
    cl.add_argument("dir")
    cl.add_argument("--epochs", type=_bounded(1, 500), default=5)
    cl.add_argument("--labels", type=_bounded(2, 10**7), default=None, help="labelled training images (default: all)")
    cl.add_argument("--freeze", action="store_true", help="train the head only (frozen encoder)")
    cl.add_argument("--seed", type=SEED, default=0)
    from aecore.engine.cli import add_commands

    add_commands(sub, _add_train_options)  # worker, submit, jobs, stop, pause, resume
    return p


COMMANDS = {"serve": cmd_serve, "compare": cmd_compare, "stacked": cmd_stacked, "pca": cmd_pca, "finetune": cmd_finetune, "models": cmd_models, "train": cmd_train, "eval": cmd_eval, "project": cmd_project,
            "sweep": cmd_sweep, "probe": cmd_probe, "anomaly": cmd_anomaly, "data": cmd_data, "flowers": cmd_flowers,
            "classify": cmd_classify}


def _engine(name: str):
    def run(a):
        from aecore.engine import cli as engine_cli

        if name == "submit":
            return engine_cli.cmd_submit(a, _config(a))
        return getattr(engine_cli, f"cmd_{name}")(a)

    return run


COMMANDS.update({name: _engine(name) for name in ("worker", "submit", "jobs", "stop", "pause", "resume")})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The spelling `sweep --latent 2,8,32` is accepted too.
    if argv[:1] == ["sweep"] and "--latent" in argv:
        argv[argv.index("--latent")] = "--latents"
    try:
        a = build_parser().parse_args(argv)
        COMMANDS[a.cmd](a)
        return 0
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, OSError) as e:  # ConfigError, RunError, DataError, ...
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug or an unforeseen input: one line, not a traceback (AELAB_DEBUG=1 shows it)
        from aecore.settings import current

        if current().debug:
            raise
        print(f"error: {type(e).__name__}: {e} (this is a bug in AE Lab; run with AELAB_DEBUG=1 for details)",
              file=sys.stderr)
        return 1
