"""Latent space: the codes in 2-D or 3-D, coloured by any field; select, search, isolate; walk the plane; place your own digit."""

import numpy as np
import pandas as pd
import streamlit as st

from aecore.analysis.latent import (
    find_points,
    interpolate,
    plane_bounds,
    plane_pixel,
    point_name,
    pool_images,
    pool_labels,
    selected_indices,
)
from aecore.analysis.projection import METHODS, ProjectionError, nearest_neighbours
from aecore.data.images import ImageError, grid, labelled_png, preprocess_digit, rows_grid, to_png
from aecore.models.evaluate import codes_and_reconstructions, decode, encode
from app_pages.kit import background, charts, latent_map, picker, safe, session, url, widgets

st.title("Latent space")
key, run = picker.run_picker(data=None)  # runs of every data set
if run is None:
    st.stop()
ds = session.dataset(run.config.dataset)
mnist = ds.name == "mnist"
names = None if mnist else ds.class_names  # MNIST's classes are the digits
what = "digit" if mnist else "class"
cls = (lambda d: str(d)) if mnist else (lambda d: safe.plain(ds.class_names[d]))
k = run.model.latent_dim
N_TEST = len(ds.test)
st.caption(f"{safe.plain(run.label())} · each image becomes a code of **{k}** numbers; here they are drawn in 2-D or 3-D.")

# ---- projection settings ------------------------------------------------------------------------
LABELS = {"raw": "raw latent axes", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
SOURCES = {"test": f"test set ({N_TEST:,})",
           "all": f"all of {'MNIST' if mnist else safe.plain(ds.name)} ({N_TEST + len(ds.train):,}: training + test)"}
c1, c2, c3, c4 = st.columns([3, 1.2, 3, 1.2])
method = c1.radio("Projection", METHODS, index=url.query_index("method", METHODS, "raw" if k <= 2 else "pca"), format_func=LABELS.get,
                  key="method", horizontal=True)
view = c2.radio("View", ["2-D", "3-D"], index=url.query_index("view", ["2-D", "3-D"], "2-D"), key="view", horizontal=True,
                help="3-D: drag to rotate, scroll to zoom")
dims = 3 if view == "3-D" else 2
source = c3.radio("Images", list(SOURCES), index=url.query_index("images", list(SOURCES), "test"), format_func=SOURCES.get,
                  key="source", horizontal=True)
seed = c4.number_input("Seed", 0, 10**6, 0, key="proj_seed", help="Same seed, same sample and layout")
labels_pool = pool_labels(ds, source)
cap = len(labels_pool)
default_n = cap if method in ("raw", "pca") else 2000  # every image where it is instant
lo = min(100, cap)  # a small imported set may have fewer test images than that
if cap > lo:
    n = st.slider("Points", lo, cap, url.query_number("n", default_n, lo, cap), step=100 if cap >= 1000 else 1,
                  key=f"n_{method}_{source}", help=f"images to show (all {cap:,} at most); t-SNE takes about 20 s for "
                                                  "10,000 on one core, and draws itself converging meanwhile")
else:
    n = cap
every = list(range(ds.n_classes))
digits = st.multiselect("Digits shown" if mnist else "Classes shown", every, default=every,
                        key="digit_filter" if mnist else f"class_filter_{ds.name}", format_func=cls,
                        help="e.g. only 0 and 1, or 0, 1 and 6" if mnist else None)
perplexity, n_neighbors, min_dist = 30.0, 15, 0.1
top_perplexity = int(min(50, (n - 1) / 3 - 1))  # t-SNE needs more than 3 x perplexity points
if method == "tsne" and top_perplexity < 5:
    st.warning(f"t-SNE needs at least 19 points; {n} are shown. Pick PCA or all images (training + test).")
    st.stop()
if method == "tsne":
    perplexity = st.slider("t-SNE perplexity", 5, top_perplexity, min(30, top_perplexity), key="perplexity")
if method == "umap":
    u1, u2 = st.columns(2)
    n_neighbors = u1.slider("UMAP n_neighbors", 2, max(3, min(100, n - 1)), min(15, n - 1), key="n_neighbors")
    min_dist = u2.slider("UMAP min_dist", 0.0, 0.99, 0.1, key="min_dist")
st.query_params.update({"method": method, "n": str(n), "view": view, "images": source})
if method == "raw" and k > dims:
    st.info(f"The code has {k} numbers: 'raw' shows only the first {dims}. PCA, t-SNE or UMAP use all of them.")
if not digits:
    st.warning(f"Pick at least one {what} to show.")
    st.stop()

# ---- isolating a selection: re-project only those points ------------------------------------------
iso = st.session_state.get("isolated")
isolated = iso["points"] if iso and iso["run"] == key and iso["source"] == source else None
if isolated:
    i1, i2 = st.columns([5, 1])
    i1.info(f"Showing only the {len(isolated):,} selected images, projected again on their own.")
    if i2.button("Show all again", key="unisolate"):
        st.session_state.pop("isolated", None)
        st.rerun()

params = background.projection_params(key, method, n, int(seed), tuple(digits), float(perplexity), int(n_neighbors), float(min_dist),
                               dims, source, tuple(isolated) if isolated else None)
try:
    res = background.computed("projection", params)
except ProjectionError as e:
    st.error(f"Cannot project: {e}")
    st.stop()
idx, xy, info = res.images["idx"], res.images["xy"], res.summary
labels = labels_pool[idx]

# ---- colour, size, search -----------------------------------------------------------------------
f1, f2, f3 = st.columns([2, 2, 3])
colour = f1.selectbox("Colour by", list(latent_map.COLOURS), format_func=lambda f: latent_map.colour_label(f, mnist), key="colour_by",
                      help="the probe: a logistic regression fitted on 1,000 labelled training codes (as on the Experiments page)")
size = f2.selectbox("Size by", list(latent_map.SIZES), format_func=latent_map.SIZES.get, key="size_by")
query = f3.text_input("Find images", key="find", placeholder="test image numbers (17, 42) or a label (digit 3)",
                      help="selects them on the chart and shows them below")

# the selection: the chart's last click/box/lasso, or the last search (kept across reruns, so every view shows it)
if query != st.session_state.get("_find_done"):
    st.session_state["_find_done"] = query
    found, why = find_points(query, idx, labels)
    if query:
        st.session_state["selection"] = found
    if why:
        st.warning(f"Find: {why}.")
sel_state = st.session_state.get("chart_pick")
picked_now = selected_indices(sel_state.selection.points if sel_state and sel_state.selection else [])
if picked_now and picked_now != st.session_state.get("_pick_done"):
    st.session_state["selection"] = picked_now
st.session_state["_pick_done"] = picked_now
on_map = set(int(i) for i in idx)
selection = [i for i in st.session_state.get("selection", []) if i in on_map]

# ---- the chart ----------------------------------------------------------------------------------
name = LABELS[method]
axis = tuple(f"z{i + 1}" for i in range(dims)) if method == "raw" else tuple(f"{name} {i + 1}" for i in range(dims))
if "explained_variance" in info:
    ev = info["explained_variance"]
    axis = (f"PC1 ({ev[0]:.0%} of variance)",) + tuple(f"PC{i + 1} ({ev[i]:.0%})" for i in range(1, dims))
fig = latent_map.point_map(xy, idx, labels, res.images, axis, colour, size, selection, N_TEST, names=names)
pool = int(info["pool"])  # images of the digits shown
images = "test images" if source == "test" else "images (training + test)"
shown = f"{len(idx):,} of {cap:,} {images}" + (f" ({what}s {', '.join(cls(d) for d in sorted(digits))})"
                                                 if len(digits) < ds.n_classes else "")
if isolated:
    shown += ": the selection, projected on its own"
else:
    shown += f": a random sample of {pool:,}, seed {seed}" if len(idx) < pool else ": all of them"
made_by = f" · {info['backend']}" if "backend" in info else ""  # t-SNE: openTSNE on the CPU or TorchDR on a GPU
fig.update_layout(title=dict(text=f"{shown} · {dims}-D{made_by}", font=dict(size=13)))
if "gpu_error" in info:
    st.caption(f"t-SNE on the GPU did not work ({info['gpu_error']}), so this map was made on the CPU.")
# A plain click selects a point only in pan/zoom mode; box and lasso need their own drag modes (2-D only).
PICK = {"click": ("click", "pan"), "box": ("box", "select"), "lasso": ("lasso", "lasso")}
if dims == 2:
    pick = st.radio("Pick points by", list(PICK), index=url.query_index("pick", list(PICK), "click"), key="pick", horizontal=True,
                    format_func=lambda m: {"click": "click (drag pans)", "box": "box (drag a rectangle)", "lasso": "lasso (draw around)"}[m],
                    help="How a click or a drag on the chart picks points; shift adds to the selection")
    st.query_params["pick"] = pick
    fig.update_layout(dragmode=PICK[pick][1])
else:
    st.caption("3-D: drag to rotate, scroll to zoom, click a point to pick it (or find images above).")

mine = st.session_state.get("uploaded_digit") if mnist else None  # a 28x28 digit: for MNIST models only
if mine is not None:
    my_code, my_rec = codes_and_reconstructions(run.model, mine[None])  # [1, k], [1, 28, 28]: one pass
    pos, how = latent_map.place_digit(res, params, run, mine, my_code)
    if pos is not None:
        star = dict(x=[pos[0]], y=[pos[1]], mode="markers+text", text=["your digit"], textposition="top center",
                    marker=dict(symbol="star" if dims == 2 else "diamond", size=18 if dims == 2 else 8, color="black"),
                    name="your digit", hovertemplate=f"your digit ({how})<extra></extra>")
        if dims == 3:
            fig.add_scatter3d(z=[pos[2]], **star)
        else:
            fig.add_scatter(**star)

st.plotly_chart(fig, key="chart_pick", on_select="rerun", selection_mode=("points", "box", "lasso"))
st.download_button("Download coordinates (CSV)", lambda: pd.DataFrame(
    {"point": idx, "image": [point_name(int(i), N_TEST) for i in idx], what: [ds.class_names[d] for d in labels],
     **{a: xy[:, j] for j, a in enumerate("xyz"[:dims])}, "error": res.images["mse"], "probe": res.images["pred"]}).to_csv(index=False),
    file_name=f"latent-{method}-{dims}d.csv", mime="text/csv")  # made only when clicked
if mine is not None:  # next to its ★, not only at the bottom of the page
    widgets.image_true_size(to_png(mine, scale=2), caption=f"★ your digit (more under “Your own digit” below) · {how}")

# ---- selected points: linked views --------------------------------------------------------------
st.subheader("Selected points")
if not selection:
    st.caption("Click a point (or pick “box” or “lasso” above and drag on the chart, or find images by number) to see them here.")
else:
    at = np.searchsorted(idx, selection)  # rows of the selected points (idx is sorted)
    counts = np.bincount(labels[at], minlength=ds.n_classes)
    s1, s2 = st.columns([3, 1])
    s1.caption(f"{len(selection)} selected · per {what}: " + " · ".join(f"{cls(d)}: {c}" for d, c in enumerate(counts) if c))
    if s2.button("Clear selection", key="clear_selection"):
        st.session_state["selection"] = []
        st.rerun()
    show = selection[:16]
    rec = picker.reconstructions(key, run, tuple(show))
    err = res.images["mse"][at[:16]]
    widgets.image_true_size(to_png(rows_grid([pool_images(ds, show), rec]), scale=3),
                        caption=f"{len(selection)} selected{' (first 16 shown)' if len(selection) > 16 else ''} · top: originals · "
                                "bottom: reconstructions · errors: " + ", ".join(f"{e:.3f}" for e in err))
    z_all = background.test_codes(key)
    first = show[0]
    z_first = z_all[first:first + 1] if first < N_TEST else encode(run.model, pool_images(ds, [first]))
    nn = nearest_neighbours(z_all, z_first, k=10, exclude_self=first < N_TEST)[0]
    widgets.image_true_size(to_png(grid(np.concatenate([pool_images(ds, [first]), ds.test.x[nn]]), 11), scale=3),
                        caption=f"{point_name(first, N_TEST)} (left) and its 10 nearest neighbours in the {k}-D latent space "
                                "(among the test images)")
    v1, v2 = st.columns(2)
    v1.plotly_chart(latent_map.selection_counts_figure(labels, labels[at], names), key="sel_counts")
    v2.plotly_chart(latent_map.error_figure(res.images["mse"], res.images["mse"][at]), key="sel_errors")
    need = {"tsne": int(perplexity * 3) + 1, "umap": int(n_neighbors) + 2}.get(method, 2)
    if st.button("Isolate the selection and re-project only it", key="isolate",
                 help="a new layout made from the selected images alone (same method and settings)",
                 disabled=len(selection) < need):
        st.session_state["isolated"] = {"run": key, "source": source, "points": sorted(selection)}
        st.session_state["selection"] = []
        st.rerun()
    if len(selection) < need:
        st.caption(f"Select at least {need} points to re-project them on their own with {name}.")

# ---- walking the plane --------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Decoded latent plane")
    if k == 2:
        grid_n = st.slider("Grid size", 5, 25, 15, key="plane_n")
        (x0, x1), (y0, y1) = plane_bounds(background.test_codes(key))
        img = latent_map.plane(key, run, (x0, x1), (y0, y1), grid_n)
        png = to_png(grid(img, grid_n, padding=0), scale=2)
        st.image(png, caption=f"decoder output over z1 ∈ [{x0:.1f}, {x1:.1f}] (left→right), z2 ∈ [{y0:.1f}, {y1:.1f}] (bottom→top)")
        labelled = lambda: labelled_png(  # noqa: E731  (drawn only when the button is clicked)
            grid(img, grid_n, padding=0), scale=2, title=f"{run.label()}: decoder output over the latent plane",
            bottom=f"z1 from {x0:.2f} to {x1:.2f} (left to right), z2 from {y0:.2f} to {y1:.2f} (bottom to top)")
        st.download_button("Download the plane (PNG)", labelled, file_name="latent-plane.png", mime="image/png")
    else:
        st.caption(f"Needs a 2-D code (this one has {k}). Open the “conv-k2” zoo run or train with k=2.")
with right:
    st.subheader("Interpolation")
    test_sel = [i for i in selection if i < N_TEST]
    default_a, default_b = (test_sel[0], test_sel[1]) if len(test_sel) >= 2 else (3, 2)
    a1, a2, a3 = st.columns(3)
    ia = a1.number_input("From test image", 0, N_TEST - 1, default_a, key="interp_a")
    ib = a2.number_input("To test image", 0, N_TEST - 1, default_b, key="interp_b")
    steps = a3.slider("Steps", 3, 16, 10, key="interp_steps")
    path = interpolate(run.model, ds.test.x[ia], ds.test.x[ib], steps)
    st.image(to_png(grid(path, steps), scale=3),
             caption=f"decoded codes on the line from #{ia} (a {cls(ds.test.y[ia])}) to #{ib} (a {cls(ds.test.y[ib])})")

# ---- latent sliders -----------------------------------------------------------------------------
st.subheader("Latent sliders")
if k > 16:
    st.caption(f"Sliders are offered for codes of up to 16 numbers (this one has {k}).")
else:
    z_all = background.test_codes(key)
    start = st.number_input("Start from test image", 0, N_TEST - 1, 0, key="slider_start")
    lo, hi = z_all.min(0), z_all.max(0)
    z0 = z_all[start]
    cols = st.columns(min(k, 8))
    z = np.array([cols[j % len(cols)].slider(f"z{j + 1}", float(lo[j]), float(hi[j]), float(z0[j]), key=f"z_{key}_{start}_{j}")
                  for j in range(k)], np.float32)
    widgets.image_true_size(to_png(decode(run.model, z[None])[0], scale=6), caption="the decoder's image for these code values")

# ---- your own digit: upload a picture or draw one -------------------------------------------------
st.subheader("Your own digit")
if not mnist:
    st.caption("Uploading or drawing a digit works with models trained on MNIST (28×28 grey digits).")
    st.stop()
own = st.radio("Your digit from", ["upload", "draw"], key="own_source", horizontal=True,
               format_func={"upload": "a picture (upload)", "draw": "a drawing (draw it here)"}.get)
if own == "upload":
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
else:
    from app_pages.kit.draw import draw_digit

    st.session_state.pop("digit_file_id", None)
    drawn = draw_digit("latent_draw", interval_ms=800)
    before = st.session_state.get("uploaded_digit")
    if drawn is None and before is not None:
        st.session_state.pop("uploaded_digit", None)
        st.rerun()
    elif drawn is not None and (before is None or not np.array_equal(drawn, before)):
        st.session_state.uploaded_digit = drawn  # the same ★ and reconstruction as an uploaded picture
        st.rerun()
if st.session_state.get("uploaded_digit") is not None:
    if mine is not st.session_state.uploaded_digit:  # set on this run (upload or drawing): not encoded above yet
        mine = st.session_state.uploaded_digit
        my_code, my_rec = codes_and_reconstructions(run.model, mine[None])
    code, rec = my_code[0], my_rec  # [k], [1, 28, 28]
    pics, bars, plane_col = st.columns([1, 2, 2])
    with pics:
        widgets.image_true_size(to_png(rows_grid([mine[None], rec]), scale=4),
                            caption=f"prepared like MNIST (28×28, centred) · its reconstruction · MSE "
                                    f"{float(((rec[0] - mine / 255.0) ** 2).mean()):.4f} · the ★ on the chart shows where it lands")
    bars.plotly_chart(charts.code_bars(code, f"its code: {len(code)} numbers"), key="own_code")
    if k == 2:  # beside the decoded grid of the plane: the ★ where its code falls
        (x0, x1), (y0, y1) = plane_bounds(background.test_codes(key))
        (x0, x1), (y0, y1) = (min(x0, code[0]), max(x1, code[0])), (min(y0, code[1]), max(y1, code[1]))
        plane = grid(latent_map.plane(key, run, (float(x0), float(x1)), (float(y0), float(y1)), 15), 15, padding=0)
        plane_col.plotly_chart(latent_map.plane_with_star(plane, plane_pixel(code, (x0, x1), (y0, y1), 15), (x0, x1), (y0, y1)),
                               key="own_plane")
    else:
        plane_col.caption(f"With a 2-number code the ★ is also shown on the decoded plane (this code has {k}).")
