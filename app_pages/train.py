"""Train: choose a model and its training options, train in the background, watch it live, keep and share runs."""

import streamlit as st

from aecore.data import imported as datasets
from aecore.data.dataset import DataError, preview_indices
from aecore.data.noise import NOISE_KINDS, NOISE_LIMITS
from aecore.engine.client import JobProgress, StoreError, describe
from aecore.models.autoencoders import ACTIVATIONS, LATENT_RANGE, UPSAMPLES
from aecore.models.registry import MODELS
from aecore.training.config import (LOSSES, OPTIMIZERS, PRECISIONS, SCHEDULES, ConfigError, TrainConfig, fitting_batch,
                                    images_to_train_on)
from aecore.training.device import device_label
from aecore.training.runs import RunError, run_from_bytes, run_to_bytes, sanitize_name
from aecore.training.trainer import check_config
from aecore.training.zoo import load_zoo, zoo_names
from app_pages.kit import background, charts, picker, safe, session, url, watch, widgets

NOISE_TEXT = {"none": "none", "masking": "masking (pixels set to 0)", "gaussian": "Gaussian",
              "saltpepper": "salt and pepper"}


def main() -> None:
    st.title("Train an autoencoder")
    eng = session.engine()
    workers = eng.settings.resolved_workers()
    st.caption(f"Training runs on: **{device_label(threads=eng.settings.resolved_threads())}** per job · jobs from "
               f"everyone in the class share {workers} training worker{'s' if workers != 1 else ''} on this server · "
               "your runs are kept in this workspace: bookmark this page's address to come back to them")
    your_name()
    config, problem = settings()
    launch(config, problem, background.sidebar_slot())
    runs = eng.runs(session.workspace())
    watch_it_learn(runs)
    your_runs(runs)
    upload_a_run()


def your_name() -> None:
    """The name the student gives for the teacher: the engine keeps it with the workspace, the teacher view shows it
    beside the workspace's token."""
    if st.query_params.get("present"):
        return  # presenter mode shows the pictures only
    if "student_name" not in st.session_state:
        st.session_state["student_name"] = session.engine().student_name(session.workspace())
    c1, _ = st.columns([1, 2])
    c1.text_input("Your name for the teacher (optional)", key="student_name", max_chars=40, on_change=_keep_name,
                  help="Shown to your teacher beside your jobs and runs; no one else sees it")
    if "student_name_problem" in st.session_state:
        st.warning(safe.plain(st.session_state.pop("student_name_problem")))


def _keep_name() -> None:
    try:
        st.session_state["student_name"] = session.engine().set_student_name(session.workspace(),
                                                                             st.session_state["student_name"])
    except StoreError as e:
        st.session_state["student_name_problem"] = f"Your name could not be kept: {e}"


# ---- settings ---------------------------------------------------------------------------------------------
def settings() -> tuple[TrainConfig, str | None]:
    """Every setting of a training run; the config they make (resolved) and why it cannot train, if it cannot."""
    here = ["mnist"] + datasets.names()  # the bundled MNIST and the sets imported on the Data sets page
    data_name = url.control(st.selectbox, "Data set", here, key="dataset", param="dataset", default="mnist",
                            help="Add your own images on the Data sets page")
    ds = session.dataset(data_name)
    mnist = session.bundled_mnist(ds)  # the models that take only 28x28 grey digits, the digits' own control
    if not mnist:
        c, h, w = ds.image_shape
        st.caption(f"{safe.plain(data_name)}: {h}×{w} {'colour' if c == 3 else 'grey'} images, {len(ds.train):,} for "
                   f"training, {ds.n_classes} classes. Models that take only 28×28 grey digits are not offered.")
    names = [n for n in MODELS if mnist or MODELS[n].any_shape is not None]
    model = url.control(st.selectbox, "Model", names, key="model", param="model", default="conv",
                        format_func=lambda n: f"{n} — {MODELS[n].summary}")
    spec = MODELS[model]
    c1, c2, c3, c4 = st.columns(4)
    if spec.latent is not None:
        latent = url.control(c1.number_input, "Latent size k", key=f"latent_{model}", param="latent", default=spec.latent,
                             lo=LATENT_RANGE[0], hi=LATENT_RANGE[1], help="How many numbers the code has (1-256)")
    else:
        latent = None
        c1.number_input("Latent size k", value=spec.fixed_latent, disabled=True, key="latent_fixed",
                        help="Fixed by this architecture's code map")
    epochs = url.control(c2.number_input, "Epochs", key="epochs", param="epochs", default=3, lo=1, hi=1000)
    batch_slot = c3.empty()  # the batch's default fits the images it trains on, known once the subset is chosen
    lr = url.control(c4.number_input, "Learning rate", key=f"lr_{model}", param="lr", default=spec.default_lr,
                     lo=1e-6, hi=10.0, cast=float, format="%.5f", step=1e-4)

    c1, c2, c3, c4 = st.columns(4)
    noise_kind = url.control(c1.selectbox, "Input corruption (denoising)", NOISE_KINDS, key="noise_kind", param="noise",
                             default="none", format_func=NOISE_TEXT.get)
    noise_level = url.control(c2.number_input, "Noise level", key=f"noise_level_{noise_kind}", param="level",
                              default=0.5 if noise_kind == "masking" else 0.3, lo=0.0,
                              hi=float(NOISE_LIMITS.get(noise_kind, (0, 1))[1]), cast=float, step=0.05,
                              disabled=noise_kind == "none",
                              help="masking / salt and pepper: fraction of pixels; Gaussian: sigma")
    if spec.stackable:
        pretrain = url.control(c3.number_input, "Layer-wise pretraining epochs", key=f"pretrain_{model}",
                               param="pretrain", default=0, lo=0, hi=100,
                               help="Stacked AE: train each layer pair greedily first (deep MLP models)")
    else:  # shows the 0 this model trains with, whatever a link or another model asked for
        pretrain = c3.number_input("Layer-wise pretraining epochs", value=0, disabled=True, key="pretrain_fixed",
                                   help="Only the deep MLP models (mlp-deep, mlp-hinton) are pretrained layer by layer")
    device = url.control(c4.radio, "Device", widgets.available_devices(), key="device", default="auto", horizontal=True,
                         help="cuda appears when this server has a GPU")

    every = list(range(ds.n_classes))
    subset = dict(param="digits", default=every, parse=lambda text: _classes(text, ds.n_classes),
                  text=lambda v: "all" if len(v) == ds.n_classes else ",".join(map(str, v)),
                  format_func=lambda i: ds.class_names[i])
    if mnist:
        digits = url.control(st.multiselect, "Digits to train on", every, key="digits", **subset,
                             help="Train on a subset, e.g. only 0 (then see how it reconstructs the others)")
    else:
        digits = url.control(st.multiselect, "Classes to train on", every, key=f"classes_{data_name}", **subset,
                             help="Train on a subset of the classes")
    c1, _ = st.columns([1, 3])  # the digits have a row of their own: in a column their chips were cut off
    # one per data set, up to its size: 10,000 of MNIST's images chosen before is no limit for a set of 30 (the run's
    # name would claim 10,000 images)
    limit = url.control(c1.number_input, "Training images (0 = all)", key=f"limit_{data_name}", param="limit", default=0,
                        lo=0, hi=len(ds.train), step=1000 if len(ds.train) >= 10000 else 10)

    more = more_settings(model, spec)
    val_share = more["val_share"]
    url.drop(*[param for param, applies in [  # what this model (or no corruption) has no use for leaves the address
        ("latent", spec.latent is not None), ("hidden_act", bool(spec.hidden_acts)), ("upsample", bool(spec.conv)),
        ("width", spec.default_width is not None), ("pretrain", bool(spec.stackable)), ("level", noise_kind != "none")]
        if not applies])

    chosen = dict(model=model, latent=latent, hidden_act=more["hidden_act"], out_act=more["out_act"],
                  upsample=more["upsample"], loss=more["loss"], optimizer=more["optimizer"], lr=float(lr),
                  epochs=int(epochs), seed=int(more["seed"]),
                  noise="none" if noise_kind == "none" else f"{noise_kind}:{noise_level:g}",
                  digits=tuple(digits) if len(digits) < ds.n_classes else None, limit=int(limit) or None,
                  pretrain_epochs=int(pretrain), device=device, dataset=data_name, schedule=more["schedule"],
                  weight_decay=float(more["weight_decay"]), val_fraction=float(val_share),
                  width=int(more["width"]) if spec.default_width is not None else None, precision=more["precision"])
    choice = tuple(sorted(chosen.items()))
    fits = _images_per_epoch(repr(choice), choice)
    with batch_slot:
        batch = url.control(st.number_input, "Batch size", key=f"batch_{data_name}", param="batch",
                            default=fitting_batch(fits), lo=1, hi=60000,
                            help=f"{fits:,} training images with these settings" if fits else None)
    config, problem = _checked(TrainConfig(**chosen, batch_size=int(batch)), ds)
    if fits and fits < 1000 and not problem:
        st.caption(f"{fits:,} images train (after the {val_share:.0%} validation share): batches of {int(batch)} "
                   f"give {-(-fits // int(batch))} steps an epoch.")
    if problem:
        st.warning(f"Cannot train with these settings: {safe.plain(problem)}")
    return config, problem


SCHEDULE_TEXT = {"constant": "constant", "cosine": "cosine (anneals to 0)", "onecycle": "one-cycle (warm up, then anneal)"}
PRECISION_TEXT = {"auto": "auto (bf16 on a GPU)", "fp32": "fp32", "bf16": "bf16 mixed"}
LOSS_TEXT = {"mse": "MSE", "bce": "binary cross-entropy"}
UPSAMPLE_TEXT = {"transpose": "ConvTranspose2d", "nearest": "Upsample (nearest) + Conv"}


def more_controls(model: str, spec) -> dict:
    """The settings under "More settings": name -> the control's key, address parameter, default and range (None:
    not for this model). Each is in the address whether the section is open or not, so a reload or a link keeps it."""
    return dict(
        optimizer=dict(key="optimizer", param="optimizer", default=OPTIMIZERS[0], options=OPTIMIZERS),
        loss=dict(key="loss", param="loss", default=LOSSES[0], options=LOSSES),
        out_act=dict(key="out_act", param="out_act", default="sigmoid", options=ACTIVATIONS),
        hidden_act=dict(key=f"hidden_{model}", param="hidden_act", default=spec.default_hidden, options=spec.hidden_acts)
        if spec.hidden_acts else None,
        upsample=dict(key=f"upsample_{model}", param="upsample", default=spec.default_upsample, options=UPSAMPLES)
        if spec.conv else None,
        seed=dict(key="seed", param="seed", default=0, lo=0, hi=2**31 - 1),
        schedule=dict(key="schedule", param="schedule", default="constant", options=SCHEDULES),
        weight_decay=dict(key="weight_decay", param="weight_decay", default=0.0, lo=0.0, hi=1.0, cast=float),
        val_share=dict(key="val_share", param="val_share", default=0.1, lo=0.0, hi=0.5, cast=float),
        width=dict(key="width_conv", param="width", default=32, lo=4, hi=256),
        precision=dict(key="precision", param="precision", default="auto", options=PRECISIONS))


def more_settings(model: str, spec) -> dict:
    """The optimizer, loss, activations, upsampling, seed, schedule, weight decay, validation share, width and
    precision: name -> value (None where the model has none). Their controls are drawn only while the section is open
    (each control costs the server a walk over the session's state, and a class opens Train at once); closed, a line
    says every value the run will use."""
    more = st.expander("More settings: optimizer, loss, activations, upsampling, seed, learning-rate schedule, weight "
                       "decay, validation share, width, precision", key="more_settings", on_change="rerun")
    controls = more_controls(model, spec)
    if not more.open:
        v = {name: url.kept(**kw) if kw else None for name, kw in controls.items()}
        arch = (f" · hidden {v['hidden_act']}" if v["hidden_act"] else "") + (
            f" · upsampling {UPSAMPLE_TEXT[v['upsample']]}" if v["upsample"] else "")
        width = f" · width {v['width']}" if spec.default_width is not None else ""
        st.caption(f"Optimizer {v['optimizer']} · loss {LOSS_TEXT[v['loss']]} · output {v['out_act']}{arch} · seed "
                   f"{v['seed']}. Learning rate {SCHEDULE_TEXT[v['schedule']]} · weight decay {v['weight_decay']:g} · "
                   f"{v['val_share']:.0%} held out for validation{width} · precision {PRECISION_TEXT[v['precision']]}")
        return v
    v = {}
    with more:
        if "flash_recipe" in st.session_state:
            st.info(st.session_state.pop("flash_recipe"))
        st.selectbox("Copy the recipe of a zoo model", [""] + zoo_names(), key="recipe", on_change=copy_recipe,
                     format_func=lambda n: n or "(choose one to fill in every setting as it was trained)",
                     help="Every setting of that pretrained model, so you can train it again yourself and compare")
        c1, c2, c3, c4 = st.columns(4)
        v["optimizer"] = url.control(c1.selectbox, "Optimizer", **controls["optimizer"])
        v["loss"] = url.control(c2.selectbox, "Loss", **controls["loss"], format_func=LOSS_TEXT.get)
        v["out_act"] = url.control(c3.selectbox, "Output activation", **controls["out_act"])
        v["hidden_act"] = None
        if controls["hidden_act"]:
            v["hidden_act"] = url.control(c4.selectbox, "Hidden activation", **controls["hidden_act"])
        else:
            c4.selectbox("Hidden activation", ["fixed by the model"], disabled=True, key="hidden_fixed")
        c1, c2, c3, c4 = st.columns(4)
        v["upsample"] = None
        if controls["upsample"]:
            v["upsample"] = url.control(c1.selectbox, "Decoder upsampling", **controls["upsample"],
                                        format_func=UPSAMPLE_TEXT.get)
        else:
            c1.selectbox("Decoder upsampling", ["dense model: n/a"], disabled=True, key="upsample_na")
        v["seed"] = url.control(c2.number_input, "Seed", **controls["seed"])
        v["schedule"] = url.control(c3.selectbox, "Learning-rate schedule", **controls["schedule"],
                                    format_func=SCHEDULE_TEXT.get)
        v["weight_decay"] = url.control(c4.number_input, "Weight decay", **controls["weight_decay"], format="%.5f",
                                        step=1e-4, help="L2 penalty on the weights (decoupled from the gradient with adamw)")
        c1, c2, c3, _ = st.columns(4)
        v["val_share"] = url.control(c1.number_input, "Validation share", **controls["val_share"], step=0.05,
                                     help="Share of the training images held out to measure the validation loss each epoch")
        v["width"] = url.control(c2.number_input, "Width (conv)", **controls["width"], disabled=spec.default_width is None,
                                 help="Channels of the conv model's first layer (the second has twice as many)")
        v["precision"] = url.control(c3.selectbox, "Precision", **controls["precision"], format_func=PRECISION_TEXT.get)
    return v


def _classes(text: str, n: int) -> list[int] | None:
    """The address's digits=0,1,6 (or all) as a list of class labels; None when it names none of them."""
    if text.strip().lower() in ("", "all"):
        return list(range(n))
    try:
        out = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        return None
    return out if out and all(0 <= d < n for d in out) else None


@st.cache_data(max_entries=256, show_spinner=False)
def _checked_cached(key: str, _config: TrainConfig, dataset_name: str, _ds) -> tuple[TrainConfig | None, str | None]:
    try:
        return check_config(_config, _ds), None
    except ConfigError as e:
        return None, str(e)


# The two caches below are keyed by the settings' repr, a plain string: Streamlit hashes a dataclass or a tuple of
# pairs field by field, and that hashing cost more than the work it saved (16 ms of a 110 ms Train run, profiled).
@st.cache_data(max_entries=512, show_spinner=False)
def _images_per_epoch(key: str, _chosen: tuple) -> int:
    """How many images an epoch of these settings ((name, value) pairs; `key` is their repr) trains on, worked out
    once per choice for every session."""
    config = TrainConfig(**dict(_chosen), batch_size=1)
    return images_to_train_on(config, session.dataset(config.dataset))


def _checked(config: TrainConfig, ds) -> tuple[TrainConfig, str | None]:
    """The resolved config, or why it cannot train (checked against the data once per setting)."""
    checked, problem = _checked_cached(repr(config), config, ds.name, ds)
    return checked or config, problem


def copy_recipe() -> None:
    """"Copy the recipe of a zoo model": every setting of that model, into the page's controls."""
    name = st.session_state.get("recipe")
    if not name:
        return
    try:
        c = load_zoo(name).config
    except (RunError, KeyError) as e:
        st.session_state["flash_recipe"] = f"Cannot read the recipe of {name}: {e}"
        return
    noise = c.noise_spec
    kind = noise.kind if noise.active else "none"
    values = {"dataset": c.dataset, "model": c.model, f"latent_{c.model}": c.latent, "epochs": c.epochs,
              f"batch_{c.dataset}": c.batch_size, f"lr_{c.model}": c.lr, "optimizer": c.optimizer, "loss": c.loss,
              "out_act": c.out_act, f"hidden_{c.model}": c.hidden_act, f"upsample_{c.model}": c.upsample,
              "noise_kind": kind, f"noise_level_{kind}": noise.level if noise.active else None, "seed": c.seed,
              "digits": list(c.digits) if c.digits else list(range(10)), f"limit_{c.dataset}": c.limit or 0,
              f"pretrain_{c.model}": c.pretrain_epochs, "schedule": c.schedule, "weight_decay": c.weight_decay,
              "val_share": c.val_fraction, "width_conv": c.width or 32, "precision": c.precision, "device": "auto"}
    for key, value in values.items():
        if value is not None:
            st.session_state[key] = value
    st.session_state["flash_recipe"] = f"Filled in the recipe of {name}: {c.describe()}."


@st.fragment
def launch(config: TrainConfig, problem: str | None, sidebar_slot) -> None:
    """▶ Train (with the run's name and step by step), the job boxes below it and the sidebar's job box: a click on
    ▶ Train reruns only these, not the whole page with its settings (a class clicks ▶ Train in the same second), and
    the job it queued shows in both boxes at once."""
    train_button(config, problem)
    training_jobs()
    if sidebar_slot is not None:
        background.fill_sidebar_slot(sidebar_slot)


def train_button(config: TrainConfig, problem: str | None) -> None:
    n1, n2, n3 = st.columns([3, 1, 1])
    run_name = n1.text_input("Name of the run", placeholder=config.describe(), max_chars=80, key="run_name")
    stepwise = n2.checkbox("Step by step", key="stepwise",
                           help="Pause after the first step; then step once, ten steps at a time, or go on")
    if n3.button("▶ Train", type="primary", disabled=problem is not None, width="stretch"):
        job = background.queue_training(config, name=run_name.strip() or config.describe(),
                                        max_steps=1 if stepwise else None)
        if job is not None:  # its box below and the sidebar's (app.py) show in this same run: no second run of the
            st.toast(f"Queued job {job.id}: {config.describe()}")  # whole page (a class clicks ▶ Train at once)


# ---- this workspace's training jobs --------------------------------------------------------------------
# A job that waits behind others (a class's queue) changes only its place while it waits: its box is polled every
# few seconds, not every second. Thirty students' boxes polled every second were a fifth of the server's two cores
# during a class's arrival (a waiting box's poll costs about 7 ms: `python bench/page_cost.py`, its "polls").
WAITING_POLL_S = 3.0


def training_jobs() -> None:
    """One box per training job, from queued to done: it never disappears while the job waits, runs, pauses, steps or
    stops, and shows a request (Stop, Pause, 1 step…) as soon as it is clicked. Polled every second while a job is
    running, paused or next in the queue; every WAITING_POLL_S while all wait behind others."""
    jobs = _shown_jobs()
    st.session_state.setdefault("shown_finished", {(j.id, j.attempts) for j in session.my_jobs() if not j.active})
    unfinished = [j for j in jobs if session.unfinished(j)]
    if unfinished and session.engine().waiting_behind_others(unfinished):
        _waiting_boxes()
    elif unfinished:  # a click (Stop, Pause, 1 step, Go on) moves it within a second
        _live_boxes()  # a click on a box reruns only the boxes: its request shows at once
    elif jobs:
        _boxes(jobs)


def _shown_jobs() -> list:
    dismissed = st.session_state.setdefault("dismissed_jobs", set())
    return [j for j in session.my_jobs()[:20] if j.kind == "train" and j.id not in dismissed
            and (j.active or j.status != "done")]


@st.fragment(run_every=1.0)
def _live_boxes() -> None:
    _polled_boxes()


@st.fragment(run_every=WAITING_POLL_S)
def _waiting_boxes() -> None:
    _polled_boxes(waiting=True)


def _polled_boxes(waiting: bool = False) -> None:
    mine = [j for j in session.my_jobs() if j.kind == "train"]
    shown = st.session_state.setdefault("shown_finished", set())
    ended = [j for j in mine if not j.active and (j.id, j.attempts) not in shown and j.finished and j.attempts]
    if ended:  # a job just ended or paused: the whole page reruns, so the run list, the pickers and the sidebar update
        shown.update((j.id, j.attempts) for j in ended)
        st.rerun()
    jobs = _shown_jobs()
    if waiting and not session.engine().waiting_behind_others([j for j in jobs if session.unfinished(j)]):
        st.rerun()  # a job came to the front of the queue (or started): its box is polled every second from now on
    _boxes(jobs)


def _boxes(jobs: list) -> None:
    for job in jobs:
        with st.container(border=True, key=f"job_box_{job.id}"):
            _job_box(job)


def _job_box(job) -> None:
    eng, ws = session.engine(), session.workspace()
    st.markdown(f"**Job {job.id}** · {safe.plain(job.label)}")
    buttons = st.columns([2, 2, 2, 2, 3])  # wide enough for "↻ Resume" and "10 steps" on a laptop's screen
    said = st.empty()  # a request shows here the moment it is clicked, before the store is written (a busy disk)
    try:
        if job.status == "running" and (job.progress or {}).get("phase") == "train":  # pretraining cannot pause
            if buttons[2].button("Pause", icon=":material/pause:", key=f"pause_{job.id}", width="stretch",
                                 help="Pause after this step; go on later exactly from here"):
                _ask(job, said, "pausing after this step…", lambda: eng.pause(job.id, ws))
        if job.active and buttons[3].button("■ Stop", key=f"stop_{job.id}", width="stretch",
                                            help="Stop now and keep the weights trained so far"):
            _ask(job, said, "stopping: the weights so far are kept…", lambda: eng.stop(job.id, ws))
        if job.resumable and job.epochs_done < job.params["config"]["epochs"]:
            paused = job.status == "paused"
            go = buttons[0].button("▶ Go on" if paused else "↻ Resume", key=f"resume_{job.id}", width="stretch",
                                   help="Continue exactly where it ended (after a crash: from its last finished epoch)")
            one = paused and buttons[1].button("1 step", key=f"step1_{job.id}", width="stretch",
                                               help="Train one step, then pause")
            ten = paused and buttons[2].button("10 steps", key=f"step10_{job.id}", width="stretch",
                                               help="Train ten steps, then pause")
            if go or one or ten:
                _ask(job, said, "training one step…" if one else "training ten steps…" if ten else "going on…",
                     lambda: eng.resume(job.id, ws, steps=1 if one else 10 if ten else None))
        if not job.active and buttons[3].button("Dismiss", key=f"dismiss_{job.id}", width="stretch"):
            st.session_state["dismissed_jobs"].add(job.id)
            st.rerun()
    except StoreError as e:  # it ended meanwhile, or is not ours
        said.warning(safe.plain(str(e)))
        st.session_state.pop(f"asked_{job.id}", None)
    asked = st.session_state.get(f"asked_{job.id}")  # (read after the buttons: a click here shows in this run)
    if asked and asked[:2] == (job.status, job.attempts):
        said.info(asked[2])  # the request, until the job's state moves (a step taken counts as a move)
        return
    st.session_state.pop(f"asked_{job.id}", None)
    if job.status == "queued":
        st.info(f"Waiting: {eng.waiting_text(job)}.")
    elif job.status == "running":
        p = JobProgress.from_dict(job.progress)
        st.progress(p.share if p else 0.0, text=safe.plain(describe(job.progress)))
        if p is not None:
            left, right = st.columns(2)
            left.plotly_chart(charts.live_loss_figure(job.curve, job.history, p.epochs), key=f"live_loss_{job.id}")
            with right:  # watch it learn: the codes of 500 test images and 8 reconstructions, every few steps
                watch.live(job.id, key=f"live_codes_{job.id}", ds=session.dataset(job.params["config"]["dataset"]))
    else:
        box = st.info if job.status == "paused" else st.warning if job.status in ("stopped", "interrupted") else st.error
        box(safe.plain(job.error))
        if job.status == "paused":
            watch.live(job.id, key=f"paused_codes_{job.id}", ds=session.dataset(job.params["config"]["dataset"]))


def _ask(job, said, text: str, act) -> None:
    """Show the request in `said` at once, before the store is written (a busy disk never delays it), then `act` and
    keep showing it until the job's state moves (its status, or another start). A stopped or interrupted job's box
    is not polled yet, so the page reruns and polls it."""
    said.info(text)
    act()
    st.session_state[f"asked_{job.id}"] = (job.status, job.attempts, text)
    session.jobs_changed()
    if not session.unfinished(job):
        st.rerun()


# ---- runs -------------------------------------------------------------------------------------------------
def watch_it_learn(runs) -> None:
    st.subheader("Watch it learn")
    recorded = {e.id: e.name for e in runs if watch.run_recording_path(e.id).is_file()}
    if not recorded:
        st.caption("While a model trains, the codes of 500 test images and the reconstructions of 8 digits are recorded "
                   "every few steps. Train a model: you see them move live above, then replay them here.")
        return
    newest, seen = next(iter(recorded)), st.session_state.get("_watch_runs_seen")
    if seen is not None and newest not in seen:  # a run just trained (or uploaded): replay it, not the one picked before
        st.session_state["watch_run"] = newest
    st.session_state["_watch_runs_seen"] = set(recorded)
    watch_id = url.control(st.selectbox, "Replay the training of", list(recorded), key="watch_run", default=newest,
                           format_func=recorded.get)
    watch.replay(watch.run_recording_path(watch_id), key=f"watch_{watch_id}",
                 ds=session.dataset(picker.run_data(f"run:{watch_id}")))


def your_runs(runs) -> None:
    with st.container(key="train_runs"):  # a lesson can hide this section (?hide=runs)
        st.subheader("Your runs")
        flash = st.session_state.pop("flash", None)
        if flash:
            st.success(flash)
        if not runs:
            st.caption("Everything you train is kept here automatically (and after a reload or a server restart).")
            return
        eng = session.engine()
        st.caption(f"{len(runs)} run(s), {eng.used_mb(session.workspace()):.1f} of {eng.settings.quota_mb:g} MB used")
        for i, entry in enumerate(runs):
            with st.expander(f"{safe.plain(entry.name)} — {entry.status}"
                             + (" · shared with the class" if entry.shared else ""), expanded=i == 0):
                _run_card(entry)


def _run_card(entry) -> None:
    eng, ws = session.engine(), session.workspace()
    try:
        run = picker.kept_run(entry.id, entry.digest)
    except (RunError, OSError) as e:
        st.error(f"This run cannot be opened: {safe.plain(str(e))}")
        if st.button("Delete it", key=f"rm_bad_{entry.id}"):
            eng.delete_run(entry.id, ws)
            st.rerun()
        return
    left, right = st.columns([3, 2])
    with left:
        if any(r.get("phase", "train") == "train" for r in run.history):
            st.plotly_chart(charts.loss_figure(run.history), key=f"loss_{entry.id}")
        else:
            st.caption("No epoch has finished yet: the loss per epoch shows here once one has (the live curve of "
                       "its steps is in the job's box above).")
    with right:
        st.caption(safe.plain(entry.summary or run.config.describe()))
        took = "under 0.1 s" if run.seconds < 0.05 else f"{run.seconds:.1f} s"  # (a tiny run said "0.0 s")
        st.caption(f"{took} of training on {run.device}")
        pretraining = pretraining_text(run.history)
        if pretraining:
            st.caption(pretraining)
        name = st.text_input("Name", value=entry.name, key=f"name_{entry.id}", max_chars=80)
        b1, b2 = st.columns(2)
        if b1.button("Rename", key=f"ren_{entry.id}", disabled=name.strip() == entry.name, width="stretch"):
            try:
                eng.rename_run(entry.id, name, ws)
                st.rerun()
            except StoreError as e:
                st.error(safe.plain(str(e)))
        if b2.button("Unshare" if entry.shared else "Share", key=f"share_{entry.id}", width="stretch",
                     help="Share with the class: everyone can pick it (nobody else can change or delete it)"):
            eng.share_run(entry.id, not entry.shared, ws)
            st.rerun()
        b3, b4 = st.columns(2)
        b3.download_button("Download", lambda run=run: run_to_bytes(run), file_name=f"{sanitize_name(entry.name)}.zip",
                           mime="application/zip", key=f"dl_{entry.id}", width="stretch")
        if b4.button("Delete", key=f"rm_{entry.id}", width="stretch"):
            eng.delete_run(entry.id, ws)
            st.session_state["flash"] = f"Deleted “{safe.plain(entry.name)}”."
            st.rerun()
    try:  # test images of digits 0-7 (of the first classes of another data set), reconstructed by the run
        on = session.dataset(run.config.dataset)
        shown = tuple(preview_indices(on))
        widgets.image_rows([("originals", on.test.x[list(shown)]),
                            ("reconstructions", picker.reconstructions(f"run:{entry.id}", run, shown))], scale=2)
    except DataError as e:
        st.caption(f"Its data set cannot be shown: {safe.plain(str(e))}")


def pretraining_text(history: list[dict]) -> str | None:
    """What a stacked AE's layer-wise pretraining did (its chart shows the fine-tuning only: those losses are the whole
    network's, these each layer pair's), or None when it had none."""
    rows = [r for r in history if r.get("phase", "train").startswith("pretrain")]
    last = {r["phase"]: r for r in rows}  # the phases come in order: a pair's last epoch is its final loss
    if not last:
        return None
    per_pair = len(rows) // len(last)
    losses = ", ".join(f"{r['train_loss']:.4f}" for r in last.values())
    return (f"Pretrained layer by layer first: {len(last)} layer pairs, {per_pair} epoch{'s' if per_pair != 1 else ''} "
            f"each ({sum(r.get('seconds') or 0 for r in rows):.1f} s; each pair's last loss: {losses}). The chart "
            "shows the fine-tuning of the whole network after it.")


def upload_a_run() -> None:
    with st.container(key="train_upload"):  # ?hide=upload
        st.subheader("Upload a run")
        up = st.file_uploader("A run .zip downloaded from AE Lab", type=["zip"], key="upload_run")
        if up is None or st.session_state.get("uploaded_id") == up.file_id:
            return
        st.session_state.uploaded_id = up.file_id
        try:
            run = run_from_bytes(up.getvalue())
            entry = session.engine().keep_upload(session.workspace(), run, run.name or up.name.removesuffix(".zip"))
            st.session_state["flash"] = (f"Loaded “{safe.plain(entry.name)}”: it is in your runs and in the run picker "
                                         "on every page.")
            st.rerun()
        except (RunError, StoreError) as e:
            st.error(f"That file is not a usable run: {safe.plain(str(e))}")


main()
