"""Training one model: live loss curve, preview and watch-it-learn frames, pause and step, resume after a crash."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from aecore.engine.kinds.base import JobKind, Outcome, Params, param, train_cost, train_seconds
from aecore.engine.store import DIVERGED, DONE, PAUSED, STOPPED


@dataclass(frozen=True)
class TrainParams(Params):
    kind = "train"
    config: object = param(type="config", doc="the training configuration (aecore.training.config.TrainConfig)")
    share: bool = param(False, type="bool", doc="share the finished run with the class")
    max_steps: int | None = param(None, type="int", lo=1, hi=10**7, optional=True,
                                  doc="pause after this many steps (step by step)")
    preview: tuple | None = param(None, type="ints", lo=0, hi=10**7, max_items=16, optional=True,
                                  doc="test images reconstructed live (default: the data set's preview images)")


class Train(JobKind):
    name, title, Params = "train", "Training", TrainParams
    trains, pausable, keyed, keeps_runs = True, True, False, True

    def prepare(self, p: TrainParams, dataset) -> TrainParams:
        from aecore.training.trainer import check_config

        return dataclasses.replace(p, config=check_config(p.config, dataset))

    def cost(self, p: TrainParams, dataset) -> float:
        return train_cost(p.config, dataset)

    def seconds(self, p: TrainParams, dataset) -> float:
        return train_seconds([p.config], dataset)

    def run(self, p: TrainParams, ctx, dataset) -> Outcome:
        return _train(p, ctx, dataset)


def _train(p: TrainParams, ctx, dataset) -> Outcome:
    import numpy as np

    from aecore.data.dataset import preview_indices
    from aecore.models.evaluate import reconstruct
    from aecore.training.config import ConfigError
    from aecore.training.runs import Run, RunError, load_run, save_run
    from aecore.training.trainer import (
        TrainingDiverged,
        _split,
        check_state,
        load_state,
        save_state,
        steps_per_epoch,
        train,
    )
    from aecore.training.watch import (
        WATCH_FILE,
        Recorder,
        Recording,
        WatchConfig,
        WatchError,
        every_n_steps,
        watch_indices,
    )

    store, job = ctx.store, ctx.job
    config = p.config
    preview_idx = list(p.preview or preview_indices(dataset))
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
        ctx.write(history=ctx.history, curve=ctx.curve, preview=reconstruct(m, preview_x)[1])

    # training time over every attempt: the exact state keeps its seconds; after a crash, the finished epochs' own
    before = float(state.get("seconds", 0.0)) if state is not None else sum(
        float(r.get("seconds", 0.0)) for r in history)

    def keep_state(st: dict) -> None:
        save_state(dict(st, seconds=before + float(st.get("seconds", 0.0))), state_path)

    status, error = DONE, ""
    try:
        run = train(run_config, dataset, on_progress=ctx.progress, stop=ctx, model=model, on_snapshot=snapshot,
                    resume=state, on_state=keep_state,
                    max_steps=p.max_steps, on_step=watch)
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
    run.seconds += before
    if status == DONE:
        run.status = "done"
    if watched["last"] is not None:  # the last frame where it ended (a pause after 1 step shows that step)
        if status != DIVERGED and (not recorder.steps or recorder.steps[-1] != watched["last"]):
            recorder.record(run.model, watched["last"])
        recorder.recording().save(watch_path)
    return Outcome(status, error, run=run, run_name=job.name or job.label, share=p.share,
                   extras={WATCH_FILE: watch_path}, cleanup=ckpt_dir.parent if status == DONE else None)

