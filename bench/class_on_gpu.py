"""A class on one machine: N students' training jobs through the engine at once, against one job alone.

    python bench/class_on_gpu.py [--jobs 30] [--limit 0] [--epochs 1] [--batch 128] [--workers 0] [--home DIR]

Each job is what a student queues from the Train page: conv k=16, one epoch of all of MNIST (or `--limit` images),
batch 128, from its own workspace. The workers are the app's (aecore.engine.pool.ensure_workers with this machine's
settings: on a GPU, Settings.resolved_workers() processes sharing the card, each capped at its share of the memory;
`--workers` overrides). After one warm-up job per worker (imports, CUDA start-up, the data set on the device), it
times one job alone from submit to done ("one_job_s"), then all `--jobs` submitted at once until the last is done
("all_jobs_s"). The last line is JSON:
    {"jobs": 30, "one_job_s": X, "all_jobs_s": X, "ratio": all / one, "workers": W, "device": "...", ...}
A ratio of 2 means the whole class is done in twice the time one student waits alone.
On a CPU-only machine it runs the same way (e.g. `--jobs 3 --limit 2000` as a smoke test).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.engine.pool import ensure_workers, gpu_share, stop_workers  # noqa: E402
from aecore.engine.store import DONE, FINISHED, Store  # noqa: E402
from aecore.engine.submit import submit  # noqa: E402
from aecore.settings import current, use  # noqa: E402
from aecore.training.config import TrainConfig  # noqa: E402
from aecore.training.device import device_label  # noqa: E402


def wait_done(store: Store, ids: list[int], timeout: float) -> list:
    """The jobs once every one of `ids` has ended (AssertionError after `timeout` seconds)."""
    t = time.time()
    while True:
        jobs = [store.job(i) for i in ids]
        if all(j.status in FINISHED for j in jobs):
            return jobs
        if time.time() - t > timeout:
            raise AssertionError(f"timed out: {[(j.id, j.status) for j in jobs if j.status not in FINISHED]}")
        time.sleep(0.05)


def run_jobs(store, settings, ds, config: TrainConfig, n: int, tag: str, timeout: float) -> tuple[float, list]:
    """Submit n jobs (one workspace each) at once; seconds until the last has ended, and the jobs."""
    t = time.perf_counter()
    ids = [submit(store, settings, f"bench-{tag}-{i:03d}-{int(t * 1000) % 10**8}", "train",
                  {"config": config.to_dict()}, f"{tag} {i}", ds).id for i in range(n)]
    jobs = wait_done(store, ids, timeout)
    return time.perf_counter() - t, jobs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--limit", type=int, default=0, help="training images per job (0 = all of MNIST)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", type=int, default=0, help="training workers (0 = the settings' own)")
    ap.add_argument("--home", default="", help="the engine's data home (default: a temporary folder)")
    ap.add_argument("--timeout", type=float, default=1200.0)
    a = ap.parse_args()

    home = Path(a.home) if a.home else Path(tempfile.mkdtemp(prefix="aelab-class-"))
    settings = current().with_(home=str(home), per_workspace=2, max_queue=max(200, 2 * a.jobs + 50), idle_exit_s=0.0)
    if a.workers:
        settings = settings.with_(workers=a.workers)
    use(settings)
    store = Store(home)
    ds = load_mnist()
    config = TrainConfig(model="conv", latent=16, epochs=a.epochs, batch_size=a.batch, limit=a.limit or None)
    workers = settings.resolved_workers()
    print(f"{device_label(threads=settings.resolved_threads())}: {workers} training worker(s) x "
          f"{settings.resolved_threads()} thread(s), GPU memory share {gpu_share(settings) or 'uncapped'}; "
          f"{a.jobs} jobs of {config.describe()}, {a.limit or 'all'} images", flush=True)
    try:
        ensure_workers(store, settings)
        t = time.time()
        while len(store.live_workers()) < workers + settings.view_workers:
            if time.time() - t > 300:
                raise AssertionError("the workers did not start")
            time.sleep(0.2)
        warm = TrainConfig(model="conv", latent=16, epochs=1, batch_size=a.batch, limit=min(2000, a.limit or 2000))
        warm_s, _ = run_jobs(store, settings, ds, warm, workers, "warm", a.timeout)
        print(f"warm-up: {workers} small jobs in {warm_s:.1f} s", flush=True)
        one_s, one = run_jobs(store, settings, ds, config, 1, "one", a.timeout)
        print(f"one job alone: {one_s:.1f} s", flush=True)
        all_s, jobs = run_jobs(store, settings, ds, config, a.jobs, "all", a.timeout)
        failed = [j for j in one + jobs if j.status != DONE]
        print(f"{a.jobs} jobs at once: {all_s:.1f} s ({all_s / one_s:.2f}x one job alone); "
              f"{len(failed)} did not finish" + (f": {failed[0].error}" if failed else ""), flush=True)
        row = {"jobs": a.jobs, "one_job_s": round(one_s, 2), "all_jobs_s": round(all_s, 2),
               "ratio": round(all_s / one_s, 2), "workers": workers, "threads": settings.resolved_threads(),
               "gpu_memory_share": gpu_share(settings), "device": device_label(threads=settings.resolved_threads()),
               "images_per_job": (a.limit or 60000), "failed": len(failed)}
        print(json.dumps({"figure": f"class_{a.jobs}_jobs_vs_one", "value": row["ratio"], "target": 2.0,
                          **{k: v for k, v in row.items() if k != "ratio"}}), flush=True)
        print(json.dumps(row))
        return 0 if not failed else 1
    finally:
        stop_workers(store)
        if not a.home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
