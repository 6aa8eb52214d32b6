"""Job kinds: what a worker runs for each kind of job (training, experiments, projections), from JSON params."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable


from .store import DIVERGED, DONE, FAILED, PAUSE, PAUSED, STOPPED, Job, Store, StoreError

TRAIN_KINDS = ("train",)
EXPERIMENT_KINDS = ("sweep", "compare", "stacked", "finetune", "probe", "anomaly", "ae_vs_pca", "projection", "codes",
                    "noise_curve", "classify", "tutorial")
DATA_KINDS = ("dataset",)  # importing images into the data home (an upload or a torchvision download)
KINDS = TRAIN_KINDS + EXPERIMENT_KINDS + DATA_KINDS
PREVIEW = (3, 2, 1, 18, 4, 8, 11, 0)  # test images of digits 0-7 whose reconstructions a training job shows live


class KindError(ValueError):
    """A job's kind or parameters are not valid."""


@dataclass
class Outcome:
    """How a job ended, as the worker writes it to the store."""

    status: str  # done / stopped / failed / diverged
    error: str = ""
    run_id: str | None = None
    result_key: str | None = None


class Context:
    """What a running job gets from its worker: a stop flag and progress callbacks (all write to the store)."""

    def __init__(self, store: Store, job: Job, time_limit_s: float = 0.0, report_every_s: float = 0.3):
        self.store, self.job = store, job
        self.time_limit_s = time_limit_s
        self.report_every_s = report_every_s
        self.curve: list = []
        self.history: list = list(job.history) if job.kind == "train" else []
        self.epoch_offset = 0  # epochs finished before a resume
        self._last = 0.0
        self._phase: tuple | None = None  # (phase, stage) of the latest report
        self._phase_base = 0.0  # epochs of the phases before it, so the curve's x only grows
        self._phase_epochs = 0
        self._stop = False
        self.paused = False  # the stop was a pause
        self.stop_reason = ""
        self._t0 = time.time()

    # the trainer's stop flag: checked before every step
    def is_set(self) -> bool:
        if self._stop:
            return True
        if self.time_limit_s and time.time() - self._t0 > self.time_limit_s:
            self._stop, self.stop_reason = True, f"stopped: the job reached the time limit of {self.time_limit_s:.0f} s"
            return True
        flag = self.store.stop_flag(self.job.id)
        if flag:
            self._flagged(flag)
        return self._stop

    def _flagged(self, flag: int) -> None:
        self._stop = True
        if flag == PAUSE:
            self.paused, self.stop_reason = True, self.stop_reason or "paused"
        else:
            self.stop_reason = self.stop_reason or "stopped by the user"

    def progress(self, p) -> None:
        """A trainer Progress report: appended to the loss curve, written at most every report_every_s."""
        if (p.phase, p.stage) != self._phase:
            if self._phase is not None:
                self._phase_base += self._phase_epochs
            self._phase, self._phase_epochs = (p.phase, p.stage), p.epochs
        x = self._phase_base + self.epoch_offset + (p.epoch - 1) + p.step / max(p.steps, 1)
        self.curve.append([round(x, 4), float(p.loss)])
        now = time.time()
        if now - self._last >= self.report_every_s or p.step == p.steps:
            self._last = now
            d = dataclasses.asdict(p)
            d["epoch"] += self.epoch_offset if p.phase == "train" else 0
            d["epochs"] += self.epoch_offset if p.phase == "train" else 0
            d["fraction"] = p.fraction if not self.epoch_offset else d["epoch"] / max(d["epochs"], 1)
            flag = self.store.report(self.job.id, progress=d, curve=self.curve)
            if flag:
                self._flagged(flag)


# ---- resolving runs named in params --------------------------------------------------------------
def _parse_ref(ref: str) -> tuple[str, str]:
    """("zoo", NAME) or ("run", ID) from a run reference "zoo:NAME" / "run:ID"."""
    kind, _, name = str(ref).partition(":")
    if kind not in ("zoo", "run"):
        raise KindError(f"unknown run reference {ref!r} (expected zoo:NAME or run:ID)")
    return kind, name


def _ref_dir(store: Store, ref: str) -> Path:
    """The folder holding a referenced run's files (the zoo's, or this store's kept run)."""
    from ..zoo import zoo_dir

    kind, name = _parse_ref(ref)
    if kind == "zoo":
        return zoo_dir() / name
    entry = store.run(name)
    return store.run_dir(entry.workspace, entry.id)


def load_ref(store: Store, ref: str):
    """A run named by a reference: "zoo:NAME" (the pretrained zoo) or "run:ID" (a kept run)."""
    from ..runs import load_run
    from ..zoo import load_zoo

    kind, name = _parse_ref(ref)
    if kind == "zoo":
        return load_zoo(name)
    entry = store.run(name)
    run = load_run(store.run_dir(entry.workspace, entry.id))
    run.name = entry.name
    return run


def ref_dataset(store: Store, ref: str) -> str:
    """The data set a referenced run was trained on (from its config file; its weights are not loaded)."""
    from ..runs import run_dataset

    return run_dataset(_ref_dir(store, ref))


def job_dataset(store: Store, params: dict) -> str:
    """The data set a job reads: its own `dataset`, else the one its (first) run was trained on, else the one its
    (first) training config names, else MNIST."""
    if params.get("dataset"):
        return params["dataset"]
    ref = params.get("run") or next(iter((params.get("runs") or {}).values()), None)
    if ref:
        return ref_dataset(store, ref)
    config = params.get("config") or params.get("base") or next(iter((params.get("configs") or {}).values()), None)
    return (config or {}).get("dataset") or "mnist"


def preview_indices(dataset) -> list[int]:
    """The test images a training job reconstructs live and a kept run shows: digits 0-7 on MNIST, else 8 images
    spread over the first classes."""
    if dataset.name == "mnist":
        return list(PREVIEW)
    from ..classify import show_images

    return [int(i) for i in show_images(dataset, 8)]


def ref_digest(store: Store, ref: str) -> str:
    """The content hash of a referenced run's weights (results are keyed by it, never by a job id)."""
    kind, name = _parse_ref(ref)
    if kind == "run":
        return store.run(name).digest  # kept runs have theirs in the store
    return file_digest(_ref_dir(store, ref) / "weights.pt")


def file_digest(path: Path) -> str:
    """sha256 of a file (remembered per path and modification time: pages ask for it on every run)."""
    try:
        st = Path(path).stat()
    except OSError as e:
        raise StoreError(f"the run's weights cannot be read: {e.strerror}") from None
    return _digest(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise StoreError(f"the run's weights cannot be read: {e.strerror}") from None


def result_key(store: Store, kind: str, params: dict) -> str:
    """Content key of an experiment: its kind, its settings and the weights of every run it reads."""
    keyed = {k: (ref_digest(store, v) if k == "run" or k.startswith("run:") else v) for k, v in params.items()}
    if "runs" in params:
        keyed["runs"] = {label: ref_digest(store, r) for label, r in params["runs"].items()}
    blob = json.dumps({"kind": kind, "params": keyed}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


def train_cost(config_dict: dict, dataset) -> float:
    """Images a training job will process (epochs x training images, pretraining included)."""
    from ..config import TrainConfig
    from ..train import _split

    config = TrainConfig.from_dict(config_dict).resolved()
    n = len(_split(config, dataset)[0])
    layers = 0
    if config.pretrain_epochs:
        from ..models import get_spec

        layers = len(get_spec(config.model).hidden or ()) + 1
    return float(n * (config.epochs + config.pretrain_epochs * layers))


def estimate_cost(kind: str, params: dict, dataset) -> float:
    """Estimated images a job processes, for the compute budget and the queue's time estimate."""
    if kind == "train":
        return train_cost(params["config"], dataset)
    if kind == "sweep":
        return train_cost(params["base"], dataset) * len(params["latents"])
    if kind in ("compare",):
        return sum(train_cost(c, dataset) for c in params["configs"].values())
    if kind == "stacked":
        base = dict(params["base"], pretrain_epochs=int(params["pretrain"]))
        return train_cost(dict(params["base"], pretrain_epochs=0), dataset) + train_cost(base, dataset)
    if kind == "finetune":
        return float(params["labels"]) * params["epochs"] * 2
    if kind == "classify":
        return float(params.get("labels") or 20_000) * params.get("epochs", 5) * 2
    if kind == "tutorial":
        return 4 * float(params.get("limit") or 20_000) * (params.get("ae_epochs", 5) + params.get("clf_epochs", 5))
    if kind == "projection" and params.get("place") is not None:
        return 2_000.0  # one image placed on a kept layout
    if kind == "projection":
        # images-equivalent per point, so the queue's estimate is about right: t-SNE of 10,000 points ~40 s
        return {"raw": 0.5, "pca": 1, "tsne": 12, "umap": 10}.get(params.get("method"), 1) * 1.0 * params.get("n", 2000)
    return 20_000.0  # one pass over the test set and a little more


# ---- running ---------------------------------------------------------------------------------------
def run_job(store: Store, job: Job, ctx: Context, dataset_fn: Callable[[str], Any]) -> Outcome:
    """Run one job to its end; every exception becomes a failed Outcome with a plain message."""
    from ..train import TrainingDiverged

    try:
        if job.kind == "train":
            return _train(store, job, ctx, dataset_fn)
        if job.kind in EXPERIMENT_KINDS:
            return _experiment(store, job, ctx, dataset_fn)
        if job.kind in DATA_KINDS:
            return _dataset(store, job, ctx)
        raise KindError(f"unknown job kind {job.kind!r}")
    except TrainingDiverged as e:  # only from experiments: training keeps its last good run itself
        return Outcome(DIVERGED, str(e))
    except (ValueError, KeyError, TypeError) as e:  # ConfigError, RunError, ExperimentError, bad params
        return Outcome(FAILED, str(e) if isinstance(e, ValueError) else f"invalid job parameters: {e}")
    except MemoryError:
        return Outcome(FAILED, "the job ran out of memory; use fewer images or a smaller model")
    except Exception as e:  # a bug: the worker lives on and the student gets a plain message
        return Outcome(FAILED, f"internal error ({type(e).__name__}): {e}")


def keep_run(store: Store, workspace: str, run, name: str, job_id: int | None = None,
             extras: dict[str, Path] | None = None) -> str:
    """Write a run into the workspace's kept runs (atomically) and register it; returns its id.
    `extras`: files kept beside it (e.g. {"watch.npz": path}: its recording of the model learning)."""
    import shutil

    from ..runs import save_run

    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
    d = save_run(run, store.run_dir(workspace, run_id))
    for fname, src in (extras or {}).items():
        if Path(src).is_file():
            shutil.copyfile(src, d / fname)
    weights = d / "weights.pt"
    nbytes = sum(p.stat().st_size for p in d.iterdir())
    v = run.final_val_loss
    summary = f"{run.config.describe()} · {run.status}" + (f" · val loss {v:.5f}" if v is not None else "")
    store.add_run(workspace, run_id, name or run.name or run.config.describe(), run.status,
                  file_digest(weights), nbytes, job_id, summary)
    return run_id


def _train(store: Store, job: Job, ctx: Context, dataset_fn) -> Outcome:
    from ..config import TrainConfig
    from ..evaluate import reconstruct
    from ..config import ConfigError
    from ..runs import Run, RunError, load_run, save_run
    from ..train import TrainingDiverged, _split, check_state, load_state, save_state, steps_per_epoch, train
    import numpy as np

    from ..watch import WATCH_FILE, Recorder, Recording, WatchConfig, WatchError, every_n_steps, watch_indices

    config = TrainConfig.from_dict(job.params["config"]).resolved()
    dataset = dataset_fn(config.dataset)
    preview_idx = list(job.params.get("preview") or preview_indices(dataset))
    preview_x = dataset.test.x[preview_idx]
    ckpt_dir = store.checkpoint_dir(job.id)
    state_path = ckpt_dir.parent / "state.pt"  # the exact training state: after every epoch, and where it stopped or paused
    model, history, run_config, state = None, [], config, None
    if state_path.is_file():  # a resumed job: continue exactly where it ended
        try:
            state = check_state(load_state(state_path), config)
        except ConfigError:
            state = None
    if state is not None:
        history = list(state["history"])
    elif (ckpt_dir / "meta.json").is_file():  # no exact state (e.g. during pretraining): from the last finished epoch
        try:
            ckpt = load_run(ckpt_dir)
        except RunError:
            ckpt = None
        if ckpt is not None:
            done = sum(1 for r in ckpt.history if r.get("phase") == "train")
            pre_done = not config.pretrain_epochs or done > 0
            if pre_done and done < config.epochs:
                model, history = ckpt.model.train(), list(ckpt.history)
                run_config = dataclasses.replace(config, epochs=config.epochs - done, pretrain_epochs=0)
                ctx.epoch_offset = done
    ctx.history = list(history)
    offset = ctx.epoch_offset
    # about 40 loss points per epoch, so the live curve moves from the first steps
    steps = max(1, int(job.cost / max(config.epochs, 1)) // config.batch_size)
    if state is not None:  # the curve up to where it stopped
        at = int(state["epoch"]) - 1 + int(state["step"]) / steps
        ctx.curve = [pt for pt in job.curve if pt[0] <= at + 1e-9]
    else:
        ctx.curve = [pt for pt in job.curve if pt[0] <= offset] if offset else []
    run_config = dataclasses.replace(run_config, log_every=max(1, min(config.log_every, steps // 40)))

    # watch it learn: the codes of a fixed set of test images, every few steps, in a file the Train page reads
    watch_path = ckpt_dir.parent / WATCH_FILE
    n_train = len(_split(config, dataset)[0])
    per_epoch = max(1, steps_per_epoch(n_train, config.batch_size))
    wc = WatchConfig()
    start = None
    if watch_path.is_file() and (state is not None or offset):
        try:
            at = (int(state["epoch"]) - 1) * per_epoch + int(state["step"]) if state is not None else offset * per_epoch
            start = Recording.load(watch_path).upto(at)
        except WatchError:
            start = None
    points = watch_indices(dataset.test.y, wc.points, wc.seed)
    recorder = Recorder(dataset.test.x[points], points, preview_x, np.asarray(preview_idx),
                        every=every_n_steps(config.epochs * per_epoch, wc.frames), start=start)
    watched = {"saved": 0.0, "last": None}

    def watch(m, n):  # after every step of the main phase: a frame every few steps, written about once a second
        n += offset * per_epoch
        watched["last"] = n
        if n % recorder.every == 0:
            recorder.record(m, n)
            if time.time() - watched["saved"] > 1.0:
                recorder.recording().save(watch_path)
                watched["saved"] = time.time()

    def snapshot(m, row):  # after every finished epoch: checkpoint, history and preview in the store
        r = row.to_dict()
        if r.get("phase") == "train":
            r["epoch"] += offset
        ctx.history.append(r)
        save_run(Run(config=config, model=m, history=list(ctx.history), status="checkpoint",
                     message=f"checkpoint after {len(ctx.history)} epochs"), ckpt_dir)
        store.report(job.id, history=ctx.history, curve=ctx.curve, preview=reconstruct(m, preview_x)[1])

    status, error = DONE, ""
    max_steps = job.params.get("max_steps")
    try:
        run = train(run_config, dataset, on_progress=ctx.progress, stop=ctx, model=model, on_snapshot=snapshot,
                    resume=state, on_state=lambda st: save_state(st, state_path),
                    max_steps=int(max_steps) if max_steps else None, on_step=watch)
        paused = run.status == "paused" or (run.status == "stopped" and ctx.paused)
        if paused and not state_path.is_file():
            status, error = STOPPED, ("stopped during layer-wise pretraining (pausing works once the main training "
                                      "has begun); resume continues from its last finished epoch")
        elif paused:
            at = load_state(state_path)
            status, error = PAUSED, (f"paused in epoch {at['epoch']} of {config.epochs} after step {at['step']}: "
                                     "go on, or step through it")
        elif run.status == "stopped":
            status, error = STOPPED, (f"{ctx.stop_reason or 'stopped'} after {len(ctx.history)} epoch(s); "
                                      "the weights trained so far are kept")
    except TrainingDiverged as e:
        run, status, error = e.run, DIVERGED, str(e)
    run.config, run.history = config, list(ctx.history)
    if status == DONE:
        run.status = "done"
    if watched["last"] is not None:  # the last frame where it ended (a pause after 1 step shows that step)
        if status != DIVERGED and (not recorder.steps or recorder.steps[-1] != watched["last"]):
            recorder.record(run.model, watched["last"])
        recorder.recording().save(watch_path)
    old = job.run_id  # a resumed job replaces the partial run it kept when it stopped
    run_id = keep_run(store, job.workspace, run, job.name or (store.run(old).name if old else job.label), job.id,
                      extras={WATCH_FILE: watch_path})
    if job.params.get("share"):
        store.share_run(run_id, True)
    if old:
        try:
            store.delete_run(old)
        except StoreError:
            pass
    if status == DONE:
        import shutil

        shutil.rmtree(ckpt_dir.parent, ignore_errors=True)
    return Outcome(status, error, run_id=run_id)


def _experiment(store: Store, job: Job, ctx: Context, dataset_fn) -> Outcome:
    from .. import experiments as ex
    from ..experiments import Result, ResultStore

    p = job.params
    kind = job.kind
    dataset = dataset_fn(job_dataset(store, p))  # runs are read on the set they were trained on
    if kind == "sweep":
        res = ex.latent_sweep(p["base"], p["latents"], dataset, ctx.progress, ctx)
    elif kind == "compare":
        from ..config import TrainConfig

        configs = {label: TrainConfig.from_dict(c) for label, c in p["configs"].items()}
        res = ex.compare(configs, dataset, ctx.progress, ctx)
    elif kind == "stacked":
        res = ex.stacked_vs_endtoend(p["base"], int(p["pretrain"]), dataset, ctx.progress, ctx)
    elif kind == "finetune":
        res = ex.finetune(load_ref(store, p["run"]), int(p["labels"]), int(p["epochs"]), dataset,
                          on_progress=ctx.progress, stop=ctx)
    elif kind == "probe":
        res = ex.probe(load_ref(store, p["run"]), int(p["labels"]), dataset)
    elif kind == "anomaly":
        res = ex.anomaly(load_ref(store, p["run"]), tuple(p["normal"]), dataset)
    elif kind == "ae_vs_pca":
        res = ex.ae_vs_pca(load_ref(store, p["run"]), dataset, n_points=int(p.get("n_points", 2000)))
    elif kind == "codes":
        from ..evaluate import encode, per_image_errors

        run = load_ref(store, p["run"])
        res = Result("codes", p, images={"z": encode(run.model, dataset.test.x),
                                         "mse": per_image_errors(run.model, dataset.test.x)["mse"]})
    elif kind == "projection":
        res = _projection(store, p, dataset, ctx)
    elif kind == "classify":
        res = _classify(load_ref(store, p["run"]), p, dataset, ctx)
    elif kind == "tutorial":
        from ..classify import tutorial_experiment

        res = tutorial_experiment(dataset, tuple(p["variants"]), ae_epochs=int(p["ae_epochs"]),
                                  clf_epochs=int(p["clf_epochs"]), seed=int(p.get("seed", 0)), limit=p.get("limit"),
                                  labels=p.get("labels"), on_progress=ctx.progress, stop=ctx)
    elif kind == "noise_curve":
        runs = {label: load_ref(store, ref) for label, ref in p["runs"].items()}
        rows = ex.noise_curve(runs, p["noise"], [float(v) for v in p["levels"]], dataset, n=int(p.get("n", 500)))
        res = Result("noise_curve", p, tables={"curve": rows})
    else:
        raise KindError(f"unknown experiment {kind!r}")
    key = job.result_key or result_key(store, kind, p)
    res.kind, res.params = kind, p
    if res.status == "done":
        ResultStore(store.results_dir).put_key(key, res)
        return Outcome(DONE, "", result_key=key)
    ResultStore(store.results_dir).put_key(key + "-partial", res, partial=True)
    kept = "the layout so far is kept" if kind == "projection" else "the tables show what finished"
    return Outcome(STOPPED, f"{ctx.stop_reason or 'stopped'}: {kept}", result_key=key + "-partial")


def _classify(run, p: dict, dataset, ctx: Context):
    """A classifier head on a run's code, fine-tuned with its encoder (or alone): accuracy overall and per class."""
    import numpy as np

    from ..classify import classify_run
    from ..experiments import Result

    r = classify_run(run, dataset, epochs=int(p["epochs"]), labels=p.get("labels"), seed=int(p.get("seed", 0)),
                     freeze_encoder=bool(p.get("freeze")), on_progress=ctx.progress, stop=ctx)
    row = {"train_acc": r["train_acc"], "test_acc": r["test_acc"], "chance": r["chance"], "labels": r["labels"],
           "seconds": r["seconds"]}
    return Result("classify", p, {"accuracy": [row], "per_class": r["per_class"], "history": r["history"]},
                  images={"confusion": np.asarray(r["confusion"], np.int64)},
                  summary={"test_acc": r["test_acc"], "chance": r["chance"]}, status=r["status"])


def _dataset(store: Store, job: Job, ctx: Context) -> Outcome:
    """Import an uploaded zip or .npz into the data home as a named data set, or fetch a torchvision one; the upload
    is deleted when the job ends, imported or not."""
    from .. import datasets

    p = job.params
    last = [0.0]

    def on_progress(done: int, total: int) -> None:
        if time.time() - last[0] >= 0.5 or done >= total:
            last[0] = time.time()
            store.report(job.id, progress={"phase": "reading images", "done": int(done), "total": int(total),
                                           "fraction": done / max(total, 1)})

    if p.get("action") == "fetch":
        datasets.fetch(p["name"], size=p.get("size"), grey=bool(p.get("grey")), on_progress=on_progress)
        return Outcome(DONE)
    upload = store.uploads_dir / Path(str(p["upload"])).name  # only a file in the uploads folder, whatever is asked
    try:
        datasets.add(upload, p["name"], size=p.get("size"), grey=p.get("grey"),
                     test_fraction=float(p.get("test_fraction", 0.2)), on_progress=on_progress,
                     about={"workspace": job.workspace, "file": str(p.get("file", ""))[:200]})
    finally:
        upload.unlink(missing_ok=True)
    return Outcome(DONE)


def _projection(store: Store, p: dict, dataset, ctx: Context):
    """Codes of the chosen images (test set, or all 70,000) projected to 2-D or 3-D, with each point's error, probe
    prediction and whether the run trained on it; t-SNE and UMAP stream their layout into the store as they converge
    and keep their fitted embedding beside the result (placer.pkl), so new images can be placed on it exactly."""
    import numpy as np
    import torch

    from ..device import resolve_device
    from ..evaluate import codes_and_errors
    from ..experiments import Result
    from ..latent import layout_points, pool_images, pool_labels, probe_predictions, training_mask
    from ..projection import project

    if p.get("place") is not None:
        return _place(store, p, dataset)
    run = load_ref(store, p["run"])
    source = p.get("source", "test")
    labels = pool_labels(dataset, source)
    idx = layout_points(p, labels)  # [n] point numbers: test images first, then training images
    x = pool_images(dataset, idx)  # [n, H, W(, C)] uint8
    z, mse = codes_and_errors(run.model, x)  # [n, k] codes and [n] errors in one pass
    name = {"tsne": "t-SNE", "umap": "UMAP"}.get(p["method"], p["method"])
    last = [0.0]

    def on_layout(xy, done: int, total: int) -> bool:  # every few iterations: the layout so far, and stop?
        stop = ctx.is_set()
        if stop or done == 0 or done >= total or time.time() - last[0] >= 0.5:
            last[0] = time.time()
            progress = {"phase": name, "iteration": done, "iterations": total, "fraction": done / total}
            stop = store.report(ctx.job.id, progress=progress, layout=xy) or stop
        return stop

    method = p["method"]
    pr = project(z, method, seed=int(p["seed"]), perplexity=float(p.get("perplexity", 30)),
                 n_neighbors=int(p.get("n_neighbors", 15)), min_dist=float(p.get("min_dist", 0.1)),
                 on_layout=on_layout, n_jobs=torch.get_num_threads(), dims=int(p.get("dims", 2)), keep=True,
                 device=resolve_device("auto").type)  # t-SNE on a GPU where there is one
    status = "stopped" if "stopped_at" in pr.info else "done"
    n_test = len(dataset.test)
    trained = np.zeros(len(idx), np.uint8)
    from_train = idx >= n_test
    trained[from_train] = training_mask(run.config, dataset)[idx[from_train] - n_test]
    images = {"idx": idx, "xy": pr.xy, "mse": mse,
              "pred": probe_predictions(run.model, dataset, z), "trained": trained}
    if pr.placer is not None and method in ("raw", "pca"):
        images.update({f"placer_{k}": v for k, v in pr.placer.arrays.items()})
    elif pr.placer is not None and status == "done":  # t-SNE / UMAP: the fitted embedding itself, beside the result
        path = store.results_dir / f"{ctx.job.result_key or result_key(store, 'projection', p)}.placer.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(pr.placer.to_bytes())
        os.replace(tmp, path)
    summary = dict(pr.info, source=source, pool=int(np.isin(labels, p.get("digits") or range(10)).sum()))
    return Result("projection", p, images=images, summary=summary, status=status)


def _place(store: Store, p: dict, dataset):
    """Where a t-SNE or UMAP layout puts a new image (28x28 uint8 in p["place"]): the method's own transform."""
    import numpy as np

    from ..evaluate import encode
    from ..experiments import Result
    from ..projection import Placer, ProjectionError

    image = np.asarray(p["place"], np.float64)
    if image.shape != (28, 28) or not np.all((image >= 0) & (image <= 255)):
        raise KindError("the image to place must be 28x28 numbers from 0 to 255")
    layout = dict(p["layout"], run=p["run"])
    path = store.results_dir / f"{result_key(store, 'projection', layout)}.placer.pkl"
    if not path.is_file():
        raise ProjectionError("that layout was not kept (it was stopped early, or made before new images could be "
                              "placed): run the projection again")
    placer = Placer.from_bytes(path.read_bytes())
    z = encode(load_ref(store, p["run"]).model, image.astype(np.uint8)[None])  # [1, k]
    return Result("projection", p, images={"xy": placer.place(z)}, summary={"method": placer.method})
