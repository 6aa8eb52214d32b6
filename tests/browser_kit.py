"""What the real-browser tests share: the server helpers, where screenshots go, what an error looks like."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from appserver import (CHROMIUM, CHROMIUM_FLAGS, free_port, serve, settle, stop_engine_workers,  # noqa: E402,F401
                       wait_healthy)

SHOTS = Path(os.environ.get("AELAB_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"  # Streamlit's error boxes


def no_errors(page, where: str) -> None:
    """No Streamlit error box and no crash page on the screen."""
    assert page.locator(ERRORS).count() == 0, f"{where}: " + " | ".join(page.locator(ERRORS).all_inner_texts())
    assert page.get_by_text("This app has encountered an error").count() == 0, where


def pick_option(page, box, option) -> None:
    """Open the select box `box` and click `option` (text or pattern) as a person does: if the list is not open a few
    seconds after the click (the page was still drawing itself, which can close a list that opened), click again."""
    for attempt in range(4):
        box.click()
        try:
            page.get_by_role("option", name=option).first.click(timeout=8000)
            return
        except PlaywrightTimeout:
            if attempt == 3:
                raise
            page.keyboard.press("Escape")


def upload(page, path, name: str):
    """Choose a file in the Data sets page's form, name it and press Import."""
    page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(str(path))
    page.get_by_label("Name", exact=True).and_(page.locator("input")).fill(name)
    page.get_by_role("button", name="Import").click()


def upload_test_digit(page, folder, index: int = 3) -> None:
    """Upload MNIST test image `index` as a photo of a digit would be (dark ink on white, 140x140 PNG) in the page's
    file uploader (Latent space's "Your own digit")."""
    from PIL import Image

    from aecore.data.mnist import load_mnist

    png = Path(folder) / "my-digit.png"
    Image.fromarray(255 - load_mnist().test.x[index]).resize((140, 140)).save(png)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(png))


def need_chromium() -> None:
    """Skip without Debian's chromium; in CI (which installs it) fail instead."""
    if not Path(CHROMIUM).exists():
        why = "Debian's chromium is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must install it: see .ci/run)")
        pytest.skip(why)


@contextlib.contextmanager
def teacher_server(home, key: str, idle_s: int = 60):
    """A fresh app server with a teacher key (its own home, one worker); yields (url, process). Its log must hold
    no traceback when it stops."""
    need_chromium()
    with serve({"AELAB_HOME": str(home), "AELAB_WORKERS": "1", "AELAB_WORKER_IDLE_S": str(idle_s),
                "AELAB_TEACHER_KEY": key}) as (url, proc):
        yield url, proc
    log = Path(proc.log_path).read_text(errors="replace")
    Path(proc.log_path).unlink(missing_ok=True)
    assert "Traceback" not in log, log[log.find("Traceback") - 200:][:3000]


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


@contextlib.contextmanager
def readme_app(tmp_path, start_timeout: float = 300, replicas: int = 0):
    """The app started exactly as the README says, on a fresh copy of this checkout: `./aelab app` (with `replicas`:
    `./aelab app --replicas N`, behind HAProxy) with no AELAB_* variable set and HOME a fresh, empty folder (the copy
    shares this checkout's .venv). Yields (url, folder of the copy, the environment it ran with); stops the server
    and the workers it started on exit, and no log (server, replicas, proxy, workers) may hold a traceback."""
    copy = tmp_path / "clone"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    fresh_home = tmp_path / "fresh-home"
    fresh_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AELAB_")}
    env["HOME"] = str(fresh_home)
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        args = (["--replicas", str(replicas), "--port", str(port), "--address", "127.0.0.1"] if replicas else
                ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false"])
        proc = subprocess.Popen(["./aelab", "app", *args],
                                cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    proc.log_path = str(log_path)
    try:
        wait_healthy(url, proc, start_timeout, "./aelab app")
        yield url, copy, env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_engine_workers(str(copy / ".aelab"))  # the README's default data home, in the copy
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[text.find("Traceback") - 200:][:3000]
    for worker_log in (copy / ".aelab" / "logs").glob("*.log"):
        wtext = worker_log.read_text(errors="replace")
        assert "Traceback" not in wtext, wtext[wtext.find("Traceback") - 200:][:3000]
