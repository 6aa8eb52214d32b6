"""AE Lab: explore autoencoders on handwritten digits (streamlit run app.py)."""

import streamlit as st

from pages import _ui

st.set_page_config(page_title="AE Lab", page_icon=":material/autorenew:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True, url_path="home"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/reconstructions.py", title="Reconstructions", icon=":material/compare:", url_path="reconstructions"),
    st.Page("pages/latent_space.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"),
    st.Page("pages/denoising.py", title="Denoising", icon=":material/blur_on:", url_path="denoising"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
]

page = st.navigation(PAGES)
st.sidebar.caption("AE Lab · autoencoders on MNIST")
if _ui.has_active_jobs():
    with st.sidebar:
        _ui.sidebar_jobs()  # polls (and keeps this session's jobs alive) only while it has some
page.run()
