"""The main flow in a real browser: open the app, train a tiny model, see the loss chart and reconstructions."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("AELAB_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))


def _need(cond: bool, why: str):
    if not cond:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must install it: see .ci/run)")
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need(Path(CHROMIUM).exists(), "Debian's chromium is not installed")
    port = free_port()
    env = dict(os.environ, AELAB_RUNS_DIR=str(tmp_path_factory.mktemp("runs")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    t = time.time()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t > 90:
            proc.kill()
            raise RuntimeError("streamlit did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_train_tiny_model_in_the_browser(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server, wait_until="networkidle")
    page.get_by_role("heading", name="AE Lab").wait_for(timeout=60000)
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)

    page.goto(f"{server}/train?model=dense&latent=4&epochs=2&batch=64&limit=2000", wait_until="networkidle")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
    page.get_by_role("button", name="▶ Train").click()
    # the finished run shows its loss chart and reconstruction grid under "Your runs"
    page.get_by_text("dense k=4", exact=False).first.wait_for(timeout=120000)
    page.locator("[data-testid='stExpander']").first.wait_for(timeout=120000)
    page.locator("[data-testid='stExpander'] .js-plotly-plot").first.wait_for(timeout=60000)
    page.locator("[data-testid='stExpander'] [data-testid='stImage']").first.wait_for(timeout=60000)
    page.screenshot(path=str(SHOTS / "train.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    # the new run is offered in the sidebar's run picker on the other pages (same session: use the nav link)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Reconstructions").click()
    page.get_by_role("heading", name="Reconstructions").wait_for(timeout=60000)
    page.locator("[data-testid='stImage']").first.wait_for(timeout=60000)
    page.screenshot(path=str(SHOTS / "reconstructions.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
