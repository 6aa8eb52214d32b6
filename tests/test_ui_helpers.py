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
