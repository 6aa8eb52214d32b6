"""The job engine: store, fair queue, worker processes, stop, kill -9 and resume, kept runs, results by content, CLI."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

from aecore.engine import kinds, refs
from aecore.settings import Settings, SettingsError
from aecore.engine.store import DONE, INTERRUPTED, QUEUED, RUNNING, STOPPED, Lease, Store, StoreError
from aecore.engine.submit import submit
from aecore.engine.worker import Worker

WS_A, WS_B, WS_C = "workspace-aaaa", "workspace-bbbb", "workspace-cccc"


def result_key(store, kind: str, params: dict) -> str:
    k = kinds.get(kind)
    return refs.result_key(store, k, k.parse(params))


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def _train(tiny, **kw):
    return {"config": tiny(**kw).to_dict()}


def _wait(pred, timeout=90, what="condition"):
    t = time.time()
    while not pred():
        if time.time() - t > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_queue_is_fair_across_workspaces(store):
    for ws in (WS_A, WS_A, WS_A, WS_B, WS_C):
        store.submit(ws, "train", {}, f"job of {ws}")
    order = [j.workspace for j in store.queue_order()]
    assert order == [WS_A, WS_B, WS_C, WS_A, WS_A]  # one student's three jobs do not hold up the others
    first = store.claim("w1")
    assert first.workspace == WS_A and first.status == RUNNING
    # A now has one running: B and C go before A's next
    assert [j.workspace for j in store.queue_order()] == [WS_B, WS_C, WS_A, WS_A]
    assert store.position(store.queue_order()[-1].id) == 4


def test_limits_per_workspace_and_queue(store):
    store.submit(WS_A, "train", {}, "1", per_workspace=2)
    store.submit(WS_A, "train", {}, "2", per_workspace=2)
    with pytest.raises(StoreError, match="limit is 2"):
        store.submit(WS_A, "train", {}, "3", per_workspace=2)
    with pytest.raises(StoreError, match="queue is full"):
        store.submit(WS_B, "train", {}, "4", max_queue=2)
    with pytest.raises(StoreError, match="workspace id"):
        store.submit("x", "train", {}, "bad workspace")


def test_a_student_cannot_touch_another_workspace(store):
    j = store.submit(WS_A, "train", {}, "mine")
    with pytest.raises(StoreError, match="no job"):
        store.request_stop(j.id, WS_B)
    store.add_run(WS_A, "r1", "demo", "done", "d" * 64, 10)
    for action in (lambda: store.rename_run("r1", "x", WS_B), lambda: store.delete_run("r1", WS_B),
                   lambda: store.share_run("r1", True, WS_B)):
        with pytest.raises(StoreError, match="another workspace"):
            action()
    assert store.request_stop(j.id, WS_A).status == STOPPED  # a queued job stops at once


def test_same_name_saves_at_once_keep_every_run(store):
    """Two workspaces (and one workspace twice) saving "class demo" at the same moment: nothing is lost."""
    names = []

    def save(ws, i):
        names.append((ws, store.add_run(ws, f"run-{ws}-{i}", "class demo", "done", "d" * 64, 10).name))

    threads = [threading.Thread(target=save, args=(ws, i)) for ws in (WS_A, WS_B) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.runs()) == 8
    for ws in (WS_A, WS_B):
        mine = sorted(n for w, n in names if w == ws)
        assert mine == ["class demo", "class demo (2)", "class demo (3)", "class demo (4)"]


def test_settings_come_from_the_environment():
    s = Settings.from_env({"AELAB_HOME": "/x", "AELAB_WORKERS": "3", "AELAB_JOB_TIME_LIMIT_S": "60"})
    assert (s.home, s.workers, s.time_limit_s) == ("/x", 3, 60.0)
    with pytest.raises(SettingsError, match="AELAB_WORKERS"):
        Settings.from_env({"AELAB_WORKERS": "many"})
    with pytest.raises(SettingsError, match="AELAB_EXECUTOR"):
        Settings.from_env({"AELAB_EXECUTOR": "cloud"})
    assert Settings(workers=2).resolved_threads() * 2 <= (os.cpu_count() or 2)


def test_budget_and_bad_settings_are_refused_before_queueing(store, settings, mnist, tiny):
    settings.budget_images = 1000
    with pytest.raises(StoreError, match="budget"):
        submit(store, settings, WS_A, "train", _train(tiny, epochs=5, limit=600), "big", mnist)
    with pytest.raises(ValueError, match="learning rate"):
        submit(store, settings, WS_A, "train", _train(tiny, lr=-1.0), "bad", mnist)
    assert store.jobs() == []


def test_worker_trains_keeps_the_run_and_reports_a_curve_from_the_first_steps(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=2, limit=1000, batch_size=25), "tiny", mnist,
                 name="my first run")
    assert Worker(store, settings).run(once=True) == 1
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert job.epochs_done == 2 and [r["epoch"] for r in job.history] == [1, 2]
    first_epoch = [p for p in job.curve if p[0] <= 1.0]
    assert len(first_epoch) >= 10  # the live curve moves during the first epoch
    assert store.preview(job.id).shape == (8, 28, 28)
    run = store.run(job.run_id)
    assert run.name == "my first run" and run.workspace == WS_A and len(run.digest) == 64
    assert (store.run_dir(WS_A, run.id) / "weights.pt").is_file()


def test_stop_is_honoured_within_a_step_and_keeps_the_weights(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=200, limit=2000, batch_size=20), "long", mnist)
    w = Worker(store, settings)
    t = threading.Thread(target=w.run, kwargs={"once": True})
    t.start()
    _wait(lambda: store.job(job.id).epochs_done >= 1, what="a finished epoch")
    store.request_stop(job.id, WS_A)
    t.join(60)
    job = store.job(job.id)
    assert job.status == STOPPED and "weights trained so far are kept" in job.error
    assert 1 <= job.epochs_done < 200
    assert store.run(job.run_id).status == "stopped"


def test_time_limit_stops_a_job(store, settings, mnist, tiny):
    settings.time_limit_s = 1.0
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=500, limit=2000, batch_size=20), "slow", mnist)
    Worker(store, settings).run(once=True)
    job = store.job(job.id)
    assert job.status == STOPPED and "time limit" in job.error


def _spawn_worker(home):
    env = dict(os.environ, AELAB_HOME=str(home), AELAB_STALE_S="3", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "aecore", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_a_worker_mid_job_then_resume_from_the_last_epoch(store, settings, home, mnist, tiny, tmp_path):
    # The worker is a real `aecore worker` process whose trainer is held at the first step of epoch 3 until it is
    # killed, so the test finds it mid-job with exactly two finished epochs however fast or slow an epoch runs here
    # (on a GPU machine epochs ran at another pace than fixed timings assumed). One thread, as a worker of a small
    # machine (AELAB_WORKER_THREADS; OMP_NUM_THREADS alone is overridden by the worker's own cap).
    job = submit(store, settings, WS_A, "train", _train(tiny, model="conv", epochs=6, limit=1500, batch_size=32), "crash",
                 mnist)
    held = ("import sys, time\n"
            "from aecore.engine.context import Context\n"
            "report = Context.progress\n"
            "def progress(self, p):\n"
            "    report(self, p)\n"
            "    if p.phase == 'train' and p.epoch >= 3:\n"
            "        time.sleep(3600)  # held mid-job: the test kills this process\n"
            "Context.progress = progress\n"
            "from aecore.engine.worker import main\n"
            "sys.exit(main())\n")
    env = dict(os.environ, AELAB_HOME=str(home), AELAB_STALE_S="3", AELAB_WORKER_THREADS="1", OMP_NUM_THREADS="1")
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", held], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def two_epochs():
            if proc.poll() is not None:  # a worker that died cannot be killed mid-job: say why at once
                raise AssertionError("the worker exited: " + (tmp_path / "worker.log").read_text()[-2000:])
            return store.job(job.id).epochs_done >= 2

        try:
            _wait(two_epochs, timeout=600, what="two finished epochs")
        except AssertionError as e:  # say where the job stood and what the worker wrote
            j = store.job(job.id)
            raise AssertionError(f"{e}: the job is {j.status} after {j.epochs_done} epoch(s), progress {j.progress}, "
                                 f"error {j.error!r}; the worker's log ends: "
                                 + (tmp_path / "worker.log").read_text()[-2000:]) from None
        time.sleep(0.5)  # the held step's report is in the store: the job is mid-epoch 3
        assert store.job(job.id).epochs_done == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    done_before = store.job(job.id).epochs_done
    assert store.job(job.id).status == RUNNING  # nobody has noticed yet
    assert store.interrupt_stale(settings.stale_s) == [job.id]  # its worker's process is gone
    job = store.job(job.id)
    assert job.status == INTERRUPTED and "resume" in job.error
    ckpt = store.checkpoint_dir(job.id)
    assert (ckpt / "weights.pt").is_file()
    from aecore.training.runs import load_run

    assert len(load_run(ckpt).history) >= done_before  # the last finished epoch's weights are kept
    assert store.resume(job.id, WS_A).status == QUEUED
    Worker(store, settings).run(once=True)
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert [r["epoch"] for r in job.history] == [1, 2, 3, 4, 5, 6]
    assert store.run(job.run_id).status == "done"
    assert job.attempts == 2


def test_sigterm_leaves_the_running_job_resumable(store, settings, home, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=300, limit=2000, batch_size=20), "long", mnist)
    proc = _spawn_worker(home)
    try:
        _wait(lambda: store.job(job.id).status == RUNNING, timeout=120, what="the job to start")
        proc.terminate()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.job(job.id).status == INTERRUPTED


def test_a_shutdown_python_dropped_still_ends_the_job_at_its_next_step_resumable(store, settings, mnist, tiny):
    """SIGTERM's handler raises SystemExit wherever the worker is; raised inside a finalizer, Python drops it and the
    job ran on to "done" (seen once in CI). The job's next stop check ends it, interrupted and resumable."""
    from aecore.engine.kinds import Outcome

    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=300, limit=2000, batch_size=20), "long", mnist)
    worker = Worker(store, settings)
    steps = []

    def execute(store, job, ctx):
        try:
            worker.request_quit()  # the signal handler, as it runs...
        except SystemExit:
            pass  # ...inside a finalizer, where Python drops what it raises
        for step in range(100):  # the trainer's steps, each checking the stop flag
            ctx.is_set()
            steps.append(step)
        return Outcome(DONE)

    worker.execute = execute
    with pytest.raises(SystemExit):
        worker.run(once=True)
    assert steps == [] and store.job(job.id).status == INTERRUPTED


def test_experiment_results_are_keyed_by_content_and_survive_a_new_store(store, settings, home, mnist):
    params = {"run": "zoo:linear-k32", "labels": 100}
    key = result_key(store, "probe", params)
    assert key == result_key(store, "probe", dict(params)) and key != result_key(store, "probe", {**params, "labels": 300})
    job = submit(store, settings, WS_A, "probe", params, "probe", mnist)
    assert submit(store, settings, WS_A, "probe", params, "probe", mnist).id == job.id  # not queued twice
    Worker(store, settings).run(once=True)
    assert store.job(job.id).status == DONE and store.job(job.id).result_key == key
    from aecore.engine.client import Engine

    eng = Engine.open(Settings(home=str(home)), start_workers=False)  # as after a server restart
    res, k2 = eng.result("probe", params)
    assert k2 == key and res.tables["probe"][0]["features"] == "latent"


def _cli(home, *args):
    """`python -m aecore ARGS` on the store in `home`. `worker` runs as a real process (it lowers its priority, caps
    its threads and handles SIGTERM); the other commands call the same main() in this process."""
    if args[0] == "worker":
        env = dict(os.environ, AELAB_HOME=str(home))
        return subprocess.run([sys.executable, "-m", "aecore", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
    import contextlib
    import io
    from types import SimpleNamespace

    from aecore.cli import main

    from aecore.settings import current, use

    out, err = io.StringIO(), io.StringIO()
    prev = use(current().with_(home=str(home)))  # as `AELAB_HOME=home python -m aecore ...` would make them
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(list(args))
    finally:
        use(prev)
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def test_cli_submit_jobs_stop_resume(home):
    r = _cli(home, "submit", "train", "--model", "dense", "--latent", "4", "--epochs", "2", "--limit", "600",
             "--batch", "50", "--name", "demo for the class", "--share")
    assert r.returncode == 0, r.stderr
    assert "no worker is running" in r.stderr
    job_id = int(r.stdout.strip().splitlines()[-1])
    listed = json.loads(_cli(home, "jobs", "--json").stdout)
    assert listed[0]["id"] == job_id and listed[0]["status"] == "queued" and listed[0]["epoch"] == 0
    assert listed[0]["workspace"] == "shell-jobs"
    assert _cli(home, "worker", "--once").returncode == 0
    row = json.loads(_cli(home, "jobs", "--json").stdout)[0]
    assert row["status"] == "done" and row["epoch"] == 2
    store = Store(home)
    run = store.run(row["run_id"])
    assert run.shared and run.name == "demo for the class"
    bad = _cli(home, "resume", str(job_id))
    assert bad.returncode == 2 and "only interrupted, stopped or paused" in bad.stderr
    r = _cli(home, "submit", "train", "--model", "dense", "--epochs", "2", "--limit", "600")
    second = int(r.stdout.strip().splitlines()[-1])
    assert "stopped" in _cli(home, "stop", str(second)).stdout
    assert "queued" in _cli(home, "resume", str(second), "--steps", "2").stdout
    assert _cli(home, "worker", "--once").returncode == 0
    row = next(r for r in json.loads(_cli(home, "jobs", "--json").stdout) if r["id"] == second)
    assert row["status"] == "paused"  # two steps, then it waits
    assert "queued" in _cli(home, "resume", str(second)).stdout


def test_old_workspaces_expire_but_shared_runs_stay(store):
    store.touch_workspace(WS_A)
    store.add_run(WS_A, "r-private", "mine", "done", "d" * 64, 10)
    store.add_run(WS_A, "r-shared", "for the class", "done", "d" * 64, 10)
    store.share_run("r-shared", True, WS_A)
    store.touch_workspace(WS_B)
    assert store.expire(days=1) == []  # both were used just now
    with store._tx() as c:
        c.execute("UPDATE workspaces SET seen = seen - 3 * 86400 WHERE id=?", (WS_A,))
    assert store.expire(days=2) == [WS_A]
    assert [r.id for r in store.runs()] == ["r-shared"]  # published runs outlive their workspace
    assert [w["id"] for w in store.workspaces()] == [WS_B]


def test_a_full_workspace_cannot_train_until_it_deletes_runs(store, settings, mnist, tiny):
    settings.quota_mb = 0.001  # about 1 KB
    store.add_run(WS_A, "big", "big run", "done", "d" * 64, 10_000)
    with pytest.raises(StoreError, match="delete some"):
        submit(store, settings, WS_A, "train", _train(tiny), "one more", mnist)
    store.delete_run("big", WS_A)
    assert submit(store, settings, WS_A, "train", _train(tiny), "one more", mnist).status == QUEUED


def test_the_space_used_counts_saved_states_and_a_job_ending_meanwhile_never_breaks_the_page(store, settings, mnist,
                                                                                             tiny, monkeypatch):
    """The Train page shows a workspace's disk use on every run while its jobs end (and remove their saved states):
    a folder gone in the middle of the count is counted as nothing, never an error on the page."""
    job = submit(store, settings, WS_A, "train", _train(tiny), "t", mnist)
    states = store.checkpoint_dir(job.id).parent
    (states / "epoch-1").mkdir(parents=True)
    (states / "epoch-1" / "state.pt").write_bytes(b"x" * 3000)
    store.add_run(WS_A, "r1", "a run", "done", "d" * 64, 1000)
    assert store.used_bytes(WS_A) == 4000
    real = os.scandir

    def vanished(path):  # the job ended between finding its folder and reading it
        if Path(path) == states:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", vanished)
    assert store.used_bytes(WS_A) == 1000


def test_queue_position_and_estimated_start(store, settings, mnist, tiny):
    jobs = [submit(store, settings, ws, "train", _train(tiny), "t", mnist) for ws in (WS_A, WS_B, WS_C)]
    from aecore.engine.client import Engine

    eng = Engine(settings, store)
    assert store.position(jobs[2].id) == 3
    assert "place 3 in the queue, starts in about" in eng.waiting_text(jobs[2])
    assert store.eta_s(jobs[2].id, 1) > store.eta_s(jobs[1].id, 1) > 0
    # the Train page polls a job a worker takes next every second, one further back less often (its place is all
    # that changes): the next is the first place for each of the lane's workers
    assert [eng.next_up(j) for j in jobs] == [True, False, False]
    two = Engine(settings.with_(workers=2), store)
    assert [two.next_up(j) for j in jobs] == [True, True, False]
    store.claim("w1", "train")  # the first starts: it is no longer waiting, and the second is next
    assert [eng.next_up(store.job(j.id)) for j in jobs] == [False, True, False]
    assert eng.waiting_behind_others(jobs[2:]) and not eng.waiting_behind_others(jobs[1:])


def test_the_wait_grows_with_the_place_and_counts_each_jobs_start(store, settings, mnist, tiny):
    """Issue 27 item 10: "starts in about 5 s" at every place. A job's wait is the work of the jobs ahead in its
    lane, each with a job's start, played out over the workers; a view job waits only for view jobs."""
    for ws in (WS_A, WS_B, WS_C):  # three finished runs of 3000 images/s that took 1.5 s more than their images,
        j = submit(store, settings, ws, "train", _train(tiny), "done", mnist)  # each twice its reference seconds
        with store._tx() as c:
            c.execute("UPDATE jobs SET status='done', started=0, finished=?, cost=3000, work_s=0.5, progress=? "
                      "WHERE id=?", (2.5, json.dumps({"images_per_s": 3000.0}), j.id))
    assert store.start_overhead_s() == pytest.approx(1.5)
    assert store.speed_factor() == pytest.approx(2.0)  # this server runs at half the reference machine's speed
    settings.per_workspace = 10
    queued = [submit(store, settings, ws, "train", _train(tiny), "t", mnist) for ws in (WS_A, WS_B, WS_C, WS_A)]
    waits = [store.waiting(j.id, 1) for j in queued]
    assert [w[0] for w in waits] == [1, 2, 3, 4]
    each = 1.5 + queued[0].work_s * 2.0
    assert queued[0].work_s > 0
    assert [w[1] for w in waits] == pytest.approx([0, each, 2 * each, 3 * each])  # one worker: one after another
    assert store.waiting(queued[3].id, 2)[1] == pytest.approx(each)  # two workers: the fourth waits for one job
    view = submit(store, settings, WS_B, "projection", {"run": "zoo:conv-k16", "method": "pca"}, "map", mnist)
    assert store.waiting(view.id, 1) == (1, 0.0)  # a view job does not wait behind the training queue


def test_view_jobs_go_first_and_a_view_lane_worker_takes_only_them(store, settings, mnist, tiny):
    train = submit(store, settings, WS_A, "train", _train(tiny), "t", mnist)
    view = submit(store, settings, WS_B, "codes", {"run": "zoo:linear-k32"}, "codes", mnist)
    assert [j.id for j in store.queue_order()] == [view.id, train.id]  # a page waits for the view job
    warm = submit(store, settings, "zoo-warm-up", "codes", {"run": "zoo:conv-k2"}, "warm-up", mnist)
    later = submit(store, settings, WS_C, "codes", {"run": "zoo:conv-k16"}, "codes", mnist)
    assert [j.id for j in store.queue_order()] == [view.id, later.id, warm.id, train.id]  # students before the warm-up
    store.request_stop(warm.id)
    store.request_stop(later.id)
    Worker(store, settings, lane="view").run(once=True)
    assert store.job(view.id).status == DONE and store.job(train.id).status == QUEUED
    # the same result asked by another workspace is not queued again: it is there already or being made
    again = submit(store, settings, WS_C, "codes", {"run": "zoo:linear-k32"}, "codes", mnist)
    assert again.id == view.id or store.latest(result_key(store, "codes", {"run": "zoo:linear-k32"})).id == view.id


def test_noise_curve_runs_in_a_worker_for_several_runs(store, settings, home, mnist):
    params = {"runs": {"denoiser": "zoo:conv-k16-denoise", "plain": "zoo:conv-k16"}, "noise": "masking",
              "levels": [0.0, 0.5], "n": 50}
    job = submit(store, settings, WS_A, "noise_curve", params, "noise", mnist)
    Worker(store, settings, lane="view").run(once=True)
    assert store.job(job.id).status == DONE
    from aecore.engine.client import Engine

    rows = Engine.open(Settings(home=str(home)), start_workers=False).result("noise_curve", params)[0].tables["curve"]
    assert {r["model"] for r in rows} == {"denoiser", "plain", "corrupted input"} and len(rows) == 6
    by = {(r["model"], r["level"]): r["mse"] for r in rows}
    assert by[("corrupted input", 0.0)] == 0.0 and by[("denoiser", 0.5)] < by[("corrupted input", 0.5)]


def test_experiments_cannot_read_another_workspaces_private_run(store, settings, mnist):
    store.add_run(WS_A, "r-private", "mine", "done", "d" * 64, 10)
    with pytest.raises(StoreError, match="another workspace"):
        submit(store, settings, WS_B, "probe", {"run": "run:r-private", "labels": 100}, "probe", mnist)
    with pytest.raises(StoreError, match="another workspace"):
        submit(store, settings, WS_B, "noise_curve", {"runs": {"x": "run:r-private"}, "noise": "masking",
                                                      "levels": [0.5]}, "n", mnist)


def test_tsne_job_streams_its_layout_and_stop_keeps_it(store, settings, mnist):
    params = {"run": "zoo:conv-k2", "method": "tsne", "n": 3000, "seed": 0, "digits": None, "perplexity": 30.0,
              "n_neighbors": 15, "min_dist": 0.1}  # enough points that the layout is still moving when the stop comes
    job = submit(store, settings, WS_A, "projection", params, "t-SNE", mnist)
    layouts = []

    def watch_then_stop():
        while True:
            j = store.job(job.id)
            xy = store.preview(job.id)
            if xy is not None and j.progress and "iteration" in j.progress:  # (first: "t-SNE: finding neighbours")
                layouts.append((j.progress["iteration"], xy))
                if j.progress["iteration"] >= 50:
                    store.request_stop(job.id, WS_A)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_then_stop, daemon=True)
    watcher.start()
    settings.stale_s = 60
    Worker(store, settings, lane="view").run(once=True)
    watcher.join(5)
    done = store.job(job.id)
    assert done.status == STOPPED and "layout so far is kept" in done.error
    assert layouts and all(xy.shape == (3000, 2) for _, xy in layouts)  # the page can draw every one of them
    from aecore.analysis.results import ResultStore

    partial = ResultStore(store.results_dir).get_key(done.result_key)
    assert partial.status == "stopped" and partial.summary["stopped_at"] >= 50 and partial.images["xy"].shape == (3000, 2)


def test_pause_step_and_go_on_end_with_the_weights_of_a_run_that_never_paused(store, settings, mnist, tiny):
    import torch

    from aecore.training.runs import load_run

    params = _train(tiny, model="conv", latent=4, epochs=2, limit=600, noise="gaussian:0.3", schedule="cosine")
    straight = submit(store, settings, WS_A, "train", params, "straight", mnist)
    Worker(store, settings).run(once=True)
    stepped = submit(store, settings, WS_B, "train", dict(params, max_steps=3), "stepped", mnist)
    Worker(store, settings).run(once=True)
    j = store.job(stepped.id)
    assert j.status == "paused" and "after step 3" in j.error
    assert store.run(j.run_id).status == "paused"  # the weights so far are there to look at
    store.resume(stepped.id, WS_B, steps=1)  # step once
    Worker(store, settings).run(once=True)
    assert "after step 4" in store.job(stepped.id).error
    store.resume(stepped.id, WS_B, steps=8)  # into the second epoch
    Worker(store, settings).run(once=True)
    assert "epoch 2" in store.job(stepped.id).error
    store.resume(stepped.id, WS_B)  # go on to the end
    Worker(store, settings).run(once=True)
    done = store.job(stepped.id)
    assert done.status == DONE and len(store.runs(WS_B)) == 1  # each pause's run was replaced, not piled up
    a = load_run(store.run_dir(WS_A, store.job(straight.id).run_id)).model.state_dict()
    b = load_run(store.run_dir(WS_B, done.run_id)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit the same model
    # watch it learn: both runs kept their recording; the stepped one has a frame at every pause
    from aecore.training.watch import WATCH_FILE, Recording

    ra = Recording.load(store.run_dir(WS_A, store.job(straight.id).run_id) / WATCH_FILE)
    rb = Recording.load(store.run_dir(WS_B, done.run_id) / WATCH_FILE)
    assert {0, 3, 4, 12} <= set(rb.steps.tolist()) and np.all(np.diff(rb.steps) > 0)
    assert ra.steps[-1] == rb.steps[-1] == 2 * 11  # 540 training images / 50 a step = 11 steps an epoch
    dist = lambda xy: np.linalg.norm(xy[:, None] - xy[None], axis=-1)  # noqa: E731  (PCA's turn differs, shapes not)
    assert np.allclose(dist(ra.xy[-1]), dist(rb.xy[-1]), atol=1e-4)
    with pytest.raises(StoreError, match="only interrupted, stopped or paused"):
        store.resume(stepped.id, WS_B)


def test_pause_a_running_job_from_the_store_then_go_on(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=30, limit=2000), "long", mnist)
    t = threading.Thread(target=lambda: Worker(store, settings).run(once=True))
    t.start()
    _wait(lambda: (store.job(job.id).progress or {}).get("step", 0) > 2, what="the job to start")
    store.request_pause(job.id, WS_A)
    t.join(60)
    j = store.job(job.id)
    assert j.status == "paused" and "go on" in j.error
    store.request_stop(j.id, WS_A)  # a paused job is not running: nothing to stop, it stays resumable
    assert store.job(job.id).status == "paused"


def test_a_diverging_job_ends_diverged_with_its_last_good_weights_kept(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, model="linear", out_act="none", optimizer="sgd", lr=9.0,
                                                        epochs=3), "too fast", mnist)
    Worker(store, settings).run(once=True)
    j = store.job(job.id)
    assert j.status == "diverged" and "lower the learning rate" in j.error
    assert store.run(j.run_id).status == "diverged"  # kept, with finite weights
    from aecore.training.runs import load_run

    import torch

    assert all(torch.isfinite(v).all() for v in load_run(store.run_dir(WS_A, j.run_id)).model.state_dict().values())


def test_view_jobs_do_not_use_up_the_job_limit_and_a_newer_ask_replaces_an_older_queued_one(store, settings, mnist, tiny):
    settings.per_workspace = 1
    proj = {"run": "zoo:conv-k16", "method": "tsne", "n": 500, "seed": 0, "digits": None, "perplexity": 30.0,
            "n_neighbors": 15, "min_dist": 0.1}
    first = submit(store, settings, WS_A, "projection", proj, "t-SNE", mnist)
    second = submit(store, settings, WS_A, "projection", dict(proj, perplexity=20.0), "t-SNE", mnist)
    assert store.job(first.id).status == STOPPED and store.job(second.id).status == QUEUED  # the slider moved on
    train = submit(store, settings, WS_A, "train", _train(tiny), "t", mnist)  # a view job is not a job of the limit
    assert train.status == QUEUED
    warm = submit(store, settings, "zoo-warm-up", "codes", {"run": "zoo:conv-k2"}, "warm-up", mnist)
    asked = submit(store, settings, WS_B, "codes", {"run": "zoo:conv-k2"}, "codes", mnist)
    assert asked.id == warm.id and store.job(warm.id).workspace == WS_B  # a student waits for it: their priority now


def test_batch_of_one_is_refused_for_batchnorm_models(mnist, tiny):
    from aecore.training.config import ConfigError
    from aecore.training.trainer import check_config

    with pytest.raises(ConfigError, match="at least 2 images per step"):
        check_config(tiny(model="conv", batch_size=1), mnist)
    assert check_config(tiny(model="dense", batch_size=1), mnist).batch_size == 1


def test_a_second_sigterm_while_the_first_is_handled_does_not_deadlock_the_worker(store, settings):
    worker = Worker(store, settings)
    with pytest.raises(SystemExit):
        worker.request_quit()  # the first SIGTERM
    done = threading.Event()

    def second_signal_inside_the_first():
        with worker._quit._cond:  # as if it arrived while the first handler was inside Event.set
            worker.request_quit()
        done.set()

    threading.Thread(target=second_signal_inside_the_first, daemon=True).start()
    assert done.wait(5), "the second quit request blocked (a worker left running forever)"


def test_layer_wise_pretraining_is_costed_per_layer_pair_and_runs(store, settings, mnist, tiny):
    """Submitting a stacked (pretrained) job used to crash the page: the cost asked the model spec for a field it lacks."""
    from aecore.models.registry import MODELS, build_model

    for name, spec in MODELS.items():  # the spec's layer count is the model's own
        if spec.stackable:
            assert spec.layers == len(build_model(name, latent=3).layer_pairs()), name
    config = tiny(model="mlp-deep", latent=3, epochs=1, pretrain_epochs=1, limit=600)
    job = submit(store, settings, WS_A, "train", {"config": config.to_dict()}, "stacked", mnist)
    n = int(600 * (1 - config.val_fraction))
    assert job.cost == n * (1 + 1 * 4)  # the main phase, then one epoch for each of the 4 layer pairs
    base = dict(config.to_dict(), pretrain_epochs=0)
    sjob = submit(store, settings, WS_B, "stacked", {"base": base, "pretrain": 2}, "stacked vs end to end", mnist)
    assert sjob.cost == n * 1 + n * (1 + 2 * 4)
    assert Worker(store, settings).run(once=True) == 2
    assert store.job(job.id).status == DONE, store.job(job.id).error
    assert store.job(sjob.id).status == DONE, store.job(sjob.id).error


def test_every_kind_of_progress_reads_as_one_line():
    from aecore.engine.progress import describe

    assert describe(None) == "starting…"
    train = {"phase": "train", "epoch": 2, "epochs": 5, "step": 30, "steps": 469, "loss": 0.012341,
             "images_per_s": 11200.0, "elapsed_s": 3.0, "stage": 1, "stages": 1, "fraction": 0.26}
    assert describe(train) == "train · epoch 2/5 · step 30/469 · loss 0.01234 · 11,200 images/s"
    assert describe(train, detail=False) == "train · epoch 2/5 · 26%"
    assert describe({"phase": "t-SNE", "iteration": 250, "iterations": 2000, "fraction": 0.125}) == \
        "t-SNE · iteration 250/2000"
    imp = {"phase": "reading images", "done": 1200, "total": 3000, "fraction": 0.4}  # an import (crashed the sidebar)
    assert describe(imp) == "reading images · 1,200 of 3,000"
    assert describe(imp, detail=False) == "reading images · 1,200 of 3,000 · 40%"
    assert describe({"phase": "probe", "fraction": 7.0}) == "probe · 100%"  # clamped


def test_two_resumes_at_once_queue_the_job_once(store):
    store.submit(WS_A, "train", {}, "t")
    job = store.claim("w1")
    store.finish(Lease.of(job), STOPPED, "stopped by the user")
    results, barrier = [], threading.Barrier(2)

    def resume():
        barrier.wait()
        try:
            results.append(store.resume(job.id, WS_A).status)
        except StoreError as e:
            results.append(str(e))

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0].startswith("job") and sorted(results)[1] == QUEUED, results  # one queued, one told why
    assert store.job(job.id).status == QUEUED


def test_a_stale_worker_cannot_write_or_finish_a_job_resumed_by_another(store):
    from aecore.engine.store import LOST

    store.submit(WS_A, "train", {}, "t")
    first = store.claim("w-stale")
    with store._tx() as c:  # its heartbeat stopped long ago (a long pause of the process)
        c.execute("UPDATE jobs SET heartbeat=1, started=1 WHERE id=?", (first.id,))
    assert store.interrupt_stale(5.0) == [first.id]
    store.resume(first.id, WS_A)
    second = store.claim("w-new")
    assert second.id == first.id and second.attempts == 2
    stale, fresh = Lease.of(first), Lease.of(second)
    assert store.report(stale, progress={"phase": "train", "fraction": 0.9}) == LOST  # nothing written
    assert store.stop_flag(stale) == LOST
    row = {"id": "stale-run", "workspace": WS_A, "status": "done", "digest": "0" * 64, "bytes": 1, "summary": "",
           "name": "stale", "share": False}
    assert store.finish(stale, DONE, run=row) is False  # the stale attempt's ending and run are not recorded
    assert store.job(first.id).status == RUNNING and store.runs(WS_A) == []
    assert store.report(fresh, progress={"phase": "train", "fraction": 0.5}) == 0
    assert store.finish(fresh, DONE, run=dict(row, id="fresh-run", name="fresh")) is True
    job = store.job(first.id)
    assert job.status == DONE and job.run_id == "fresh-run" and [r.name for r in store.runs(WS_A)] == ["fresh"]
    assert store.interrupt_stale(0.0) == []  # a finished job is nobody's to interrupt


def test_a_worker_killed_between_keeping_the_run_and_finishing_leaves_one_run(store, settings, home, mnist, tiny):
    """The run's files are written, then the worker dies before the ending is recorded: the run is not registered,
    the job is interrupted, and resuming it makes exactly one run (and a paused run keeps its identity)."""

    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=2, limit=600), "demo", mnist, name="demo")

    class Killed(BaseException):
        pass

    real_finish = store.finish

    def killed(*a, **k):
        raise Killed()  # the process dies here: after the files, before the transaction

    store.finish = killed
    with pytest.raises(Killed):
        Worker(store, settings, worker_id="w-doomed").run(once=True)
    store.finish = real_finish
    assert store.runs(WS_A) == []  # files may lie there, but no run is registered
    with store._tx() as c:  # the worker is gone: no shutdown handler ran
        c.execute("UPDATE jobs SET status='running', heartbeat=1, started=1 WHERE id=?", (job.id,))
    assert store.interrupt_stale(1.0) == [job.id]
    store.resume(job.id, WS_A)
    Worker(store, settings).run(once=True)
    job = store.job(job.id)
    assert job.status == DONE, job.error
    assert [r.name for r in store.runs(WS_A)] == ["demo"] and store.runs(WS_A)[0].id == job.run_id
    assert job.epochs_done == 2


def test_a_paused_run_keeps_its_id_and_name_when_it_goes_on(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=2, limit=600) | {"max_steps": 3}, "steps", mnist,
                 name="stepwise")
    Worker(store, settings).run(once=True)
    paused = store.job(job.id)
    assert paused.status == "paused" and paused.run_id
    first = store.run(paused.run_id)
    from aecore.engine.refs import load_ref

    seconds_paused = load_ref(store, f"run:{paused.run_id}").seconds
    store.resume(job.id, WS_A)
    Worker(store, settings).run(once=True)
    done = store.job(job.id)
    assert done.status == DONE and done.run_id == paused.run_id  # a link to the run still works
    run = store.run(done.run_id)
    assert run.name == "stepwise" and run.digest != first.digest and len(store.runs(WS_A)) == 1
    assert load_ref(store, f"run:{done.run_id}").seconds > seconds_paused > 0  # the time before the pause counts


def test_an_older_store_is_migrated_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "old" / "jobs.sqlite"
    path.parent.mkdir()
    old = sqlite3.connect(path)  # the store as the first version wrote it: no version number, no lanes
    old.executescript("""
        CREATE TABLE workspaces(id TEXT PRIMARY KEY, created REAL NOT NULL, seen REAL NOT NULL);
        CREATE TABLE jobs(id INTEGER PRIMARY KEY AUTOINCREMENT, workspace TEXT NOT NULL, kind TEXT NOT NULL,
            label TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, submitted REAL NOT NULL, started REAL,
            finished REAL, heartbeat REAL, worker TEXT, stop INTEGER NOT NULL DEFAULT 0, progress TEXT, curve TEXT,
            history TEXT, preview BLOB, error TEXT NOT NULL DEFAULT '', run_id TEXT, result_key TEXT,
            cost REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, name TEXT);
        CREATE TABLE runs(id TEXT PRIMARY KEY, workspace TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
            shared INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, digest TEXT NOT NULL, bytes INTEGER NOT NULL,
            job INTEGER, summary TEXT NOT NULL DEFAULT '');
        CREATE TABLE workers(id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, started REAL NOT NULL,
            heartbeat REAL NOT NULL, job INTEGER);
        INSERT INTO workspaces VALUES('workspace-aaaa', 1, 1);
        INSERT INTO jobs(workspace, kind, label, params, status, submitted) VALUES
            ('workspace-aaaa', 'codes', 'codes', '{"run": "zoo:conv-k2"}', 'queued', 1),
            ('workspace-aaaa', 'train', 'train', '{}', 'done', 2);
    """)
    old.commit()
    old.close()
    from aecore.engine.store import SCHEMA_VERSION

    store = Store(path.parent)
    assert store.schema_version == SCHEMA_VERSION
    jobs = {j.kind: j for j in store.jobs()}
    assert jobs["codes"].lane == "view" and jobs["train"].lane == "train" and jobs["train"].status == DONE
    assert store.claim("wv-1", lane="view").kind == "codes"  # the view lane finds its job in the migrated file
    assert Store(path.parent).schema_version == SCHEMA_VERSION  # opening again changes nothing


def test_ids_out_of_range_are_no_such_job(store):
    with pytest.raises(StoreError, match="no job"):
        store.job(99999999999999999999999)
    with pytest.raises(StoreError, match="no job"):
        store.request_stop(-(2**70), WS_A)


def test_a_student_name_is_kept_per_workspace_plain_and_short(store):
    from aecore.engine.store import MAX_STUDENT_NAME

    assert store.workspace_names() == {}
    assert store.set_workspace_name(WS_A, "  Ada\n\x00 Lovelace\t ") == "Ada Lovelace"  # one line, printable
    long = store.set_workspace_name(WS_B, "x" * 500)
    assert long == "x" * MAX_STUDENT_NAME
    assert store.workspace_names() == {WS_A: "Ada Lovelace", WS_B: long}
    store.set_workspace_name(WS_B, "")  # cleared
    assert store.workspace_names() == {WS_A: "Ada Lovelace"}
    with pytest.raises(StoreError):
        store.set_workspace_name("no spaces allowed!", "Bob")


def test_teacher_stop_tells_the_student_who_stopped_it(store, settings, mnist, tiny):
    job = submit(store, settings, WS_A, "train", _train(tiny, epochs=200, limit=2000, batch_size=20), "long", mnist)
    w = Worker(store, settings)
    t = threading.Thread(target=w.run, kwargs={"once": True})
    t.start()
    _wait(lambda: store.job(job.id).epochs_done >= 1, what="a finished epoch")
    store.request_stop(job.id, None, teacher=True)
    t.join(60)
    job = store.job(job.id)
    assert job.status == STOPPED and job.error.startswith("stopped by the teacher"), job.error
    queued = submit(store, settings, WS_A, "train", _train(tiny, epochs=1), "waiting", mnist)
    assert store.request_stop(queued.id, None, teacher=True).error == "stopped by the teacher before it started"


def test_live_workers_count_the_training_workers_the_settings_ask_for(home, settings):
    from aecore.engine.client import Engine

    eng = Engine.open(settings, start_workers=False)
    eng._store.register_worker("w-1-aaaaaa", os.getpid())
    eng._store.register_worker("wv-2-bbbbbb", os.getpid())  # the view lane's
    assert eng.live_workers() == 1 and eng.live_view_workers() == 1


def test_a_map_reuses_the_codes_the_page_asked_for_first(store, settings, mnist, monkeypatch):
    """Issue 27 item 8: the first picture of a map needs no encoding when the run's codes are stored (the pages ask
    for them first): the projection takes the stored codes of its points, the same numbers the run would give."""
    codes = submit(store, settings, WS_A, "codes", {"run": "zoo:conv-k2"}, "codes", mnist)
    Worker(store, settings, lane="view").run(once=True)
    assert store.job(codes.id).status == DONE
    from aecore.models import evaluate

    def no_encoding(*_a, **_k):
        raise AssertionError("encoded again")

    monkeypatch.setattr(evaluate, "codes_and_errors", no_encoding)
    params = {"run": "zoo:conv-k2", "method": "pca", "n": 500, "seed": 3}
    job = submit(store, settings, WS_A, "projection", params, "PCA", mnist)
    Worker(store, settings, lane="view").run(once=True)
    done = store.job(job.id)
    assert done.status == DONE, done.error
    from aecore.analysis.latent import layout_points, pool_labels
    from aecore.analysis.results import ResultStore

    stored = ResultStore(store.results_dir).get_key(codes.result_key).images
    res = ResultStore(store.results_dir).get_key(done.result_key)
    idx = layout_points(dict(params, digits=None), pool_labels(mnist, "test"))
    assert np.array_equal(res.images["idx"], idx) and np.allclose(res.images["mse"], stored["mse"][idx])


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="the kernel has no autogroups")
def test_a_worker_in_its_own_session_lowers_that_sessions_cpu_share_and_never_its_parents():
    """With autogroups on, a process's nice value only counts within its session, and the pool starts each worker in
    a session of its own: it must lower the session's share too, or it takes as much CPU as the web server."""
    # (a process in the kernel's root group, as under a container's init that never started a session, reads the
    # file as empty: CI's test runner does)
    probe = ("import json, os; from aecore.engine.process import lower_priority; lower_priority(10); "
             "print(json.dumps([os.nice(0), open('/proc/self/autogroup').read()]))")
    mine = Path("/proc/self/autogroup").read_text()
    nice = min(19, os.nice(0) + 10)  # (the suite may itself run at a lower priority: nice -n 19)
    alone = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           start_new_session=True, cwd=str(ROOT))
    alone_nice, alone_group = json.loads(alone.stdout)
    assert alone_nice == nice and alone_group.split()[1:] == ["nice", "10"]  # its session's share as nice 10
    shared = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=str(ROOT))
    assert json.loads(shared.stdout) == [nice, mine]  # the parent's session untouched
    assert Path("/proc/self/autogroup").read_text() == mine
