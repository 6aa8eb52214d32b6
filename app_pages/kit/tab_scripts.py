"""The scripts every page puts on the browser tab, in one element (each element adds a gap to the sidebar)."""

import streamlit as st

from app_pages.kit import plotly_warm, webgl


def draw() -> None:
    """Charts that left the page give their WebGL back (webgl.py) and plotly's code loads while the tab is idle
    (plotly_warm.py); drawn on every run, each acts once per tab."""
    st.html(webgl.RELEASE_SCRIPT + plotly_warm.script(), unsafe_allow_javascript=True)
