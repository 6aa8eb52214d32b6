"""Train: choose a model and every training option, train in the background, watch it live, save the run."""

import numpy as np
import streamlit as st

from aecore.config import LOSSES, OPTIMIZERS, ConfigError, TrainConfig
from aecore.device import device_label
from aecore.jobs import FINISHED, QUEUED, RUNNING, JobError, train_job
from aecore.models import ACTIVATIONS, LATENT_RANGE, MODELS, UPSAMPLES
from aecore.noise import NOISE_KINDS, NOISE_LIMITS
from aecore.runs import RunError, run_from_bytes, run_to_bytes, sanitize_name
from aecore.train import EpochStats, check_config
from pages import _ui

_ui.require_navigation()

st.title("Train an autoencoder")
st.caption(f"Training runs on: **{device_label()}** · jobs from every user share one queue on this server")
ds = _ui.dataset()
PREVIEW = np.array([3, 2, 1, 18, 4, 8, 11, 0])  # test images of digits 0-7, shown while training

# ---- settings -----------------------------------------------------------------------------------
names = list(MODELS)
model = st.selectbox("Model", names, index=_ui.query_index("model", names, "conv"),
                     format_func=lambda n: f"{n} — {MODELS[n].summary}", key="model")
spec = MODELS[model]
c1, c2, c3, c4 = st.columns(4)
if spec.latent is not None:
    latent = c1.number_input("Latent size k", LATENT_RANGE[0], LATENT_RANGE[1], _ui.query_default("latent", spec.latent, int),
                             help="How many numbers the code has (1-256)", key=f"latent_{model}")
else:
    latent = None
    c1.number_input("Latent size k", value=spec.fixed_latent, disabled=True, help="Fixed by this architecture's code map")
epochs = c2.number_input("Epochs", 1, 1000, _ui.query_default("epochs", 3, int), key="epochs")
batch = c3.number_input("Batch size", 1, 60000, _ui.query_default("batch", 128, int), key="batch")
lr = c4.number_input("Learning rate", min_value=0.0, max_value=1e6, value=_ui.query_default("lr", spec.default_lr, float),
                     format="%.5f", step=1e-4, key=f"lr_{model}")

c1, c2, c3, c4 = st.columns(4)
optimizer = c1.selectbox("Optimizer", OPTIMIZERS, key="optimizer")
loss = c2.selectbox("Loss", LOSSES, format_func={"mse": "MSE", "bce": "binary cross-entropy"}.get, key="loss")
out_act = c3.selectbox("Output activation", ACTIVATIONS, index=ACTIVATIONS.index("sigmoid"), key="out_act")
hidden_act = c4.selectbox("Hidden activation", spec.hidden_acts, index=spec.hidden_acts.index(spec.default_hidden),
                          key=f"hidden_{model}") if spec.hidden_acts else None
if not spec.hidden_acts:
    c4.selectbox("Hidden activation", ["fixed by the model"], disabled=True)

c1, c2, c3, c4 = st.columns(4)
upsample = c1.selectbox("Decoder upsampling", UPSAMPLES, index=UPSAMPLES.index(spec.default_upsample),
                        format_func={"transpose": "ConvTranspose2d", "nearest": "Upsample (nearest) + Conv"}.get,
                        key=f"upsample_{model}") if spec.conv else None
if not spec.conv:
    c1.selectbox("Decoder upsampling", ["dense model: n/a"], disabled=True)
noise_kind = c2.selectbox("Input corruption (denoising)", NOISE_KINDS, key="noise_kind",
                          format_func={"none": "none", "masking": "masking (pixels set to 0)", "gaussian": "Gaussian",
                                       "saltpepper": "salt and pepper"}.get)
noise_level = c3.number_input("Noise level", 0.0, float(NOISE_LIMITS.get(noise_kind, (0, 1))[1]), 0.5 if noise_kind == "masking" else 0.3,
                              step=0.05, disabled=noise_kind == "none", key=f"noise_level_{noise_kind}",
                              help="masking / salt and pepper: fraction of pixels; Gaussian: sigma")
seed = c4.number_input("Seed", 0, 2**31 - 1, 0, key="seed")

c1, c2, c3, c4 = st.columns(4)
digits = c1.multiselect("Digits to train on", list(range(10)), default=list(range(10)), key="digits",
                        help="Train on a subset, e.g. only 0 (then see how it reconstructs the others)")
limit = c2.number_input("Training images (0 = all)", 0, 60000, _ui.query_default("limit", 0, int), step=1000, key="limit")
pretrain = c3.number_input("Layer-wise pretraining epochs", 0, 100, 0, key=f"pretrain_{model}", disabled=not spec.stackable,
                           help="Stacked AE: train each layer pair greedily first (deep MLP models)")
device = c4.radio("Device", ["auto", "cpu", "cuda"], horizontal=True, key="device")

config = TrainConfig(
    model=model, latent=latent, hidden_act=hidden_act, out_act=out_act, upsample=upsample, loss=loss,
    optimizer=optimizer, lr=float(lr), batch_size=int(batch), epochs=int(epochs), seed=int(seed),
    noise="none" if noise_kind == "none" else f"{noise_kind}:{noise_level:g}",
    digits=tuple(digits), limit=int(limit) or None, pretrain_epochs=int(pretrain), device=device,
)
st.query_params.update({"model": model, "epochs": str(epochs), "batch": str(batch), "lr": f"{lr:g}", "limit": str(limit)})
if latent is not None:
    st.query_params["latent"] = str(latent)

problem = None
try:
    config = check_config(config, ds)
except ConfigError as e:
    problem = str(e)

if problem:
    st.warning(f"Cannot train with these settings: {problem}")
if st.button("▶ Train", type="primary", disabled=problem is not None):
    try:
        job = _ui.runner().submit(_ui.owner(), config.describe(), train_job(config, ds, ds.test.x[PREVIEW]))
        st.toast(f"Queued {job.id}: {config.describe()}")
    except JobError as e:
        st.error(str(e))


# ---- live jobs ----------------------------------------------------------------------------------
@st.fragment(run_every=2.0)
def live_jobs():
    jobs = _ui.runner().jobs(_ui.owner())
    active = [j for j in jobs if j.status in (QUEUED, RUNNING)]
    shown = st.session_state.setdefault("shown_finished", set())
    fresh = [j for j in jobs if j.status in FINISHED and j.id not in shown]
    if fresh:  # a job just ended: rerun the whole page so the run picker and results update
        shown.update(j.id for j in fresh)
        st.rerun()
    if not active:
        return
    for job in active:
        with st.container(border=True):
            top = st.columns([4, 1])
            top[0].markdown(f"**{job.label}** · `{job.id}`")
            if top[1].button("■ Stop", key=f"stop_{job.id}", help="Stop now and keep the weights trained so far"):
                _ui.runner().stop(job.id, _ui.owner())
            if job.status == QUEUED:
                counts = _ui.runner().counts()
                st.info(f"Waiting in the queue: place {_ui.runner().position(job)} "
                        f"({counts['running']} job(s) running on {counts['workers']} worker(s)).")
                continue
            p = job.progress
            if p is None:
                st.progress(0.0, text="starting…")
                continue
            st.progress(min(1.0, p.fraction), text=f"{p.phase} · epoch {p.epoch}/{p.epochs} · step {p.step}/{p.steps} · "
                                                   f"loss {p.loss:.5f} · {p.images_per_s:,.0f} images/s")
            left, right = st.columns([3, 2])
            rows = [r.to_dict() if isinstance(r, EpochStats) else r for r in job.epochs]
            left.plotly_chart(_ui.loss_figure(rows, "Live loss"), key=f"live_loss_{job.id}")
            with right:
                if job.preview is not None:
                    _ui.image_rows([("originals", ds.test.x[PREVIEW]), ("reconstructions", job.preview)], scale=2)
                    st.caption("Reconstructions after the latest epoch")
                else:
                    st.caption("The reconstruction preview appears after the first epoch.")


if any(j.active for j in _ui.runner().jobs(_ui.owner())):
    live_jobs()  # polls every 2 s, only while this session has a job queued or running

# ---- finished runs ------------------------------------------------------------------------------
_ui.collect_jobs()
for job in _ui.runner().jobs(_ui.owner()):
    if job.status in FINISHED and job.error and not st.session_state.get(f"dismissed_{job.id}"):
        box = st.warning if job.status in ("stopped", "diverged") else st.error
        box(f"{job.label}: {job.error}")

st.subheader("Your runs")
runs = _ui.session_runs()
if not runs:
    st.caption("Runs you train or upload in this browser session appear here.")
for key, run in list(runs.items()):
    with st.expander(f"{run.label()} — {run.status}", expanded=key == next(reversed(runs))):
        left, right = st.columns([3, 2])
        left.plotly_chart(_ui.loss_figure(run.history), key=f"loss_{key}")
        with right:
            st.caption(run.config.describe())
            st.caption(f"{run.seconds:.1f} s on {run.device} · final train loss "
                       f"{run.final_train_loss if run.final_train_loss is not None else float('nan'):.5f}")
            name = st.text_input("Name", value=run.name, key=f"name_{key}", max_chars=64)
            b1, b2, b3 = st.columns(3)
            if b1.button("Save", key=f"save_{key}", help="Save on the server for everyone in the class"):
                run.name = name
                try:
                    saved = _ui.store().save(run, name, unique=True)
                    st.success(f"Saved as “{saved}”.")
                except (RunError, OSError) as e:
                    _ui.show_error(e, "Could not save")
            b2.download_button("Download", lambda run=run: run_to_bytes(run), file_name=f"{sanitize_name(name)}.zip",
                               mime="application/zip", key=f"dl_{key}")
            if b3.button("Remove", key=f"rm_{key}"):
                runs.pop(key)
                st.rerun()
        _ui.image_rows([("originals", ds.test.x[PREVIEW]), ("reconstructions", _ui.reconstructions(key, run, tuple(PREVIEW)))], scale=2)

st.subheader("Upload a run")
up = st.file_uploader("A run .zip downloaded from AE Lab", type=["zip"], key="upload_run")
if up is not None and st.session_state.get("uploaded_id") != up.file_id:
    try:
        run = run_from_bytes(up.getvalue())
        run.name = run.name or up.name.removesuffix(".zip")
        runs[f"session:upload-{up.file_id}"] = run
        st.session_state.uploaded_id = up.file_id
        st.success(f"Loaded “{run.label()}”: pick it in the sidebar on any page.")
        st.rerun()
    except RunError as e:
        st.error(f"That file is not a usable run: {e}")
