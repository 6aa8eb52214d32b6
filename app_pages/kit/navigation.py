"""The app's pages and their addresses (public Streamlit API only)."""

from __future__ import annotations

import streamlit as st

from app_pages.kit.session import is_teacher


def navigation_pages() -> list:
    """The app's pages; the teacher view only for a teacher."""
    pages = [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True, url_path="start"),  # served at /
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("app_pages/reconstructions.py", title="Reconstructions", icon=":material/compare:", url_path="reconstructions"),
        st.Page("app_pages/latent.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"),
        st.Page("app_pages/denoising.py", title="Denoising", icon=":material/blur_on:", url_path="denoising"),
        st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
        st.Page("app_pages/data.py", title="Data sets", icon=":material/photo_library:", url_path="data"),
        st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    ]
    if is_teacher():
        pages.append(st.Page("app_pages/teacher.py", title="Teacher", icon=":material/admin_panel_settings:", url_path="teacher"))
    return pages


def teacher_gate(pages: list) -> list:
    """/teacher for every browser: without the key it shows the teacher page's own message (never Streamlit's "Page
    not found"); the sidebar links to it only for a teacher."""
    if any(p.url_path == "teacher" for p in pages):
        return []
    return [st.Page("app_pages/teacher.py", title="Teacher", icon=":material/admin_panel_settings:", url_path="teacher")]


def page_name(page) -> str:
    """A page's short name ("home", "train", "latent", ...), as lessons and the ?hide= flag name it."""
    return "home" if page.url_path in ("", "start") else page.url_path


def home_alias(home) -> "st.Page":
    """/home, the Home page's own name: Streamlit serves the default page only at /, so this sends /home there."""

    def to_home():
        st.switch_page(home, query_params=st.query_params.to_dict())

    return st.Page(to_home, title="Home", url_path="home")
