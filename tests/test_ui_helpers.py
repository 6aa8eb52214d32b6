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
