"""Latent space: the codes in 2-D or 3-D, coloured by any field; select, search, isolate; walk the plane; place your own digit."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from aecore.analysis.latent import (
    find_points,
    plane_bounds,
    plane_pixel,
    point_name,
    pool_images,
    pool_labels,
    selected_indices,
)
from aecore.analysis.projection import METHODS, ProjectionError, min_points, nearest_neighbours
from aecore.data.images import ImageError, grid, labelled_png, preprocess_digit, rows_grid, to_png
from aecore.models.evaluate import codes_and_reconstructions, encode
from app_pages.kit import background, charts, classroom, latent_map, picker, safe, session, url, widgets

LABELS = {"raw": "raw latent axes", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
DEFAULT_POINTS = {"tsne": 2000, "umap": 2000}  # the layouts that take time start with this many points
PICK = {"click": ("click", "pan"), "box": ("box", "select"), "lasso": ("lasso", "lasso")}  # (mode, the chart's dragmode)


@dataclass
class MapSettings:
    """What the controls above the map say: the map to make and how to draw it."""

    method: str
    dims: int
    source: str
    seed: int
    n: int
    cap: int
    digits: list
    perplexity: float
    n_neighbors: int
    min_dist: float
    colour: str
    size: str
    query: str
    pick: str


def main() -> None:
    st.title("Latent space")
    key, run = picker.run_picker(data=None)  # runs of every data set
    if run is None:
        return
    ds = session.dataset(run.config.dataset)
    k = run.model.latent_dim
    st.caption(f"{safe.plain(run.label())} · each image becomes a code of **{k}** numbers; here they are drawn in 2-D "
               "or 3-D.")
    s = map_settings(ds, k)
    if s is None:
        return
    isolated = isolated_points(key, s)
    params = background.projection_params(key, s.method, s.n, s.seed, tuple(s.digits), s.perplexity, s.n_neighbors,
                                          s.min_dist, s.dims, s.source, tuple(isolated) if isolated else None)
    if not heavy_work_agreed(params, s):
        return
    try:
        res = background.computed("projection", params)
    except ProjectionError as e:
        st.error(f"Cannot project: {safe.plain(str(e))}")
        return
    labels = pool_labels(ds, s.source)[res.images["idx"]]
    selection = current_selection(s, res.images["idx"], labels)
    mine = st.session_state.get("uploaded_digit") if session.bundled_mnist(ds) else None  # a 28x28 digit, MNIST models only
    the_map(key, run, ds, s, params, res, labels, selection, isolated, mine)
    selected_points(key, run, ds, s, res, labels, selection)
    left, right = st.columns(2)
    with left:
        decoded_plane(key, run, k)
    with right:
        interpolation(key, run, ds, selection)
    latent_sliders(key, run, k)
    your_own_digit(key, run, ds, k)


def map_settings(ds, k: int) -> MapSettings | None:
    """The controls above the map, all drawn before anything is computed, so each shows the value the map uses."""
    mnist, n_test, what = session.bundled_mnist(ds), len(ds.test), ds.class_word
    sources = {"test": f"test set ({n_test:,})",
               "all": f"all of {'MNIST' if mnist else safe.plain(ds.name)} ({n_test + len(ds.train):,}: training + test)"}
    c1, c2, c3, c4 = st.columns([3, 1.2, 3, 1.2])
    method = url.control(c1.radio, "Projection", METHODS, key="method", param="method", default="raw" if k <= 2 else "pca",
                         format_func=LABELS.get, horizontal=True)
    view = url.control(c2.radio, "View", ["2-D", "3-D"], key="view", param="view", default="2-D", horizontal=True,
                       help="3-D: drag to rotate, scroll to zoom")
    source = url.control(c3.radio, "Images", list(sources), key="source", param="images", default="test",
                         format_func=sources.get, horizontal=True)
    seed = url.control(c4.number_input, "Seed", key="proj_seed", param="seed", default=0, lo=0, hi=10**6,
                       help="Same seed, same sample and layout")
    cap = len(pool_labels(ds, source))
    lo = min(100, cap)  # a small imported set may have fewer test images than that
    n = cap
    if cap > lo:
        default_n = min(cap, DEFAULT_POINTS.get(method, cap))  # every image where it is instant
        n = url.control(st.slider, "Points", key=f"n_{method}_{source}", param="n", default=default_n, lo=lo, hi=cap,
                        step=100 if cap >= 1000 else 1,
                        help=f"images to show (all {cap:,} at most); t-SNE and UMAP start with {DEFAULT_POINTS['tsne']:,} "
                             "and draw themselves converging")
    every = list(range(ds.n_classes))
    digits = url.control(st.multiselect, f"{ds.class_words.capitalize()} shown", every,
                         key="digit_filter" if mnist else f"class_filter_{ds.name}", default=every,
                         format_func=lambda d: ds.class_names[d], help="e.g. only 0 and 1, or 0, 1 and 6" if mnist else None)
    perplexity, n_neighbors, min_dist = 30.0, 15, 0.1
    need = min_points(method, perplexity=5, n_neighbors=2)  # with the smallest perplexity or n_neighbors offered
    if method in ("tsne", "umap") and n < need:
        st.warning(f"{LABELS[method]} needs at least {need} points; {n} are shown. Pick PCA, or all images (training + test).")
        return None
    if method == "tsne":
        top = int(min(50, (n - 1) / 3))  # t-SNE needs more than 3 x perplexity points
        perplexity = url.control(st.slider, "t-SNE perplexity", key="perplexity", default=min(30, top), lo=5, hi=top)
    if method == "umap":
        u1, u2 = st.columns(2)
        n_neighbors = url.control(u1.slider, "UMAP n_neighbors", key="n_neighbors", default=min(15, n - 1), lo=2,
                                  hi=max(3, min(100, n - 2)))
        min_dist = url.control(u2.slider, "UMAP min_dist", key="min_dist", default=0.1, lo=0.0, hi=0.99, cast=float)
    f1, f2, f3 = st.columns([2, 2, 3])
    colour = url.control(f1.selectbox, "Colour by", list(latent_map.COLOURS), key="colour_by", param="colour",
                         default="digit", format_func=lambda f: latent_map.colour_label(f, what),
                         help="the probe: a logistic regression fitted on 1,000 labelled training codes (as on the "
                              "Experiments page)")
    size = url.control(f2.selectbox, "Size by", list(latent_map.SIZES), key="size_by", param="size", default="same",
                       format_func=latent_map.SIZES.get)
    query = f3.text_input("Find images", key="find", placeholder="test image numbers (17, 42) or a label (digit 3)",
                          help="selects them on the chart and shows them below")
    dims = 3 if view == "3-D" else 2
    pick = "click"
    if dims == 2:
        pick = url.control(st.radio, "Pick points by", list(PICK), key="pick", param="pick", default="click",
                           horizontal=True, help="How a click or a drag on the chart picks points; shift adds to the selection",
                           format_func=lambda m: {"click": "click (drag pans)", "box": "box (drag a rectangle)",
                                                  "lasso": "lasso (draw around)"}[m])
    else:
        url.drop("pick")  # a 3-D chart picks by click only
    if method == "raw" and k > dims:
        st.info(f"The code has {k} numbers: 'raw' shows only the first {dims}. PCA, t-SNE or UMAP use all of them.")
    elif method in ("raw", "pca") and k < dims:  # the missing axes are drawn as 0: say so, or the flat map puzzles
        view_name, missing = "the raw view" if method == "raw" else "PCA", dims - k
        axes = "the axis it does not have" if missing == 1 else f"the {missing} axes it does not have"
        st.info(f"The code has only {k} number{'s' if k > 1 else ''}: {view_name} in {dims}-D puts every image at 0 on "
                f"{axes}, so the points lie on {'a flat plane' if k == 2 else 'a line'}. t-SNE and UMAP spread "
                f"them over all {dims} axes.")
    if not digits:
        st.warning(f"Pick at least one {'digit' if mnist else 'class'} to show.")
        return None
    return MapSettings(method, dims, source, int(seed), int(n), cap, list(digits), float(perplexity), int(n_neighbors),
                       float(min_dist), colour, size, query, pick)


def isolated_points(key: str, s: MapSettings) -> list | None:
    """A selection isolated and projected again on its own (with a way back to every point)."""
    iso = st.session_state.get("isolated")
    isolated = iso["points"] if iso and iso["run"] == key and iso["source"] == s.source else None
    if isolated:
        i1, i2 = st.columns([5, 1])
        i1.info(f"Showing only the {len(isolated):,} selected images, projected again on their own.")
        if i2.button("Show all again", key="unisolate"):
            st.session_state.pop("isolated", None)
            st.rerun()
    return isolated


def heavy_work_agreed(params: dict, s: MapSettings) -> bool:
    """A layout that takes long is made only when the student asked for it here: a link, a bookmark or a change of run
    that asks for more points than the method starts with says what would run and waits for a click."""
    if s.method not in DEFAULT_POINTS or s.n <= DEFAULT_POINTS[s.method]:
        return True
    eng = session.engine()
    asked = eng.ask("projection", params)
    if asked.result is not None or asked.job is not None or asked.partial is not None:
        return True
    agreed = st.session_state.setdefault("_agreed_maps", set())
    if asked.key in agreed:
        return True
    seconds = eng.estimate_s("projection", params)
    st.info(f"This map is a {LABELS[s.method]} of **{s.n:,} points**: about {seconds:.0f} s of work for this server's "
            f"workers. Make it, or start with {DEFAULT_POINTS[s.method]:,} points (about "
            f"{eng.estimate_s('projection', dict(params, n=DEFAULT_POINTS[s.method])):.0f} s).")
    b1, b2, _ = st.columns([2, 2, 3])
    if b1.button(f"Make the map of {s.n:,} points", key="agree_map", type="primary"):
        agreed.add(asked.key)
        st.rerun()
    b2.button(f"Use {DEFAULT_POINTS[s.method]:,} points", key="fewer_points", on_click=_fewer_points, args=(s,))
    return False


def _fewer_points(s: MapSettings) -> None:
    st.session_state[f"n_{s.method}_{s.source}"] = DEFAULT_POINTS[s.method]


SELECTION_IN_ADDRESS = 200  # points: a selection this size or smaller is in the address (?sel=17,42), so a reload
# or a link shows it; a larger one (a box over a cluster) only for the session


def current_selection(s: MapSettings, idx: np.ndarray, labels: np.ndarray) -> list[int]:
    """The selection: the chart's last click/box/lasso, the last search or the address's, kept across reruns, of the
    points shown."""
    linked = url.take("sel")
    if linked:  # test image numbers, from a link or a reload
        found, why = find_points(linked[:4000], idx, labels)
        st.session_state["selection"] = found
        if why:
            st.warning(f"The address's selection: {safe.plain(why)}.")
    if s.query != st.session_state.get("_find_done"):
        st.session_state["_find_done"] = s.query
        found, why = find_points(s.query, idx, labels)
        if s.query:
            st.session_state["selection"] = found
        if why:
            st.warning(f"Find: {safe.plain(why)}.")
    sel_state = st.session_state.get("chart_pick")
    picked_now = selected_indices(sel_state.selection.points if sel_state and sel_state.selection else [])
    if picked_now and picked_now != st.session_state.get("_pick_done"):
        st.session_state["selection"] = picked_now
    st.session_state["_pick_done"] = picked_now
    on_map = set(int(i) for i in idx)
    selection = [i for i in st.session_state.get("selection", []) if i in on_map]
    if selection and len(selection) <= SELECTION_IN_ADDRESS:
        url.write(sel=",".join(map(str, selection)))
    else:  # none, or too many for an address: kept for the session only
        url.drop("sel")
    return selection


def the_map(key, run, ds, s: MapSettings, params, res, labels, selection, isolated, mine) -> None:
    idx, xy, info = res.images["idx"], res.images["xy"], res.summary
    n_test, what = len(ds.test), ds.class_word
    name = LABELS[s.method]
    k = run.model.latent_dim
    axis = (tuple(f"z{i + 1}" if i < k else f"z{i + 1} (none: 0)" for i in range(s.dims)) if s.method == "raw" else
            tuple(f"{name} {i + 1}" for i in range(s.dims)))
    if "explained_variance" in info:
        ev = info["explained_variance"]
        axis = (f"PC1 ({ev[0]:.0%} of variance)",) + tuple(f"PC{i + 1} ({ev[i]:.0%})" for i in range(1, s.dims))
    images = "test images" if s.source == "test" else "images (training + test)"
    shown = f"{len(idx):,} of {s.cap:,} {images}"
    if len(s.digits) < ds.n_classes:
        shown += f" ({what}s {', '.join(safe.label(ds.class_names[d]) for d in sorted(s.digits))})"
    if isolated:
        shown += ": the selection, projected on its own"
    else:
        pool = int(info["pool"])  # images of the digits shown
        of_them = f" of their {pool:,}" if pool < s.cap else ""  # only some digits shown: the sample is of theirs
        shown += f": a random sample{of_them}, seed {s.seed}" if len(idx) < pool else ": all of them"
    made_by = f" · {info['backend']}" if "backend" in info else ""  # t-SNE: openTSNE on the CPU or TorchDR on a GPU
    if "gpu_error" in info:
        st.caption(f"t-SNE on the GPU did not work ({safe.plain(info['gpu_error'])}), so this map was made on the CPU.")
    if s.dims == 3:
        st.caption("3-D: drag to rotate, scroll to zoom, click a point to pick it (or find images above).")
    how, star = "", None
    if mine is not None:
        my_code, _ = codes_and_reconstructions(run.model, mine[None])  # [1, k]
        pos, how = latent_map.place_digit(res, params, run, mine, my_code)
        star = None if pos is None else tuple(float(v) for v in pos)  # on top of every point, large and outlined
    done = (res.status, info.get("stopped_at"))  # a stopped layout, then the finished one, share their params
    fig = latent_map.map_figure(params, done, res, labels, axis, s.colour, s.size, tuple(selection), n_test,
                                tuple(ds.class_names), what, f"{shown} · {s.dims}-D{made_by}",
                                PICK[s.pick][1] if s.dims == 2 else None, star)
    # the chart's own box and lasso tools would last one drag: "Pick points by" above chooses how a drag picks
    st.plotly_chart(fig, key="chart_pick", on_select="rerun", selection_mode=("points", "box", "lasso"),
                    config={"modeBarButtonsToRemove": ["select2d", "lasso2d"]})
    st.download_button("Download coordinates (CSV)", lambda: pd.DataFrame(
        {"point": idx, "image": [point_name(int(i), n_test) for i in idx], what: [ds.class_names[d] for d in labels],
         **{a: xy[:, j] for j, a in enumerate("xyz"[:s.dims])}, "error": res.images["mse"],
         "probe": res.images["pred"]}).to_csv(index=False),
        file_name=f"latent-{s.method}-{s.dims}d.csv", mime="text/csv")  # made only when clicked
    if mine is not None:  # next to its ★, not only at the bottom of the page
        widgets.image_true_size(to_png(mine, scale=2), caption=f"★ your digit (more under “Your own digit” below) · {how}")


def selected_points(key, run, ds, s: MapSettings, res, labels, selection) -> None:
    """The selection's linked views: images and reconstructions, counts per class, errors, nearest neighbours."""
    st.subheader("Selected points")
    if not selection:
        st.caption("Click a point on the map to see it here." if classroom.presenting() else  # its controls are hidden
                   "Click a point (or pick “box” or “lasso” above and drag on the chart, or find images by number) to "
                   "see them here.")
        return
    idx, n_test, what = res.images["idx"], len(ds.test), ds.class_word
    at = np.searchsorted(idx, selection)  # rows of the selected points (idx is sorted)
    counts = np.bincount(labels[at], minlength=ds.n_classes)
    s1, s2 = st.columns([3, 1])
    s1.caption(f"{len(selection)} selected · per {what}: "
               + " · ".join(f"{safe.plain(ds.class_names[d])}: {c}" for d, c in enumerate(counts) if c))
    if s2.button("Clear selection", key="clear_selection"):
        st.session_state["selection"] = []
        st.rerun()
    show = selection[:16]
    rec = picker.reconstructions(key, run, tuple(show))
    err = res.images["mse"][at[:16]]
    widgets.image_true_size(to_png(rows_grid([pool_images(ds, show), rec]), scale=3),
                            caption=f"{len(selection)} selected{' (first 16 shown)' if len(selection) > 16 else ''} · "
                                    "top: originals · bottom: reconstructions · errors: "
                                    + ", ".join(f"{e:.3f}" for e in err))
    z_all = background.test_codes(key)
    first = show[0]
    z_first = z_all[first:first + 1] if first < n_test else encode(run.model, pool_images(ds, [first]))
    nn = nearest_neighbours(z_all, z_first, k=10, exclude_self=first < n_test)[0]
    widgets.image_true_size(to_png(grid(np.concatenate([pool_images(ds, [first]), ds.test.x[nn]]), 11), scale=3),
                            caption=f"{point_name(first, n_test)} (left) and its 10 nearest neighbours in the "
                                    f"{run.model.latent_dim}-D latent space (among the test images)")
    v1, v2 = st.columns(2)
    v1.plotly_chart(latent_map.selection_counts_figure(labels, labels[at], ds.class_names, what), key="sel_counts",
                    config=charts.NO_TOOLBAR)
    v2.plotly_chart(latent_map.error_figure(res.images["mse"], res.images["mse"][at]), key="sel_errors",
                    config=charts.NO_TOOLBAR)
    need = min_points(s.method, perplexity=s.perplexity, n_neighbors=s.n_neighbors)
    if st.button("Isolate the selection and re-project only it", key="isolate", disabled=len(selection) < need,
                 help="a new layout made from the selected images alone (same method and settings)"):
        st.session_state["isolated"] = {"run": key, "source": s.source, "points": sorted(selection)}
        st.session_state["selection"] = []
        st.rerun()
    if len(selection) < need:
        st.caption(f"Select at least {need} points to re-project them on their own with {LABELS[s.method]}.")


def decoded_plane(key, run, k: int) -> None:
    st.subheader("Decoded latent plane")
    if k != 2:
        st.caption(f"Needs a 2-D code (this one has {k}). Open the “conv-k2” zoo run or train with k=2.")
        return
    grid_n = url.control(st.slider, "Grid size", key="plane_n", default=15, lo=5, hi=25)
    (x0, x1), (y0, y1) = plane_bounds(background.test_codes(key))
    st.image(latent_map.plane_png(key, run, (x0, x1), (y0, y1), grid_n),
             caption=f"decoder output over z1 ∈ [{x0:.1f}, {x1:.1f}] (left→right), z2 ∈ [{y0:.1f}, {y1:.1f}] "
                     "(bottom→top)", output_format="PNG")
    labelled = lambda: labelled_png(  # noqa: E731  (drawn only when the button is clicked)
        grid(latent_map.plane(key, run, (x0, x1), (y0, y1), grid_n), grid_n, padding=0), scale=2,
        title=f"{run.label()}: decoder output over the latent plane",
        bottom=f"z1 from {x0:.2f} to {x1:.2f} (left to right), z2 from {y0:.2f} to {y1:.2f} (bottom to top)")
    st.download_button("Download the plane (PNG)", labelled, file_name="latent-plane.png", mime="image/png")


def interpolation(key, run, ds, selection) -> None:
    st.subheader("Interpolation")
    n_test = len(ds.test)
    test_sel = [i for i in selection if i < n_test]
    default_a, default_b = (test_sel[0], test_sel[1]) if len(test_sel) >= 2 else (min(3, n_test - 1), min(2, n_test - 1))
    a1, a2, a3 = st.columns(3)
    ia = url.control(a1.number_input, "From test image", key="interp_a", default=default_a, lo=0, hi=n_test - 1)
    ib = url.control(a2.number_input, "To test image", key="interp_b", default=default_b, lo=0, hi=n_test - 1)
    steps = url.control(a3.slider, "Steps", key="interp_steps", default=10, lo=3, hi=16)
    st.image(latent_map.interpolation_png(key, run, ds, int(ia), int(ib), int(steps)),
             caption=f"decoded codes on the line from #{ia} (a {safe.plain(ds.class_names[ds.test.y[ia]])}) to #{ib} "
                     f"(a {safe.plain(ds.class_names[ds.test.y[ib]])})", output_format="PNG")


def latent_sliders(key, run, k: int) -> None:
    st.subheader("Latent sliders")
    if k > 16:
        st.caption(f"Sliders are offered for codes of up to 16 numbers (this one has {k}).")
        return
    z_all = background.test_codes(key)
    start = url.control(st.number_input, "Start from test image", key="slider_start", default=0, lo=0,
                        hi=len(z_all) - 1)
    lo, hi = z_all.min(0), z_all.max(0)
    z0 = z_all[start]
    cols = st.columns(min(k, 8))
    z = np.array([cols[j % len(cols)].slider(f"z{j + 1}", float(lo[j]), float(hi[j]), float(z0[j]),
                                             key=f"z_{key}_{start}_{j}") for j in range(k)], np.float32)
    widgets.image_true_size(latent_map.decoded_png(key, run, z), caption="the decoder's image for these code values")


def your_own_digit(key, run, ds, k: int) -> None:
    """Upload or draw a digit: its reconstruction, its code, and a ★ where the map's method puts it."""
    if classroom.presenting():
        return  # presenter mode shows the pictures only
    st.subheader("Your own digit")
    if not session.bundled_mnist(ds):
        st.caption("Uploading or drawing a digit works with models trained on MNIST (28×28 grey digits).")
        return
    own = url.control(st.radio, "Your digit from", ["upload", "draw"], key="own_source", default="upload",
                      horizontal=True, format_func={"upload": "a picture (upload)", "draw": "a drawing (draw it here)"}.get)
    if own == "upload":
        up = st.file_uploader("Upload a picture of one handwritten digit (PNG or JPEG, at most 5 MB)", max_upload_size=5,
                              type=["png", "jpg", "jpeg", "bmp", "gif", "webp"], key="digit_upload")
        if up is None:
            st.session_state.pop("uploaded_digit", None)
        elif st.session_state.get("digit_file_id") != up.file_id:
            try:
                st.session_state.uploaded_digit = preprocess_digit(up.getvalue())
                st.session_state.digit_file_id = up.file_id
                st.rerun()
            except ImageError as e:
                st.session_state.pop("uploaded_digit", None)
                st.error(f"That image cannot be used: {safe.plain(str(e))}")
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
    mine = st.session_state.get("uploaded_digit")
    if mine is None:
        return
    my_code, my_rec = codes_and_reconstructions(run.model, mine[None])
    code, rec = my_code[0], my_rec  # [k], [1, 28, 28]
    pics, bars, plane_col = st.columns([1, 2, 2])
    with pics:
        widgets.image_true_size(to_png(rows_grid([mine[None], rec]), scale=4),
                                caption=f"prepared like MNIST (28×28, centred) · its reconstruction · MSE "
                                        f"{float(((rec[0] - mine / 255.0) ** 2).mean()):.4f} · the ★ on the chart shows "
                                        "where it lands")
    bars.plotly_chart(charts.code_bars(code, f"its code: {len(code)} numbers"), key="own_code", config=charts.NO_TOOLBAR)
    if k == 2:  # beside the decoded grid of the plane: the ★ where its code falls
        (x0, x1), (y0, y1) = plane_bounds(background.test_codes(key))
        (x0, x1), (y0, y1) = (min(x0, code[0]), max(x1, code[0])), (min(y0, code[1]), max(y1, code[1]))
        plane = grid(latent_map.plane(key, run, (float(x0), float(x1)), (float(y0), float(y1)), 15), 15, padding=0)
        plane_col.plotly_chart(latent_map.plane_with_star(plane, plane_pixel(code, (x0, x1), (y0, y1), 15), (x0, x1),
                                                          (y0, y1)), key="own_plane")
    else:
        plane_col.caption(f"With a 2-number code the ★ is also shown on the decoded plane (this code has {k}).")


main()
