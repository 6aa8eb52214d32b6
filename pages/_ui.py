"""Shared app plumbing: cached resources, per-session runs and jobs, the run picker, image and chart helpers."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from aecore.data import load_mnist
from aecore.evaluate import encode, per_image_errors, reconstruct
from aecore.images import rows_grid, to_png
from aecore.jobs import FINISHED, JobRunner, RunnerSettings
from aecore.projection import project, sample_indices
from aecore.runs import Run, RunError, RunStore
from aecore.zoo import load_zoo, zoo_names

DIGIT_COLORS = px.colors.qualitative.D3  # one colour per digit 0-9, the same on every chart
RUNS_DIR = Path(os.environ.get("AELAB_RUNS_DIR", Path(__file__).resolve().parent.parent / "runs"))


# ---- shared, read-only resources ---------------------------------------------------------------
@st.cache_resource(show_spinner="Loading MNIST…")
def dataset():
    return load_mnist()


@st.cache_resource
def runner() -> JobRunner:
    return JobRunner(RunnerSettings.from_env())


@st.cache_resource(show_spinner="Loading a pretrained model…")
def zoo_run(name: str) -> Run:
    return load_zoo(name)


def store() -> RunStore:
    return RunStore(RUNS_DIR)


# ---- per-session state -------------------------------------------------------------------------
def owner() -> str:
    """This browser session's id (jobs and runs are kept per session)."""
    if "owner" not in st.session_state:
        st.session_state.owner = uuid.uuid4().hex
    return st.session_state.owner


def session_runs() -> dict[str, Run]:
    return st.session_state.setdefault("runs", {})


def collect_jobs() -> list:
    """This session's jobs; finished training runs are moved into the session's runs once."""
    jobs = runner().jobs(owner())
    done = st.session_state.setdefault("collected", set())
    for j in jobs:
        if j.status in FINISHED and j.id not in done and isinstance(j.result, Run):
            j.result.name = j.result.name or f"{j.label} ({j.id})"
            session_runs()[f"session:{j.id}"] = j.result
            done.add(j.id)
    trim_session_runs()
    return jobs


def run_options() -> dict[str, str]:
    """run key -> label, for every run this session can open."""
    opts = {f"zoo:{n}": f"zoo · {n}" for n in zoo_names()}
    for key, run in session_runs().items():
        opts[key] = f"yours · {run.label()}"
    for name in store().names():
        opts[f"saved:{name}"] = f"saved · {name}"
    return opts


def get_run(key: str) -> Run:
    kind, _, name = key.partition(":")
    if kind == "zoo":
        return zoo_run(name)
    if kind == "session":
        return session_runs()[key]
    if kind == "saved":
        return _saved_run(name, _mtime(store().path(name) / "weights.pt"))
    raise RunError(f"unknown run {key!r}")


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(max_entries=16, show_spinner="Loading the saved run…")
def _saved_run(name: str, mtime: float) -> Run:
    return store().load(name)


def run_picker(label: str = "Model run", key: str = "run", sidebar: bool = True, default: str | None = None,
               avoid: str | None = None):
    """A select box over all runs (the choice lives in the URL as ?run=); returns (cache key, Run) or (None, None).

    The cache key names the run for st.cache_data; for saved runs it includes the file's time,
    so a run saved again under the same name is not served from a stale cache. `avoid` (a run
    key) is not chosen by default, e.g. for a second run to compare with the first.
    """
    collect_jobs()
    opts = run_options()
    if not opts:
        (st.sidebar if sidebar else st).info("No runs yet: train one on the Train page.")
        return None, None
    qp = st.query_params.get(key)
    if key not in st.session_state or st.session_state[key] not in opts:
        fallback = next((o for o in opts if o != (avoid or "").split("@")[0]), next(iter(opts)))
        st.session_state[key] = qp if qp in opts else (default if default in opts else fallback)
    where = st.sidebar if sidebar else st
    choice = where.selectbox(label, list(opts), format_func=opts.get, key=key)
    st.query_params[key] = choice
    try:
        run = get_run(choice)
    except (RunError, KeyError, OSError) as e:
        where.error(f"This run cannot be opened: {e}. Pick another one.")
        return None, None
    with where.expander("About this run", expanded=False):
        st.caption(run.config.describe())
        if run.final_val_loss is not None:
            st.caption(f"final val loss {run.final_val_loss:.5f} · {run.status}")
    if choice.startswith("saved:"):
        return f"{choice}@{_mtime(store().path(choice[6:]) / 'weights.pt')}", run
    return choice, run


def query_index(name: str, options: list, default) -> int:
    """The index of the query parameter's value among a widget's options (of `default` when absent or unknown)."""
    v = st.query_params.get(name)
    return list(options).index(v if v in options else default)


def query_default(name: str, default, cast=str):
    """A query parameter's value cast to the widget's type, or the default when absent or invalid."""
    v = st.query_params.get(name)
    if v is None:
        return default
    try:
        return cast(v)
    except (TypeError, ValueError):
        return default


# ---- cached derived results --------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Encoding the test set…")
def test_codes(run_key: str, _run: Run) -> np.ndarray:
    return encode(_run.model, dataset().test.x)


@st.cache_data(max_entries=32, show_spinner="Scoring every test image…")
def test_errors(run_key: str, _run: Run) -> np.ndarray:
    return per_image_errors(_run.model, dataset().test.x)["mse"]


@st.cache_data(max_entries=64, show_spinner=False)
def reconstructions(run_key: str, _run: Run, idx: tuple) -> np.ndarray:
    return reconstruct(_run.model, dataset().test.x[list(idx)])[1]


@st.cache_data(max_entries=64, show_spinner="Projecting the codes to 2-D…")
def projection(run_key: str, _run: Run, method: str, n: int, seed: int, digits: tuple, perplexity: float,
               n_neighbors: int, min_dist: float):
    ds = dataset()
    idx = sample_indices(len(ds.test), n, seed, ds.test.y, digits)
    z = test_codes(run_key, _run)[idx]
    p = project(z, method, seed=seed, perplexity=perplexity, n_neighbors=n_neighbors, min_dist=min_dist)
    return idx, p.xy, p.info


# ---- drawing -----------------------------------------------------------------------------------
def image_rows(rows: list[tuple[str, np.ndarray]], captions: list[str] | None = None, scale: int = 3):
    """Rows of equally many digits (originals on top, reconstructions below), labelled on the left."""
    labels = "  /  ".join(label for label, _ in rows)
    png = to_png(rows_grid([r for _, r in rows]), scale=scale)
    st.image(png, caption=labels)
    if captions:
        st.caption(" · ".join(captions))
    return png


def loss_figure(history: list[dict], title: str = "Loss per epoch") -> go.Figure:
    rows = [r for r in history if r.get("phase", "train") == "train"]
    fig = go.Figure()
    if rows:
        ep = [r["epoch"] for r in rows]
        fig.add_scatter(x=ep, y=[r["train_loss"] for r in rows], name="train", mode="lines+markers")
        if any(r.get("val_loss") is not None for r in rows):
            fig.add_scatter(x=ep, y=[r.get("val_loss") for r in rows], name="validation", mode="lines+markers")
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="loss per pixel", height=320,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return fig


def per_digit_figure(values: dict[str, list], title: str = "Error per digit") -> go.Figure:
    fig = go.Figure()
    for name, vals in values.items():
        fig.add_bar(x=[str(d) for d in range(10)], y=vals, name=name)
    fig.update_layout(title=title, xaxis_title="digit", xaxis_type="category", yaxis_title="test MSE per pixel", barmode="group",
                      height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return fig


def digit_color_map() -> dict[str, str]:
    return {str(d): DIGIT_COLORS[d] for d in range(10)}


def show_error(e: Exception, what: str = "That did not work"):
    st.error(f"{what}: {e}")



# ---- experiments in the background -------------------------------------------------------------
RESULTS_DIR = Path(os.environ.get("AELAB_RESULTS_DIR", RUNS_DIR.parent / "artifacts" / "experiments"))


def results():
    from aecore.experiments import ResultStore

    return ResultStore(RESULTS_DIR)


def background_experiment(kind: str, params: dict, make_job, button: str = "▶ Run experiment"):
    """Show a stored result for (kind, params), or a button that queues `make_job()` and a live progress box.

    Returns the Result when there is one. Results are saved on the server so nobody recomputes them.
    """
    from aecore.experiments import Result

    stored = results().get(kind, params)
    if stored is not None:
        st.caption("Loaded a saved result for exactly these settings.")
        return stored
    jobs = st.session_state.setdefault("experiment_jobs", {})
    rkey = results().key(kind, params)
    job_id = jobs.get(rkey)
    job = None
    if job_id:
        try:
            job = runner().get(job_id, owner())
        except Exception:
            jobs.pop(rkey, None)
    if job is None:
        if st.button(button, type="primary", key=f"go_{kind}"):
            try:
                job = runner().submit(owner(), f"experiment: {kind}", make_job())
                jobs[rkey] = job.id
                st.rerun()
            except (ValueError, RuntimeError) as e:
                st.error(str(e))
        return None
    if job.status in FINISHED:
        res = job.result
        if isinstance(res, Result):
            if res.status == "done":
                results().put(res)
            else:
                st.warning("The experiment was stopped: the table shows what finished.")
            return res
        st.error(f"The experiment failed: {job.error}")
        if st.button("Try again", key=f"retry_{kind}"):
            jobs.pop(rkey, None)
            st.rerun()
        return None
    _experiment_progress(job.id)
    return None


@st.fragment(run_every=2.0)
def _experiment_progress(job_id: str):
    job = runner().get(job_id, owner())
    if job.status in FINISHED:
        st.rerun()
    c1, c2 = st.columns([5, 1])
    if job.status == "queued":
        c1.info(f"Waiting in the queue: place {runner().position(job)}.")
    else:
        p = job.progress
        c1.progress(min(1.0, p.fraction) if p else 0.0,
                    text=(f"{p.phase} · epoch {p.epoch}/{p.epochs} · loss {p.loss:.5f}" if p else "starting…"))
    if c2.button("■ Stop", key=f"stop_{job_id}"):
        runner().stop(job_id, owner())


def result_table(res, table: str, caption: str = ""):
    """A result table with its CSV download."""
    st.dataframe(res.tables[table], hide_index=True)
    st.download_button(f"Download {table} (CSV)", res.csv(table), file_name=f"{res.kind}-{table}.csv",
                       mime="text/csv", key=f"csv_{res.kind}_{table}")
    if caption:
        st.caption(caption)


MAX_SESSION_RUNS = 12  # runs kept per browser session (oldest dropped first) to bound server memory


def trim_session_runs() -> None:
    runs = session_runs()
    while len(runs) > MAX_SESSION_RUNS:
        runs.pop(next(iter(runs)))


def has_active_jobs() -> bool:
    return any(j.active for j in runner().jobs(owner()))


@st.fragment(run_every=5.0)
def sidebar_jobs():
    """This session's queued and running jobs, on every page; polling also keeps the jobs alive."""
    jobs = [j for j in runner().jobs(owner()) if j.active]
    if not jobs:
        st.rerun()  # all done: redraw the page so the new runs show up in the pickers
    with st.container(border=True):
        for j in jobs:
            if j.status == "queued":
                st.caption(f"⏳ {j.label}: place {runner().position(j)} in the queue")
            else:
                p = j.progress
                st.caption(f"🏃 {j.label}" + (f": epoch {p.epoch}/{p.epochs}, {p.fraction:.0%}" if p else ""))


def require_navigation() -> None:
    """Keep deep links on app.py's navigation.

    Streamlit switches off its legacy pages/ auto-navigation only once app.py has called
    st.navigation; until then a first visitor arriving on a deep link (a teacher's shared URL)
    would get the raw file list. Every page calls this first: it flips the switch and reruns.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    # AppTest resets this switch before every run by design; the real-browser test covers deep links.
    if config.get_option("global.appTest"):
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
