"""Classroom load test: N browser sessions at once each open AE Lab and train a tiny model.

    python bench/load_test.py --sessions 10 [--workers 1] [--timeout 600]

Starts its own server on 127.0.0.1 (only loopback traffic), drives N concurrent sessions
with Playwright over Debian's chromium, and prints how many finished, the slowest page
response while training runs, and the server's peak memory. Bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from appserver import CHROMIUM, CHROMIUM_FLAGS as FLAGS, serve  # noqa: E402

TRAIN_URL = "/train?model=dense&latent=4&epochs=2&batch=64&limit=2000"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.5)


async def session(browser, url: str, i: int, timeout_s: float) -> dict:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    out = {"session": i, "finished": False, "page_s": [], "error": ""}
    try:
        t = time.perf_counter()
        await page.goto(url + TRAIN_URL, wait_until="domcontentloaded", timeout=timeout_s * 1000)
        await page.get_by_role("button", name="▶ Train").wait_for(timeout=timeout_s * 1000)
        out["page_s"].append(time.perf_counter() - t)
        await page.get_by_role("button", name="▶ Train").click()
        # the job is in: its live box (with a Stop button) or, if it already ended, the finished run
        await page.get_by_role("button", name="■ Stop").or_(page.locator("[data-testid='stExpander']")).first.wait_for(
            timeout=timeout_s * 1000)
        # While the jobs run, visit another page and come back: how long does a page take to respond?
        t = time.perf_counter()
        await page.locator("[data-testid='stSidebarNav']").get_by_text("Home", exact=True).click()
        await page.get_by_role("heading", name="AE Lab").wait_for(timeout=timeout_s * 1000)
        out["page_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        await page.locator("[data-testid='stSidebarNav']").get_by_text("Train", exact=True).click()
        await page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=timeout_s * 1000)
        out["page_s"].append(time.perf_counter() - t)
        await page.locator("[data-testid='stExpander'] .js-plotly-plot").first.wait_for(timeout=timeout_s * 1000)
        out["finished"] = True
    except Exception as e:  # report, never hang
        out["error"] = f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        await page.close()
    return out


async def drive(url: str, n: int, timeout_s: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            async def bounded(i: int) -> dict:
                try:
                    return await asyncio.wait_for(session(browser, url, i, timeout_s), timeout_s + 30)
                except asyncio.TimeoutError:
                    return {"session": i, "finished": False, "page_s": [], "error": f"timed out after {timeout_s + 30:.0f} s"}

            return await asyncio.gather(*(bounded(i) for i in range(n)))
        finally:
            await browser.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--workers", type=int, default=0, help="AELAB_WORKERS for the server (0: its default)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    if not 1 <= a.sessions <= 50:
        print("error: --sessions must be 1..50", file=sys.stderr)
        return 2
    env = dict(AELAB_RUNS_DIR=tempfile.mkdtemp(prefix="aelab-load-"), AELAB_JOBS_PER_SESSION="2", AELAB_MAX_QUEUE="100")
    if a.workers:
        env["AELAB_WORKERS"] = str(a.workers)
    with serve(env) as (url, server):
        idle = rss_mb(server.pid)
        sampler = Sampler(server.pid)
        sampler.start()
        t0 = time.perf_counter()
        results = asyncio.run(drive(url, a.sessions, a.timeout))
        wall = time.perf_counter() - t0
        sampler.stop.set()
    page_times = [s for r in results for s in r["page_s"][1:]]  # responses while jobs were running
    first = [r["page_s"][0] for r in results if r["page_s"]]
    summary = {
        "sessions": a.sessions,
        "finished": sum(r["finished"] for r in results),
        "slowest_page_s_while_training": round(max(page_times), 2) if page_times else None,
        "median_page_s_while_training": round(sorted(page_times)[len(page_times) // 2], 2) if page_times else None,
        "first_load_slowest_s": round(max(first), 2) if first else None,
        "wall_s": round(wall, 1),
        "server_rss_idle_mb": round(idle),
        "server_rss_peak_mb": round(sampler.peak),
        "errors": [r["error"] for r in results if r["error"]][:5],
        "page_s_per_session": [[round(t, 1) for t in r["page_s"]] for r in results],
    }
    print(json.dumps(summary))
    return 0 if summary["finished"] == a.sessions else 1


if __name__ == "__main__":
    sys.exit(main())
