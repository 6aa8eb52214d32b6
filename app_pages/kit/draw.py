"""Draw a digit: a canvas in the page (Streamlit Components v2) whose strokes become a 28x28 image like MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from aecore.data.drawing import CANVAS, DrawingError, strokes_to_mnist
from aecore.data.images import to_png

_HERE = Path(__file__).resolve().parent / "components" / "draw"
_canvas = st.components.v2.component(  # inline html/css/js read from app_pages/kit/components/draw (no network, no build)
    "aelab.draw_digit",
    html=(_HERE / "draw.html").read_text(encoding="utf-8"),
    css=(_HERE / "draw.css").read_text(encoding="utf-8"),
    js=(_HERE / "draw.js").read_text(encoding="utf-8"),
)


def _kept(key: str) -> str:
    return f"{key}__strokes"  # survives leaving the page (a widget's own state does not)


def draw_digit(key: str, *, interval_ms: int = 300, on_change=None) -> np.ndarray | None:
    """Show the canvas; the drawing so far as uint8 [28,28] prepared like MNIST, or None while it is empty.

    Streamlit reruns the page as the student draws (at most every `interval_ms` during a stroke, shortly after
    each stroke, at once on Undo/Clear); `on_change` is called before such a rerun. A payload that is not a
    drawing (a hostile client) shows a warning and gives None.
    """
    kept = st.session_state.get(_kept(key), [])
    result = _canvas(
        key=key,
        data={"width": CANVAS.width, "height": CANVAS.height, "brush": CANVAS.brush, "interval_ms": int(interval_ms),
              "strokes": kept},
        default={"strokes": kept},
        on_strokes_change=on_change or (lambda: None),
        width="content",
    )
    strokes = result.strokes if result is not None and result.strokes is not None else kept
    st.session_state[_kept(key)] = strokes
    if not strokes:
        return None
    try:
        return strokes_to_mnist(strokes)
    except DrawingError as e:
        if str(e) != "nothing is drawn yet":
            st.warning(f"That drawing cannot be used: {e}")
        return None


def drawn_strokes(key: str) -> list:
    """The strokes of the canvas `key` as last sent: [[[x, y], ...], ...] in canvas pixels (empty before drawing)."""
    return list(st.session_state.get(_kept(key), []))


def show_prepared(image: np.ndarray, caption: str = "your drawing as MNIST sees it: 28×28, centred", scale: int = 5) -> None:
    """The prepared 28x28 digit enlarged with hard pixels, at its true size."""
    png = to_png(image, scale=scale)
    st.image(png, caption=caption, width=28 * scale, output_format="PNG")
