"""Classroom load test: N sessions at once each train a tiny model and switch pages while it trains.

    python bench/load_test.py --sessions 30 [--browsers 2] [--timeout 600] [--replicas 2] [--arrival 0] [--no-assets]
                              [--watch 0]

Starts its own server (and, through it, the job engine's workers) on 127.0.0.1 with a fresh data
home. Most sessions are light clients that speak Streamlit's own websocket protocol (bench/
stclient.py), so the cores measured are not eaten by 30 browsers; `--browsers` real chromium tabs
run the same flow on top. Each light client first fetches the app's page and the files it names (its scripts, styles
and fonts: about 60 files, 2.3 MB), as a browser with an empty cache does, over six connections; `assets_p95_s` is
how long that took, and `--no-assets` skips it (the figures before 2026-12-06's last session were measured so). Page
response is measured at the server's side of the socket: from a
session's rerun request to its script_finished message. A session has "finished" when its
training job is done and its run is kept; "lost" counts sessions whose job failed, was
interrupted, or that saw an error on a page. The real tabs are timed as a person waits: from a
link's click (or the first navigation) to a settled page (no running indicator, the heading and
every chart drawn): `browser_p50_s` / `browser_p95_s`. The last line is JSON; after those keys it splits the
figures in two: the class's arrival (the first 10 s, every session opening Train and clicking ▶ Train at once:
`arrival_p95_s`; with `--arrival S` the sessions arrive evenly over S seconds instead, and the arrival is S + 10 s) and the rest of the lesson (`after_arrival_p50_s`, `after_arrival_p95_s`), and the tabs' first
page (opening the link, the app's scripts loading: `browser_first_page_max_s`) and their clicks within the app
(`browser_clicks_p95_s`).
With `--replicas N` the same load goes through HAProxy to N Streamlit servers (`python -m aecore serve`, sticky
sessions, one set of workers); `server_peak_mb` is then the replicas' memory together at its peak.
Before the class the teacher opens every page once (`warm_up_s`) and the bench waits until the jobs that started
are done (the zoo's codes the server queues at start, the pages' own: `warm_up_jobs_s`), as they are when the app
was opened minutes before a class; `--no-warm-up` starts the class on a cold server instead. The first line
(details) lists each tab's visits and times as `tabs_s`, and where each tab's first page went, on the tab's own clock
(`tabs_first_page_ms`: the page received, the app's scripts run, the server checks answered, settled; the rest is
the server's first run and its drawing), then where the time went: the slowest page runs (`slowest`: page, seconds,
when asked), the server's CPU seconds in the arrival and over the class (`server_cpu_arrival_s`, `server_cpu_s`),
the light clients' fragment polls (the live boxes rerunning themselves: `polls_per_s_arrival`, `polls_per_s_after`,
`polls_p95_s`), and the bench's own Python process, which shares the cores (`bench_cpu_s`, and how late its event
loop woke: `bench_loop_lag_*`; a late loop adds to every figure it measures).
Whatever it started (server or proxy and replicas, workers, browsers) is stopped on any exit, including a timeout.
The run's data home (`server_log` is in it) is removed afterwards, unless the run failed or `--keep-home` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from appserver import CHROMIUM, CHROMIUM_FLAGS, replica_pids, serve, serve_replicas  # noqa: E402
from scratch import ScratchHome  # noqa: E402
from stclient import LightSession, fetch_app_files  # noqa: E402

TRAIN_QUERY = "model=dense&latent=4&epochs=2&batch=50&limit=1000"
PAGES = ["home", "reconstructions", "latent", "train", "denoising", "experiments"]
ARRIVAL_S = 10.0  # the class's arrival: every session opens Train and clicks it at once (reported on its own)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


class Sampler(threading.Thread):
    """Peak resident memory of the server processes (their sum) and their CPU time so far, sampled twice a second."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, 0.0, threading.Event()
        self.cpu: list[tuple[float, float]] = []  # (when, the server processes' CPU seconds so far)

    def run(self):
        while not self.stop.is_set():
            pids = self.pids()
            self.peak = max(self.peak, sum(rss_mb(p) for p in pids))
            self.cpu.append((time.time(), sum(cpu_s(p) for p in pids)))
            time.sleep(0.5)

    def cpu_between(self, t0: float, t1: float) -> float | None:
        """The server processes' CPU seconds from about t0 to about t1 (the samples nearest inside)."""
        inside = [c for t, c in self.cpu if t0 <= t <= t1]
        return round(inside[-1] - inside[0], 1) if len(inside) >= 2 else None


async def poll_fragments(s: LightSession, page: str, seconds: float, polls: list) -> None:
    """For `seconds`, rerun the page's fragments at the intervals the server asked for, as a browser does; each
    poll's (when asked, seconds) goes to `polls`."""
    end = time.time() + seconds
    due = {f: time.time() + iv for f, iv in s.fragments.items()}
    while time.time() < end:
        for f, t in list(due.items()):
            if time.time() >= t and f in s.fragments:
                try:
                    asked = time.time()
                    polls.append((asked, (await s.run(page, fragment_id=f, timeout=15)).seconds))
                except asyncio.TimeoutError:
                    pass
                due[f] = time.time() + s.fragments.get(f, 5.0)
        await asyncio.sleep(0.2)


async def light_session(url: str, i: int, store, deadline: float, think: float, visits: int,
                        assets: bool = True, watch: float = 0.0) -> dict:
    """Open Train, click Train, then visit the other pages (and poll like a browser) until the job is done.

    Every session visits at least `visits` pages, so each page is measured under the class's load. With `assets`,
    it first fetches the app's files as a browser with an empty cache does (stclient.fetch_app_files). With `watch`,
    it stays on Train that many seconds after ▶ Train, its job's box polling, before it goes to the other pages.
    """
    from aecore.engine.store import new_token

    ws = new_token(store.home)  # signed with the server's secret, as the server issues them
    s = LightSession(url)
    times, errors, job, assets_s, polls = [], [], None, None, []
    try:
        if assets:
            t0 = time.perf_counter()
            await fetch_app_files(url)
            assets_s = time.perf_counter() - t0
        await s.connect()
        r = await s.run("train", query=f"ws={ws}&{TRAIN_QUERY}")
        times.append(("train", r.seconds, time.time() - r.seconds))
        r = await s.run("train", click="▶ Train")
        times.append(("train", r.seconds, time.time() - r.seconds))
        errors += r.errors
        if watch:
            await poll_fragments(s, "train", watch, polls)  # the student watches the job's box
        for k in range(i, i + 10**6):
            jobs = [j for j in store.jobs(workspace=ws) if j.kind == "train"]
            job = jobs[0] if jobs else None
            if time.time() > deadline or (job is not None and not job.active and k - i >= visits):
                break
            page = PAGES[k % len(PAGES)]
            r = await s.run(page, query=f"ws={ws}")
            times.append((page, r.seconds, time.time() - r.seconds))
            errors += r.errors
            await poll_fragments(s, page, think, polls)  # a student looks at the page while it updates itself
        r = await s.run("train", query=f"ws={ws}")  # the finished run is listed
        times.append(("train", r.seconds, time.time() - r.seconds))
        errors += r.errors
    except Exception as e:  # a lost session: say why
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        await s.close()
    jobs = [j for j in store.jobs(workspace=ws) if j.kind == "train"]  # (pages queue view jobs there too)
    job = jobs[0] if jobs else None
    done = job is not None and job.status == "done" and job.run_id is not None
    return {"kind": "light", "times": times, "errors": errors[:3], "finished": done,
            "job_status": job.status if job else None, "assets_s": assets_s, "polls": polls}


SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"]')
    && document.querySelector('[data-testid="stMain"] h1') !== null
    && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


# the same, noting when (on the tab's own clock) it first held
SETTLED_AT = f"() => {{ const ok = ({SETTLED})(); if (ok) window.__aelabSettled = performance.now(); return ok; }}"

# Where a tab's first page went, on the tab's own clock (ms from the navigation): the page (index.html) received, the
# app's scripts run (DOMContentLoaded), its server checks answered (health and host-config, after which the browser
# opens the websocket and asks for the first run), and the page settled. The rest is the server's first run and its
# drawing.
FIRST_PAGE_PHASES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const checks = performance.getEntriesByType('resource').filter(r => r.name.includes('/_stcore/'));
  return {page: Math.round(nav.responseEnd), scripts: Math.round(nav.domContentLoadedEventEnd),
          server_checks: checks.length ? Math.round(Math.max(...checks.map(r => r.responseEnd))) : null,
          settled: Math.round(window.__aelabSettled || performance.now())};
}"""


async def settled_s(page, t0: float, timeout_ms: float = 60000) -> float:
    """Seconds from t0 until the tab shows a settled page: no running indicator, its heading drawn, every chart
    drawn (what a student waits for after a click)."""
    await page.wait_for_timeout(100)  # the click's rerun has begun
    await page.wait_for_function(SETTLED_AT, timeout=timeout_ms, polling=50)
    return time.perf_counter() - t0


async def browser_session(browser, url: str, store, deadline: float) -> dict:
    """The same flow in a real chromium tab, timed from each navigation to a settled page (settled_s)."""
    errors, times, first_page = [], [], None
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        t0 = time.perf_counter()
        await page.goto(f"{url}/train?{TRAIN_QUERY}", wait_until="domcontentloaded")
        times.append(("train", await settled_s(page, t0)))
        first_page = await page.evaluate(FIRST_PAGE_PHASES)
        await page.get_by_role("button", name="▶ Train").click(timeout=60000)
        ws = page.url.split("ws=")[1].split("&")[0]
        end = time.time() + 60
        while not store.jobs(workspace=ws) and time.time() < end:  # the click was taken: its job is queued
            await page.wait_for_timeout(200)
        if not store.jobs(workspace=ws):
            errors.append(f"no job was queued by the Train button (workspace {ws})")
        while time.time() < deadline:
            jobs = [j for j in store.jobs(workspace=ws) if j.kind == "train"]
            if jobs and not jobs[0].active:
                break
            for name, key in (("Latent space", "latent"), ("Train", "train")):
                t0 = time.perf_counter()
                await page.get_by_role("link", name=name).click()
                times.append((key, await settled_s(page, t0)))
                await page.wait_for_timeout(2000)
        errors += [await e.inner_text() for e in await page.locator("[data-testid='stException']").all()]
        jobs = [j for j in store.jobs(workspace=ws) if j.kind == "train"]
        status = jobs[0].status if jobs else None
        done = status == "done"
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
        done, status = False, None
    finally:
        await page.close()
    return {"kind": "browser", "times": times, "errors": errors[:3], "finished": done, "job_status": status,
            "first_page_ms": first_page}


async def warm_up(url: str, assets: bool = True) -> list[float]:
    """One visit of every page before the class arrives (the teacher opens the app first: in a browser, so with
    `assets` the app's files are fetched once too, which fills a proxy's cache)."""
    if assets:
        await fetch_app_files(url)
    s = LightSession(url)
    await s.connect()
    try:
        return [(await s.run(page, query="ws=warm-up-visit", timeout=300)).seconds for page in PAGES]
    finally:
        await s.close()


def jobs_settled_s(store, timeout_s: float = 300.0) -> float:
    """Seconds until no job is queued or running: what the server queued at start (the zoo's codes) and the teacher's
    first visit asked for are done before the class arrives, as they are when the app was opened minutes before."""
    from aecore.engine.records import ACTIVE

    t0 = time.perf_counter()
    while store.jobs(statuses=ACTIVE, limit=1) and time.perf_counter() - t0 < timeout_s:
        time.sleep(0.2)
    return time.perf_counter() - t0


def replica_urls(home: str) -> list[str]:
    """Each replica's own address, read from the proxy's configuration in the data home."""
    import re

    text = (Path(home) / "haproxy.cfg").read_text()
    return [f"http://127.0.0.1:{port}" for port in re.findall(r"server r\d+ 127\.0\.0\.1:(\d+)", text)]


async def _after(delay: float, session):
    await asyncio.sleep(delay)
    return await session


LOOP_LAG: list[tuple[float, float]] = []  # (when, how late) the bench's own event loop woke a 50 ms sleep


async def probe_loop(period: float = 0.05) -> None:
    """Note how late the bench's event loop is: its clients' times include that wait, not only the server's."""
    while True:
        t = time.perf_counter()
        await asyncio.sleep(period)
        LOOP_LAG.append((time.time(), time.perf_counter() - t - period))


async def drive(url: str, n: int, browsers: int, timeout_s: float, store, think: float, visits: int,
                arrival: float = 0.0, assets: bool = True, watch: float = 0.0) -> list[dict]:
    """Run the sessions; with `arrival` > 0 the i-th of n starts i/n of `arrival` seconds after the first."""
    deadline = time.time() + timeout_s
    LOOP_LAG.clear()
    prober = asyncio.create_task(probe_loop())
    try:
        return await _drive(url, n, browsers, store, think, visits, arrival, assets, deadline, watch)
    finally:
        prober.cancel()


async def _drive(url, n, browsers, store, think, visits, arrival, assets, deadline, watch) -> list[dict]:
    light = [_after(arrival * i / n, light_session(url, i, store, deadline, think, visits, assets, watch))
             for i in range(n - browsers)]
    if not browsers:
        return await asyncio.gather(*light)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            tabs = [_after(arrival * (n - browsers + j) / n, browser_session(b, url, store, deadline))
                    for j in range(browsers)]
            return await asyncio.gather(*light, *tabs)
        finally:
            await b.close()


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--browsers", type=int, default=2, help="real chromium tabs among the sessions")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--think", type=float, default=3.0, help="seconds a student looks at a page before the next click")
    ap.add_argument("--arrival", type=float, default=0.0,
                    help="seconds over which the sessions arrive, evenly spread (0: all in the same second, the default)")
    ap.add_argument("--watch", type=float, default=0.0,
                    help="seconds each light session stays on Train after ▶ Train, watching its job (0: it goes on at "
                         "once, the default)")
    ap.add_argument("--visits", type=int, default=len(PAGES), help="pages each session visits at least (all by default)")
    ap.add_argument("--replicas", type=int, default=0,
                    help="N Streamlit servers behind HAProxy (python -m aecore serve); 0 = one server, no proxy")
    ap.add_argument("--no-assets", dest="assets", action="store_false",
                    help="light clients skip the app's files (the page and its scripts) that a browser fetches first")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="start the sessions on a cold server (no first visit of every page)")
    ap.add_argument("--keep-home", action="store_true",
                    help="keep the run's data home (its logs, jobs and runs); it is kept anyway when the run fails")
    a = ap.parse_args()
    if not 1 <= a.sessions <= 100 or not 0 <= a.browsers <= min(5, a.sessions):
        print("error: --sessions must be 1..100 and --browsers 0..5 (and at most --sessions)", file=sys.stderr)
        return 2
    if a.browsers and not Path(CHROMIUM).exists():
        print("note: no chromium here, running light clients only", file=sys.stderr)
        a.browsers = 0
    # A timeout (SIGTERM) or Ctrl-C unwinds through serve(), which stops the server and its workers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with ScratchHome("aelab-load-", keep=a.keep_home) as scratch:
        ok = run_class(a, scratch.path)
        scratch.keep = scratch.keep or not ok
    return 0 if ok else 1


def run_class(a, home: str) -> bool:
    """The class on a server (or replicas) over `home`: prints the details and summary lines; True when it went well."""
    env = {"AELAB_HOME": home, "AELAB_JOBS_PER_WORKSPACE": "2", "AELAB_WORKER_IDLE_S": "60"}
    from aecore.engine.store import Store

    started = serve_replicas(env, a.replicas) if a.replicas else serve(env)
    with started as (url, server):
        store = Store(home)
        sampler = Sampler((lambda: replica_pids(server.pid)) if a.replicas else (lambda: [server.pid]))
        sampler.start()
        # the teacher opens the app first; behind the proxy, once on each replica (a cold one takes seconds per page)
        targets = replica_urls(home) if a.replicas else [url]
        warm = [t for target in targets for t in asyncio.run(warm_up(target, a.assets))] if a.warm_up else []
        if a.warm_up and a.assets and a.replicas:
            asyncio.run(fetch_app_files(url))  # and through the proxy, as the teacher's browser does
        warm_jobs_s = jobs_settled_s(store) if a.warm_up else None
        spy = Path(sys.executable).parent / "py-spy"  # pip install py-spy: a debugging aid, not a requirement
        if os.environ.get("AELAB_PROFILE") and spy.exists():  # py-spy the server while the sessions run
            import subprocess

            pid = replica_pids(server.pid)[0] if a.replicas else server.pid  # behind the proxy: the first replica
            subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", os.environ.get("AELAB_PROFILE_S", "20"),
                              "--format", "raw", "-o", os.environ["AELAB_PROFILE"], "--nonblocking"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0, class_start, cpu0 = time.perf_counter(), time.time(), time.process_time()
        results = asyncio.run(drive(url, a.sessions, a.browsers, a.timeout, store, a.think, a.visits, a.arrival,
                                    a.assets, a.watch))
        wall, bench_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        sampler.stop.set()
        logs = [Path(server.log_path)] + (sorted((Path(home) / "logs").glob("replica-*.log")) if a.replicas else [])
        log = "".join(p.read_text(errors="replace") for p in logs)
    tracebacks = log.count("Traceback (most recent call last)")
    if tracebacks:
        print(log[log.index("Traceback (most recent call last)"):][:3000], file=sys.stderr)
    paged = [pt for r in results if r["kind"] == "light" for pt in r["times"]]  # (page, seconds, asked at)
    polls = [pt for r in results if r["kind"] == "light" for pt in r["polls"]]  # (asked at, seconds)
    tabs = [t for r in results if r["kind"] == "browser" for _, t in r["times"]]
    times = [t for _, t, _ in paged]
    per_page = {p: round(_quantile([t for q, t, _ in paged if q == p], 0.95), 3) for p in PAGES if any(q == p for q, _, _ in paged)}
    arrived = class_start + a.arrival + ARRIVAL_S  # the class has opened Train and clicked it (at once, or over --arrival)
    arriving = [t for _, t, at in paged if at < arrived]
    after = [t for _, t, at in paged if at >= arrived]
    first_loads = [r["times"][0][1] for r in results if r["kind"] == "browser" and r["times"]]  # opening the link
    clicks = [t for r in results if r["kind"] == "browser" for _, t in r["times"][1:]]  # links within the app
    assets = [r["assets_s"] for r in results if r.get("assets_s") is not None]  # the light clients' app files
    finished = sum(r["finished"] for r in results)
    lost = sum(1 for r in results if r["errors"] or r.get("job_status") in ("failed", "interrupted"))
    detail = {
        "wall_s": round(wall, 1), "page_runs": len(times), "max_s": round(max(times), 2) if times else None,
        "mean_s": round(statistics.mean(times), 3) if times else None, "p95_by_page_s": per_page,
        # the slowest page runs: (page, seconds, asked this many seconds after the class started)
        "slowest": [(p, round(t, 2), round(at - class_start, 1)) for p, t, at in sorted(paged, key=lambda x: -x[1])[:8]],
        "errors": [e for r in results for e in r["errors"]][:5],
        "unfinished": [(r["kind"], r.get("job_status")) for r in results if not r["finished"]][:5], "cores": os.cpu_count(),
        "server_tracebacks": tracebacks, "server_log": server.log_path, "think_s": a.think, "arrival_s": a.arrival,
        "watch_s": a.watch,
        "warm_up_s": [round(t, 2) for t in warm], "warm_up_jobs_s": warm_jobs_s and round(warm_jobs_s, 1),
        "assets": a.assets,
        "tabs_s": [[(page, round(t, 2)) for page, t in r["times"]] for r in results if r["kind"] == "browser"],
        "tabs_first_page_ms": [r["first_page_ms"] for r in results if r["kind"] == "browser"],
        # the bench itself: its CPU over the class, and how late its event loop was (in the arrival and overall)
        "bench_cpu_s": round(bench_cpu, 1),
        # the server's CPU (all replicas) in the arrival and over the whole class, and the light clients' fragment
        # polls (the live boxes rerunning themselves): how many per second in the arrival and after it, their p95
        "server_cpu_arrival_s": sampler.cpu_between(class_start, arrived),
        "server_cpu_s": sampler.cpu_between(class_start, class_start + wall),
        "polls_per_s_arrival": round(sum(1 for t, _ in polls if t < arrived) / (arrived - class_start), 1),
        "polls_per_s_after": round(sum(1 for t, _ in polls if t >= arrived) / max(1.0, class_start + wall - arrived), 1),
        "polls_p95_s": _rounded(_quantile([x for _, x in polls], 0.95)),
        "bench_loop_lag_arrival_p95_s": _rounded(_quantile([x for t, x in LOOP_LAG if t < arrived], 0.95)),
        "bench_loop_lag_p95_s": _rounded(_quantile([x for _, x in LOOP_LAG], 0.95)),
        "bench_loop_lag_max_s": _rounded(max((x for _, x in LOOP_LAG), default=None)),
    }
    print(json.dumps(detail))
    detail["replicas"] = a.replicas
    summary = {"sessions": a.sessions, "finished": finished, "lost": lost,
               "p50_s": round(_quantile(times, 0.5), 3) if times else None,
               "p95_s": round(_quantile(times, 0.95), 3) if times else None,
               "server_peak_mb": round(sampler.peak),
               # the real tabs: navigation (a link's click) to a settled page, charts drawn
               "browser_p50_s": round(_quantile(tabs, 0.5), 3) if tabs else None,
               "browser_p95_s": round(_quantile(tabs, 0.95), 3) if tabs else None,
               # the same split in two: the first ARRIVAL_S seconds (every session arriving at once) and after them;
               # the tabs' first page (opening the link: the app's scripts load) and their clicks within the app
               "arrival_p95_s": round(_quantile(arriving, 0.95), 3) if arriving else None,
               "after_arrival_p50_s": round(_quantile(after, 0.5), 3) if after else None,
               "after_arrival_p95_s": round(_quantile(after, 0.95), 3) if after else None,
               "browser_first_page_max_s": round(max(first_loads), 3) if first_loads else None,
               "browser_clicks_p95_s": round(_quantile(clicks, 0.95), 3) if clicks else None,
               # the light clients fetching the app's files first, as a browser with an empty cache does
               "assets_p95_s": round(_quantile(assets, 0.95), 3) if assets else None}
    print(json.dumps(summary))
    return finished == a.sessions and not lost and not tracebacks


if __name__ == "__main__":
    sys.exit(main())
