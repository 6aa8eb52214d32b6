"""Train: choose a model and its training options, train in the background, watch it live, keep and share runs."""

import streamlit as st

from aecore.data import imported as datasets
from aecore.data.dataset import DataError, preview_indices
from aecore.data.noise import NOISE_KINDS, NOISE_LIMITS
from aecore.engine.client import JobProgress, StoreError, describe
from aecore.models.autoencoders import ACTIVATIONS, LATENT_RANGE, UPSAMPLES
from aecore.models.registry import MODELS
from aecore.training.config import LOSSES, OPTIMIZERS, PRECISIONS, SCHEDULES, ConfigError, TrainConfig
from aecore.training.device import device_label
from aecore.training.runs import RunError, run_from_bytes, run_to_bytes, sanitize_name
from aecore.training.trainer import check_config
from aecore.training.zoo import zoo_names
from app_pages.kit import background, charts, picker, safe, session, url, watch, widgets

st.title("Train an autoencoder")
eng = session.engine()
ws = session.workspace()
workers = eng.settings.resolved_workers()
st.caption(f"Training runs on: **{device_label(threads=eng.settings.resolved_threads())}** per job · jobs from everyone "
           f"in the class share {workers} worker process{'es' if workers != 1 else ''} on this server · "
           "your runs are kept in this workspace: bookmark this page's address to come back to them")
keep = widgets.kept  # every setting survives leaving the page and coming back

# ---- settings -----------------------------------------------------------------------------------
here = ["mnist"] + datasets.names()  # the bundled MNIST and the sets imported on the Data sets page
data_name = keep(st.selectbox, "Data set", here, key="dataset", default=url.query_choice("dataset", here, "mnist"),
                 help="Add your own images on the Data sets page")
ds = session.dataset(data_name)
mnist = data_name == "mnist"
if not mnist:
    c, h, w = ds.image_shape
    st.caption(f"{safe.plain(data_name)}: {h}×{w} {'colour' if c == 3 else 'grey'} images, {len(ds.train):,} for "
               f"training, {ds.n_classes} classes. Models that take only 28×28 grey digits are not offered.")
names = [n for n in MODELS if mnist or MODELS[n].any_shape is not None]
model = keep(st.selectbox, "Model", names, key="model", default=url.query_choice("model", names, "conv"),
             format_func=lambda n: f"{n} — {MODELS[n].summary}")
spec = MODELS[model]
c1, c2, c3, c4 = st.columns(4)
if spec.latent is not None:
    latent = keep(c1.number_input, "Latent size k", LATENT_RANGE[0], LATENT_RANGE[1], key=f"latent_{model}",
                  default=url.query_number("latent", spec.latent, *LATENT_RANGE), help="How many numbers the code has (1-256)")
else:
    latent = None
    c1.number_input("Latent size k", value=spec.fixed_latent, disabled=True, help="Fixed by this architecture's code map",
                    key="latent_fixed")
epochs = keep(c2.number_input, "Epochs", 1, 1000, key="epochs", default=url.query_number("epochs", 3, 1, 1000))
batch = keep(c3.number_input, "Batch size", 1, 60000, key="batch", default=url.query_number("batch", 128, 1, 60000))
lr = keep(c4.number_input, "Learning rate", min_value=1e-6, max_value=10.0, key=f"lr_{model}",
          default=url.query_number("lr", spec.default_lr, 1e-6, 10.0, float), format="%.5f", step=1e-4)

c1, c2, c3, c4 = st.columns(4)
optimizer = keep(c1.selectbox, "Optimizer", OPTIMIZERS, key="optimizer", default=OPTIMIZERS[0])
loss = keep(c2.selectbox, "Loss", LOSSES, key="loss", default=LOSSES[0],
            format_func={"mse": "MSE", "bce": "binary cross-entropy"}.get)
out_act = keep(c3.selectbox, "Output activation", ACTIVATIONS, key="out_act", default="sigmoid")
if spec.hidden_acts:
    hidden_act = keep(c4.selectbox, "Hidden activation", spec.hidden_acts, key=f"hidden_{model}", default=spec.default_hidden)
else:
    hidden_act = None
    c4.selectbox("Hidden activation", ["fixed by the model"], disabled=True, key="hidden_fixed")

c1, c2, c3, c4 = st.columns(4)
if spec.conv:
    upsample = keep(c1.selectbox, "Decoder upsampling", UPSAMPLES, key=f"upsample_{model}", default=spec.default_upsample,
                    format_func={"transpose": "ConvTranspose2d", "nearest": "Upsample (nearest) + Conv"}.get)
else:
    upsample = None
    c1.selectbox("Decoder upsampling", ["dense model: n/a"], disabled=True, key="upsample_na")
noise_kind = keep(c2.selectbox, "Input corruption (denoising)", NOISE_KINDS, key="noise_kind", default="none",
                  format_func={"none": "none", "masking": "masking (pixels set to 0)", "gaussian": "Gaussian",
                               "saltpepper": "salt and pepper"}.get)
noise_level = keep(c3.number_input, "Noise level", 0.0, float(NOISE_LIMITS.get(noise_kind, (0, 1))[1]),
                   key=f"noise_level_{noise_kind}", default=0.5 if noise_kind == "masking" else 0.3, step=0.05,
                   disabled=noise_kind == "none", help="masking / salt and pepper: fraction of pixels; Gaussian: sigma")
seed = keep(c4.number_input, "Seed", 0, 2**31 - 1, key="seed", default=0)

if mnist:
    digits = keep(st.multiselect, "Digits to train on", list(range(10)), key="digits", default=list(range(10)),
                  help="Train on a subset, e.g. only 0 (then see how it reconstructs the others)")
else:
    every = list(range(ds.n_classes))
    digits = keep(st.multiselect, "Classes to train on", every, key=f"classes_{data_name}", default=every,
                  format_func=lambda i: ds.class_names[i], help="Train on a subset of the classes")
c2, c3, c4 = st.columns(3)  # the digits have a row of their own: in a column their chips were cut off
limit = keep(c2.number_input, "Training images (0 = all)", 0, 60000, key="limit",
             default=url.query_number("limit", 0, 0, 60000), step=1000)
pretrain = keep(c3.number_input, "Layer-wise pretraining epochs", 0, 100, key=f"pretrain_{model}", default=0,
                disabled=not spec.stackable, help="Stacked AE: train each layer pair greedily first (deep MLP models)")
devices = widgets.available_devices()
device = keep(c4.radio, "Device", devices, key="device", default="auto", horizontal=True,
              help="cuda appears when this server has a GPU")

with st.expander("More settings: the learning-rate schedule, weight decay, validation share, width, precision"):
    if "flash_recipe" in st.session_state:
        st.info(st.session_state.pop("flash_recipe"))
    st.selectbox("Copy the recipe of a zoo model", [""] + zoo_names(), key="recipe", on_change=widgets.copy_recipe,
                 format_func=lambda n: n or "(choose one to fill in every setting as it was trained)",
                 help="Every setting of that pretrained model, so you can train it again yourself and compare")
    c1, c2, c3, c4, c5 = st.columns(5)
    schedule = keep(c1.selectbox, "Learning-rate schedule", SCHEDULES, key="schedule", default="constant",
                    format_func={"constant": "constant", "cosine": "cosine (anneals to 0)",
                                 "onecycle": "one-cycle (warm up, then anneal)"}.get)
    weight_decay = keep(c2.number_input, "Weight decay", 0.0, 1.0, key="weight_decay", default=0.0, format="%.5f",
                        step=1e-4, help="L2 penalty on the weights (decoupled from the gradient with adamw)")
    val_share = keep(c3.number_input, "Validation share", 0.0, 0.5, key="val_share", default=0.1, step=0.05,
                     help="Share of the training images held out to measure the validation loss each epoch")
    width = keep(c4.number_input, "Width (conv)", 4, 256, key="width_conv", default=32, disabled=spec.default_width is None,
                 help="Channels of the conv model's first layer (the second has twice as many)")
    precision = keep(c5.selectbox, "Precision", PRECISIONS, key="precision", default="auto",
                     format_func={"auto": "auto (bf16 on a GPU)", "fp32": "fp32", "bf16": "bf16 mixed"}.get)

config = TrainConfig(
    model=model, latent=latent, hidden_act=hidden_act, out_act=out_act, upsample=upsample, loss=loss,
    optimizer=optimizer, lr=float(lr), batch_size=int(batch), epochs=int(epochs), seed=int(seed),
    noise="none" if noise_kind == "none" else f"{noise_kind}:{noise_level:g}",
    digits=tuple(digits) if len(digits) < ds.n_classes else None, limit=int(limit) or None,
    pretrain_epochs=int(pretrain), device=device, dataset=data_name,
    schedule=schedule, weight_decay=float(weight_decay), val_fraction=float(val_share),
    width=int(width) if spec.default_width is not None else None, precision=precision,
)
st.query_params.update({"model": model, "epochs": str(epochs), "batch": str(batch), "lr": f"{lr:g}", "limit": str(limit),
                        "dataset": data_name})
if latent is not None:
    st.query_params["latent"] = str(latent)

@st.cache_data(max_entries=256, show_spinner=False)
def checked(config: TrainConfig) -> tuple[TrainConfig | None, str | None]:
    """The resolved config, or why it cannot train (checked against the data once per setting)."""
    try:
        return check_config(config, ds), None
    except ConfigError as e:
        return None, str(e)


checked_config, problem = checked(config)
config = checked_config or config

if problem:
    st.warning(f"Cannot train with these settings: {problem}")
n1, n2, n3 = st.columns([3, 1, 1])
run_name = n1.text_input("Name of the run", placeholder=config.describe(), max_chars=80, key="run_name")
stepwise = n2.checkbox("Step by step", key="stepwise",
                       help="Pause after the first step; then step once, ten steps at a time, or go on")
if n3.button("▶ Train", type="primary", disabled=problem is not None):
    job = background.queue_training(config, name=run_name.strip() or config.describe(), max_steps=1 if stepwise else None)
    if job is not None:
        st.toast(f"Queued job {job.id}: {config.describe()}")


# ---- live jobs ----------------------------------------------------------------------------------
@st.fragment(run_every=2.0)
def live_jobs():
    jobs = [j for j in session.my_jobs() if j.kind == "train"]  # other jobs show on their own pages and in the sidebar
    active = [j for j in jobs if j.active]
    shown = st.session_state.setdefault("shown_finished", set())
    fresh = [j for j in jobs if not j.active and j.id not in shown and j.finished and j.attempts]
    if fresh:  # a job just ended: rerun the whole page so the run list and pickers update
        shown.update(j.id for j in fresh)
        st.rerun()
    for job in active:
        with st.container(border=True):
            top = st.columns([4, 1, 1])
            top[0].markdown(f"**Job {job.id}** · {safe.plain(job.label)}")
            in_main_phase = (job.progress or {}).get("phase") == "train"  # layer-wise pretraining cannot pause
            try:
                if job.status == "running" and in_main_phase and top[1].button(
                        "Pause", icon=":material/pause:", key=f"pause_{job.id}",
                        help="Pause after this step; go on later exactly from here"):
                    eng.pause(job.id, ws)
                if top[2].button("■ Stop", key=f"stop_{job.id}", help="Stop now and keep the weights trained so far"):
                    eng.stop(job.id, ws)
            except StoreError as e:  # it ended meanwhile, or is not ours
                st.warning(str(e))
            if job.status == "queued":
                st.info(f"Waiting: {eng.waiting_text(job)}.")
                continue
            p = JobProgress.from_dict(job.progress)
            st.progress(p.share if p else 0.0, text=safe.plain(describe(job.progress)))
            if p is None:
                continue
            left, right = st.columns(2)
            left.plotly_chart(charts.live_loss_figure(job.curve, job.history, p.epochs), key=f"live_loss_{job.id}")
            with right:  # watch it learn: the codes of 500 test images and 8 reconstructions, every few steps
                watch.live(job.id, key=f"live_codes_{job.id}", ds=session.dataset(job.params["config"]["dataset"]))


st.session_state.setdefault("shown_finished", {j.id for j in session.my_jobs() if not j.active})
if session.has_active_jobs():
    live_jobs()  # polls every 2 s, only while this workspace has a job queued or running

# ---- jobs that ended early ----------------------------------------------------------------------
for job in session.my_jobs()[:10]:
    if job.active or not job.error or job.kind != "train" and (job.lane == "view" or job.kind == "dataset") \
            or st.session_state.get(f"dismissed_{job.id}"):
        continue  # imports, maps and codes say why they failed on their own pages
    box = st.info if job.status == "paused" else st.warning if job.status in ("stopped", "diverged", "interrupted") else st.error
    c1, c2, c3, c4, c5 = st.columns([6, 1, 1, 1, 1])
    with c1:
        box(f"Job {job.id} ({safe.plain(job.label)}): {safe.plain(job.error)}")
    if job.resumable and job.kind == "train" and job.epochs_done < job.params["config"]["epochs"]:
        go = c2.button("▶ Go on" if job.status == "paused" else "↻ Resume", key=f"resume_{job.id}",
                       help="Continue exactly where it ended (after a crash: from its last finished epoch)")
        one = job.status == "paused" and c3.button("1 step", key=f"step1_{job.id}", help="Train one step, then pause")
        ten = job.status == "paused" and c4.button("10 steps", key=f"step10_{job.id}", help="Train ten steps, then pause")
        if go or one or ten:
            try:
                eng.resume(job.id, ws, steps=1 if one else 10 if ten else None)
                st.rerun()
            except StoreError as e:
                st.error(str(e))
    if c5.button("Dismiss", key=f"dismiss_{job.id}"):
        st.session_state[f"dismissed_{job.id}"] = True
        st.rerun()

runs = eng.runs(ws)

# ---- watch it learn -----------------------------------------------------------------------------
st.subheader("Watch it learn")
recorded = {e.id: e.name for e in runs if watch.run_recording_path(e.id).is_file()}
if not recorded:
    st.caption("While a model trains, the codes of 500 test images and the reconstructions of 8 digits are recorded "
               "every few steps. Train a model: you see them move live above, then replay them here.")
else:
    watch_id = st.selectbox("Replay the training of", list(recorded), format_func=recorded.get,
                            key="watch_run")
    watch.replay(watch.run_recording_path(watch_id), key=f"watch_{watch_id}", ds=session.dataset(picker.run_data(f"run:{watch_id}")))

# ---- your runs ----------------------------------------------------------------------------------
with st.container(key="train_runs"):  # a lesson can hide this section (?hide=runs)
    st.subheader("Your runs")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    if not runs:
        st.caption("Everything you train is kept here automatically (and after a reload or a server restart).")
    used = eng.used_mb(ws)
    if runs:
        st.caption(f"{len(runs)} run(s), {used:.1f} of {eng.settings.quota_mb:g} MB used")
    for i, entry in enumerate(runs):
        with st.expander(f"{safe.plain(entry.name)} — {entry.status}" + (" · shared with the class" if entry.shared else ""),
                         expanded=i == 0):
            try:
                run = picker.kept_run(entry.id, entry.digest)
            except (RunError, OSError) as e:
                st.error(f"This run cannot be opened: {safe.plain(str(e))}")
                if st.button("Delete it", key=f"rm_bad_{entry.id}"):
                    eng.delete_run(entry.id, ws)
                    st.rerun()
                continue
            left, right = st.columns([3, 2])
            left.plotly_chart(charts.epoch_axis(charts.loss_figure(run.history)), key=f"loss_{entry.id}")
            with right:
                st.caption(safe.plain(entry.summary or run.config.describe()))
                st.caption(f"{run.seconds:.1f} s on {run.device}")
                name = st.text_input("Name", value=entry.name, key=f"name_{entry.id}", max_chars=80)
                b1, b2, b3, b4 = st.columns(4)
                if b1.button("Rename", key=f"ren_{entry.id}", disabled=name.strip() == entry.name):
                    try:
                        eng.rename_run(entry.id, name, ws)
                        st.rerun()
                    except StoreError as e:
                        st.error(str(e))
                if b2.button("Unshare" if entry.shared else "Share", key=f"share_{entry.id}",
                             help="Share with the class: everyone can pick it (nobody else can change or delete it)"):
                    eng.share_run(entry.id, not entry.shared, ws)
                    st.rerun()
                b3.download_button("Download", lambda run=run: run_to_bytes(run), file_name=f"{sanitize_name(entry.name)}.zip",
                                   mime="application/zip", key=f"dl_{entry.id}")
                if b4.button("Delete", key=f"rm_{entry.id}"):
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

with st.container(key="train_upload"):  # ?hide=upload
    st.subheader("Upload a run")
    up = st.file_uploader("A run .zip downloaded from AE Lab", type=["zip"], key="upload_run")
    if up is not None and st.session_state.get("uploaded_id") != up.file_id:
        st.session_state.uploaded_id = up.file_id
        try:
            run = run_from_bytes(up.getvalue())
            entry = eng.keep_upload(ws, run, run.name or up.name.removesuffix(".zip"))
            st.session_state["flash"] = f"Loaded “{safe.plain(entry.name)}”: it is in your runs and in the run picker on every page."
            st.rerun()
        except (RunError, StoreError) as e:
            st.error(f"That file is not a usable run: {safe.plain(str(e))}")
