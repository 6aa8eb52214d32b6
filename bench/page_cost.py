"""What one rerun of each page costs the server, one session alone: CPU ms and wall ms per rerun.

    python bench/page_cost.py [--runs 20]

Starts its own server on a fresh data home, opens every page once (as a teacher would before class) and waits for
the work that starts (the zoo's codes), then, as one
student with a training job waiting in the queue (so the job boxes show, as in a class), reruns each page `--runs`
times and reads the server process's CPU time around them (/proc: all its threads). Beside the page's own work this
counts Streamlit's per-element cost (each element is a message to the browser). Each rerun comes as a visit by a
sidebar link does (the address holds only the workspace), so the page writes its settings into the address again.
The last line is JSON: {page: {"cpu_ms": …, "wall_ms": …, "messages": …, "address_messages": …, "polls": …}}, the
messages per visit (every message the browser gets, and those that change its address), the polls the CPU ms of one
rerun of each live part the page polls ({"every 1 s": …}), and "arrival": what one student arriving
costs (a first Train page, the ▶ Train click, then the first visit of each other page; ten students one after
another). Under a class's load each rerun costs about this, shared with everyone's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from appserver import serve  # noqa: E402
from load_test import PAGES, TRAIN_QUERY, cpu_s, jobs_settled_s, warm_up  # noqa: E402
from stclient import LightSession  # noqa: E402
from scratch import home_removed_at_exit  # noqa: E402

# stays queued or running while the pages are timed (within a class's per-job budget of 3,000,000 images: a job over
# it is refused, and the pages were timed without it)
LONG_JOB = "model=conv&latent=16&epochs=50&batch=50&limit=60000"


async def measure(url: str, home: str, pid: int, runs: int) -> dict:
    from aecore.engine.store import Store, new_token

    await warm_up(url, assets=False)  # every page once, as the teacher does before class
    store = Store(home)
    jobs_settled_s(store)  # the zoo's codes and the warm-up's jobs, made once
    ws = new_token(home)
    s = LightSession(url)
    await s.connect()
    await s.run("train", query=f"ws={ws}&{TRAIN_QUERY}")
    await s.run("train", click="▶ Train")
    await s.run("train", query=f"ws={ws}&{LONG_JOB}")
    r = await s.run("train", click="▶ Train")
    if sum(j.kind == "train" for j in store.jobs(workspace=ws)) < 2:
        raise SystemExit(f"the long job was not queued, so the job boxes would not show: {r.errors or s.texts}")
    out = {}
    for page in PAGES:
        for _ in range(3):  # its caches filled
            await s.run(page, query=f"ws={ws}")
        walls, c0, m0 = [], cpu_s(pid), s.received.copy()
        for _ in range(runs):
            walls.append((await s.run(page, query=f"ws={ws}")).seconds)
        got = s.received - m0
        out[page] = {"cpu_ms": round((cpu_s(pid) - c0) / runs * 1000, 1), "wall_ms": round(statistics.median(walls) * 1000, 1),
                     "messages": round(sum(got.values()) / runs, 1),  # what one visit sends the browser
                     "address_messages": round(got["page_info_changed"] / runs, 1),
                     "polls": await polls(s, page, pid, runs)}
    out["arrival"] = await arrival(url, home, pid)  # while `s` stays open, as the teacher's tab does
    await s.close()
    return out


async def polls(s, page: str, pid: int, runs: int) -> dict:
    """What the page's live parts cost while the student looks at it: for each fragment the page asked the browser
    to rerun (the job boxes, the sidebar's), its interval and the server's CPU ms per rerun."""
    out = {}
    for fragment, interval in sorted(s.fragments.items(), key=lambda f: f[1]):
        c0 = cpu_s(pid)
        for _ in range(runs):
            await s.run(page, fragment_id=fragment)
        name = f"every {interval:g} s"
        while name in out:  # two parts polled as often
            name += "'"
        out[name] = round((cpu_s(pid) - c0) / runs * 1000, 1)
    return out


async def arrival(url: str, home: str, pid: int, students: int = 10) -> dict:
    """What one student arriving costs the server: a first Train page, then ▶ Train (sent as the browser sends it: a
    button a fragment drew reruns only that fragment), one student after another."""
    from aecore.engine.store import new_token

    first, click, fragment, visits = [], [], False, {p: [] for p in PAGES if p != "train"}
    for _ in range(students):
        student = LightSession(url)
        await student.connect()
        c0 = cpu_s(pid)
        ws = new_token(home)
        await student.run("train", query=f"ws={ws}&{TRAIN_QUERY}")
        c1 = cpu_s(pid)
        await student.run("train", click="▶ Train")
        first.append(c1 - c0)
        click.append(cpu_s(pid) - c1)
        fragment = bool(student.button_fragments.get("▶ Train"))
        for page in visits:  # then, as in a class, the other pages, each for the first time in this session
            c0 = cpu_s(pid)
            await student.run(page, query=f"ws={ws}")
            visits[page].append(cpu_s(pid) - c0)
        await student.close()
    return {"first_train_cpu_ms": round(statistics.mean(first) * 1000, 1),
            "click_cpu_ms": round(statistics.mean(click) * 1000, 1), "click_reruns_a_fragment": fragment,
            "first_visit_cpu_ms": {p: round(statistics.mean(v) * 1000, 1) for p, v in visits.items()}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20, help="reruns of each page")
    a = ap.parse_args()
    home = home_removed_at_exit(prefix="aelab-page-cost-")
    env = {"AELAB_HOME": home, "AELAB_JOBS_PER_WORKSPACE": "2"}
    with serve(env) as (url, server):
        time.sleep(1)
        out = asyncio.run(measure(url, home, server.pid, a.runs))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
