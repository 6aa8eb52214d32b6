"""The latent page's charts: a map coloured and sized by any field (2-D or 3-D), and the selection's linked views."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aecore.analysis.latent import interpolate, latent_grid, pool_images
from aecore.data.images import grid, to_png
from aecore.models.evaluate import decode
from app_pages.kit import background, charts, picker, safe, session

COLOURS = {"digit": "digit", "error": "reconstruction error", "pred": "digit the probe reads off the code",
           "right": "probe right or wrong", "trained": "trained on or not"}
SIZES = {"same": "all the same", "error": "reconstruction error (bigger = worse)"}
SELECTED = "#111111"
SHOWN, DIMMED = 0.75, 0.15  # points' opacity: with no selection or selected; not selected while some are
RINGED = 50  # points: a selection this size or smaller is ringed on the map; a larger one (a box over a cluster) is
# shown by its colours among the faded rest, its rings a click on "selected (N)" in the legend away


def colour_label(field: str, what: str = "digit") -> str:
    """How the "Colour by" choice names a field: by `what` one class is called (digit on MNIST, class elsewhere)."""
    return COLOURS[field].replace("digit", what)


def _groups(colour: str, labels, pred, trained, n_test: int, idx, names=None) -> list[tuple[str, np.ndarray, str]]:
    """(legend name, mask, colour) of each categorical group of points (classes named by `names`, else digits)."""
    n = 10 if names is None else len(names)
    name = (lambda d: str(d)) if names is None else (lambda d: safe.label(names[d]))
    if colour == "digit":
        return [(name(d), labels == d, charts.class_colour(d, n)) for d in range(n)]
    if colour == "pred":
        return [(f"reads {name(d)}", pred == d, charts.class_colour(d, n)) for d in range(n)]
    if colour == "right":
        return [("probe right", pred == labels, "#2ca02c"), ("probe wrong", pred != labels, "#d62728")]
    test = idx < n_test
    return [("trained on", trained.astype(bool), "#1f77b4"), ("training image, not used", ~test & ~trained.astype(bool), "#ff7f0e"),
            ("test image (never trained on)", test, "#9467bd")]


def point_map(xy: np.ndarray, idx: np.ndarray, labels: np.ndarray, fields: dict, axis: tuple, colour: str = "digit",
              size: str = "same", selected=(), n_test: int = 10000, height: int = 600, names=None,
              what: str | None = None) -> go.Figure:
    """Points [n, 2 or 3] (WebGL), coloured by a field, sized by the error or not, the rest faded while some are
    selected and a small selection ringed in black;
    `names`: the class names (None: the digits 0-9), `what`: the word for one class ("digit", "class").

    Each point's number is the first of its customdata (plotly selections report it); categorical colours are one
    trace per group (two while some are selected: faded and not, under one legend entry), so the legend can hide a
    group; the error is a colour scale. A trace holds test images or training images, not both, so its hover says
    which (hover_template).
    """
    dims = xy.shape[1]
    mse, pred, trained = fields["mse"], fields["pred"], fields["trained"]
    base = 3 if len(xy) > 20000 else 5
    sizes = ((base + 11 * np.argsort(np.argsort(mse)) / max(len(mse) - 1, 1)).astype(np.float32) if size == "error"
             else None)
    what = what or ("digit" if names is None else "class")
    # a class's name in the hover: its number where the names are the numbers (MNIST's digits), else its name
    class_text = (None if names is None or list(names) == [str(d) for d in range(len(names))] else
                  np.array([safe.label(n) for n in names]))
    sources = [s for s in (idx < n_test, idx >= n_test) if s.any()]
    fig = go.Figure()

    def split(m) -> list[np.ndarray]:
        """`m`'s points a trace each: its test images, its training images."""
        return [m & s for s in sources if (m & s).any()]

    def point_size(m, more: float = 0):
        return base + more if sizes is None else sizes[m] + more  # one number for all: nothing per point to send

    def add(m, name, marker, showlegend=True, **more):
        coords = dict(x=xy[m, 0], y=xy[m, 1]) | (dict(z=xy[m, 2]) if dims == 3 else {})
        training = bool(idx[m][0] >= n_test)  # split() gave the trace one source
        hover = hover_template(what, training, class_text is not None)
        custom = [idx[m], mse[m], labels[m], pred[m]] + ([idx[m] - n_test] if training else [])
        text = {} if class_text is None else dict(text=class_text[labels[m]], hovertext=class_text[pred[m]])
        kw = dict(mode="markers", name=name, customdata=np.stack(custom, axis=1).astype(np.float32),  # [n, 4 or 5]
                  hovertemplate=hover, marker=marker, showlegend=showlegend, **text, **more)
        fig.add_trace(go.Scatter3d(**coords, **kw) if dims == 3 else go.Scattergl(**coords, **kw))

    sel = np.isin(idx, list(selected))
    # with a selection, the other points fade (as plotly's own selection does) and the selected keep their colour, so
    # a box over a dense cluster still shows its digits instead of a block of overlapping rings
    looks = [(~sel, DIMMED), (sel, SHOWN)] if sel.any() else [(np.ones(len(xy), bool), SHOWN)]
    scale = 0.6 if dims == 3 else 1
    if colour == "error":  # one colour scale for faded and selected points alike, its bar drawn once
        span = dict(colorscale="Viridis", cmin=float(mse.min()), cmax=float(mse.max()))
        parts = [(p, opacity) for part, opacity in looks for p in split(part)]
        for j, (part, opacity) in enumerate(parts):
            add(part, "error", dict(size=point_size(part) * scale, color=mse[part], opacity=opacity, **span,
                                    showscale=j == 0, colorbar=dict(title="error (MSE)")), showlegend=False)
    else:
        for name, m, c in _groups(colour, labels, pred, trained, n_test, idx, names):
            parts = [(p, opacity) for part, opacity in looks for p in split(m & part)]
            for j, (part, opacity) in enumerate(parts):  # one legend entry a group (it hides all its parts), drawn
                add(part, name, dict(size=point_size(part) * scale, color=c, opacity=opacity),  # as its brightest
                    showlegend=j == len(parts) - 1, legendgroup=name)
    if sel.any():  # the selection ringed on top of every group; a large one's rings only when asked for in the legend
        rings, name = split(sel), f"selected ({int(sel.sum())})"
        for j, part in enumerate(rings):
            add(part, name, dict(size=point_size(part, 6) * scale, color=SELECTED, symbol="circle-open",
                                 line=dict(width=2, color=SELECTED)),
                showlegend=j == len(rings) - 1, legendgroup=name, visible=True if sel.sum() <= RINGED else "legendonly")
    legend = {"digit": what, "pred": "probe", "right": "probe", "trained": "training"}.get(colour, "")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend_title_text=legend)
    if colour == "error":  # the colour bar takes the right edge: the legend ("selected", "your digit") goes below
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.08, x=0))
    if dims == 3:
        fig.update_layout(scene=dict(xaxis_title=axis[0], yaxis_title=axis[1], zaxis_title=axis[2]))
    else:
        fig.update_layout(xaxis_title=axis[0], yaxis_title=axis[1])
    return fig


def hover_template(what: str, training: bool, named: bool) -> str:
    """A map point's hover line, e.g. "test image #17 · digit 7 · error 0.0123 · probe reads 7", from its trace's
    customdata [point number, error, class, the probe's class(, number among the training images)] and, for a data set
    with class names, its text (its class's name) and hovertext (the probe's). One template a trace instead of a line
    of text a point: a 10,000-point map was 933 KB to send and 16 ms to write out on each rerun of the page, 6 ms
    without the lines."""
    number = "training image #%{customdata[4]}" if training else "test image #%{customdata[0]}"
    cls, probe = ("%{text}", "%{hovertext}") if named else ("%{customdata[2]}", "%{customdata[3]}")
    return f"{number} · {what} {cls} · error %{{customdata[1]:.4f}} · probe reads {probe}<extra></extra>"


@st.cache_resource(max_entries=32, show_spinner=False)  # shared, not copied: st.plotly_chart only reads it
def map_figure(params: dict, done: tuple, _res, _labels: np.ndarray, axis: tuple, colour: str, size: str, selected: tuple,
               n_test: int, names: tuple, what: str, title: str, dragmode: str | None, star: tuple | None) -> go.Figure:
    """The map of a projection result (the job's `params` and how far it got, `done`, name it) as the page shows it:
    point_map, its title, how a drag picks (2-D) and your digit's ★. Made once per look: the page reruns on every
    click and poll, and building a 10,000-point figure (plotly checks every trace) was a quarter of the page's time."""
    fig = point_map(_res.images["xy"], _res.images["idx"], _labels, _res.images, axis, colour, size, selected, n_test,
                    names=list(names), what=what)
    fig.update_layout(title=dict(text=title, font=dict(size=13)))
    if dragmode is not None:
        fig.update_layout(dragmode=dragmode)
    if star is not None:
        add_star(fig, np.array(star))
    return fig


def add_star(fig: go.Figure, pos) -> None:
    """Your own digit's ★ where the map's method puts it [2 or 3]: large, gold, outlined, drawn above every point (the
    points are WebGL, which is drawn over plain SVG traces, so the ★ is WebGL too, added last)."""
    star = dict(mode="markers+text", text=["your digit"], textposition="top center", name="your digit",
                hovertemplate="your digit<extra></extra>", textfont=dict(size=14, color="black"))
    if len(pos) == 3:
        fig.add_trace(go.Scatter3d(x=[pos[0]], y=[pos[1]], z=[pos[2]], **star,
                                   marker=dict(symbol="diamond", size=10, color="#ffd43b", line=dict(color="black", width=2))))
    else:
        fig.add_trace(go.Scattergl(x=[pos[0]], y=[pos[1]], **star,
                                   marker=dict(symbol="star", size=26, color="#ffd43b", line=dict(color="black", width=2))))


def selection_counts_figure(labels_shown: np.ndarray, labels_selected: np.ndarray, names=None,
                            what: str | None = None) -> go.Figure:
    """Per digit (class, named by `names`): how many of the selected points are that digit (bars, numbers on them),
    beside its share of the map."""
    n = 10 if names is None else len(names)
    x = [str(d) for d in range(n)] if names is None else [safe.label(c) for c in names]
    counts = np.bincount(labels_selected.astype(int), minlength=n)[:n]
    expected = np.bincount(labels_shown.astype(int), minlength=n)[:n] / max(len(labels_shown), 1) * len(labels_selected)
    what = what or ("digit" if names is None else "class")
    fig = go.Figure()
    fig.add_bar(x=x, y=counts, name="selected", text=counts, textposition="outside",
                marker_color=[charts.class_colour(d, n) for d in range(n)])
    fig.add_scatter(x=x, y=expected, mode="markers", name="if picked at random",
                    marker=dict(symbol="line-ew-open", size=22, color="#555"))
    fig.update_layout(title=f"Selected points per {what}", height=280, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title=what, yaxis_title="points", legend=dict(orientation="h", y=-0.3))
    charts.digit_axis(fig, categories=x)  # every class, in label order
    return fig


def error_figure(mse_shown: np.ndarray, mse_selected: np.ndarray) -> go.Figure:
    """The reconstruction errors of every point shown (grey) with the selection's on top (black): a linked view."""
    fig = go.Figure()
    bins = dict(start=0.0, end=float(np.percentile(mse_shown, 99.5)) * 1.05 + 1e-9)
    bins["size"] = (bins["end"] - bins["start"]) / 40
    fig.add_histogram(x=mse_shown, xbins=bins, histnorm="percent", name="all points shown", marker_color="#bbbbbb")
    if len(mse_selected):
        fig.add_histogram(x=mse_selected, xbins=bins, histnorm="percent", name="selected", marker_color=SELECTED, opacity=0.7)
    fig.update_layout(title="Reconstruction error: the selection against all points shown", barmode="overlay", height=280,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title="MSE per pixel", yaxis_title="% of points",
                      legend=dict(orientation="h", y=-0.3))
    return fig


@st.cache_data(max_entries=4, show_spinner=False)
def _point_codes(run_key: str, _run, idx: np.ndarray) -> np.ndarray:
    """The codes [n, k] of a map's points (encoded once per run and points, not on every rerun)."""
    from aecore.models.evaluate import encode

    return encode(_run.model, pool_images(session.dataset(picker.run_data(run_key)), idx))


# ---- the pictures under the map, made once per run and setting (the page reruns on every click and poll) ------------
def interpolation_png(run_key: str, run, ds, a: int, b: int, steps: int) -> bytes:
    """The decoded codes on the line from test image a's code to b's, as one PNG row (scale 3)."""
    return _interpolation_png(picker.run_version(run_key, run), run, ds, a, b, steps)


@st.cache_data(max_entries=64, show_spinner=False)
def _interpolation_png(version: str, _run, _ds, a: int, b: int, steps: int) -> bytes:
    return to_png(grid(interpolate(_run.model, _ds.test.x[a], _ds.test.x[b], steps), steps), scale=3)


def decoded_png(run_key: str, run, z: np.ndarray) -> bytes:
    """The decoder's image for one code [k], as a PNG (scale 6)."""
    return _decoded_png(picker.run_version(run_key, run), run, tuple(float(v) for v in z))


@st.cache_data(max_entries=256, show_spinner=False)
def _decoded_png(version: str, _run, z: tuple) -> bytes:
    return to_png(decode(_run.model, np.array([z], np.float32))[0], scale=6)  # [1, k] -> one image


def plane_png(run_key: str, run, x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> bytes:
    """The decoded n x n grid over the code plane as a PNG (scale 2)."""
    return _plane_png(picker.run_version(run_key, run), run_key, run, x_range, y_range, n)


@st.cache_data(max_entries=16, show_spinner=False)
def _plane_png(version: str, run_key: str, _run, x_range, y_range, n: int) -> bytes:
    return to_png(grid(plane(run_key, _run, x_range, y_range, n), n, padding=0), scale=2)


@st.cache_data(max_entries=16, show_spinner=False)
def plane(run_key: str, _run, x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """The decoded n x n grid over the 2-D code plane [n*n, 28, 28] ([n*n, H, W, 3] in colour; see
    aecore.analysis.latent.latent_grid)."""
    return latent_grid(_run.model, x_range, y_range, n)


def place_digit(res, params: dict, run, image: np.ndarray, z: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Where the map's method puts a new image (28x28 uint8, its code z [1, k]): (position [dims] or None while a
    worker places it, how).

    raw and PCA: exactly, here (the first code numbers; the PCA basis kept with the result). t-SNE and
    UMAP: their own transform of the fitted layout, in a short worker job (cached per image). A layout
    that was stopped early was not kept: its neighbours' mean position stands in.
    """
    from aecore.analysis.latent import place
    from aecore.analysis.projection import Placer

    method, dims = params["method"], int(params.get("dims", 2))
    if method == "raw":
        return Placer("raw", dims).place(z)[0], "placed exactly: its own code numbers"
    if method == "pca":
        arrays = {k.removeprefix("placer_"): v for k, v in res.images.items() if k.startswith("placer_")}
        return Placer("pca", dims, arrays).place(z)[0], "placed exactly by the PCA"
    name = {"tsne": "t-SNE", "umap": "UMAP"}[method]
    if res.status != "done":
        codes = _point_codes(params["run"], run, res.images["idx"])
        return place(codes, res.images["xy"], z)[0], f"near its 5 nearest codes: the stopped {name} was not kept"
    job = {"run": params["run"], "place": image.astype(int).tolist(), "layout": {k: v for k, v in params.items() if k != "run"}}
    placed = background.background_experiment("place", job, auto=True)
    if placed is None:
        return None, f"{name} is placing it…"
    return placed.images["xy"][0], f"placed by {name}'s own transform of this layout"


def plane_with_star(plane: np.ndarray, pixel: tuple[float, float], x_range, y_range) -> go.Figure:
    """The decoded latent plane (uint8 [H, W]) over x_range × y_range with a ★ where a code lands (pixel: column, row)."""
    fig = go.Figure(go.Heatmap(z=plane, colorscale="gray", showscale=False, hoverinfo="skip"))
    fig.add_scatter(x=[pixel[0]], y=[pixel[1]], mode="markers", name="your digit", hoverinfo="name",
                    marker=dict(symbol="star", size=20, color="#ffd43b", line=dict(color="black", width=1.5)))
    fig.update_xaxes(visible=False, range=[0, plane.shape[1]])
    fig.add_annotation(text=f"z1 {x_range[0]:.1f} … {x_range[1]:.1f} →, z2 {y_range[0]:.1f} … {y_range[1]:.1f} ↑",
                       xref="paper", yref="paper", x=0, y=-0.02, yanchor="top", showarrow=False, font=dict(size=11))
    fig.update_yaxes(visible=False, range=[plane.shape[0], 0], scaleanchor="x")  # image rows go down
    fig.update_layout(height=340, margin=dict(l=0, r=0, t=30, b=24), showlegend=False,
                      title="★ on the decoded plane")
    return fig
