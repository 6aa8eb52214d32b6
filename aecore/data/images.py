"""Images in and out: grids of digits as PNG, and user digits preprocessed like MNIST."""

from __future__ import annotations

import io

import numpy as np
import torch

from aecore.errors import AELabError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # uploaded digit images larger than this are refused
MAX_UPLOAD_PIXELS = 4096 * 4096  # and so are images with more pixels (decompression bombs)
MIN_SIDE = 8  # smaller than 8x8 cannot hold a recognisable digit


class ImageError(AELabError):
    """An uploaded file is not a usable digit image."""


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0,1] (or uint8) -> uint8, same shape."""
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _as_float(images) -> np.ndarray:
    a = np.asarray(images)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def grid(images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile grey images [N,H,W] into one uint8 image [H', W'], colour ones [N,H,W,3] into [H', W', 3]
    (torchvision's make_grid)."""
    from torchvision.utils import make_grid

    a = _as_float(images)
    colour = a.ndim == 4 and a.shape[-1] == 3
    t = torch.from_numpy(a).permute(0, 3, 1, 2) if colour else torch.from_numpy(a).view(-1, 1, a.shape[-2], a.shape[-1])  # [N,C,H,W]
    g = make_grid(t, nrow=ncols or len(t), padding=padding, pad_value=pad_value)  # [3,H',W']
    return to_uint8(g.permute(1, 2, 0).numpy()) if colour else to_uint8(g[0].numpy())


def rows_grid(rows: list[np.ndarray], padding: int = 2) -> np.ndarray:
    """Stack equally long rows of images (e.g. originals over reconstructions) into one uint8 image."""
    n = len(rows[0])
    return grid(np.concatenate([_as_float(r) for r in rows]), n, padding)


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of a uint8 grey [H, W] or colour [H, W, 3] image, optionally enlarged by an integer factor."""
    from PIL import Image

    a = to_uint8(image)
    im = Image.fromarray(a, mode="RGB" if a.ndim == 3 else "L")
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def preprocess_digit(data: bytes) -> np.ndarray:
    """An uploaded picture of one digit -> uint8 [28,28] prepared like MNIST.

    Grey levels, white digit on black (inverted if the paper is light), cropped to the
    digit, scaled to fit 20x20 keeping its aspect, centred by centre of mass in 28x28.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"the image is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > MAX_UPLOAD_PIXELS:
            raise ImageError(f"the image is {w}x{h} pixels; at most {MAX_UPLOAD_PIXELS:,} pixels are accepted")
        if min(w, h) < MIN_SIDE:
            raise ImageError(f"the image is only {w}x{h} pixels; use at least {MIN_SIDE}x{MIN_SIDE}")
        im.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as e:  # PIL refuses before we can ask its size: same message as ours
        import re
        import struct

        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:  # the PNG header says its size
            w, h = struct.unpack(">II", data[16:24])
            raise ImageError(f"the image is {w}x{h} pixels; at most {MAX_UPLOAD_PIXELS:,} pixels are accepted") from None
        m = re.search(r"\((\d+) pixels\)", str(e))
        n = f"{int(m.group(1)):,} pixels" if m else "far too many pixels"
        raise ImageError(f"the image has {n}; at most {MAX_UPLOAD_PIXELS:,} pixels are accepted") from None
    except UnidentifiedImageError:
        raise ImageError("not an image: its contents are no picture format this app reads (PNG, JPEG, GIF, BMP, "
                         "WebP, ...), whatever its name says") from None
    except (OSError, ValueError, SyntaxError, EOFError):  # a picture's header, then broken or cut-off data
        raise ImageError("not a readable image: the file looks like a picture but is damaged or cut off") from None
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im.convert("RGBA"))
    return mnist_like(np.asarray(im.convert("L"), dtype=np.float32) / 255.0)  # [h,w], colour -> grey


def mnist_like(grey: np.ndarray) -> np.ndarray:
    """A grey picture of one digit, float [h,w] in [0,1] -> uint8 [28,28] prepared like MNIST (see preprocess_digit)."""
    from PIL import Image

    a = np.array(grey, dtype=np.float32)  # a copy: the caller's array is left alone
    if a.ndim != 2 or min(a.shape) < 1:
        raise ImageError(f"expected one grey image [h, w], got an array of shape {a.shape}")
    if not np.isfinite(a).all():
        raise ImageError("the image has values that are not numbers")
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if border.mean() > 0.5:  # dark ink on light paper: make it white on black like MNIST
        a = 1.0 - a
    a = np.clip((a - a.min()) / max(float(a.max() - a.min()), 1e-6), 0, 1)
    a[a < 0.2] = 0.0
    ys, xs = np.nonzero(a)
    if len(ys) == 0:
        raise ImageError("no digit found: the image is blank")
    a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    hh, ww = a.shape
    s = 20.0 / max(hh, ww)
    nh, nw = max(1, round(hh * s)), max(1, round(ww * s))
    small = np.asarray(Image.fromarray(to_uint8(a)).resize((nw, nh), Image.LANCZOS), np.float32) / 255.0
    out = np.zeros((28, 28), np.float32)
    top, left = (28 - nh) // 2, (28 - nw) // 2
    out[top : top + nh, left : left + nw] = small
    total = out.sum()
    if total > 0:  # shift the centre of mass to the centre, as MNIST did
        yy, xx = np.mgrid[0:28, 0:28]
        dy = int(round(13.5 - (yy * out).sum() / total))
        dx = int(round(13.5 - (xx * out).sum() / total))
        dy = int(np.clip(dy, -top, 28 - nh - top))
        dx = int(np.clip(dx, -left, 28 - nw - left))
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return to_uint8(out)


def labelled_png(image: np.ndarray, scale: int = 1, title: str = "", left: list[str] | None = None, bottom: str = "") -> bytes:
    """A grid [H, W] as PNG with text around it: a title above, row labels on the left, a note below.

    `left` labels rows of equal height (e.g. ["originals", "reconstructions"]). Uses PIL's built-in
    font, so it needs no font files.
    """
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(to_uint8(image)).convert("L")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    font = ImageFont.load_default()
    draw0 = ImageDraw.Draw(img)

    def size(text: str) -> tuple[int, int]:
        if not text:
            return 0, 0
        x0, y0, x1, y1 = draw0.textbbox((0, 0), text, font=font)
        return x1 - x0, y1 - y0

    left = list(left or [])
    pad = 6
    lw = max([size(t)[0] for t in left] + [0]) + (2 * pad if left else 0)
    th = size(title)[1] + 2 * pad if title else 0
    bh = size(bottom)[1] + 2 * pad if bottom else 0
    width = lw + max(img.width, size(title)[0], size(bottom)[0]) + pad  # wide enough for every text
    out = Image.new("L", (width, th + img.height + bh), 255)
    out.paste(img, (lw, th))
    draw = ImageDraw.Draw(out)
    if title:
        draw.text((lw, pad), title, fill=0, font=font)
    for i, text in enumerate(left):
        row_h = img.height / len(left)
        draw.text((pad, th + row_h * (i + 0.5) - size(text)[1] / 2), text, fill=0, font=font)
    if bottom:
        draw.text((lw, th + img.height + pad), bottom, fill=0, font=font)
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
