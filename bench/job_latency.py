"""How long a click waits for the engine: step-by-step training's "1 step", "10 steps", "Go on" and Stop, through the
engine's client facade as the Train page calls it, with the workers' poll at the old 0.5 s (the baseline) and at the
settings' default, in one run.

    python bench/job_latency.py [--trials 5] [--baseline-poll 0.5]

Each setting gets a fresh data home and one training worker (started by the engine, as the app starts it). A conv
k=4 job (step by step) is submitted and waited for until it pauses after its first step (the cold start, not counted);
then, `--trials` times each: resume one step, resume ten steps (click -> paused again), go on (click -> running),
stop (click -> stopped). The figures are medians; the last line is JSON, with each figure's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aecore.engine.client import Engine  # noqa: E402
from aecore.engine.pool import stop_workers  # noqa: E402
from aecore.engine.store import new_token  # noqa: E402
from aecore.settings import Settings  # noqa: E402
from scratch import home_removed_at_exit  # noqa: E402

CONFIG = dict(model="conv", latent=4, epochs=2, batch_size=32, limit=4000, device="cpu")


def wait(eng: Engine, ws: str, job_id: int, statuses: tuple[str, ...], t0: float, limit_s: float = 180) -> float:
    """Seconds from t0 until the job is in one of `statuses` (polled every 10 ms)."""
    while time.perf_counter() - t0 < limit_s:
        if eng.job(job_id, ws).status in statuses:
            return time.perf_counter() - t0
        time.sleep(0.01)
    raise TimeoutError(f"job {job_id} not {statuses} after {limit_s} s")


def measure(poll_s: float | None, trials: int) -> dict:
    """Median seconds of each click with the workers polling every `poll_s` (None: the settings' default)."""
    home = home_removed_at_exit(prefix="aelab-latency-")
    settings = Settings(home=home, workers=1, view_workers=1, threads=1, idle_exit_s=120)
    if poll_s is not None:
        settings.poll_s = poll_s
    eng = Engine.open(settings)
    ws = new_token(home)
    out: dict[str, list[float]] = {"one_step_s": [], "ten_steps_s": [], "go_on_s": [], "stop_s": []}
    try:
        for _ in range(trials):
            job = eng.submit(ws, "train", dict(config=CONFIG, max_steps=1))
            wait(eng, ws, job.id, ("paused",), time.perf_counter())  # the cold start: loading torch, data, model
            for steps, name in ((1, "one_step_s"), (10, "ten_steps_s")):
                t0 = time.perf_counter()
                eng.resume(job.id, ws, steps=steps)
                out[name].append(wait(eng, ws, job.id, ("paused",), t0))
            t0 = time.perf_counter()
            eng.resume(job.id, ws)
            out["go_on_s"].append(wait(eng, ws, job.id, ("running",), t0))
            time.sleep(0.5)
            t0 = time.perf_counter()
            eng.stop(job.id, ws)
            out["stop_s"].append(wait(eng, ws, job.id, ("stopped", "done"), t0))
    finally:
        stop_workers(eng._store)
    return {k: round(statistics.median(v), 3) for k, v in out.items()} | {"poll_s": settings.poll_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--baseline-poll", type=float, default=0.5, help="the workers' poll before (seconds)")
    a = ap.parse_args()
    base = measure(a.baseline_poll, a.trials)
    ours = measure(None, a.trials)
    print("baseline", base)
    print("ours", ours)
    ratios = {f"{k}_vs_baseline": round(ours[k] / base[k], 3) for k in base if k.endswith("_s") and k != "poll_s"}
    print(json.dumps({"baseline": base, "ours": ours} | ratios))


if __name__ == "__main__":
    main()
