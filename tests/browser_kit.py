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


def need_chromium() -> None:
    """Skip without Debian's chromium; in CI (which installs it) fail instead."""
    if not Path(CHROMIUM).exists():
        why = "Debian's chromium is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must install it: see .ci/run)")
        pytest.skip(why)
