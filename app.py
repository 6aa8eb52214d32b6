"""AE Lab: explore autoencoders on handwritten digits (streamlit run app.py)."""

from pathlib import Path

import streamlit as st

from pages import _lesson, _ui

# A local image: an emoji or :material/…: icon makes the browser fetch the favicon from a CDN (fails offline).
st.set_page_config(page_title="AE Lab", page_icon=str(Path(__file__).resolve().parent / "data" / "favicon.png"), layout="wide")

_ui.warm_imports()
pages = _ui.navigation_pages()
# our own links below carry the workspace (?ws=) to every page; /home is an alias of /
page = st.navigation(pages + [_ui.home_alias(pages[0])], position="hidden")
ws = _ui.workspace()
with st.sidebar:
    for p in pages:
        st.page_link(p, query_params={"ws": ws})
    st.caption("AE Lab · autoencoders on MNIST and your own images")
    if _ui.has_active_jobs():
        _ui.sidebar_jobs()  # live progress of this workspace's jobs on every page
name = _ui.page_name(page)
at = _lesson.enter(name)  # ?lesson=…&step=…: this step's settings, and its text and question above the page
_lesson.view(name, at)  # ?hide=… and ?present=1: a view for the class or the projector
with _ui.app_run(header=(lambda: _lesson.banner(*at)) if at is not None else None):
    page.run()
_lesson.presenter_exit(page)
