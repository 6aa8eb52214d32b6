"""Reconstructions: originals on top, reconstructions below; per-image and per-digit (per-class) error; two runs side by
side; on MNIST or any imported data set, in colour where it is."""

import html

import numpy as np
import streamlit as st

from aecore.analysis.projection import sample_indices
from aecore.data.images import labelled_png, rows_grid, to_png
from aecore.models.evaluate import per_digit
from app_pages.kit import background, charts, picker, safe, session, url

st.title("Reconstructions")
key, run = picker.run_picker(data=None)  # runs of every data set
if run is None:
    st.stop()
ds = session.dataset(run.config.dataset)
mnist = ds.name == "mnist"
names = None if mnist else ds.class_names  # MNIST's classes are the digits
what = "digit" if mnist else "class"

MODES = {"random": "random test images", "digit": f"one chosen {what}", "worst": "worst reconstructed",
         "best": "best reconstructed"}
c1, c2, c3, c4 = st.columns(4)
mode = c1.radio("Show", list(MODES), format_func=MODES.get, index=url.query_index("mode", list(MODES), "random"), key="mode")
n = c2.slider("How many", 4, 16, 10, key="n_recon")
digit = c3.selectbox(what.capitalize(), list(range(ds.n_classes)), disabled=mode != "digit", key="recon_digit" if mnist else f"recon_digit_{ds.name}",
                     format_func=lambda d: str(d) if mnist else ds.class_names[d])
seed = c4.number_input("Sample seed", 0, 10**6, 0, key="recon_seed", disabled=mode in ("worst", "best"))
st.query_params["mode"] = mode

errors = background.test_errors(key)
if mode == "random":
    idx = sample_indices(len(ds.test), n, int(seed))
elif mode == "digit":
    idx = sample_indices(len(ds.test), n, int(seed), ds.test.y, [digit])
else:
    order = np.argsort(errors)
    idx = order[::-1][:n] if mode == "worst" else order[:n]

recon = picker.reconstructions(key, run, tuple(int(i) for i in idx))
st.subheader(f"{safe.plain(run.label())}: {MODES[mode]}")
st.caption(f"In each column: the original on top, its reconstruction below, then the test index, the {what} and the MSE per pixel.")
cols = st.columns(len(idx))
for col, i, r in zip(cols, idx, recon):
    col.image(to_png(rows_grid([ds.test.x[i : i + 1], r[None]], padding=1), scale=3), caption=f"#{i} · {ds.class_names[ds.test.y[i]]} · {errors[i]:.4f}",
              width="stretch")
png = to_png(rows_grid([ds.test.x[idx], recon]), scale=3)
labelled = lambda: labelled_png(  # noqa: E731  (drawn only when the button is clicked)
    rows_grid([ds.test.x[idx], recon]), scale=3, title=f"{run.label()}: {MODES[mode]}", left=["originals", "reconstructions"],
    bottom=f"test index / {what} / MSE: " + ", ".join(f"#{i}/{ds.class_names[ds.test.y[i]]}/{errors[i]:.4f}" for i in idx))
st.download_button("Download this grid (PNG)", labelled, file_name=f"reconstructions-{mode}.png", mime="image/png")

st.subheader(f"Error per {what}")
m1, m2, m3 = st.columns(3)
mse = float(errors.mean())
m1.metric("Test MSE per pixel", f"{mse:.5f}")
pixels = int(np.prod(ds.image_shape))  # numbers per image: 784 for MNIST, 3,072 for 32x32 colour
m2.metric("Squared error per image", f"{mse * pixels:.2f}",
          help="Hinton & Salakhutdinov 2006 report 3.00 (deep AE, k=30) vs 13.87 (PCA, k=30) on MNIST" if mnist else
          f"summed over the {pixels:,} numbers of an image")
m3.metric("PSNR", f"{10 * np.log10(1 / mse):.2f} dB")
series = {html.escape(run.label(), quote=False): per_digit(errors, ds.test.y, ds.n_classes)}  # plotly reads <a>, <b>

# ---- a second run side by side ------------------------------------------------------------------
st.subheader("Compare with another run")
other_key, other = picker.run_picker("Second run", key="run_b", sidebar=False, avoid=key, data=(ds.name,))
if other is not None and other_key != key:
    other_err = background.test_errors(other_key)
    series[html.escape(other.label(), quote=False)] = per_digit(other_err, ds.test.y, ds.n_classes)
    left, right = st.columns(2)
    left.image(png, caption=f"{safe.plain(run.label())} · test MSE {mse:.5f}")
    other_recon = picker.reconstructions(other_key, other, tuple(int(i) for i in idx))
    right.image(to_png(rows_grid([ds.test.x[idx], other_recon]), scale=3),
                caption=f"{safe.plain(other.label())} · test MSE {float(other_err.mean()):.5f}")
elif other_key == key:
    st.caption("Pick a different run to compare.")
st.plotly_chart(charts.per_digit_figure(series, f"Error per {what}", names), key="per_digit")
