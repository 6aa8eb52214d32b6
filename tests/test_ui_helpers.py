"""Small chart helpers of the pages: whole-number epoch and latent ticks, all ten digits on a digit axis."""

import plotly.graph_objects as go

from app_pages.kit import charts


def test_epoch_axis_ticks_only_whole_epochs():
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[0.3, 0.2, 0.1]))
    xa = charts.epoch_axis(fig).layout.xaxis
    assert list(xa.tickvals) == [1, 2, 3] and xa.tickmode == "array"
    long = charts.epoch_axis(go.Figure(go.Scatter(x=list(range(1, 41)), y=[0.1] * 40))).layout.xaxis
    assert long.tickmode == "linear" and long.dtick == 4 and long.tickformat == "d"


def test_digit_axis_lists_all_ten_digits():
    fig = charts.digit_axis(go.Figure(go.Bar(x=[str(d) for d in range(10)], y=list(range(10)))))
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == [str(d) for d in range(10)]


def test_a_small_digit_scatter_is_svg_and_a_large_one_webgl_each_digit_a_trace_with_its_images_numbers():
    import numpy as np

    def scatter(n, dims=2):
        rng = np.random.default_rng(0)
        return charts.digit_scatter(rng.normal(size=(n, dims)), np.arange(n) % 10, np.arange(n) + 7,
                                    ("z1", "z2", "z3")[:dims])

    small = scatter(charts.SVG_MAX_POINTS)  # the replay of a run's training: 500 codes
    assert {t.type for t in small.data} == {"scatter"} and [t.name for t in small.data] == [str(d) for d in range(10)]
    assert sorted(np.concatenate([t.customdata for t in small.data])) == list(range(7, charts.SVG_MAX_POINTS + 7))
    assert {t.type for t in scatter(charts.SVG_MAX_POINTS + 1).data} == {"scattergl"}
    assert {t.type for t in scatter(50, dims=3).data} == {"scatter3d"}


def test_the_live_loss_breaks_where_an_epoch_starts_its_mean_again():
    """The curve is each epoch's mean so far: joined across epochs it fell like a cliff at every boundary, which reads
    as a leap in learning."""
    from app_pages.kit.charts import live_loss_figure

    curve = [[0.5, 0.09], [1.0, 0.077], [1.5, 0.058], [2.0, 0.055], [2.5, 0.050]]
    fig = live_loss_figure(curve, [{"epoch": 1, "val_loss": 0.06, "phase": "train"}], epochs=3)
    train = fig.data[0]
    assert list(train.x) == [0.5, 1.0, None, 1.5, 2.0, None, 2.5]  # a gap after epochs 1 and 2 end
    assert train.connectgaps is False and "epoch so far" in train.name
    assert list(fig.data[1].y) == [0.06]  # each finished epoch's validation loss


def test_the_live_charts_built_without_plotlys_checks_are_what_the_checks_would_make():
    """digit_scatter and live_loss_figure skip plotly's property checks (most of a live poll's time): their JSON, as
    Streamlit sends it, must be the JSON of the same figure built with every check, in every form the pages use."""
    import json

    import numpy as np
    import plotly.io as pio
    from plotly.tools import return_figure_from_figure_or_data

    def sent(fig):  # what st.plotly_chart sends the browser
        return json.loads(pio.to_json(return_figure_from_figure_or_data(fig, validate_figure=True), validate=False))

    rng = np.random.default_rng(0)
    figures = [charts.live_loss_figure([[0.5, 0.09], [1.0, 0.07], [1.5, 0.05]], [{"epoch": 1, "val_loss": 0.06}], 3),
               charts.live_loss_figure([], [])]
    for n, dims, names in [(500, 2, None), (800, 2, None), (300, 3, None), (60, 2, ("cat", "dog", "<b>x</b>"))]:
        xy, y = rng.random((n, dims), dtype=np.float32), rng.integers(0, len(names or range(10)), n)
        axis = ("z1", "z2", "z3")[:dims]
        figures += [charts.digit_scatter(xy, y, np.arange(n), axis, names=names),
                    charts.digit_scatter(xy, y, np.arange(n), axis, size=4, height=360, names=names, what="shape",
                                         title="step 5", title_size=13, ranges=((-1, 2), (0.5, 3)), uirevision="w")]
    for fig in figures:
        checked = go.Figure(fig.to_dict())  # the same figure through plotly's checks
        assert sent(fig) == sent(checked)
    assert sent(figures[-1])["layout"]["title"] == {"text": "step 5", "font": {"size": 13}}
    assert sent(figures[-1])["layout"]["xaxis"]["range"] == [-1, 2]


def test_each_map_points_hover_line_is_made_from_its_trace_template_and_says_what_the_page_always_said():
    """The map's hover lines are a template a trace filled in by the browser from each point's numbers (a line of
    text a point was 933 KB for a 10,000-point map). Filled in here as plotly.js does, every point of every trace says
    what the old line said: which image (test or training, by its own number), its class, error and the probe's
    reading; in 2-D and 3-D, coloured by class or by error, with a selection ringed, with class names or digits."""
    import re

    import numpy as np

    from aecore.analysis.latent import point_name
    from app_pages.kit import latent_map

    def fill(template: str, row, text, hovertext) -> str:
        def field(m):
            if m.group(1) == "text":
                return text
            if m.group(1) == "hovertext":
                return hovertext
            v = float(row[int(m.group(2))])
            return format(v, m.group(3)) if m.group(3) else str(int(v)) if v == int(v) else str(v)
        return re.sub(r"%\{(text|hovertext|customdata\[(\d)\])(?::([^}]*))?\}", field, template).replace("<extra></extra>", "")

    rng = np.random.default_rng(3)
    n_test, n = 40, 120
    idx = np.sort(rng.choice(n_test + 200, n, replace=False))  # test images and training images
    labels, pred = rng.integers(0, 4, n), rng.integers(0, 4, n)
    mse = rng.random(n).astype(np.float32) / 10
    fields = dict(mse=mse, pred=pred, trained=(idx >= n_test) & (rng.random(n) < 0.5))  # test images: never
    for names, what in ((None, "digit"), (("0", "1", "2", "3"), "digit"), (("cat", "dog <b>", "owl", "ant"), "class")):
        cls = (lambda d: str(d)) if names is None else (lambda d: latent_map.safe.label(names[d]))
        for dims, colour, selected in ((2, "digit", ()), (3, "error", ()), (2, "pred", tuple(idx[::9])), (2, "trained", ())):
            fig = latent_map.point_map(rng.normal(size=(n, dims)), idx, labels, fields, ("a", "b", "c")[:dims], colour,
                                       "error", selected, n_test, names=names, what=what)
            seen = []
            for t in fig.data:
                for j, row in enumerate(t.customdata):
                    i = int(row[0])
                    k = int(np.searchsorted(idx, i))
                    said = fill(t.hovertemplate, row, None if t.text is None else t.text[j],
                                None if t.hovertext is None else t.hovertext[j])
                    assert said == (f"{point_name(i, n_test)} · {what} {cls(labels[k])} · error {mse[k]:.4f} · probe "
                                    f"reads {cls(pred[k])}"), (names, dims, colour, said)
                    seen.append(i)
            rings = len(selected) if selected else 0
            assert sorted(seen) == sorted(list(idx) + list(selected)) and len(seen) == n + rings
