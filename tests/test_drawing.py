"""Drawn digits become 28x28 images like MNIST: centred, 20 px box, and recognisable as the digit drawn."""

import math

import numpy as np
import pytest

from aecore.data.drawing import CANVAS, DrawingError, bitmap_to_mnist, render_strokes, strokes_to_mnist
from aecore.data.images import ImageError, mnist_like

ONE = [[[140, 40], [145, 240]]]  # one vertical stroke
ZERO = [[[140 + 70 * math.sin(t), 140 - 100 * math.cos(t)] for t in np.linspace(0, 2 * math.pi, 60)]]
SEVEN = [[[70, 60], [210, 60]], [[210, 60], [120, 240]]]


def ink_box(a):
    ys, xs = np.nonzero(a > 40)
    return ys.min(), ys.max(), xs.min(), xs.max()


def centre_of_mass(a):
    yy, xx = np.mgrid[0:28, 0:28]
    w = a.astype(np.float64)
    return (yy * w).sum() / w.sum(), (xx * w).sum() / w.sum()


@pytest.fixture(scope="module")
def class_means(mnist):
    x, y = mnist.test.x, mnist.test.y
    return np.stack([x[y == d].astype(np.float32).mean(0) for d in range(10)])  # [10,28,28]


def nearest_mean(means, img):
    return int(np.argmin(((means - img.astype(np.float32)) ** 2).sum((1, 2))))


@pytest.mark.parametrize("strokes", [ONE, ZERO, SEVEN], ids=["one", "zero", "seven"])
def test_drawing_is_prepared_like_mnist(strokes):
    a = strokes_to_mnist(strokes)
    assert a.shape == (28, 28) and a.dtype == np.uint8
    assert a.max() > 200 and a[0].max() == a[-1].max() == a[:, 0].max() == a[:, -1].max() == 0  # white on black, margin
    y0, y1, x0, x1 = ink_box(a)
    assert max(y1 - y0, x1 - x0) + 1 in (19, 20, 21)  # the longer side scaled to 20 px
    cy, cx = centre_of_mass(a)
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1  # centred by centre of mass


def test_a_vertical_stroke_is_closest_to_the_ones_and_a_ring_to_the_zeros(class_means):
    assert nearest_mean(class_means, strokes_to_mnist(ONE)) == 1
    assert nearest_mean(class_means, strokes_to_mnist(ZERO)) == 0


def test_where_and_how_big_one_draws_does_not_matter():
    big = strokes_to_mnist(ONE)
    small_corner = strokes_to_mnist([[[30, 20], [31, 120]]], brush=CANVAS.brush / 2)  # half as tall, half the pen
    assert np.abs(big.astype(int) - small_corner.astype(int)).mean() < 8


def test_render_matches_the_canvas():
    c = render_strokes([[[10, 10]]])  # a single click is a dot of the brush's size
    assert c.shape == (CANVAS.height, CANVAS.width)
    assert c[10, 10] == 255 and c[10, 10 + int(CANVAS.brush / 2) + 2] == 0
    assert render_strokes([[[-50, 500], [20, 20]]])[CANVAS.height - 1, 0] == 255  # points off the canvas are clipped


def test_a_bitmap_gives_the_same_digit_as_its_strokes():
    grey = render_strokes(SEVEN)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    assert np.array_equal(bitmap_to_mnist(rgba), strokes_to_mnist(SEVEN))
    transparent = np.dstack([grey, grey, grey, grey])  # ink drawn on a transparent canvas
    assert np.abs(bitmap_to_mnist(transparent).astype(int) - strokes_to_mnist(SEVEN).astype(int)).max() <= 1


@pytest.mark.parametrize("strokes, message", [
    ([], "nothing is drawn"),
    ([[]], "nothing is drawn"),
    ("M 0 0 L 10 10", "must be a list"),
    ([[[1, 2, 3]]], "pairs of numbers"),
    ([[["a", "b"]]], "pairs of numbers"),
    ([[[float("nan"), 1]]], "pairs of numbers"),
    ([7], "not a list of points"),
    ([[[1, 1]]] * 201, "too many"),
    ([[[1, 1]] * 20_001], "more than 20,000 points"),
])
def test_bad_strokes_are_refused_clearly(strokes, message):
    with pytest.raises(DrawingError, match=message):
        strokes_to_mnist(strokes)


def test_bad_bitmaps_and_brushes_are_refused_clearly():
    with pytest.raises(DrawingError, match="nothing is drawn"):
        bitmap_to_mnist(np.zeros((280, 280, 4), np.uint8))
    with pytest.raises(DrawingError, match="mostly white"):
        bitmap_to_mnist(np.full((280, 280), 255, np.uint8))
    with pytest.raises(DrawingError, match="uint8"):
        bitmap_to_mnist(np.zeros((280, 280), np.float32))
    with pytest.raises(DrawingError, match="shape"):
        bitmap_to_mnist(np.zeros((280, 280, 3), np.uint8))
    with pytest.raises(DrawingError, match="brush"):
        strokes_to_mnist(ONE, brush=0)
    with pytest.raises(ImageError, match="one grey image"):
        mnist_like(np.zeros((3, 28, 28)))
    assert issubclass(DrawingError, ImageError)  # the pages catch both alike


# ---- the canvas in a page (app_pages/kit/draw.py through the test harness) ------------------------------------
def test_the_page_shows_a_drawing_and_warns_about_a_payload_that_is_not_one():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("apps/draw_harness.py", default_timeout=60).run()
    assert not at.exception and at.info[0].value == "Draw a digit on the black square."
    at.session_state["pad"] = {"strokes": SEVEN}  # what the canvas sends after two strokes
    at.run()
    assert not at.exception and not at.warning
    captions = [c.value for c in at.caption]
    assert "Python has 2 strokes" in captions and any(c.startswith("code: ") for c in captions), captions
    at.session_state["pad"] = {"strokes": [[["x", None]]]}  # not a drawing (a hostile client)
    at.run()
    assert not at.exception
    assert "cannot be used" in at.warning[0].value and at.info[0].value == "Draw a digit on the black square."
