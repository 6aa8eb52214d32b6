"""Runs on a page: the zoo, the workspace's kept runs and the class's, the run picker, cached reconstructions."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.data.dataset import BUNDLED, DataError
from aecore.engine.client import KindError, StoreError
from aecore.models.evaluate import reconstruct
from aecore.training.runs import Run, RunError
from aecore.training.zoo import load_zoo, zoo_names
from app_pages.kit.session import bundled_mnist, dataset, engine, is_teacher, page_opened, side, workspace
from app_pages.kit import url
from app_pages.kit.safe import plain


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


# ---- runs: the zoo, the workspace's kept runs, runs shared with the class ----------------------
def run_options(data: tuple[str, ...] | None = ("mnist",)) -> dict[str, str]:
    """run key -> label, for every run this workspace can open that was trained on one of `data` (None: any)."""
    ws = workspace()
    opts = {f"zoo:{n}": f"zoo · {n}" for n in zoo_names()} if data is None or BUNDLED in data else {}
    for r in engine().visible_runs(ws, teacher=is_teacher()):
        on = run_data(f"run:{r.id}")
        if data is not None and on not in data:
            continue
        whose = "yours" if r.workspace == ws else "class"
        opts[f"run:{r.id}"] = (f"{whose} · {r.name}" + (f" · on {on}" if not bundled_mnist(on) and f"on {on}" not in r.name else "")
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
    """A select box over the runs trained on one of `data` (None: any data set); the choice follows the student from
    page to page and lives in the address as ?run= (`key`); returns (run key, Run) or (None, None). In the sidebar it
    also follows what the student trains (follow_new_runs).

    The run key names the run for st.cache_data (kept runs never change under one id). `avoid`
    (a run key) is not chosen by default, e.g. for a second run to compare with the first. A page that
    shows MNIST only keeps the default `data`, so it never offers a run it cannot show.
    """
    opts = run_options(data)
    if not opts:
        where = "" if data is None else f" on {' or '.join(data)}"
        (side() if sidebar else st).info(f"No runs{where} yet: train one on the Train page.")
        return None, None
    fallback = default if default in opts else next((o for o in opts if o != avoid), next(iter(opts)))
    if sidebar:
        fallback = follow_new_runs(opts, key, fallback)
    where = side() if sidebar else st
    choice = url.control(where.selectbox, label, list(opts), key=key, default=fallback, param=key, format_func=opts.get)
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


def follow_new_runs(opts: dict[str, str], key: str, fallback: str) -> str:
    """The sidebar's model run follows what the student trains: a run of theirs that appeared since this session last
    looked (trained on the Train page, uploaded) becomes the choice when they open a page, unless the address asks
    for a run; never under a page they are looking at. With no choice made yet, their newest run is the default.
    Returns the default to use."""
    own = [k for k, label in opts.items() if label.startswith("yours · ")]  # newest first
    seen_key = f"_{key}_own_runs_seen"
    seen = st.session_state.get(seen_key)
    if seen is None:  # this session's first look: its newest run, if the student has not picked one
        st.session_state[seen_key] = set(own)
        return own[0] if own and key not in st.session_state else fallback
    new = [k for k in own if k not in seen]
    if new and page_opened():
        st.session_state[seen_key] = seen | set(new)
        if url.arriving(key) is None:
            st.session_state[key] = new[0]
            st.toast(f"Your new run “{plain(opts[new[0]].removeprefix('yours · '))}” is now the model run.")
    return fallback


def reconstructions(run_key: str, run: Run, idx: tuple) -> np.ndarray:
    """The run's reconstructions [n, 28, 28] ([n, H, W, 3] in colour) of points of its data set (test images first,
    then training images)."""
    return _reconstructions(run_version(run_key, run), run_key, run, tuple(idx))


@st.cache_data(max_entries=64, show_spinner=False)
def _reconstructions(version: str, run_key: str, _run: Run, idx: tuple) -> np.ndarray:
    from aecore.analysis.latent import pool_images

    return reconstruct(_run.model, pool_images(dataset(run_data(run_key)), list(idx)))[1]
