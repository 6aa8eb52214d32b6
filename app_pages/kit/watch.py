"""Watch it learn, on the page: the recorded codes of a training run as a scatter that moves, and its replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from aecore.data.images import rows_grid, to_png
from aecore.training.watch import Recording, WatchError
from app_pages.kit import charts, session


def job_recording_path(job_id: int) -> Path:
    """Where a training job writes its recording while it runs."""
    return session.engine().job_recording(job_id)


def run_recording_path(run_id: str) -> Path:
    """Where a kept run's recording lies (runs trained before recordings existed have none)."""
    return session.engine().run_recording(session.workspace(), run_id)


@st.cache_resource(max_entries=32, show_spinner=False)
def _load(path: str, mtime_ns: int) -> Recording | None:
    """One shared, read-only copy per file version (a copy per rerun cost more than drawing the frame)."""
    try:
        rec = Recording.load(path)
    except WatchError:
        return None
    rec.version = f"{path}@{mtime_ns}"  # what the frames' pictures are cached under
    return rec


@st.cache_data(max_entries=512, show_spinner=False)
def _preview_png(_rec: Recording, version: str, i: int, dataset_name: str, _ds) -> bytes:
    return to_png(rows_grid([_ds.test.x[_rec.preview], _rec.recon[i]]), scale=2)


def recording(path: Path) -> Recording | None:
    """The recording at `path` (read again whenever the job rewrites it), or None."""
    try:
        return _load(str(path), path.stat().st_mtime_ns)
    except OSError:
        return None


def figure(rec: Recording, i: int, ds, height: int = 420, title: str | None = None):
    """Frame i: the recorded test images' codes in the plane, coloured by digit (class), on axes that hold every
    frame; `ds` is the data set the run trains on."""
    y = ds.test.y[rec.index]
    axis = ("z1", "z2") if rec.latent <= 2 else ("PC1 of the codes", "PC2 of the codes")
    return charts.digit_scatter(rec.xy[i], y, rec.index, axis, size=5, height=height, names=ds.class_names,
                                what=ds.class_word, ranges=rec.bounds(), uirevision="watch",  # zoom kept as it moves
                                title=title or f"step {rec.steps[i]:,}: {len(rec.index)} test images' codes",
                                title_size=13)


def preview_png(rec: Recording, i: int, ds) -> bytes:
    """The preview digits (top) and their reconstructions at frame i (bottom), drawn once per frame (a replay and
    every student watching the same run ask for the same ones)."""
    version = getattr(rec, "version", None)
    if version is None:  # a recording not read through recording()
        return to_png(rows_grid([ds.test.x[rec.preview], rec.recon[i]]), scale=2)
    return _preview_png(rec, version, int(i), ds.name, ds)


def live(job_id: int, key: str, ds) -> None:
    """The newest frame of a running job (called from the Train page's polling fragment)."""
    rec = recording(job_recording_path(job_id))
    if rec is None or not len(rec):
        st.caption("The codes appear after the first steps.")
        return
    i = len(rec) - 1
    what = "its 2 code numbers" if rec.latent <= 2 else f"the first two principal components of its {rec.latent} code numbers"
    st.plotly_chart(figure(rec, i, ds, height=360, title=f"step {rec.steps[i]:,}: 500 test images, {what}"), key=key)
    st.image(preview_png(rec, i, ds), caption=f"originals / reconstructions at step {rec.steps[i]:,}",
             output_format="PNG")


def replay(path: Path, key: str, ds) -> None:
    """A slider over the recorded steps, a Play button, the scatter and the reconstructions at that step."""
    rec = recording(path)
    if rec is None or not len(rec):
        st.info("This run's recording cannot be read.")
        return
    at, slider = f"{key}_at", f"{key}_slider"
    steps = [int(s) for s in rec.steps]
    if st.session_state.get(at) not in steps:
        st.session_state[at] = steps[-1]
    if st.session_state.get(f"{key}_playing"):
        _playing(path, key, ds)
        return
    c1, c2 = st.columns([1, 7], vertical_alignment="bottom")
    if c1.button("Play", icon=":material/play_arrow:", key=f"{key}_play", help="Replay the training from the first step"):
        if st.session_state[at] == steps[-1]:
            st.session_state[at] = steps[0]
        st.session_state[f"{key}_playing"] = True
        st.rerun()
    st.session_state[slider] = st.session_state[at]
    c2.select_slider("Training step", steps, key=slider, on_change=lambda: st.session_state.update({at: st.session_state[slider]}),
                     help="Drag to see the codes and reconstructions at any recorded step")
    _frame(rec, steps.index(st.session_state[at]), key, ds)


PLAY_TICKS = 30  # Play shows at most this many frames, one every 0.4 s: a replay lasts at most about 12 s


@st.fragment(run_every=0.4)
def _playing(path: Path, key: str, ds) -> None:
    rec = recording(path)
    at = f"{key}_at"
    steps = [int(s) for s in rec.steps]
    stride = max(1, len(steps) // PLAY_TICKS)  # a long recording plays in about the same time as a short one
    i = min(steps.index(st.session_state[at]) + stride, len(steps) - 1) if st.session_state[at] in steps else 0
    st.session_state[at] = steps[i]
    c1, c2 = st.columns([1, 7], vertical_alignment="bottom")
    stop = c1.button("Pause", icon=":material/pause:", key=f"{key}_pause")
    c2.progress((i + 1) / len(steps), text=f"step {steps[i]:,} of {steps[-1]:,}")
    if stop or i == len(steps) - 1:  # back to the slider, at this step
        st.session_state[f"{key}_playing"] = False
        st.rerun(scope="app")
    _frame(rec, i, key, ds)


def _frame(rec: Recording, i: int, key: str, ds) -> None:
    left, right = st.columns([3, 2])
    left.plotly_chart(figure(rec, i, ds), key=f"{key}_scatter")
    with right:
        st.image(preview_png(rec, i, ds), caption=f"originals / reconstructions at step {rec.steps[i]:,}",
                 output_format="PNG")
        spread = np.linalg.norm(rec.xy[i] - rec.xy[i].mean(0), axis=1).mean()
        st.caption(f"{len(rec):,} frames recorded from step 0 to step {rec.steps[-1]:,}. Mean distance of a code from "
                   f"the centre at this step: {spread:.3g}. Early on the digits lie on top of each other; as the "
                   "model learns, digits that look alike gather and the reconstructions sharpen.")
