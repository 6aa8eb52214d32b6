"""Home: what an autoencoder is, the data set, and one-click classroom presets."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aecore.classroom.presets import PRESETS
from aecore.data.dataset import class_counts
from aecore.data.images import grid, to_png
from aecore.models.evaluate import encode, mse, reconstruct
from aecore.training.zoo import zoo_names
from app_pages.kit import charts, picker, session, url

PAGE_FILES = {"train": "app_pages/train.py", "latent": "app_pages/latent.py", "denoising": "app_pages/denoising.py",
              "reconstructions": "app_pages/reconstructions.py", "experiments": "app_pages/experiments.py"}


def main() -> None:
    st.title("AE Lab")
    st.markdown(
        "An **autoencoder** squeezes an image through a narrow *code* and tries to rebuild it. "
        "The **encoder** maps a 28×28 digit (784 numbers) to a code of *k* numbers; the **decoder** "
        "maps the code back to 784 pixels. Training lowers the reconstruction error, so the code has to "
        "keep what matters about the digit. The smaller *k*, the more the model must summarise — and "
        "the code space (the *latent space*) often sorts the digits by shape all by itself."
    )
    ds = session.dataset()
    one_digit_through_the_network(ds)
    the_data(ds)
    presets()


def one_digit_through_the_network(ds) -> None:
    st.subheader("One digit through the network")
    if "conv-k16" not in zoo_names():
        st.info("The pretrained zoo is missing (data/zoo); run scripts/build_zoo.py or train a model on the Train page.")
        return
    run = picker.zoo_run("conv-k16")
    i = url.control(st.slider, "Test image", key="home_image", default=7, lo=0, hi=len(ds.test) - 1,
                    help="Pick any of the 10,000 test digits")
    x_png, code, out_png, err = _through(int(i), run, ds)
    c1, a1, c2, a2, c3 = st.columns([2, 1, 3, 1, 2], vertical_alignment="center")
    c1.image(x_png, caption=f"input: a {ds.test.y[i]} (784 pixels)", output_format="PNG")
    a1.markdown("**encoder →**")
    c2.plotly_chart(charts.code_bars(code, f"the code: {len(code)} numbers", height=240), key="code_bars",
                    config=charts.NO_TOOLBAR)
    a2.markdown("**→ decoder**")
    c3.image(out_png, caption=f"reconstruction (MSE {err:.4f})", output_format="PNG")


@st.cache_data(max_entries=256, show_spinner=False)
def _through(i: int, _run, _ds) -> tuple[bytes, np.ndarray, bytes, float]:
    """Test image i through the zoo's conv-k16 (the page's only model): the input as a PNG, its code [k], the
    reconstruction as a PNG, their MSE; once per image for every session (a rerun only redraws them)."""
    x = _ds.test.x[i: i + 1]  # [1, 1, 28, 28] uint8
    code = encode(_run.model, x)[0]  # [k]
    _, out = reconstruct(_run.model, x)  # [1, 1, 28, 28] in [0, 1]
    return to_png(x[0], scale=6), code, to_png(out[0], scale=6), float(mse(out[0], x[0] / 255.0))


@st.cache_data(max_entries=64, show_spinner=False)
def _samples_png(seed: int, _ds) -> bytes:
    """10 random training images of each digit, as one PNG."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(_ds.train.y == d), 10, replace=False) for d in range(10)])
    return to_png(grid(_ds.train.x[idx], 10), scale=2)


def the_data(ds) -> None:
    st.subheader("The data: MNIST")
    left, right = st.columns([3, 2])
    with left:
        seed = st.session_state.get("sample_seed", 0)
        st.image(_samples_png(seed, ds), caption="10 random training images of each digit", output_format="PNG")
        if st.button("Show other samples", key="home_samples"):
            st.session_state.sample_seed = int(np.random.default_rng(seed).integers(1 << 30))
            st.rerun()
    with right:
        which = url.control(st.radio, "Split", ["train", "test"], key="home_split", default="train", horizontal=True)
        st.plotly_chart(counts_figure(tuple(int(c) for c in class_counts(ds.split(which).y)), which), key="counts",
                        config=charts.NO_TOOLBAR)
    st.caption("MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0. "
               "60,000 training and 10,000 test images, 28×28 grey levels.")


@charts.SHARED
def counts_figure(counts: tuple[int, ...], which: str) -> go.Figure:
    """The images of each digit in a split, as bars."""
    fig = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=counts, text=counts, marker_color=charts.DIGIT_COLORS))
    fig.update_layout(title=f"Images per digit ({which}: {sum(counts):,})", xaxis_title="digit",
                      yaxis_title="images", height=360, margin=dict(l=10, r=10, t=40, b=10))
    return charts.digit_axis(fig)


def presets() -> None:
    st.subheader("Start here: presets for a class")
    st.page_link("app_pages/lessons.py", label="Or follow a whole tutorial step by step: the lessons",
                 icon=":material/school:", query_params={"ws": session.workspace()})
    cols = st.container(key="home_presets").columns(3)
    for n, p in enumerate(PRESETS):
        with cols[n % 3].container(border=True):
            st.markdown(f"**{p.title}**")
            st.caption(p.explains)
            if st.button("Open", key=f"preset_{p.key}"):
                url.forget(*p.params)  # the preset's settings win over this session's
                st.switch_page(PAGE_FILES[p.page], query_params=p.params)


main()
