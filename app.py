"""AE Lab: explore autoencoders on handwritten digits (streamlit run app.py)."""

import streamlit as st

from pages import _ui

st.set_page_config(page_title="AE Lab", page_icon="🔁", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True, url_path="home"),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/reconstructions.py", title="Reconstructions", icon="🖼️", url_path="reconstructions"),
    st.Page("pages/latent_space.py", title="Latent space", icon="🌌", url_path="latent"),
    st.Page("pages/denoising.py", title="Denoising", icon="🧽", url_path="denoising"),
    st.Page("pages/experiments.py", title="Experiments", icon="🔬", url_path="experiments"),
]

page = st.navigation(PAGES)
st.sidebar.caption("AE Lab · autoencoders on MNIST")
with st.sidebar:
    _ui.sidebar_jobs()
page.run()
