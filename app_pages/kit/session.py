"""Who this browser is and what every page shares: the engine, data sets, the workspace, teacher or not."""

from __future__ import annotations

import time

import streamlit as st

from aecore.data.catalog import load_dataset
from aecore.data.mnist import load_mnist
from aecore.engine.client import Engine, new_token, valid_token


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
