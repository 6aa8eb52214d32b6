"""Jobs in a real browser: train, reload mid-training (same workspace, live progress, Stop works), kill -9 the server."""

import os
import re
import signal
import subprocess
import sys

from conftest import ROOT

from browser_kit import ERRORS, SHOTS, serve, settle, stop_engine_workers


def _ws(url: str) -> str:
    m = re.search(r"[?&]ws=([A-Za-z0-9_-]+)", url)
    assert m, f"no workspace in {url}"
    return m.group(1)


def test_reload_mid_training_keeps_the_workspace_and_stop_keeps_the_work(browser, warm_home):
    SHOTS.mkdir(parents=True, exist_ok=True)
    home = warm_home("home")
    with serve({"AELAB_HOME": str(home), "AELAB_WORKER_IDLE_S": "60"}) as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # 12,000 images: epoch 1 lasts several seconds, longer than the page's 2 s poll (3,000 took ~1 s: a race)
        page.goto(f"{url}/train?model=conv&latent=8&epochs=40&batch=32&limit=12000", wait_until="networkidle")
        page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
        settle(page)
        page.get_by_label("Name of the run").fill("reload test")
        page.get_by_label("Name of the run").press("Enter")
        settle(page)
        page.get_by_role("button", name="▶ Train").click()
        page.get_by_text(re.compile(r"epoch 1/40 · step \d+")).first.wait_for(timeout=120000)  # moving in epoch 1
        ws = _ws(page.url)
        page.screenshot(path=str(SHOTS / "train-live.png"), full_page=True)

        page.reload(wait_until="networkidle")
        page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
        assert _ws(page.url) == ws  # the same workspace after a reload
        progress = page.get_by_text(re.compile(r"epoch \d+/40 · step \d+"))
        progress.first.wait_for(timeout=60000)  # the running job's live progress is back
        first = progress.first.inner_text()
        for _ in range(30):  # and it still moves (the page polls every 2 s; a loaded machine may take longer)
            page.wait_for_timeout(500)
            if progress.first.inner_text() != first:
                break
        assert progress.first.inner_text() != first
        page.screenshot(path=str(SHOTS / "train-after-reload.png"), full_page=True)
        # (pause, 1 step, 10 steps, go on: tests/test_browser_train.py) stop after the reload: the work is kept
        page.get_by_role("button", name="■ Stop").first.click()
        page.get_by_text(re.compile(r"stopped by the user after \d+ epoch")).first.wait_for(timeout=60000)
        page.get_by_text("reload test — stopped").first.wait_for(timeout=60000)  # kept in "Your runs"
        assert page.locator(ERRORS).count() == 0
        settle(page)
        page.screenshot(path=str(SHOTS / "train-stopped.png"), full_page=True)

        page.get_by_role("link", name="Reconstructions").click()
        page.get_by_role("heading", name="Reconstructions").wait_for(timeout=60000)
        settle(page)
        assert _ws(page.url) == ws
        page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
        page.get_by_role("option", name="yours · reload test").wait_for(timeout=30000)
        page.keyboard.press("Escape")


def test_kill_9_the_server_then_start_again_nothing_is_lost(browser, warm_home):
    home = warm_home("home")
    env = {"AELAB_HOME": str(home), "AELAB_WORKER_IDLE_S": "60"}
    with serve(env) as (url, proc):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/train?model=dense&latent=4&epochs=2&batch=50&limit=1000", wait_until="networkidle")
        page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
        settle(page)
        page.get_by_role("button", name="▶ Train").click()
        page.get_by_text("dense k=4, 1,000 images, mse").first.wait_for(timeout=120000)
        page.locator("[data-testid='stExpander']").first.wait_for(timeout=120000)
        ws = _ws(page.url)
        # an experiment result computed by a worker before the crash (AE vs PCA of a zoo run)
        page.goto(f"{url}/experiments?ws={ws}&run=zoo:linear-k32&tab=AE+vs+PCA", wait_until="networkidle")
        page.get_by_text("Autoencoder test MSE (k=32)").first.wait_for(timeout=120000)
        before = page.get_by_test_id("stMetricValue").first.inner_text()
        page.close()
        os.kill(proc.pid, signal.SIGKILL)  # the server dies; its workers are separate processes
        proc.wait(10)
    stop_engine_workers(str(home))  # and now no worker runs either
    queued = subprocess.run([sys.executable, "-m", "aecore", "submit", "train", "--model", "dense", "--latent", "2",
                             "--epochs", "1", "--limit", "600", "--batch", "50", f"--workspace={ws}", "--name", "queued while down"],
                            cwd=ROOT, env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)
    assert queued.returncode == 0, queued.stderr
    with serve(env) as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/train?ws={ws}", wait_until="networkidle")
        page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
        page.get_by_text("dense k=4, 1,000 images, mse").first.wait_for(timeout=60000)  # the run from before
        page.get_by_text("queued while down — done").first.wait_for(timeout=120000)  # the queued job ran
        assert page.locator(ERRORS).count() == 0
        settle(page)
        page.screenshot(path=str(SHOTS / "after-server-restart.png"), full_page=True)
        page.goto(f"{url}/experiments?ws={ws}&run=zoo:linear-k32&tab=AE+vs+PCA", wait_until="networkidle")
        page.get_by_text("Autoencoder test MSE (k=32)").first.wait_for(timeout=30000)
        assert page.get_by_test_id("stMetricValue").first.inner_text() == before  # the same stored result
    from aecore.engine.store import Store

    assert sum(j.kind == "ae_vs_pca" for j in Store(home).jobs()) == 1  # read from the store, not computed again
