"""Shared fixtures: the bundled data set (loaded once) and tiny, fast training configs."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import tempfile

_tmp = tempfile.mkdtemp(prefix="aelab-tests-")
os.environ["AELAB_HOME"] = os.path.join(_tmp, "home")  # the job store, kept runs and results stay out of the repo
os.environ.setdefault("AELAB_WORKER_IDLE_S", "45")  # app-started workers of the tests do not linger
# `./aelab test` runs the browser tests in one pytest process and the rest beside it in another, each then with one
# core's worth of torch threads (TEST_TORCH_THREADS)
torch.set_num_threads(int(os.environ.get("TEST_TORCH_THREADS", 0)) or max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session", autouse=True)
def _stop_engine_workers():
    """Stop the worker processes the app tests started (they outlive their server by design)."""
    yield
    from aecore.engine.pool import stop_workers
    from aecore.engine.store import Store

    if os.path.exists(os.path.join(os.environ["AELAB_HOME"], "jobs.sqlite")):
        stop_workers(Store(os.environ["AELAB_HOME"]))
    if "worker" in _ZOO and _ZOO["worker"].poll() is None:  # the session ended before the zoo's codes were needed
        _ZOO["worker"].kill()
        _ZOO["worker"].wait()
    shutil.rmtree(_tmp, ignore_errors=True)  # each run's home (about 25 MB) does not pile up in /tmp


@pytest.fixture(scope="session")
def mnist():
    from aecore.data.mnist import load_mnist

    return load_mnist()


@pytest.fixture
def tiny():
    """A config that trains in well under a second on the CPU."""
    from aecore.training.config import TrainConfig

    def make(**kw):
        base = dict(model="dense", latent=8, epochs=2, limit=600, batch_size=50, lr=5e-3, seed=0, device="cpu", log_every=5)
        base.update(kw)
        return TrainConfig(**base)

    return make


def ready_app_test(path, timeout: float = 120):
    """An AppTest whose runs wait for the engine's jobs (codes, projections…) and rerun, like the page's progress box;
    `toasts_shown` lists every toast its runs showed."""
    from streamlit.testing.v1 import AppTest

    class ReadyAppTest(AppTest):
        def _run(self, widget_state=None, timeout=None):
            from aecore.engine.store import Store

            started = time.time()
            result = super()._run(widget_state, timeout)
            # a toast stays on a browser's screen for seconds, through the reruns below: keep what each run showed
            self.toasts_shown = getattr(self, "toasts_shown", []) + [t.value for t in result.toast]
            store, t, waited = Store(os.environ["AELAB_HOME"]), time.time(), False
            while any(j.kind != "train" for j in store.jobs(statuses=("queued", "running"))):
                assert time.time() - t < 180, "engine jobs did not finish"
                time.sleep(0.2)
                waited = True
            # a job the page waited on may have finished before the check above (a small projection takes
            # milliseconds): the page then still shows its progress, as a browser would until the box reruns it
            ended = any(j.kind != "train" and (j.finished or 0) >= started for j in store.jobs(limit=20))
            return self.run() if waited or ended else result

    return ReadyAppTest(str(path), default_timeout=timeout)


@pytest.fixture
def store(home):
    """The job store of a test's own engine home (each engine test module defines `home`)."""
    from aecore.engine.store import Store

    return Store(home)


@pytest.fixture
def settings(home):
    """Settings for that home (one worker, one thread, a short stale time), installed as this process's settings for
    the test, so the library reads the same data home as the engine (as in a worker)."""
    from aecore.settings import Settings, use

    s = Settings(home=str(home), workers=1, threads=1, stale_s=3.0)
    prev = use(s)
    yield s
    use(prev)


@pytest.fixture
def data_home(tmp_path):
    """A data home of this test's own (imported data sets, downloads), installed as this process's settings."""
    from aecore.settings import current, use

    s = current().with_(home=str(tmp_path / "home"))
    prev = use(s)
    yield s.home_path
    use(prev)


@pytest.fixture(scope="module")
def browser():
    """One headless Debian chromium per test module (driven by Playwright)."""
    from browser_kit import CHROMIUM, CHROMIUM_FLAGS, need_chromium

    need_chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


_ZOO: dict = {}  # the zoo's codes being worked out for this session: their home and the worker doing it


def _work_out_zoo_codes() -> None:
    """Queue the app's warm-up (the zoo's test-set codes) in a home of its own and start one worker on it."""
    import subprocess

    from aecore.engine.client import Engine
    from aecore.settings import current

    home = Path(tempfile.mkdtemp(prefix="zoo-codes-", dir=_tmp))
    Engine.open(current().with_(home=str(home)), start_workers=False).warm_zoo()  # queues the warm-up's jobs
    _ZOO["home"] = home
    _ZOO["worker"] = subprocess.Popen([sys.executable, "-m", "aecore", "worker", "--once", "--lane", "view"], cwd=ROOT,
                                      env=dict(os.environ, AELAB_HOME=str(home)), stdout=subprocess.DEVNULL)


def pytest_collection_finish(session):
    """Start on the zoo's codes as soon as browser tests that use them are collected: the modules that run first
    (test_browser_flows starts cold, test_browser_draw has no engine) do not wait for them, and nor does the next."""
    if any({"server", "warm_home"} & set(getattr(item, "fixturenames", ())) for item in session.items):
        _work_out_zoo_codes()


@pytest.fixture(scope="session")
def zoo_codes() -> Path:
    """The zoo's test-set codes, worked out once per test session (by a worker, as the app's warm-up does) in a home
    of their own; returns its results folder.

    A fresh app server queues these six jobs (~25 s of a worker) before anything else; the browser servers made with
    `warm_home` start with a copy instead, as a class's server does after its first start. The warm-up itself is what
    test_browser_flows (a cold server) and the README-launch tests see."""
    if "worker" not in _ZOO:
        _work_out_zoo_codes()
    assert _ZOO["worker"].wait(timeout=600) == 0, "the worker working out the zoo's codes failed"
    results = _ZOO["home"] / "results"
    assert len(list(results.glob("codes-*.zip"))) >= 6, list(results.iterdir())
    return results


@pytest.fixture(scope="session")
def warm_home(zoo_codes, tmp_path_factory):
    """Makes a fresh data home that already holds the zoo's codes (see zoo_codes): warm_home(name) -> its path."""

    def make(name: str = "home") -> Path:
        home = tmp_path_factory.mktemp(name)
        shutil.copytree(zoo_codes, home / "results")
        return home

    return make


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """A fresh app server for a browser test module (its own home, one worker); (url, process). Its home holds the
    zoo's codes already (warm_home), unless the module sets COLD_START = True. At the end its log must hold no
    traceback."""
    from browser_kit import need_chromium, serve

    need_chromium()
    if getattr(request.module, "COLD_START", False):
        home = tmp_path_factory.mktemp("home")
    else:
        home = request.getfixturevalue("warm_home")("home")
    with serve({"AELAB_HOME": str(home), "AELAB_WORKERS": "1", "AELAB_WORKER_IDLE_S": "30"}) as (url, proc):
        yield url, proc
    log = Path(proc.log_path).read_text(errors="replace")
    Path(proc.log_path).unlink(missing_ok=True)
    assert "Traceback" not in log, log[log.find("Traceback") - 200:][:3000]


@pytest.fixture
def page(browser, request):
    """A browser tab; what it showed at the end (or at a failure) is saved as a screenshot."""
    from browser_kit import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield pg
    pg.screenshot(path=str(SHOTS / f"last-{request.node.name}.png"))
    pg.close()
