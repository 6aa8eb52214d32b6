"""Shared app plumbing: cached resources, per-session runs and jobs, the run picker, image and chart helpers."""

from __future__ import annotations

import contextlib
import runpy
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from aecore.data.catalog import load_dataset
from aecore.data.dataset import DataError
from aecore.data.images import rows_grid, to_png
from aecore.data.mnist import load_mnist
from aecore.engine.client import FINISHED, Engine, JobProgress, KindError, StoreError, describe, new_token, valid_token
from aecore.models.evaluate import reconstruct
from aecore.training.runs import Run, RunError
from aecore.training.zoo import load_zoo, zoo_names

DIGIT_COLORS = px.colors.qualitative.D3  # one colour per digit 0-9, the same on every chart


# ---- shared, read-only resources ---------------------------------------------------------------
@st.cache_resource(show_spinner=False)
@st.cache_resource(show_spinner=False)
def warm_imports() -> bool:
    """Set the web process up once: one torch thread, and what plotly and friends import lazily.

    The pages only run small models on a few images; torch's default of one thread per core
    makes every such call wait for threads that the workers' jobs keep busy. (And two sessions
    importing pandas at the same moment through plotly can see it half-imported.)
    """
    import torch

    torch.set_num_threads(1)
    import pandas  # noqa: F401
    import plotly.express  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import torchvision.utils  # noqa: F401  (3 s the first time: aecore.data.images draws grids with it)

    return True


@st.cache_resource(show_spinner="Loading the data set…", max_entries=6)
def dataset(name: str = "mnist"):
    """A data set by name: the bundled MNIST, or one imported on the Data sets page (DataError when it is gone)."""
    return load_mnist() if name == "mnist" else load_dataset(name)


@st.cache_resource(show_spinner="Starting the job engine…")
def engine() -> Engine:
    """The job store and its worker processes (started here on first use; they outlive a server restart)."""
    return Engine.open()


@st.cache_resource(show_spinner="Loading a pretrained model…")
def zoo_run(name: str) -> Run:
    return load_zoo(name)


@st.cache_resource(max_entries=32, show_spinner="Loading the run…")
def kept_run(run_id: str, digest: str) -> Run:
    """A kept run by id and the hash of its weights (a paused run that goes on keeps its id, not its weights; a rename
    only changes the name in the store)."""
    run = engine().load(f"run:{run_id}")
    run.version = f"run:{run_id}@{digest[:16]}"
    return run


def run_version(run_key: str, run: Run) -> str:
    """A cache key for what a run computes: its reference, and for a kept run the hash of its weights."""
    return getattr(run, "version", run_key)


# ---- the workspace: who this browser is --------------------------------------------------------
def workspace() -> str:
    """This browser's workspace id, kept in the URL (?ws=) so a reload or a bookmark comes back to it."""
    ws = st.session_state.get("ws")
    if not valid_token(ws):
        ws = st.query_params.get("ws")
        if not valid_token(ws):
            ws = new_token()
        st.session_state.ws = ws
    if st.query_params.get("ws") != ws:
        st.query_params["ws"] = ws
    if time.time() - st.session_state.get("ws_touched", 0) > 60:
        engine().touch_workspace(ws)
        st.session_state.ws_touched = time.time()
    return ws


def is_teacher() -> bool:
    """Whether this browser opened the app with ?teacher=<AELAB_TEACHER_KEY>."""
    key = engine().settings.teacher_key
    if not key:
        return False
    if st.query_params.get("teacher") == key:
        st.session_state.teacher = True
    return bool(st.session_state.get("teacher"))


def my_jobs() -> list:
    return engine().jobs(workspace())


def has_active_jobs() -> bool:
    return any(j.active for j in my_jobs())


# ---- runs: the zoo, the workspace's kept runs, runs shared with the class ----------------------
def run_options(data: tuple[str, ...] | None = ("mnist",)) -> dict[str, str]:
    """run key -> label, for every run this workspace can open that was trained on one of `data` (None: any)."""
    ws = workspace()
    opts = {f"zoo:{n}": f"zoo · {n}" for n in zoo_names()} if data is None or "mnist" in data else {}
    for r in engine().visible_runs(ws, teacher=is_teacher()):
        on = run_data(f"run:{r.id}")
        if data is not None and on not in data:
            continue
        whose = "yours" if r.workspace == ws else "class"
        opts[f"run:{r.id}"] = (f"{whose} · {r.name}" + (f" · on {on}" if on != "mnist" and f"on {on}" not in r.name else "")
                               + (" 🌐" if r.shared and r.workspace == ws else ""))
    return opts


@st.cache_data(max_entries=1024, show_spinner=False)
def run_data(key: str) -> str:
    """The name of the data set the run `key` was trained on (a run's files never change under one key)."""
    try:
        return engine().run_dataset(key)
    except (StoreError, KindError, RunError):
        return "mnist"


def get_run(key: str) -> Run:
    kind, _, name = key.partition(":")
    if kind == "zoo":
        return zoo_run(name)
    if kind == "run":
        if not engine().can_open(name, workspace(), is_teacher()):
            raise RunError("this run is not in your workspace or shared with the class")
        entry = engine().run_entry(name)
        run = kept_run(name, entry.digest)
        run.name = entry.name
        return run
    raise RunError(f"unknown run {key!r}")


def run_picker(label: str = "Model run", key: str = "run", sidebar: bool = True, default: str | None = None,
               avoid: str | None = None, data: tuple[str, ...] | None = ("mnist",)):
    """A select box over the runs trained on one of `data` (None: any data set; the choice lives in the URL as
    ?run=); returns (cache key, Run) or (None, None).

    The run key names the run for st.cache_data (kept runs never change under one id). `avoid`
    (a run key) is not chosen by default, e.g. for a second run to compare with the first. A page that
    shows MNIST only keeps the default `data`, so it never offers a run it cannot show.
    """
    opts = run_options(data)
    if not opts:
        where = "" if data is None else f" on {' or '.join(data)}"
        (st.sidebar if sidebar else st).info(f"No runs{where} yet: train one on the Train page.")
        return None, None
    qp = st.query_params.get(key)
    if key not in st.session_state or st.session_state[key] not in opts:
        fallback = next((o for o in opts if o != avoid), next(iter(opts)))
        st.session_state[key] = qp if qp in opts else (default if default in opts else fallback)
    where = st.sidebar if sidebar else st
    choice = where.selectbox(label, list(opts), format_func=opts.get, key=key)
    st.query_params[key] = choice
    try:
        run = get_run(choice)
        dataset(run.config.dataset)  # the page shows the run on its data set: it must still be here
    except (RunError, StoreError, KeyError, OSError, DataError) as e:
        where.error(f"This run cannot be opened: {plain(str(e))}. Pick another one.")
        return None, None
    with where.expander("About this run", expanded=False):
        st.caption(run.config.describe())
        if run.final_val_loss is not None:
            st.caption(f"final val loss {run.final_val_loss:.5f} · {run.status}")
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
def computed(kind: str, params: dict):
    """An engine result the page needs now: stored already, or computed by a worker meanwhile.

    While it is computed the page shows the job's progress and stops here; the progress box
    reruns the page when the result is ready. Everyone asking for the same result shares one job.
    """
    res = background_experiment(kind, params, auto=True)
    if res is None:
        st.stop()
    return res


def test_codes(run_key: str) -> np.ndarray:
    """The run's codes of all 10,000 test images [10000, k] (a worker computes them once per run)."""
    return computed("codes", {"run": run_key}).images["z"]


def test_errors(run_key: str) -> np.ndarray:
    """Each test image's reconstruction MSE [10000] (computed with the codes)."""
    return computed("codes", {"run": run_key}).images["mse"]


def reconstructions(run_key: str, run: Run, idx: tuple) -> np.ndarray:
    """The run's reconstructions [n, 28, 28] ([n, H, W, 3] in colour) of points of its data set (test images first,
    then training images)."""
    return _reconstructions(run_version(run_key, run), run_key, run, tuple(idx))


@st.cache_data(max_entries=64, show_spinner=False)
def _reconstructions(version: str, run_key: str, _run: Run, idx: tuple) -> np.ndarray:
    from aecore.analysis.latent import pool_images

    return reconstruct(_run.model, pool_images(dataset(run_data(run_key)), list(idx)))[1]


def code_bars(code: np.ndarray, title: str, height: int = 260) -> go.Figure:
    """A code [k] as one bar per number."""
    fig = go.Figure(go.Bar(x=[f"z{j + 1}" for j in range(len(code))], y=code, marker_color="#4C6EF5"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title=title)
    return fig


def projection_params(run_key: str, method: str, n: int, seed: int, digits: tuple, perplexity: float,
                      n_neighbors: int, min_dist: float, dims: int = 2, source: str = "test", indices=None) -> dict:
    """The projection job's parameters (also the key its result and its kept layout are stored under)."""
    return {"run": run_key, "method": method, "n": int(n), "seed": int(seed), "digits": list(digits) if digits else None,
            "perplexity": float(perplexity), "n_neighbors": int(n_neighbors), "min_dist": float(min_dist),
            "dims": int(dims), "source": source, "indices": [int(i) for i in indices] if indices else None}


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


def per_digit_figure(values: dict[str, list], title: str = "Error per digit", names: tuple[str, ...] | None = None) -> go.Figure:
    """One group of bars per digit (per class, named by `names`), one bar per run."""
    fig = go.Figure()
    x = [str(d) for d in range(10)] if names is None else [plain(n) for n in names]
    for name, vals in values.items():
        fig.add_bar(x=x, y=vals, name=name)
    fig.update_layout(title=title, xaxis_title="digit" if names is None else "class", xaxis_type="category",
                      yaxis_title="test MSE per pixel", barmode="group",
                      height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return fig


def class_colour(label: int, n_classes: int = 10) -> str:
    """The colour of a digit (of a class among n_classes), the same on every chart."""
    palette = DIGIT_COLORS if n_classes <= 10 else px.colors.qualitative.Alphabet
    return palette[label % len(palette)]


def show_error(e: Exception, what: str = "That did not work"):
    st.error(f"{what}: {e}")



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
    if last is not None and last.status in ("failed", "diverged", "interrupted", "stopped"):
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
        return engine().submit(workspace(), "train", params, config.describe(), dataset(config.dataset),
                               name=name or config.describe())
    except (ValueError, StoreError) as e:
        st.error(f"Cannot train with these settings: {plain(str(e))}")
        return None


def _queue(kind: str, params: dict) -> bool:
    try:
        engine().submit(workspace(), kind, params, teacher=is_teacher())
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
    fig = digit_scatter(xy, y[idx], idx, tuple(f"{name} {i + 1}" for i in range(xy.shape[1])), size=4,
                        names=None if ds.name == "mnist" else ds.class_names)
    fig.update_layout(title=f"{name} converging… ({len(xy):,} images)")
    return fig


def digit_scatter(xy: np.ndarray, digits: np.ndarray, idx: np.ndarray, axis: tuple, size: int = 5,
                  height: int = 560, names: tuple[str, ...] | None = None) -> go.Figure:
    """Points [n, 2] (or [n, 3]: a 3-D cloud to rotate) coloured by digit (by class, named by `names`, on another data
    set), one WebGL trace per class, each point's index in customdata (plotly selections report it). Built from
    arrays directly: a page draws it on every rerun."""
    fig = go.Figure()
    three = xy.shape[1] == 3
    what = "digit" if names is None else "class"
    n = 10 if names is None else len(names)
    for d in range(n):
        m = digits == d
        if m.any():
            label = str(d) if names is None else plain(names[d])
            kw = dict(x=xy[m, 0], y=xy[m, 1], mode="markers", name=label, customdata=idx[m],
                      hovertemplate="test image #%{customdata}<extra>" + f"{what} {label}" + "</extra>",
                      marker=dict(size=size * (0.6 if three else 1), color=class_colour(d, n), opacity=0.75))
            fig.add_trace(go.Scatter3d(z=xy[m, 2], **kw) if three else go.Scattergl(**kw))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=what)
    if three:
        fig.update_layout(scene=dict(xaxis_title=axis[0], yaxis_title=axis[1], zaxis_title=axis[2]))
    else:
        fig.update_layout(xaxis_title=axis[0], yaxis_title=axis[1])
    return fig


def result_table(res, table: str, caption: str = ""):
    """A result table with its CSV download."""
    st.dataframe(res.tables[table], hide_index=True)
    st.download_button(f"Download {table} (CSV)", res.csv(table), file_name=f"{res.kind}-{table}.csv",
                       mime="text/csv", key=f"csv_{res.kind}_{table}")
    if caption:
        st.caption(caption)


@st.fragment(run_every=5.0)
def sidebar_jobs():
    """This workspace's queued and running jobs, on every page."""
    eng = engine()
    jobs = [j for j in my_jobs() if j.active]
    if not jobs:
        st.rerun()  # all done: redraw the page so the new runs show up in the pickers
    with st.container(border=True):
        for j in jobs:
            if j.status == "queued":
                st.caption(f":material/hourglass_top: {plain(j.label)}: {eng.waiting_text(j)}")
            else:
                st.caption(f":material/directions_run: {plain(j.label)}: {plain(describe(j.progress, detail=False))}")


# ---- navigation (public Streamlit API only) ----------------------------------------------------
_IN_APP = threading.local()  # .header is set only while app.py runs the page, in the thread running it


def navigation_pages() -> list:
    """The app's pages; the teacher view only for a teacher."""
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True, url_path="start"),  # served at /
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/reconstructions.py", title="Reconstructions", icon=":material/compare:", url_path="reconstructions"),
        st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"),
        st.Page("pages/denoising.py", title="Denoising", icon=":material/blur_on:", url_path="denoising"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
        st.Page("pages/data.py", title="Data sets", icon=":material/photo_library:", url_path="data"),
        st.Page("pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    ]
    if is_teacher():
        pages.append(st.Page("pages/teacher.py", title="Teacher", icon=":material/admin_panel_settings:", url_path="teacher"))
    return pages


def page_name(page) -> str:
    """A page's short name ("home", "train", "latent", ...), as lessons and the ?hide= flag name it."""
    return "home" if page.url_path in ("", "start") else page.url_path


def home_alias(home) -> "st.Page":
    """/home, the Home page's own name: Streamlit serves the default page only at /, so this sends /home there."""

    def to_home():
        st.switch_page(home, query_params=st.query_params.to_dict())

    return st.Page(to_home, title="Home", url_path="home")


@contextlib.contextmanager
def app_run(header: Callable[[], None] | None = None):
    """Marks a page run that went through app.py (see require_navigation); `header` draws above the page
    (e.g. a lesson's step), from the page's own run so that it shows wherever the page does.

    The mark lives in the running thread, not in session state: a run that Streamlit abandons midway
    cannot leave it set for the next one."""
    _IN_APP.header = header or (lambda: None)
    try:
        yield
    finally:
        _IN_APP.header = None


def require_navigation() -> None:
    """Run a page that Streamlit started on its own through app.py instead.

    On a cold server (and under AppTest), a run can use Streamlit's legacy pages/ mode, which
    runs the page file alone, without app.py's navigation, sidebar and workspace. A page that
    finds it was not started by app.py runs app.py right here (its st.navigation ends the legacy
    mode and picks this same page), then stops, so the screen is exactly what app.py draws.
    """
    header = getattr(_IN_APP, "header", None)
    if header is not None:
        _IN_APP.header = lambda: None  # drawn once per run
        header()
        return
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__aelab_app__")
    st.stop()


# ---- widgets whose values survive leaving the page -----------------------------------------------
def kept(widget, label: str, *args, key: str, default, **kw):
    """Draw `widget` so its value survives page switches (Streamlit forgets widgets that are not drawn).

    The value is mirrored in a plain session-state key and put back when the widget reappears.
    """
    shadow = f"_kept_{key}"
    options = args[0] if args and isinstance(args[0], (list, tuple)) else None

    def valid(v) -> bool:
        return options is None or (all(x in options for x in v) if isinstance(v, list) else v in options)

    value = st.session_state.get(shadow, default)
    value = value if valid(value) else default
    if key not in st.session_state or not valid(st.session_state[key]):  # e.g. a model the new data set cannot take
        st.session_state[key] = value
    out = widget(label, *args, key=key, **kw)
    st.session_state[shadow] = out
    return out


def copy_recipe() -> None:
    """The Train page's "copy the recipe of a zoo model": every setting of that model, into the page's widgets."""
    from aecore.training.zoo import load_zoo

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
    values = {"dataset": c.dataset, "model": c.model, f"latent_{c.model}": c.latent, "epochs": c.epochs, "batch": c.batch_size,
              f"lr_{c.model}": c.lr, "optimizer": c.optimizer, "loss": c.loss, "out_act": c.out_act,
              f"hidden_{c.model}": c.hidden_act, f"upsample_{c.model}": c.upsample, "noise_kind": kind,
              f"noise_level_{kind}": noise.level if noise.active else None, "seed": c.seed,
              "digits": list(c.digits) if c.digits else list(range(10)), "limit": c.limit or 0,
              f"pretrain_{c.model}": c.pretrain_epochs, "schedule": c.schedule, "weight_decay": c.weight_decay,
              "val_share": c.val_fraction, "width_conv": c.width or 32, "precision": c.precision, "device": "auto"}
    for key, value in values.items():
        if value is not None:
            st.session_state[key] = st.session_state[f"_kept_{key}"] = value
    st.session_state["flash_recipe"] = f"Filled in the recipe of {name}: {c.describe()}."


def query_choice(name: str, options: list, default):
    """A query parameter that must be one of `options` (else the default)."""
    v = st.query_params.get(name)
    return v if v in options else default


def query_number(name: str, default, lo, hi, cast=int):
    """A numeric query parameter, clamped to [lo, hi]; NaN, infinity and junk give the default."""
    import math

    v = st.query_params.get(name)
    if v is None:
        return default
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    out = cast(min(max(cast(x), lo), hi)) if math.isfinite(x) else default
    if out != x:  # say so once: the page then writes the value it uses back into the address
        st.toast(f"The address asked for {name}={plain(v[:20])}; {name} takes {lo:g} to {hi:g}, so {out:g} is used.")
    return out


def available_devices() -> list[str]:
    import torch

    return ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["auto", "cpu"]


_MD_SPECIAL = "\\`*_{}[]()#+-.!<>|~$:"


def plain(text: str) -> str:
    """User text made safe for st.markdown / captions: every markdown character escaped, one line."""
    text = " ".join(str(text).split())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def live_loss_figure(curve: list, history: list, epochs: int | None = None) -> go.Figure:
    """The loss per step as training goes (x in epochs), with each finished epoch's validation loss."""
    fig = go.Figure()
    if curve:
        fig.add_scatter(x=[p[0] for p in curve], y=[p[1] for p in curve], name="train (running mean)", mode="lines")
    rows = [r for r in history if r.get("phase", "train") == "train"]
    if rows and any(r.get("val_loss") is not None for r in rows):
        fig.add_scatter(x=[r["epoch"] for r in rows], y=[r.get("val_loss") for r in rows], name="validation",
                        mode="markers", marker=dict(size=9, symbol="diamond"))
    top = max([epochs or 0] + [p[0] for p in curve] + [1])
    fig.update_layout(title="Live loss", xaxis_title="epoch", yaxis_title="loss per pixel", height=320,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"),
                      xaxis=dict(range=[0, top * 1.02], dtick=max(1, round(top / 10))))
    return fig


# ---- added for issue 11: chart axes a student can read, CSV for every table --------------------
def integer_axis(fig: go.Figure, values, axis: str = "x") -> go.Figure:
    """Ticks only at whole numbers (epochs, latent sizes): at most ~10 of them, never 1.2 or 2.5."""
    vals = sorted({int(v) for v in values if v is not None}) if values is not None else []
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if vals and len(vals) <= 12:
        update(tickmode="array", tickvals=vals, ticktext=[str(v) for v in vals])
    elif vals:
        step = max(1, -(-(vals[-1] - vals[0]) // 10))
        update(tickmode="linear", tick0=vals[0], dtick=step, tickformat="d")
    return fig


def epoch_axis(fig: go.Figure) -> go.Figure:
    """Whole-number epoch ticks for a loss-per-epoch figure (read from its traces' x values)."""
    xs = [x for trace in fig.data for x in (trace.x or []) if x is not None]
    return integer_axis(fig, xs)


def digit_axis(fig: go.Figure, axis: str = "x", categories=None) -> go.Figure:
    """A class axis with every class as a category, in label order: the ten digits 0..9 unless `categories` are
    given (plotly would show only 0 and 5)."""
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="category", categoryorder="array",
           categoryarray=list(categories) if categories is not None else [str(d) for d in range(10)])
    return fig


def table_csv(rows: list[dict], name: str, key: str) -> None:
    """A CSV download of a table given as a list of row dicts."""
    import pandas as pd

    st.download_button(f"Download {name} (CSV)", pd.DataFrame(rows).to_csv(index=False), file_name=f"{name}.csv",
                       mime="text/csv", key=key)



def image_true_size(png: bytes, caption: str | None = None) -> None:
    """Show a PNG at its own pixel width: a long caption would otherwise stretch a small grid (one digit ~560 px)."""
    import io

    from PIL import Image

    width = Image.open(io.BytesIO(png)).width
    st.image(png, caption=caption, width=width if width <= 800 else "stretch")  # wide grids: fit the page
