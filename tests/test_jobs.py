"""The shared job runner: bounded workers, a queue with places, per-session stop, reaping."""

import threading
import time

import pytest

from aecore.jobs import DONE, DIVERGED, FAILED, QUEUED, RUNNING, STOPPED, JobError, JobRunner, RunnerSettings, train_job


def wait(pred, timeout=20):
    t = time.time()
    while not pred():
        assert time.time() - t < timeout, "timed out"
        time.sleep(0.01)


def blocker(release: threading.Event):
    def fn(ctx):
        while not release.is_set() and not ctx.stop.is_set():
            time.sleep(0.01)
        return "ok"

    return fn


def test_queue_places_and_one_worker():
    r = JobRunner(RunnerSettings(workers=1, per_owner=5))
    go = threading.Event()
    a = r.submit("alice", "a", blocker(go))
    b = r.submit("bob", "b", blocker(go))
    c = r.submit("carol", "c", blocker(go))
    wait(lambda: a.status == RUNNING)
    assert b.status == QUEUED and r.position(b) == 1 and r.position(c) == 2
    assert r.counts() == {"queued": 2, "running": 1, "workers": 1}
    go.set()
    wait(lambda: c.status == DONE)
    assert a.result == "ok" and r.position(c) == 0
    r.shutdown()


def test_sessions_see_and_stop_only_their_own_jobs():
    r = JobRunner(RunnerSettings(workers=1))
    go = threading.Event()
    a = r.submit("alice", "a", blocker(go))
    b = r.submit("bob", "b", blocker(go))
    assert [j.id for j in r.jobs("alice")] == [a.id]
    with pytest.raises(JobError, match="no job"):
        r.stop(a.id, "bob")
    r.stop(b.id, "bob")  # queued: dropped at once
    assert b.status == STOPPED
    wait(lambda: a.status == RUNNING)
    r.stop(a.id, "alice")
    wait(lambda: a.status == STOPPED)
    r.shutdown()


def test_limits_per_session_and_queue():
    r = JobRunner(RunnerSettings(workers=1, per_owner=1, max_queue=1))
    go = threading.Event()
    r.submit("alice", "a", blocker(go))
    with pytest.raises(JobError, match="already have 1"):
        r.submit("alice", "again", blocker(go))
    wait(lambda: r.counts()["running"] == 1)
    r.submit("bob", "b", blocker(go))
    with pytest.raises(JobError, match="queue is full"):
        r.submit("carol", "c", blocker(go))
    go.set()
    r.shutdown()


def test_abandoned_sessions_jobs_are_stopped():
    r = JobRunner(RunnerSettings(workers=1, abandon_after_s=0.3))
    never = threading.Event()
    a = r.submit("ghost", "a", blocker(never))
    wait(lambda: a.status == STOPPED, timeout=10)
    assert "went away" in a.error or a.stop_event.is_set()
    r.shutdown()


def test_errors_are_reported_not_raised(mnist):
    from aecore.config import TrainConfig

    r = JobRunner(RunnerSettings(workers=2))
    bad = r.submit("u", "bad", train_job(TrainConfig(model="dense", latent=0), mnist))
    boom = r.submit("v", "boom", lambda ctx: 1 / 0)
    wait(lambda: bad.status == FAILED and boom.status == FAILED)
    assert "latent size" in bad.error and "internal error" in boom.error
    div = r.submit("w", "nan", train_job(TrainConfig(model="linear", out_act="none", optimizer="sgd", lr=9.0, epochs=2, limit=600, batch_size=50, device="cpu"), mnist))
    wait(lambda: div.status == DIVERGED)
    assert div.result is not None and "diverged" in div.error
    r.shutdown()


def test_training_job_reports_progress_and_returns_run(mnist, tiny):
    r = JobRunner(RunnerSettings(workers=1))
    j = r.submit("u", "tiny", train_job(tiny(epochs=2), mnist))
    wait(lambda: j.status == DONE)
    assert len(j.epochs) == 2 and j.progress.fraction == pytest.approx(1.0)
    assert j.result.status == "done" and j.fn is None
    r.shutdown()


def test_settings_from_environment():
    s = RunnerSettings.from_env({"AELAB_WORKERS": "3", "AELAB_ABANDON_S": "9.5"})
    assert s.workers == 3 and s.abandon_after_s == 9.5
    with pytest.raises(JobError, match="AELAB_WORKERS"):
        RunnerSettings.from_env({"AELAB_WORKERS": "many"})
