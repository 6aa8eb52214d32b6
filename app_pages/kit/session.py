"""Who this browser is and what every page shares: the engine, data sets, the workspace, teacher or not."""

from __future__ import annotations

import hmac
import secrets
import time

import streamlit as st

from aecore.data.catalog import load_dataset
from aecore.data.dataset import BUNDLED
from aecore.data.mnist import load_mnist
from aecore.engine.client import Engine, StoreError
from app_pages.kit.safe import plain


# ---- shared, read-only resources ---------------------------------------------------------------
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
    return load_mnist() if bundled_mnist(name) else load_dataset(name)


def bundled_mnist(data) -> bool:
    """Whether a data set (or its name) is the bundled MNIST, for what only it has: the zoo's runs trained on it, the
    28x28 digits one draws or uploads, the models that take only those. (How to call a class: `ds.class_word`.)"""
    return getattr(data, "name", data) == BUNDLED


@st.cache_resource(show_spinner="Starting the job engine…")
def _engine() -> Engine:
    return Engine.open()


def engine() -> Engine:
    """The job store and its worker processes (started here on first use; they outlive a server restart). When the
    store cannot even be opened the page says why, in plain words, and stops (the next page run tries again)."""
    try:
        return _engine()
    except StoreError as e:
        st.error(f"AE Lab cannot open its job store: {plain(str(e))}", icon=":material/error:")
        st.stop()


# ---- the workspace: who this browser is --------------------------------------------------------
def client() -> str:
    """What the server can see of this browser, for its caps on new workspaces and waiting jobs: its IP address
    (st.context.ip_address). A connection from this machine has none: then the address a reverse proxy here
    forwards (the last one of X-Forwarded-For, or X-Real-IP), else this browser session."""
    ip = st.context.ip_address
    if not ip:
        headers = st.context.headers
        ip = (headers.get("X-Forwarded-For") or headers.get("X-Real-IP") or "").split(",")[-1].strip()
    if ip:
        return f"ip:{ip[:64]}"
    if "_client" not in st.session_state:
        st.session_state["_client"] = f"session:{secrets.token_hex(8)}"
    return st.session_state["_client"]


def workspace() -> str:
    """This browser's workspace id, kept in the URL (?ws=) so a reload or a bookmark comes back to it.

    Only an id this server issued counts (signed with its secret, see Engine.accepts_workspace): one made up,
    forged or reserved (?ws=shell-jobs, ?ws=zoo-warm-up) gives this browser a new workspace of its own."""
    eng = engine()
    ws = st.session_state.get("ws")
    if not eng.accepts_workspace(ws):
        ws = st.query_params.get("ws")
        if not eng.accepts_workspace(ws):
            if ws:
                st.toast("That link's workspace was not made by this server: you have a new workspace of your own.",
                         icon=":material/info:")
            try:
                ws = eng.issue_workspace(client())
            except StoreError as e:  # this computer had its share of new workspaces this hour
                st.error(plain(str(e)), icon=":material/block:")
                st.stop()
        st.session_state.ws = ws
    if st.query_params.get("ws") != ws:
        st.query_params["ws"] = ws
    if time.time() - st.session_state.get("ws_touched", 0) > 60:
        st.session_state.ws_touched = time.time()
        try:
            eng.touch_workspace(ws)
        except StoreError as e:  # a full disk, a read-only store: the page opens and says so (again on a run
            st.session_state.ws_touched = time.time() - 55  # 5 s later, while it lasts; once in a run of the page)
            st.warning(f"The server cannot save anything right now: {plain(str(e))}", icon=":material/warning:")
    return ws


def is_teacher() -> bool:
    """Whether this browser opened the app with ?teacher=<AELAB_TEACHER_KEY> (compared in constant time). The key
    leaves the address at once, right or wrong, so that no link the page makes carries it; the session stays a
    teacher's."""
    key = engine().settings.teacher_key
    asked = st.query_params.get("teacher")
    if asked is not None:
        del st.query_params["teacher"]
        if key and hmac.compare_digest(asked.encode(), key.encode()):
            st.session_state.teacher = True
    return bool(key) and bool(st.session_state.get("teacher"))


_JOBS_FRESH_S = 0.25  # one read of the store serves every part of a page run that asks (sidebar, boxes, pickers)


def my_jobs() -> list:
    """This workspace's jobs (none shown when the store cannot be read: the page still opens). Read once for all
    the parts of one run of the page; a fragment's own rerun, a quarter second or more later, reads them again."""
    ws = workspace()
    at, for_ws, jobs = st.session_state.get("_my_jobs", (0.0, None, None))
    if for_ws == ws and time.monotonic() - at < _JOBS_FRESH_S:
        return jobs
    try:
        jobs = engine().jobs(ws)
    except StoreError:
        return []
    st.session_state["_my_jobs"] = (time.monotonic(), ws, jobs)
    return jobs


def jobs_changed() -> None:
    """This page just submitted, stopped, paused or resumed a job: the next my_jobs() reads the store again."""
    st.session_state.pop("_my_jobs", None)


def unfinished(job) -> bool:
    """Queued, running or paused: a job the sidebar and the Train page's boxes follow as it moves."""
    return job.active or job.status == "paused"


def unfinished_jobs() -> list:
    """This workspace's queued, running and paused jobs: the ones the sidebar follows on every page."""
    return [j for j in my_jobs() if unfinished(j)]


def note_page(name: str) -> None:
    """Called once per run before the page: whether this run opens `name` (from another page, or a new session) or
    reruns the page already shown (a click, a live part's refresh)."""
    st.session_state["_page_opened"] = st.session_state.get("_page_name") != name
    st.session_state["_page_name"] = name


def page_opened() -> bool:
    """Whether this run opens its page (note_page), rather than rerunning it."""
    return st.session_state.get("_page_opened", True)


def hide_sidebar(hidden: bool) -> None:
    """Set by app.py on every run: a link for the class (?hide=sidebar) or presenter mode draws no sidebar."""
    st.session_state["_sidebar_hidden"] = hidden


def side():
    """Where a page's sidebar parts (the run picker) go: the sidebar, or the page itself where no sidebar is drawn."""
    return st if st.session_state.get("_sidebar_hidden") else st.sidebar
