"""Start AE Lab on a free loopback port for browser tests, screenshots and the load test."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Chromium's address bar popup is a web page of its own (chrome://omnibox-popup.top-chrome), loaded in a renderer of
# its own for each new window, headless too, where no one sees it: 0.7 CPU-seconds of chromium for each tab a test or
# the load test opens (three blank tabs: 2.84 -> 0.73 CPU-s), on the two cores the app's server runs on. Chromium
# keeps only the last --disable-features, and Playwright passes its own list first, so this one repeats that list
# (Playwright 1.65's; tests/test_server_launch.py checks it is all here) and adds the popup's two.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying",
    "AimEnabled", "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                  "--no-first-run", "--disable-component-update", "--disable-sync",
                  "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_log_path(env: dict | None, name: str, port: int) -> str:
    """Where a started server's output goes: the logs folder of its data home (removed with it), else a temporary
    file."""
    home = (env or {}).get("AELAB_HOME")
    if not home:
        return tempfile.mkstemp(prefix=f"aelab-{name}-", suffix=".log")[1]
    logs = Path(home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return str(logs / f"{name}-{port}.log")


def wait_healthy(url: str, proc: subprocess.Popen, start_timeout: float, what: str) -> None:
    """Wait until `url` answers Streamlit's health check; RuntimeError with the end of `proc.log_path` when `proc`
    exits first or `start_timeout` seconds pass."""
    t = time.time()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t > start_timeout:
            raise RuntimeError(f"{what} did not start: {Path(proc.log_path).read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)


@contextlib.contextmanager
def serve(env: dict | None = None, start_timeout: float = 90, log_path: str | None = None, script: str = "app.py"):
    """Run `streamlit run app.py` (or another `script`) on 127.0.0.1 as `./aelab app` does (through aelab_server.py);
    yields (url, process). Stops it (and its workers) on exit.

    The server's output goes to `log_path` (by default default_log_path's; `process.log_path`).
    """
    port = free_port()
    log_path = log_path or default_log_path(env, "server", port)
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "aelab_server.py"), "run", script, "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, **(env or {})), stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    proc.log_path = log_path
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, start_timeout, "streamlit")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(4)  # Streamlit stops in 1-2 s; one busy with a page's run can take 10 s and more: not waited for
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        stop_engine_workers((env or {}).get("AELAB_HOME") or os.environ.get("AELAB_HOME"))


@contextlib.contextmanager
def serve_replicas(env: dict, replicas: int, start_timeout: float = 180, log_path: str | None = None):
    """Run `python -m aecore serve --replicas N` (N Streamlit servers behind HAProxy) on 127.0.0.1; yields (the
    proxy's url, the serve process). Stops everything it started on exit. The replicas' logs are in the data home's
    logs folder; the serve process's own output goes to `log_path` (by default there too; `process.log_path`)."""
    port = free_port()
    log_path = log_path or default_log_path(env, "serve", port)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "aecore", "serve", "--replicas", str(replicas), "--port", str(port),
                                 "--address", "127.0.0.1"], cwd=ROOT, env=dict(os.environ, **env), stdout=log,
                                stderr=subprocess.STDOUT)
    proc.log_path = log_path
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, start_timeout, "the replicas")
        yield url, proc
    finally:
        proc.terminate()  # it stops the proxy, the replicas and the workers
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        stop_engine_workers(env.get("AELAB_HOME"))


def replica_pids(serve_pid: int) -> list[int]:
    """The Streamlit servers a `python -m aecore serve` process started."""
    out = []
    for child in Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split() if Path(
            f"/proc/{serve_pid}").exists() else []:
        try:
            if b"aelab_server.py" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(int(child))
        except OSError:
            pass
    return out


def stop_engine_workers(home: str | None) -> None:
    """Stop the worker processes the app started for this data home (they outlive the server by design)."""
    if not home or not os.path.exists(os.path.join(home, "jobs.sqlite")):
        return
    sys.path.insert(0, str(ROOT))
    from aecore.engine.pool import stop_workers
    from aecore.engine.store import Store

    stop_workers(Store(home), timeout_s=10)


def settle(page, timeout_ms: int = 60000) -> None:
    """Wait until the app has finished running its script (the 'running' status is gone)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )
    page.wait_for_timeout(300)
