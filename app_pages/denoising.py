"""Denoising: corrupt test images (digits, or your own in colour), see what a model makes of them, and how the error
grows with the noise."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aecore.analysis.projection import sample_indices
from aecore.data.images import rows_grid, to_png
from aecore.data.noise import NOISE_LIMITS, Noise
from aecore.engine.client import StoreError
from aecore.models.evaluate import mse, reconstruct
from aecore.training.config import TrainConfig
from aecore.training.zoo import zoo_names
from app_pages.kit import background, charts, picker, safe, session, url

KINDS = {"masking": "masking (pixels set to 0)", "gaussian": "Gaussian noise", "saltpepper": "salt and pepper"}


def main() -> None:
    st.title("Denoising")
    st.markdown("A **denoising autoencoder** is trained on corrupted inputs but scored against the clean images, "
                "so it learns to undo the damage. Compare it with a plain autoencoder on the same corrupted images.")
    key, run = picker.run_picker(default="zoo:conv-k16-denoise", data=None)  # runs of every data set
    if run is None:
        return
    ds = session.dataset(run.config.dataset)
    if not session.bundled_mnist(ds):
        st.caption(f"On {safe.plain(ds.name)}: the noise hits each colour channel of a pixel on its own, so it shows as "
                   "coloured speckles.")
    noise, seed, top = corruption()
    what_it_was_trained_on(run, noise, ds)
    clean_corrupted_denoised(key, run, ds, noise, seed)
    error_versus_noise(key, run, ds, noise.kind, top)
    train_a_denoiser(ds, noise)


def corruption() -> tuple[Noise, int, float]:
    c1, c2, c3 = st.columns(3)
    kind = url.control(c1.selectbox, "Corruption", list(KINDS), key="noise", param="noise", default="masking",
                       format_func=KINDS.get)
    top = NOISE_LIMITS[kind][1] if kind != "gaussian" else 1.0
    level = url.control(c2.slider, "Level", key=f"level_{kind}", param="level", default=0.5, lo=0.0, hi=min(top, 1.0),
                        cast=float, step=0.05,
                        help="masking / salt and pepper: fraction of pixels hit; Gaussian: standard deviation")
    seed = url.control(c3.number_input, "Noise seed", key="noise_seed", default=0, lo=0, hi=10**6)
    return Noise(kind, float(level)), int(seed), top


def what_it_was_trained_on(run, noise: Noise, ds) -> None:
    """Which corruption the model was trained on, and what a different one means."""
    trained, kind, level = run.config.noise_spec, noise.kind, noise.level
    if not trained.active:
        st.info(f"**{safe.plain(run.label())} was trained on clean images only**: it is a plain autoencoder, not a "
                "denoiser. It reconstructs what it has learnt images look like, so it removes some noise by accident at "
                "best. " + ("Pick a denoising run (e.g. zoo · conv-k16-denoise) or train one below to compare."
                            if session.bundled_mnist(ds) else "Train a denoising model on these images below to compare."))
    elif trained.kind != kind:
        st.warning(f"**This model was trained on {KINDS[trained.kind]} at {trained.level:g}, but you chose {KINDS[kind]}.** "
                   f"It has never seen {KINDS[kind]}, so it does not know how to undo it: expect a worse result than on "
                   f"{KINDS[trained.kind]} — it can even come out worse than the corrupted input or than a plain "
                   f"autoencoder. That is a limit of this model, not of denoising: train a denoising model on "
                   f"{KINDS[kind]} below (or switch the corruption back to {KINDS[trained.kind]}).")
    else:
        st.caption(f"This model was trained on {KINDS[trained.kind]} at {trained.level:g}: the same corruption as chosen "
                   "here" + ("." if abs(trained.level - level) < 1e-9 else f" (now at {level:g})."))


def clean_corrupted_denoised(key, run, ds, noise: Noise, seed: int) -> None:
    png, corrupted_mse, denoised_mse = ten_denoised(picker.run_version(key, run), ds.name, str(noise), seed, run, ds,
                                                    noise)
    st.image(png, caption=f"top: clean · middle: {KINDS[noise.kind]} at {noise.level:g} · bottom: "
                          f"{safe.plain(run.label())}'s output", output_format="PNG")
    m1, m2 = st.columns(2)  # these 10 only: the curve below averages 500 test images at each level
    about = "over the 10 test images above; the curve below averages 500 test images at each level"
    m1.metric("MSE of these 10 corrupted inputs", f"{corrupted_mse:.4f}", help=about)
    m2.metric("MSE of these 10 after the model", f"{denoised_mse:.4f}", help=about)


@st.cache_resource(max_entries=64, show_spinner=False)  # the same for everyone who looks: made once, shared
def ten_denoised(version: str, data: str, noise_key: str, seed: int, _run, _ds,
                 _noise: Noise) -> tuple[bytes, float, float]:
    """Ten test images of data set `data` (chosen by `seed`), corrupted by `noise_key` and through the run (its
    `version`): the PNG of clean over corrupted over output, and the MSE of the corrupted inputs and of the outputs.
    A page shows them again on every rerun, and running the model and encoding the PNG each time was a third of it."""
    idx = sample_indices(len(_ds.test), 10, seed + 1)
    corrupted, denoised = reconstruct(_run.model, _ds.test.x[idx], _noise, seed)
    clean = _ds.test.x[idx] / 255.0
    return (to_png(rows_grid([_ds.test.x[idx], corrupted, denoised]), scale=3), mse(corrupted, clean),
            mse(denoised, clean))


def error_versus_noise(key, run, ds, kind: str, top: float) -> None:
    st.subheader("Error versus noise level")
    plain_key = "zoo:conv-k16" if "conv-k16" in zoo_names() and session.bundled_mnist(ds) else None  # the zoo's plain AE
    compare = {safe.label(run.label()): key}  # a legend label
    if plain_key and plain_key != key:
        compare["plain conv AE (zoo conv-k16)"] = plain_key
    levels = [round(float(v), 3) for v in np.linspace(0, top, 6)]
    rows = background.computed("noise_curve", {"runs": compare, "noise": kind, "levels": levels, "n": 500}).tables["curve"]
    st.plotly_chart(noise_curve_figure(rows, kind), key="noise_curve")


@charts.SHARED
def noise_curve_figure(rows: list[dict], kind: str) -> go.Figure:
    """Each model's error against the clean image at each noise level (rows of the noise_curve job's table)."""
    fig = go.Figure([go.Scatter(x=[r["level"] for r in rows if r["model"] == m],
                                y=[r["mse"] for r in rows if r["model"] == m], mode="lines+markers", name=m)
                     for m in dict.fromkeys(r["model"] for r in rows)])  # (plotly express: 5x the CPU a rerun)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10),  # the legend above: below, a run's long name
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),  # ran over the x title
                      xaxis_title=f"{KINDS[kind]} level", yaxis_title="MSE vs clean image")
    return fig


def train_a_denoiser(ds, noise: Noise) -> None:
    st.subheader("Train a denoising model with this corruption")
    t1, t2, t3 = st.columns(3)
    k = url.control(t1.number_input, "Latent size", key="dn_latent", default=16, lo=1, hi=256)
    epochs = url.control(t2.number_input, "Epochs", key="dn_epochs", default=3, lo=1, hi=50)
    n_train = len(ds.train)  # one limit per data set, up to its size (20,000 of MNIST's is no limit for 30 images)
    limit = url.control(t3.number_input, "Training images (0 = all)", key=f"dn_limit_{ds.name}",
                        default=20000 if n_train > 20000 else 0, lo=0, hi=n_train, step=5000 if n_train > 20000 else 10)
    if st.button("▶ Train denoising conv AE", type="primary"):
        cfg = TrainConfig(model="conv", latent=int(k), epochs=int(epochs), limit=int(limit) or None, noise=str(noise),
                          lr=2e-3, dataset=ds.name)
        job = background.queue_training(cfg, name=f"denoising {cfg.describe()}")
        if job is not None:
            st.session_state["denoiser_job"] = job.id
    denoiser_job()


def _show_run(run_key: str) -> None:  # a callback: the picker above is drawn before the button
    st.session_state["run"] = run_key
    st.session_state.pop("denoiser_job", None)


def denoiser_job() -> None:
    """The denoiser this page queued: its progress while it waits and trains, then a way to look at it here."""
    job_id = st.session_state.get("denoiser_job")
    if job_id is None:
        return
    try:
        job = session.engine().job(job_id)
    except StoreError:  # gone (its workspace's jobs were cleared)
        st.session_state.pop("denoiser_job", None)
        return
    if job.active:
        st.caption(f"Job {job.id}: {safe.plain(job.name or job.label)}. It is also listed on the Train page.")
        background.job_progress(job_id)
    elif job.status == "done" and job.run_id:
        d1, d2 = st.columns([4, 1], vertical_alignment="center")
        d1.success(f"Trained: **{safe.plain(job.name or job.label)}**. Pick it as the model run to see what it does to "
                   "this corruption.")
        d2.button("Show it here", key="show_denoiser", type="primary", on_click=_show_run, args=(f"run:{job.run_id}",))
    else:
        st.warning(f"Job {job.id} ({safe.plain(job.name or job.label)}) did not finish: "
                   f"{safe.plain(job.error or job.status)}.")


main()
