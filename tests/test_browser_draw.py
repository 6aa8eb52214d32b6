"""Draw a digit with the mouse in a real browser: the 28x28 image, its reconstruction and its ★ appear; the drawing
survives the canvas leaving the page; Undo and Clear."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from browser_kit import ERRORS, SHOTS, need_chromium, settle, stroke
from conftest import ROOT

HARNESS = "tests/apps/draw_harness.py"
PORTS = range(8621, 8630)  # this test's ports (others use free ones)


def _port() -> int:
    for p in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) != 0:
                return p
    raise RuntimeError(f"ports {PORTS.start}-{PORTS.stop - 1} are all in use")


@contextlib.contextmanager
def serve_harness():
    """`streamlit run` the harness on 127.0.0.1; yields (url, log path)."""
    port = _port()
    log_path = tempfile.mkstemp(prefix="aelab-draw-", suffix=".log")[1]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", HARNESS, "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        t = time.time()
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() - t > 60:
                raise RuntimeError("the harness did not start: " + Path(log_path).read_text(errors="replace")[-2000:])
            time.sleep(0.3)
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server():
    need_chromium()
    with serve_harness() as s:
        yield s


def python_has(page, n: int):
    page.get_by_text(f"Python has {n} strokes").wait_for(timeout=20000)
    settle(page)


def test_draw_a_digit_see_it_reconstructed_and_starred_then_undo_and_clear(server, browser):
    url, log_path = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    offsite = []
    page.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
    try:
        page.goto(url, wait_until="domcontentloaded")
        canvas = page.locator("canvas.aedraw-canvas")
        canvas.wait_for(timeout=60000)
        settle(page)
        page.get_by_text("Draw a digit on the black square.").wait_for()
        box = canvas.bounding_box()
        assert abs(box["width"] - 280) < 1 and abs(box["height"] - 280) < 1, box
        assert not page.get_by_role("button", name="Undo").is_enabled()  # nothing to undo yet

        stroke(page, box, [(70, 60), (210, 60)])  # a 7: the bar...
        stroke(page, box, [(210, 60), (120, 240)])  # ... and the leg
        python_has(page, 2)
        page.get_by_text("your drawing as MNIST sees it").wait_for()
        page.get_by_text("its reconstruction by conv-k2").wait_for()
        images = page.locator("[data-testid='stImage'] img")
        assert images.count() == 2
        assert all(images.nth(i).evaluate("i => i.complete && i.naturalWidth === 140") for i in range(2))
        seven = images.first.get_attribute("src")
        page.locator(".js-plotly-plot .legendtext", has_text="your digit").wait_for(timeout=30000)  # the ★ trace
        page.locator(".js-plotly-plot .textpoint", has_text="your digit").wait_for()  # its label on the chart
        assert page.get_by_text("code:").count() == 1
        page.screenshot(path=str(SHOTS / "draw-digit.png"), full_page=True)

        page.get_by_text("Hide the canvas").click()  # the canvas leaves the page...
        settle(page)
        assert canvas.count() == 0
        page.get_by_text("Hide the canvas").click()  # ... and comes back with the drawing
        python_has(page, 2)
        assert canvas.get_attribute("data-strokes") == "2"
        page.get_by_text("its reconstruction by conv-k2").wait_for()

        page.get_by_role("button", name="Undo").click()  # the leg goes: only the bar is left
        python_has(page, 1)
        assert canvas.get_attribute("data-strokes") == "1"
        page.wait_for_function("(s) => document.querySelector(\"[data-testid='stImage'] img\").src !== s", arg=seven)

        page.get_by_role("button", name="Clear").click()
        python_has(page, 0)
        page.get_by_text("Draw a digit on the black square.").wait_for()
        assert page.locator("[data-testid='stImage']").count() == 0
        assert canvas.get_attribute("data-strokes") == "0"
        # the canvas is black again
        assert canvas.evaluate("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 == 0 && v > 0).length") == 0
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        assert not offsite, f"fetched from the internet: {offsite[:5]}"
    finally:
        page.screenshot(path=str(SHOTS / "last-draw-digit.png"))
        page.close()
    log = Path(log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
