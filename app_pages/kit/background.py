"""Jobs on a page: results computed in the background, their progress and Stop, training queued, the sidebar's list."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.engine.client import FINISHED, JobProgress, KindError, StoreError, describe
from aecore.training.runs import RunError
from app_pages.kit import url
from app_pages.kit.charts import digit_scatter
from app_pages.kit.picker import run_data
from app_pages.kit.session import dataset, engine, is_teacher, jobs_changed, my_jobs, unfinished_jobs, workspace
from app_pages.kit.safe import plain


# ---- cached derived results --------------------------------------------------------------------
def computed(kind: str, params: dict):
    """An engine result the page needs now: stored already, or computed by a worker meanwhile.

    While it is computed the page shows the job's progress and stops here; the progress box
    reruns the page when the result is ready. Everyone asking for the same result shares one job.
    """
    res = background_experiment(kind, params, auto=True)
    if res is None:
        url.sync()  # the settings drawn so far are in the address while the page waits (a reload keeps them)
        st.stop()
    return res


def test_codes(run_key: str) -> np.ndarray:
    """The run's codes of all 10,000 test images [10000, k] (a worker computes them once per run)."""
    return computed("codes", {"run": run_key}).images["z"]


def test_errors(run_key: str) -> np.ndarray:
    """Each test image's reconstruction MSE [10000] (computed with the codes)."""
    return computed("codes", {"run": run_key}).images["mse"]


def projection_params(run_key: str, method: str, n: int, seed: int, digits: tuple, perplexity: float,
                      n_neighbors: int, min_dist: float, dims: int = 2, source: str = "test", indices=None) -> dict:
    """The projection job's parameters (also the key its result and its kept layout are stored under)."""
    return {"run": run_key, "method": method, "n": int(n), "seed": int(seed), "digits": list(digits) if digits else None,
            "perplexity": float(perplexity), "n_neighbors": int(n_neighbors), "min_dist": float(min_dist),
            "dims": int(dims), "source": source, "indices": [int(i) for i in indices] if indices else None}


# ---- experiments in the background -------------------------------------------------------------
def background_experiment(kind: str, params: dict, button: str = "▶ Run experiment", auto: bool = False):
    """Show the stored result for (kind, params), or queue the job (on a click, or at once with `auto`) and its progress.

    Returns the Result when there is one. Results are keyed by content (settings and the weights
    of the runs they read), so nobody recomputes them, and they survive server restarts.
    """
    eng = engine()
    try:
        asked = eng.ask(kind, params)
    except (StoreError, RunError, KindError) as e:
        st.error(f"Cannot run this: {plain(str(e))}")
        return None
    if asked.result is not None:
        return asked.result
    if asked.job is not None:
        job_progress(asked.job.id)
        return None
    last = asked.last
    if asked.partial is not None:
        partial = asked.partial
        if kind == "projection":
            st.warning(f"This map was stopped after {partial.summary.get('stopped_at', '?')} of "
                       f"{partial.summary.get('iterations', '?')} iterations: the chart shows its layout then.")
        else:
            st.warning("The experiment was stopped: the tables show what finished.")
        if st.button("Run it again", key=f"again_{kind}"):
            if _queue(kind, params):
                st.rerun()
        return partial
    if last is not None and last.status in ("failed", "diverged", "interrupted"):  # (a stop kept nothing: ask again)
        st.error(f"The last try did not finish: {plain(last.error)}")
        auto = False  # never resubmit a failing job by itself: the student decides
        button = "Try again"
    if auto or st.button(button, type="primary", key=f"go_{kind}"):
        if _queue(kind, params):
            st.rerun()
    return None


def queue_training(config, name: str | None = None, max_steps: int | None = None):
    """Queue a training job in this workspace (pausing after `max_steps` steps); the Job, or None after showing why not."""
    params = {"config": config.to_dict()} | ({"max_steps": int(max_steps)} if max_steps else {})
    try:
        job = engine().submit(workspace(), "train", params, config.describe(), dataset(config.dataset),
                              name=name or config.describe())
        jobs_changed()
        return job
    except (ValueError, StoreError) as e:
        st.error(f"Cannot train with these settings: {plain(str(e))}")
        return None


def _queue(kind: str, params: dict) -> bool:
    try:
        engine().submit(workspace(), kind, params, teacher=is_teacher())
        jobs_changed()
        return True
    except (ValueError, StoreError) as e:
        st.error(plain(str(e)))
        return False


@st.fragment(run_every=1.5)
def job_progress(job_id: int):
    """A queued or running job's progress bar and Stop button; reruns the page when it ends."""
    eng = engine()
    job = eng.job(job_id)
    if job.status in FINISHED:
        st.rerun()
    c1, c2 = st.columns([5, 1])
    if job.status == "queued":
        c1.info(f"Waiting: {eng.waiting_text(job)}.")
    else:
        p = JobProgress.from_dict(job.progress)
        c1.progress(p.share if p else 0.0, text=plain(describe(job.progress)))
    if job.workspace == workspace() and c2.button("■ Stop", key=f"stop_{job_id}",
                                                  help="keeps the layout so far" if job.kind == "projection" else None):
        eng.stop(job_id, workspace())
        jobs_changed()
    if job.kind == "projection" and job.status == "running":
        xy = eng.live_layout(job_id)
        if xy is not None and xy.ndim == 2 and xy.shape[1] in (2, 3):
            st.plotly_chart(live_layout_figure(job.params, xy), key=f"live_layout_{job_id}")


def live_layout_figure(params: dict, xy: np.ndarray):
    """A projection's layout while it converges [n, 2 or 3], coloured by digit (the points are the job's sample)."""
    from aecore.analysis.latent import layout_points, pool_labels

    ds = dataset(run_data(params["run"]))
    y = pool_labels(ds, params.get("source", "test"))
    idx = layout_points(params, y)
    if len(idx) != len(xy):
        idx = np.arange(len(xy))
    name = {"tsne": "t-SNE", "umap": "UMAP"}.get(params.get("method"), "layout")
    return digit_scatter(xy, y[idx], idx, tuple(f"{name} {i + 1}" for i in range(xy.shape[1])), size=4,
                         names=ds.class_names, what=ds.class_word, title=f"{name} converging… ({len(xy):,} images)")


PAGES_FILLING_SIDEBAR_JOBS = {"train"}  # pages that draw the sidebar's job box themselves (sidebar_slot)
_SLOT = "_sidebar_jobs_slot"


def offer_sidebar_slot(slot) -> None:
    """The sidebar's job box, left empty by the app for a page in PAGES_FILLING_SIDEBAR_JOBS (None: no sidebar, or
    another page): that page fills it from a fragment, so a click there reruns the fragment, not the whole page, and
    the sidebar still shows a job it queued at once."""
    st.session_state[_SLOT] = slot


def sidebar_slot():
    """The slot offered to this page (see offer_sidebar_slot), or None."""
    return st.session_state.get(_SLOT)


def fill_sidebar_slot(slot) -> None:
    """From inside a fragment: the sidebar's job box in `slot`, or an empty element. A fragment may write to a
    container outside it only if it wrote there in the last full run, so it writes on every run."""
    if not sidebar_jobs_in(slot):
        slot.empty()


def sidebar_jobs_in(slot) -> bool:
    """Draw the sidebar's job box into `slot` (an st.empty) when this workspace has unfinished jobs; whether it did.
    The app tries before the page and, if there were none, once more after it: a page that queued the first job
    (▶ Train) shows it in the same run."""
    if not unfinished_jobs():
        return False
    with slot.container():
        _sidebar_jobs()
    return True


def _sidebar_jobs():
    """This workspace's queued, running and paused jobs, on every page. A view job (a map, a comparison's table) goes from
    queued to running to done within seconds, so the box follows it every 1.5 s; a class's training queue, every 5 s
    (each open page of each student polls: the slower rate keeps a class's server light)."""
    if any(j.active and j.lane == "view" for j in my_jobs()):
        _sidebar_jobs_often()
    else:
        _sidebar_jobs_seldom()


@st.fragment(run_every=1.5)
def _sidebar_jobs_often():
    _sidebar_box()


@st.fragment(run_every=5.0)
def _sidebar_jobs_seldom():
    _sidebar_box()


def _sidebar_box():
    eng = engine()
    jobs = unfinished_jobs()
    if not jobs:
        st.rerun()  # all done: redraw the page so the new runs show up in the pickers
    with st.container(border=True):
        for j in jobs:
            if j.status == "queued":
                st.caption(f":material/hourglass_top: {plain(j.label)}: {eng.waiting_text(j)}")
            elif j.status == "paused":
                st.caption(f":material/pause: {plain(j.label)}: {plain(j.error)}")
            else:
                st.caption(f":material/directions_run: {plain(j.label)}: {plain(describe(j.progress, detail=False))}")
