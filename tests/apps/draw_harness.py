"""Test harness for the drawing canvas (tests only): draw a digit, see it as MNIST, its reconstruction, code and ★."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for aecore and pages

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.models.evaluate import encode, reconstruct  # noqa: E402
from aecore.data.images import to_png  # noqa: E402
from aecore.training.zoo import load_zoo  # noqa: E402
from app_pages.kit.draw import draw_digit, drawn_strokes, show_prepared  # noqa: E402

N_POINTS = 1000  # test images on the scatter (enough to see the clusters, cheap to draw)


@st.cache_resource
def model():
    return load_zoo("conv-k2").model


@st.cache_data
def test_codes():
    ds = load_mnist()
    return encode(model(), ds.test.x[:N_POINTS]), ds.test.y[:N_POINTS]  # [N,2], [N]


st.title("Draw a digit")
if st.checkbox("Hide the canvas", key="hide"):  # as when the student opens another page and comes back
    st.stop()
left, mid, right = st.columns([3, 2, 2])
with left:
    digit = draw_digit("pad")
    st.caption(f"Python has {len(drawn_strokes('pad'))} strokes")
if digit is None:
    st.info("Draw a digit on the black square.")
    st.stop()
z = encode(model(), digit[None])[0]  # [2]
with mid:
    show_prepared(digit)
    _, rec = reconstruct(model(), digit[None])
    st.image(to_png(rec[0], scale=5), caption="its reconstruction by conv-k2", width=140)
with right:
    st.bar_chart(pd.DataFrame({"value": z}, index=[f"z{i + 1}" for i in range(len(z))]), height=220)
    st.caption("code: " + ", ".join(f"{v:.2f}" for v in z))
codes, digits = test_codes()
fig = go.Figure()
for d in range(10):
    m = digits == d
    fig.add_scattergl(x=codes[m, 0], y=codes[m, 1], mode="markers", name=str(d), marker=dict(size=4, opacity=0.6))
fig.add_scatter(x=[z[0]], y=[z[1]], mode="markers+text", text=["your digit"], textposition="top center",
                marker=dict(symbol="star", size=18, color="black"), name="your digit")
fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="z1", yaxis_title="z2")
st.plotly_chart(fig, key="scatter")
