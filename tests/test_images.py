"""Digit uploads are prepared like MNIST, and bad files get clear messages."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aecore.data.images import ImageError, grid, preprocess_digit, rows_grid, to_png


def png(im: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def drawn_seven(size=200, mode="RGB", bg="white", ink="black", offset=(0, 0)):
    im = Image.new(mode, (size, size), bg)
    d = ImageDraw.Draw(im)
    ox, oy = offset
    d.line([(40 + ox, 40 + oy), (150 + ox, 40 + oy), (90 + ox, 170 + oy)], fill=ink, width=14)
    return im


def test_colour_photo_of_dark_ink_becomes_white_on_black_centred():
    out = preprocess_digit(png(drawn_seven(offset=(30, 20))))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[:, 0].max() == 0  # black border like MNIST
    ys, xs = np.nonzero(out > 0)
    assert ys.max() - ys.min() < 21 and xs.max() - xs.min() < 21  # scaled into a 20x20 box, no wrap-around
    w = out.astype(float)
    cy, cx = (np.mgrid[0:28, 0:28] * w).reshape(2, -1).sum(1) / w.sum()
    assert abs(cy - 13.5) <= 2.5 and abs(cx - 13.5) <= 2.5  # centred by mass, off-centre input notwithstanding


def test_light_ink_on_dark_and_jpeg_and_alpha():
    a = preprocess_digit(png(drawn_seven(mode="L", bg=0, ink=255)))
    b = preprocess_digit(png(drawn_seven(), "JPEG"))
    assert a.max() > 200 and b.max() > 200
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(50, 10), (50, 90)], fill=(0, 0, 0, 255), width=10)
    c = preprocess_digit(png(rgba))
    assert c[:, 13:15].max() > 200


@pytest.mark.parametrize("data,msg", [
    (b"", "empty"),
    (b"%PDF-1.4 not an image", "not an image: its contents are no picture format"),
    (b"\x89PNG\r\n\x1a\n truncated", "not a readable image"),
])
def test_bad_files(data, msg):
    with pytest.raises(ImageError, match=msg):
        preprocess_digit(data)


def test_tiny_huge_and_blank_images():
    with pytest.raises(ImageError, match="only 4x4"):
        preprocess_digit(png(Image.new("L", (4, 4))))
    with pytest.raises(ImageError, match="at most"):
        preprocess_digit(png(Image.new("1", (5000, 5000))))
    with pytest.raises(ImageError, match="blank"):
        preprocess_digit(png(Image.new("L", (50, 50), 255)))
    with pytest.raises(ImageError, match="larger than"):
        preprocess_digit(b"\x00" * (6 * 1024 * 1024))


def test_grids_and_png():
    imgs = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
    g = grid(imgs, 3, padding=2)
    assert g.shape == (2 * 30 + 2, 3 * 30 + 2) and g.dtype == np.uint8
    r = rows_grid([imgs[:3], (imgs[3:] * 255).astype(np.uint8)])
    assert r.shape == g.shape
    data = to_png(g, scale=2)
    assert Image.open(io.BytesIO(data)).size == (g.shape[1] * 2, g.shape[0] * 2)


def test_labelled_png_adds_text_around_the_grid():
    import io

    from PIL import Image

    from aecore.data.images import labelled_png, rows_grid, to_png

    g = rows_grid([np.zeros((4, 28, 28), np.uint8), np.full((4, 28, 28), 255, np.uint8)])
    plain = Image.open(io.BytesIO(to_png(g, scale=2)))
    png = labelled_png(g, scale=2, title="conv-k2: worst 4", left=["originals", "reconstructions"], bottom="MSE 0.04")
    img = Image.open(io.BytesIO(png))
    assert img.width > plain.width and img.height > plain.height  # room for the labels
    a = np.asarray(img.convert("L"))
    assert (a[:10] < 128).any()  # the title is drawn above the grid
