"""What the real-browser tests share: the server helpers, where screenshots go, what an error looks like."""

import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from appserver import CHROMIUM, CHROMIUM_FLAGS, serve, settle, stop_engine_workers  # noqa: E402,F401

SHOTS = Path(os.environ.get("AELAB_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"  # Streamlit's error boxes


def no_errors(page, where: str) -> None:
    """No Streamlit error box and no crash page on the screen."""
    assert page.locator(ERRORS).count() == 0, f"{where}: " + " | ".join(page.locator(ERRORS).all_inner_texts())
    assert page.get_by_text("This app has encountered an error").count() == 0, where


def need_chromium() -> None:
    """Skip without Debian's chromium; in CI (which installs it) fail instead."""
    if not Path(CHROMIUM).exists():
        why = "Debian's chromium is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must install it: see .ci/run)")
        pytest.skip(why)


def stroke(page, box, points, size: int = 280):
    """One pen stroke on a drawing canvas of `size` canvas pixels: press, move through the points, release."""
    sx, sy = box["width"] / size, box["height"] / size
    at = lambda p: (box["x"] + p[0] * sx, box["y"] + p[1] * sy)  # noqa: E731
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for a, b in zip(points, points[1:]):
        for i in range(1, 6):  # several small moves, as a hand makes
            page.mouse.move(*at((a[0] + (b[0] - a[0]) * i / 5, a[1] + (b[1] - a[1]) * i / 5)))
    page.mouse.up()
