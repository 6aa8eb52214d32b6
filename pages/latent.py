"""Latent space: the test set's codes in 2-D, coloured by digit; pick points, walk the plane, interpolate, upload."""

import numpy as np
import pandas as pd
import streamlit as st

from aecore.evaluate import decode, encode, reconstruct
from aecore.images import ImageError, grid, labelled_png, preprocess_digit, rows_grid, to_png
from aecore.latent import interpolate, latent_grid, place, plane_bounds, selected_indices
from aecore.projection import MAX_POINTS, METHODS, ProjectionError, nearest_neighbours
from pages import _ui

_ui.require_navigation()

st.title("Latent space")
ds = _ui.dataset()
key, run = _ui.run_picker()
if run is None:
    st.stop()
k = run.model.latent_dim
st.caption(f"{_ui.plain(run.label())} · each test image becomes a code of **{k}** numbers; here they are drawn in 2-D.")

# ---- projection settings ------------------------------------------------------------------------
LABELS = {"raw": "raw latent axes", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
c1, c2, c3 = st.columns(3)
method = c1.radio("Projection", METHODS, index=_ui.query_index("method", METHODS, "raw" if k <= 2 else "pca"), format_func=LABELS.get,
                  key="method", horizontal=True)
cap = MAX_POINTS[method]
default_n = cap if method in ("raw", "pca") else 2000  # the whole test set where it is instant
n = c2.slider("Points", 100, cap, _ui.query_number("n", default_n, 100, cap), step=100, key=f"n_{method}",
              help=f"test images to show (all {cap:,} at most); t-SNE takes about 40 s for all of them, and draws "
                   "itself converging meanwhile")
seed = c3.number_input("Seed", 0, 10**6, 0, key="proj_seed", help="Same seed, same sample and layout")
digits = st.multiselect("Digits shown", list(range(10)), default=list(range(10)), key="digit_filter",
                        help="e.g. only 0 and 1, or 0, 1 and 6")
perplexity, n_neighbors, min_dist = 30.0, 15, 0.1
if method == "tsne":
    perplexity = st.slider("t-SNE perplexity", 5, 50, 30, key="perplexity")
if method == "umap":
    u1, u2 = st.columns(2)
    n_neighbors = u1.slider("UMAP n_neighbors", 2, 100, 15, key="n_neighbors")
    min_dist = u2.slider("UMAP min_dist", 0.0, 0.99, 0.1, key="min_dist")
st.query_params.update({"method": method, "n": str(n)})
if method == "raw" and k > 2:
    st.info(f"The code has {k} numbers: 'raw' shows only the first two. PCA, t-SNE or UMAP use all of them.")
if not digits:
    st.warning("Pick at least one digit to show.")
    st.stop()

try:
    idx, xy, info = _ui.projection(key, method, n, int(seed), tuple(digits), float(perplexity), int(n_neighbors), float(min_dist))
except ProjectionError as e:
    st.error(f"Cannot project: {e}")
    st.stop()

# ---- the scatter --------------------------------------------------------------------------------
axis = ("z1", "z2") if method == "raw" else (f"{LABELS[method]} 1", f"{LABELS[method]} 2")
if "explained_variance" in info:
    ev = info["explained_variance"]
    axis = (f"PC1 ({ev[0]:.0%} of variance)", f"PC2 ({ev[1]:.0%})")
fig = _ui.digit_scatter(xy, ds.test.y[idx], idx, axis)
pool = int(np.isin(ds.test.y, digits).sum())  # test images of the digits shown
shown = f"{len(idx):,} of {len(ds.test):,} test images" + (f" (digits {', '.join(map(str, sorted(digits)))})" if len(digits) < 10 else "")
fig.update_layout(title=dict(text=shown + (f": a random sample of {pool:,}, seed {seed}" if len(idx) < pool else ": all of them"),
                             font=dict(size=13)))
# A plain click selects a point only in pan/zoom mode; box and lasso need their own drag modes.
PICK = {"click": ("click", "pan"), "box": ("box", "select"), "lasso": ("lasso", "lasso")}
pick = st.radio("Pick points by", list(PICK), index=_ui.query_index("pick", list(PICK), "click"), key="pick", horizontal=True,
                format_func=lambda m: {"click": "click (drag pans)", "box": "box (drag a rectangle)", "lasso": "lasso (draw around)"}[m],
                help="How a click or a drag on the chart picks points; shift adds to the selection")
st.query_params["pick"] = pick
fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), dragmode=PICK[pick][1], legend_title_text="digit")

uploaded = st.session_state.get("uploaded_digit")
if uploaded is not None:
    z_up = encode(run.model, uploaded[None])
    pos = place(_ui.test_codes(key)[idx], xy, z_up)[0]
    fig.add_scatter(x=[pos[0]], y=[pos[1]], mode="markers+text", text=["your digit"], textposition="top center",
                    marker=dict(symbol="star", size=18, color="black"), name="your digit")

event = st.plotly_chart(fig, key="scatter", on_select="rerun", selection_mode=("points", "box", "lasso"))
st.download_button("Download coordinates (CSV)", lambda: pd.DataFrame(
    {"index": idx, "digit": ds.test.y[idx], "x": xy[:, 0], "y": xy[:, 1]}).to_csv(index=False),
    file_name=f"latent-{method}.csv", mime="text/csv")  # made only when clicked
if uploaded is not None:  # next to its ★, not only at the bottom of the page
    _ui.image_true_size(to_png(uploaded, scale=2), caption="★ your digit (more under “Your own digit” below)")

# ---- selected points ----------------------------------------------------------------------------
picked = selected_indices(event.selection.points if event and event.selection else [])
st.subheader("Selected points")
if not picked:
    st.caption("Click a point (or pick “box” or “lasso” above and drag on the chart) to see those images here.")
else:
    show = picked[:16]
    rec = _ui.reconstructions(key, run, tuple(show))
    _ui.image_true_size(to_png(rows_grid([ds.test.x[show], rec]), scale=3),
             caption=f"{len(picked)} selected{' (first 16 shown)' if len(picked) > 16 else ''} · top: originals · bottom: reconstructions")
    z_all = _ui.test_codes(key)
    nn = nearest_neighbours(z_all, z_all[show[:1]], k=10)[0]
    _ui.image_true_size(to_png(grid(ds.test.x[np.concatenate([[show[0]], nn])], 11), scale=3),
             caption=f"test image #{show[0]} (left) and its 10 nearest neighbours in the {k}-D latent space")

# ---- walking the plane --------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Decoded latent plane")
    if k == 2:
        size = st.slider("Grid size", 5, 25, 15, key="plane_n")
        (x0, x1), (y0, y1) = plane_bounds(_ui.test_codes(key))
        img = latent_grid(run.model, (x0, x1), (y0, y1), size)
        png = to_png(grid(img, size, padding=0), scale=2)
        st.image(png, caption=f"decoder output over z1 ∈ [{x0:.1f}, {x1:.1f}] (left→right), z2 ∈ [{y0:.1f}, {y1:.1f}] (bottom→top)")
        labelled = lambda: labelled_png(  # noqa: E731  (drawn only when the button is clicked)
            grid(img, size, padding=0), scale=2, title=f"{run.label()}: decoder output over the latent plane",
            bottom=f"z1 from {x0:.2f} to {x1:.2f} (left to right), z2 from {y0:.2f} to {y1:.2f} (bottom to top)")
        st.download_button("Download the plane (PNG)", labelled, file_name="latent-plane.png", mime="image/png")
    else:
        st.caption(f"Needs a 2-D code (this one has {k}). Open the “conv-k2” zoo run or train with k=2.")
with right:
    st.subheader("Interpolation")
    default_a, default_b = (picked[0], picked[1]) if len(picked) >= 2 else (3, 2)
    a1, a2, a3 = st.columns(3)
    ia = a1.number_input("From test image", 0, len(ds.test) - 1, default_a, key="interp_a")
    ib = a2.number_input("To test image", 0, len(ds.test) - 1, default_b, key="interp_b")
    steps = a3.slider("Steps", 3, 16, 10, key="interp_steps")
    path = interpolate(run.model, ds.test.x[ia], ds.test.x[ib], steps)
    st.image(to_png(grid(path, steps), scale=3), caption=f"decoded codes on the line from #{ia} (a {ds.test.y[ia]}) to #{ib} (a {ds.test.y[ib]})")

# ---- latent sliders -----------------------------------------------------------------------------
st.subheader("Latent sliders")
if k > 16:
    st.caption(f"Sliders are offered for codes of up to 16 numbers (this one has {k}).")
else:
    z_all = _ui.test_codes(key)
    start = st.number_input("Start from test image", 0, len(ds.test) - 1, 0, key="slider_start")
    lo, hi = z_all.min(0), z_all.max(0)
    z0 = z_all[start]
    cols = st.columns(min(k, 8))
    z = np.array([cols[j % len(cols)].slider(f"z{j + 1}", float(lo[j]), float(hi[j]), float(z0[j]), key=f"z_{key}_{start}_{j}")
                  for j in range(k)], np.float32)
    _ui.image_true_size(to_png(decode(run.model, z[None])[0], scale=6), caption="the decoder's image for these code values")

# ---- your own digit -----------------------------------------------------------------------------
st.subheader("Your own digit")
up = st.file_uploader("Upload a picture of one handwritten digit (PNG or JPEG)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                      key="digit_upload")
if up is None:
    st.session_state.pop("uploaded_digit", None)
elif st.session_state.get("digit_file_id") != up.file_id:
    try:
        st.session_state.uploaded_digit = preprocess_digit(up.getvalue())
        st.session_state.digit_file_id = up.file_id
        st.rerun()
    except ImageError as e:
        st.session_state.pop("uploaded_digit", None)
        st.error(f"That image cannot be used: {e}")
if st.session_state.get("uploaded_digit") is not None:
    mine = st.session_state.uploaded_digit
    _, rec = reconstruct(run.model, mine[None])
    _ui.image_true_size(to_png(rows_grid([mine[None], rec]), scale=5),
             caption=f"prepared like MNIST (28×28, centred) · its reconstruction · MSE {float(((rec[0] - mine / 255.0) ** 2).mean()):.4f}"
                     " · the ★ on the chart shows where it lands")
