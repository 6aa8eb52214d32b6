"""Charts every page draws the same way: class colours, scatters of codes, loss curves, bars, readable axes."""

from __future__ import annotations

import math

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages.kit import safe

# for a small summary chart (a code's bars, counts per digit): plotly's zoom and pan buttons sat on top of its title
# and have nothing to zoom into; Streamlit's own full-screen button stays
NO_TOOLBAR = {"displayModeBar": False}

DIGIT_COLORS = px.colors.qualitative.D3  # one colour per digit 0-9, the same on every chart


# A figure made by a function marked SHARED is made once per set of arguments and handed to every session that asks
# for the same: a page draws it again on every rerun, and building even a small plotly figure (its checks of every
# property) costs 2-5 ms, four times what st.plotly_chart, which only reads it, takes to send it.
SHARED = st.cache_resource(max_entries=64, show_spinner=False)


@SHARED
def code_bars(code: np.ndarray, title: str, height: int = 260) -> go.Figure:
    """A code [k] as one bar per number."""
    fig = go.Figure(go.Bar(x=[f"z{j + 1}" for j in range(len(code))], y=code, marker_color="#4C6EF5"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title=title)
    return fig


@SHARED
def loss_figure(history: list[dict], title: str = "Loss per epoch") -> go.Figure:
    """A run's training (and validation) loss per epoch, on whole-epoch ticks."""
    rows = [r for r in history if r.get("phase", "train") == "train"]
    fig = go.Figure()
    if rows:
        ep = [r["epoch"] for r in rows]
        fig.add_scatter(x=ep, y=[r["train_loss"] for r in rows], name="train", mode="lines+markers")
        if any(r.get("val_loss") is not None for r in rows):
            fig.add_scatter(x=ep, y=[r.get("val_loss") for r in rows], name="validation", mode="lines+markers")
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="loss per pixel", height=320,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return epoch_axis(fig)


@SHARED
def per_digit_figure(values: dict[str, list], title: str = "Error per digit", names: tuple[str, ...] | None = None,
                     what: str | None = None) -> go.Figure:
    """One group of bars per digit (per class, named by `names`; `what`: the word for a class), one bar per run."""
    fig = go.Figure()
    x = [str(d) for d in range(10)] if names is None else [safe.label(n) for n in names]
    for name, vals in values.items():
        fig.add_bar(x=x, y=vals, name=name)
    fig.update_layout(title=title, xaxis_title=what or ("digit" if names is None else "class"), xaxis_type="category",
                      yaxis_title="test MSE per pixel", barmode="group",
                      height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return fig


def class_colour(label: int, n_classes: int = 10) -> str:
    """The colour of a digit (of a class among n_classes), the same on every chart."""
    palette = DIGIT_COLORS if n_classes <= 10 else px.colors.qualitative.Alphabet
    return palette[label % len(palette)]


# Up to this many points a 2-D scatter is drawn in SVG, past it in WebGL. In chromium without a GPU (software WebGL)
# a 500-point chart opened in 86 ms as SVG against 256 ms as WebGL and moved as fast (43 vs 45 ms a frame); at 1,000
# points SVG still opened sooner but moved at half the speed, and at 4,000 WebGL won both (python
# bench/scatter_draw.py). The replay of a run's training (500 codes) opens on every visit of Train; small charts also
# leave the browser's few WebGL contexts to the maps.
SVG_MAX_POINTS = 500


def digit_scatter(xy: np.ndarray, digits: np.ndarray, idx: np.ndarray, axis: tuple, size: int = 5,
                  height: int = 560, names: tuple[str, ...] | None = None, what: str | None = None,
                  title: str | None = None, title_size: int | None = None, ranges: tuple | None = None,
                  uirevision: str | None = None) -> go.Figure:
    """Points [n, 2] (or [n, 3]: a 3-D cloud to rotate) coloured by digit (by class, named by `names`, called `what`),
    one trace per class (WebGL past SVG_MAX_POINTS points, and in 3-D), each point's index in customdata (plotly
    selections report it); `ranges`: ((x0, x1), (y0, y1)) for a 2-D chart, `uirevision`: keeps the zoom and the
    hidden classes while the points move.

    The live charts draw one of these every second (a running job's codes, a map converging), and plotly's checks of
    each property were most of a poll's time: this builds the figure straight in the form those checks give
    (tests/test_ui_helpers.py compares the two), so everything is set through the arguments, not updated after."""
    three = xy.shape[1] == 3
    kind = "scatter3d" if three else "scatter" if len(xy) <= SVG_MAX_POINTS else "scattergl"
    what = what or ("digit" if names is None else "class")
    n = 10 if names is None else len(names)
    traces = []
    for d in range(n):
        m = digits == d
        if m.any():
            name = str(d) if names is None else safe.label(names[d])
            trace = {"type": kind, "x": xy[m, 0], "y": xy[m, 1], "mode": "markers", "name": name,
                     "customdata": idx[m], "hovertemplate": "test image #%{customdata}<extra>" + f"{what} {name}</extra>",
                     "marker": {"size": size * (0.6 if three else 1), "color": class_colour(d, n), "opacity": 0.75}}
            if three:
                trace["z"] = xy[m, 2]
            traces.append(trace)
    axes = [{"title": {"text": a}} for a in axis]
    if ranges is not None and not three:
        for a, r in zip(axes, ranges):
            a["range"] = [float(r[0]), float(r[1])]
    layout = {"height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "legend": {"title": {"text": what}}}
    if three:
        layout["scene"] = {"xaxis": axes[0], "yaxis": axes[1], "zaxis": axes[2]}
    else:
        layout["xaxis"], layout["yaxis"] = axes[0], axes[1]
    if title is not None:
        layout["title"] = {"text": title} if title_size is None else {"text": title, "font": {"size": title_size}}
    if uirevision is not None:
        layout["uirevision"] = uirevision
    return go.Figure(data=traces, layout=layout, _validate=False)


def live_loss_figure(curve: list, history: list, epochs: int | None = None) -> go.Figure:
    """The loss per step as training goes (x in epochs), with each finished epoch's validation loss. Polled every
    second while a job runs: built in the form plotly's checks give, like digit_scatter."""
    traces = []
    if curve:  # the mean starts again with each epoch: a gap there, not a cliff that looks like a leap in learning
        xs, ys, last = [], [], None
        for x, y in curve:
            epoch = math.ceil(x - 1e-9)  # a point at 1.0 ends epoch 1; the next one (1.02) is epoch 2's first
            if last is not None and epoch != last:
                xs.append(None)
                ys.append(None)
            xs.append(x)
            ys.append(y)
            last = epoch
        traces.append({"type": "scatter", "x": xs, "y": ys, "name": "train (mean over the epoch so far)",
                       "mode": "lines", "connectgaps": False})
    rows = [r for r in history if r.get("phase", "train") == "train"]
    if rows and any(r.get("val_loss") is not None for r in rows):
        traces.append({"type": "scatter", "x": [r["epoch"] for r in rows], "y": [r.get("val_loss") for r in rows],
                       "name": "validation", "mode": "markers", "marker": {"size": 9, "symbol": "diamond"}})
    top = max([epochs or 0] + [p[0] for p in curve] + [1])
    layout = {"title": {"text": "Live loss"}, "xaxis": {"title": {"text": "epoch"}, "range": [0, top * 1.02],
                                                        "dtick": max(1, round(top / 10))},
              "yaxis": {"title": {"text": "loss per pixel"}}, "height": 320,
              "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h"}}
    return go.Figure(data=traces, layout=layout, _validate=False)


# ---- added for issue 11: chart axes a student can read, CSV for every table --------------------
def integer_axis(fig: go.Figure, values, axis: str = "x") -> go.Figure:
    """Ticks only at whole numbers (epochs, latent sizes): at most ~10 of them, never 1.2 or 2.5."""
    vals = sorted({int(v) for v in values if v is not None}) if values is not None else []
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if vals and len(vals) <= 12:
        update(tickmode="array", tickvals=vals, ticktext=[str(v) for v in vals])
    elif vals:
        step = max(1, -(-(vals[-1] - vals[0]) // 10))
        update(tickmode="linear", tick0=vals[0], dtick=step, tickformat="d")
    return fig


def epoch_axis(fig: go.Figure) -> go.Figure:
    """Whole-number epoch ticks for a loss-per-epoch figure (read from its traces' x values)."""
    xs = [x for trace in fig.data for x in (trace.x or []) if x is not None]
    return integer_axis(fig, xs)


def digit_axis(fig: go.Figure, axis: str = "x", categories=None) -> go.Figure:
    """A class axis with every class as a category, in label order: the ten digits 0..9 unless `categories` are
    given (plotly would show only 0 and 5)."""
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="category", categoryorder="array",
           categoryarray=list(categories) if categories is not None else [str(d) for d in range(10)])
    return fig
