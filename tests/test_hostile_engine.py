"""Hostile input, round 3 (issue 24, items 12-17): a full disk and a read-only store, one link holding the view lane,
the shell's workspace from a browser, workspaces minted by anyone, the teacher key, markdown in ?hide=."""

import errno
import hmac
import sqlite3
import stat

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, ready_app_test

from aecore.engine.kinds import Outcome
from aecore.engine.runner import run_job
from aecore.engine.store import (DONE, FAILED, QUEUED, RUNNING, SHELL_WORKSPACE, WARM_UP_WORKSPACE, Store, StoreError,
                                  StoreUnavailable, is_signed, new_token, read_secret)
from aecore.engine.submit import submit
from aecore.engine.worker import Worker

WS_A, WS_B, WS_C = "workspace-aaaa", "workspace-bbbb", "workspace-cccc"
EVIL_HIDE = "[Your session expired: log in again](http://evil.example/login),![t](http://evil.example/track.png)"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


class Disk:
    """The disk under the job store: while `full` (or for the next `fail` tries) every write transaction fails at its
    COMMIT with SQLite's own words, as it does when the disk has no room left for the write-ahead log."""

    def __init__(self):
        self.full, self.fail = False, 0

    def commit_fails(self) -> bool:
        if self.full:
            return True
        if self.fail > 0:
            self.fail -= 1
            return True
        return False


@pytest.fixture
def disk(monkeypatch):
    d, real = Disk(), sqlite3.connect

    class Connection(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.strip().upper() == "COMMIT" and d.commit_fails():
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *args)

    def connect(path, *args, **kw):
        if str(path).endswith("jobs.sqlite"):
            kw["factory"] = Connection
        return real(path, *args, **kw)

    monkeypatch.setattr(sqlite3, "connect", connect)
    return d


def _qp(at, key):
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def _app(page=None, **query):
    at = ready_app_test(ROOT / "app.py", 120)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "error", "warning", "info", "toast") for e in at.get(kind)]


# ---- 12. a full disk, a read-only store ------------------------------------------------------------------------
def test_a_full_disk_ends_the_job_failed_and_the_worker_lives_on(disk, store, settings):
    """The job's own write hits ENOSPC, then the store cannot record its ending either: the worker keeps trying
    (it used to die, leaving the job "running"), the job ends failed with "the disk is full", the next job runs."""
    first = store.submit(WS_A, "codes", {"run": "zoo:conv-k2"}, "fills the disk", lane="view")
    second = store.submit(WS_B, "codes", {"run": "zoo:conv-k16"}, "after it", lane="view")
    store.close()  # from here on, every connection goes through the disk

    def fill_the_disk(name):
        disk.fail = 2  # the store's own writes fail too: recording the ending, and its first retry
        raise OSError(errno.ENOSPC, "No space left on device")

    def execute(st, job, ctx):
        return run_job(st, job, ctx, fill_the_disk) if job.id == first.id else Outcome(DONE)

    assert Worker(store, settings, execute=execute).run(once=True) == 2
    job = store.job(first.id)
    assert job.status == FAILED and job.error.startswith("the disk is full"), (job.status, job.error)
    assert "bug" not in job.error and "OSError" not in job.error
    assert store.job(second.id).status == DONE
    assert store.jobs(statuses=(RUNNING,)) == []


def test_the_store_says_the_disk_is_full_when_sqlite_does(store, monkeypatch):
    """SQLite's own SQLITE_FULL (the file may not grow) is a StoreUnavailable that says so; nothing is half-written,
    reading goes on, and once there is room again the same write works."""
    store.submit(WS_A, "train", {}, "fits")
    real_open = Store._open

    def no_room(self):
        c = real_open(self)
        c.execute(f"PRAGMA max_page_count={c.execute('PRAGMA page_count').fetchone()[0]}")
        return c

    monkeypatch.setattr(Store, "_open", no_room)
    store.close()
    with pytest.raises(StoreUnavailable, match="^the disk is full: .*free some space"):
        store.submit(WS_A, "train", {"big": "x" * 200_000}, "does not fit")
    assert [j.label for j in store.jobs()] == ["fits"]
    monkeypatch.setattr(Store, "_open", real_open)
    store.close()
    assert store.submit(WS_A, "train", {"big": "x" * 200_000}, "fits now").status == QUEUED


def test_a_file_the_engine_cannot_write_is_a_plain_store_error(store, settings, monkeypatch):
    """ENOSPC while keeping an upload: the engine's door says the disk is full, and leaves no half file."""
    from pathlib import Path

    from aecore.engine.client import Engine

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    eng = Engine(settings, store)
    with pytest.raises(StoreUnavailable, match="^the disk is full"):
        eng.save_upload(b"x" * 1000, ".zip")
    assert list(store.uploads_dir.iterdir()) == []


def test_a_read_only_store_is_named_and_never_called_a_bug(store, settings, mnist, monkeypatch, capsys):
    """A read-only store file: the command line and the engine say so and whom to ask (it read "OperationalError …
    this is a bug"); reading it still works."""
    from aecore.cli import main
    from aecore.engine.client import Engine

    job = store.submit(WS_A, "train", {}, "queued before")
    ws = store.issue_workspace()
    store.close()
    real = sqlite3.connect

    def read_only(path, *args, **kw):
        if str(path).endswith("jobs.sqlite"):
            return real(f"file:{path}?mode=ro", *args, uri=True, **kw)
        return real(path, *args, **kw)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    assert main(["stop", str(job.id)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the job store (") and "is read-only" in err, err
    assert "ask the person who runs the server" in err and "bug" not in err and "OperationalError" not in err
    assert main(["jobs"]) == 0 and "queued before" in capsys.readouterr().out
    eng = Engine(settings, Store(store.home))
    with pytest.raises(StoreUnavailable, match="is read-only: .*ask the person who runs the server"):
        eng.submit(ws, "codes", {"run": "zoo:conv-k2"}, dataset=mnist)
    assert eng.job(job.id).status == QUEUED  # (reading works; eng.jobs() would start workers for this home)


def test_pages_open_and_say_so_when_the_disk_is_full(disk, tiny):
    """Every page used to show Streamlit's crash screen: now they open, say the disk is full, and a Train click
    says it too."""
    from app_pages.kit import session

    eng = session.engine()
    disk.full = True
    eng._store.close()  # the engine's next connections go through the full disk
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # (no rerun: the warning is in this run)
        assert not at.exception, [e.value for e in at.exception]
        assert any("the disk is full" in w.value for w in at.warning), _texts(at)
        at.switch_page("app_pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        at.selectbox(key="model").set_value("dense").run()
        at.number_input(key="epochs").set_value(1).run()
        next(b for b in at.button if b.label == "▶ Train").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("the disk is full" in e.value for e in at.error), _texts(at)
        assert not any("bug" in t or "Traceback" in t for t in _texts(at))
    finally:
        disk.full = False
        eng._store.close()


def test_a_store_that_cannot_be_opened_is_said_plainly_on_the_page(tmp_path):
    """A data home that cannot even be made (here: a file where its folder should be): the page says so and stops,
    instead of Streamlit's crash screen."""
    from aecore.settings import current, use
    from app_pages.kit import session

    (tmp_path / "not-a-folder").write_text("")
    prev = use(current().with_(home=str(tmp_path / "not-a-folder" / "home")))
    session._engine.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error] == [e.value for e in at.error if "AE Lab cannot open its job store" in e.value]
        assert at.error and "could not read or write" in at.error[0].value and "Not a directory" in at.error[0].value
    finally:
        use(prev)
        session._engine.clear()  # the next test opens the engine of the tests' own home again


# ---- 13. a long projection never holds the view lane -----------------------------------------------------------
def test_a_long_projection_goes_to_the_training_lane_and_the_view_worker_stays_free(store, settings, mnist):
    """A t-SNE of 20,000 points (cost 240,000, over the 125,000 of view_max_cost) asked first: the view worker runs
    another workspace's short job and never takes the long one; a training worker does."""
    proj = {"run": "zoo:conv-k2", "method": "tsne", "n": 20000, "source": "all", "seed": 0, "digits": None,
            "perplexity": 30.0, "n_neighbors": 15, "min_dist": 0.1}
    long = submit(store, settings, WS_A, "projection", proj, "a long t-SNE", mnist)
    short = submit(store, settings, WS_B, "codes", {"run": "zoo:conv-k16"}, "codes", mnist)
    assert long.cost == 240_000 > settings.view_max_cost and (long.lane, short.lane) == ("train", "view")
    ran = []
    view = Worker(store, settings, lane="view", execute=lambda st, job, ctx: ran.append(job.id) or Outcome(DONE))
    view.run(once=True)
    assert ran == [short.id] and store.job(long.id).status == QUEUED
    assert store.claim("w-training").id == long.id  # a training worker takes it, in its round robin


def test_view_jobs_take_turns_across_workspaces_and_each_workspace_has_a_cap(store):
    for ws, kind in ((WS_A, "codes"), (WS_A, "probe"), (WS_A, "anomaly"), (WS_B, "codes"), (WS_C, "codes")):
        store.submit(ws, kind, {}, f"{kind} of {ws}", lane="view", view_per_workspace=3)
    store.submit(WARM_UP_WORKSPACE, "codes", {}, "warm-up", lane="view")
    assert [j.workspace for j in store.queue_order()] == [WS_A, WS_B, WS_C, WS_A, WS_A, WARM_UP_WORKSPACE]
    with pytest.raises(StoreError, match="3 of your results are waiting"):
        store.submit(WS_A, "ae_vs_pca", {}, "a fourth", lane="view", view_per_workspace=3)
    assert store.claim("wv-1", lane="view").workspace == WS_A
    assert [j.workspace for j in store.queue_order()][:3] == [WS_B, WS_C, WS_A]  # A's next waits for B's and C's


# ---- 14. the shell's and the warm-up's workspaces from a browser -----------------------------------------------
def test_the_shell_and_warm_up_workspaces_cannot_be_opened_from_an_address(tiny, mnist):
    from aecore.engine.keep import keep_run
    from aecore.training.trainer import train
    from app_pages.kit import session

    eng, run = session.engine(), train(tiny(), mnist)
    run_id = keep_run(eng._store, SHELL_WORKSPACE, run, "teacher's live demo")
    job = eng._store.submit(SHELL_WORKSPACE, "train", {}, "teacher's queued demo")
    own = None
    try:
        for ws in (SHELL_WORKSPACE, WARM_UP_WORKSPACE):
            at = _app("app_pages/train.py", ws=ws)
            mine = at.session_state["ws"]
            assert mine != ws and eng.accepts_workspace(mine) and _qp(at, "ws") == mine
            assert not any("live demo" in e.label for e in at.expander)
            assert not any("queued demo" in t for t in _texts(at))
        own = keep_run(eng._store, mine, run, "my own demo")  # where "Your runs" would have listed the teacher's
        assert any("my own demo" in e.label for e in _app("app_pages/train.py", ws=mine).expander)
        for action in (lambda: eng.delete_run(run_id, SHELL_WORKSPACE), lambda: eng.stop(job.id, SHELL_WORKSPACE),
                       lambda: eng.rename_run(run_id, "mine now", SHELL_WORKSPACE),
                       lambda: eng.share_run(run_id, False, SHELL_WORKSPACE), lambda: eng.pause(job.id, SHELL_WORKSPACE)):
            with pytest.raises(StoreError, match="belongs to the server"):
                action()
        assert eng.run_entry(run_id).name == "teacher's live demo"
        assert not eng.job(job.id).stop and "stopped" not in eng.job(job.id).error  # (a worker may have taken it)
    finally:
        eng._store.request_stop(job.id)
        eng._store.delete_run(run_id)
        if own:
            eng._store.delete_run(own)


# ---- 15. workspaces are issued by the server ------------------------------------------------------------------
def test_workspace_ids_are_signed_with_a_secret_kept_in_the_data_home(home):
    store = Store(home)
    ws = store.issue_workspace("ip:198.51.100.7")
    secret = home / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    kept = secret.read_bytes()
    again = Store(home)  # a server restart: same secret, the link still works
    assert again.issued(ws) and secret.read_bytes() == kept and read_secret(home) == kept.strip()
    assert again.issued(new_token(home))
    forged = [ws[:16] + ("A" if ws[16] != "A" else "B") + ws[17:], "Zx9-made-up-by-a-script-0001", ws[:16],
              SHELL_WORKSPACE, WARM_UP_WORKSPACE, "x" * 32, ws + "x"]
    assert not any(again.issued(f) for f in forged)
    assert not is_signed(ws, b"another server's secret")


def test_a_made_up_workspace_gets_a_fresh_one_and_an_issued_link_keeps_working():
    at = _app(ws="made-up-by-a-script-0001")
    mine = at.session_state["ws"]
    assert mine != "made-up-by-a-script-0001" and _qp(at, "ws") == mine
    again = _app(ws=mine)  # a reload, or the bookmark the next day
    assert again.session_state["ws"] == mine


def test_one_client_gets_a_limited_number_of_new_workspaces_and_of_waiting_jobs(store):
    client = "ip:203.0.113.9"
    mine = [store.issue_workspace(client, per_hour=3) for _ in range(3)]
    with pytest.raises(StoreError, match="new workspaces in the last hour"):
        store.issue_workspace(client, per_hour=3)
    other = store.issue_workspace("ip:203.0.113.10", per_hour=3)  # another student is not held up
    for ws in mine[:2]:
        store.submit(ws, "train", {}, "mine", per_client=3, per_workspace=2)
    store.submit(mine[2], "codes", {}, "mine", per_client=3, lane="view")
    with pytest.raises(StoreError, match="3 jobs from your computer wait in the queue"):
        store.submit(mine[2], "train", {}, "one too many", per_client=3)
    assert store.submit(other, "train", {}, "theirs", per_client=3).status == QUEUED


def test_the_cap_on_new_workspaces_reads_plainly_in_the_app(monkeypatch):
    from app_pages.kit import session

    eng = session.engine()
    monkeypatch.setattr(session, "client", lambda: "ip:192.0.2.44")
    monkeypatch.setattr(eng.settings, "client_workspaces", 1)
    first = _app()
    assert eng.accepts_workspace(first.session_state["ws"])
    second = _app()  # a script asking for fresh workspaces from the same address
    assert any("new workspaces in the last hour" in e.value for e in second.error), _texts(second)
    assert "ws" not in second.session_state
    back = _app(ws=first.session_state["ws"])  # the first one's own link still opens
    assert back.session_state["ws"] == first.session_state["ws"]


# ---- 16. the teacher key -------------------------------------------------------------------------------------
def test_the_teacher_key_is_compared_in_constant_time_and_leaves_the_address(monkeypatch):
    from app_pages.kit import session

    eng = session.engine()
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    monkeypatch.setattr(eng.settings, "teacher_key", "let-me-in-please")
    at = _app(teacher="let-me-in-please", present="1")
    assert (b"let-me-in-please", b"let-me-in-please") in compared
    assert _qp(at, "teacher") is None and at.session_state["teacher"]
    links = at.get("page_link")
    out = next(p for p in links if p.proto.label == "Leave presenter mode")
    assert "let-me-in" not in out.proto.query_string and "present" not in out.proto.query_string
    assert not any("let-me-in" in p.proto.query_string for p in links)
    at.switch_page("app_pages/teacher.py").run()  # the session stays a teacher's without the key in the address
    assert not at.exception and at.title[0].value == "Teacher view" and not at.error


def test_a_wrong_teacher_key_gets_the_apps_own_message(monkeypatch):
    from app_pages.kit import session

    monkeypatch.setattr(session.engine().settings, "teacher_key", "let-me-in-please")
    at = _app(teacher="wrong")
    at.switch_page("app_pages/teacher.py").run()
    assert not at.exception
    assert at.title[0].value == "Teacher view" and any("needs the teacher key" in e.value for e in at.error)
    assert _qp(at, "teacher") is None


# ---- 17. ?hide= is never markdown and never travels ------------------------------------------------------------
def test_unknown_hide_names_are_dropped_never_shown_and_never_carried_into_links():
    at = _app("app_pages/lessons.py", hide=EVIL_HIDE + ",sidebar")
    assert not any("evil" in t for t in _texts(at)), [t for t in _texts(at) if "evil" in t]
    assert _qp(at, "hide") == "sidebar"
    starts = [p.proto.query_string for p in at.get("page_link") if p.proto.label == "Start"]
    assert starts and all("evil" not in q and "hide=sidebar" in q for q in starts)

    at = _app(lesson="latent-plane", step="1", hide=EVIL_HIDE, present="<b>x</b>")
    assert _qp(at, "hide") is None and _qp(at, "present") is None
    assert not any("evil" in t for t in _texts(at))
    nxt = [p.proto.query_string for p in at.get("page_link") if p.proto.label == "Next"]
    assert nxt and all("evil" not in q and "hide" not in q for q in nxt)
