"""Page runs take turns (app_pages/kit/turns.py): a few at once, the others in the order they came, none stuck."""

import threading
import time

from app_pages.kit import turns


def _runs(at_once: int, names: list[str], hold: threading.Event, longest_wait_s: float = 10.0, holders: int = 1,
          first: tuple[str, ...] = ()):
    """Start one thread per name, in order, each taking a turn and noting when it got in; the first `holders` hold
    their turn until `hold` is set; the names in `first` are a session's first page."""
    entered, threads = [], []

    def run(name):
        with turns.turn(at_once, longest_wait_s, first=name in first):
            entered.append((name, time.monotonic()))
            if name in names[:holders]:
                hold.wait(5)

    for name in names:
        t = threading.Thread(target=run, args=(name,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # each asks after the one before
    return entered, threads


def test_one_at_a_time_in_the_order_they_came():
    turns._gate.clear()
    hold = threading.Event()
    entered, threads = _runs(1, ["a", "b", "c"], hold)
    time.sleep(0.2)
    assert [n for n, _ in entered] == ["a"]  # b and c wait while a runs
    released = time.monotonic()
    hold.set()
    for t in threads:
        t.join(5)
    assert [n for n, _ in entered] == ["a", "b", "c"]
    assert entered[1][1] >= released


def test_two_at_once():
    turns._gate.clear()
    hold = threading.Event()
    entered, threads = _runs(2, ["a", "b", "c"], hold, holders=2)
    time.sleep(0.2)
    assert [n for n, _ in entered] == ["a", "b"]  # two run side by side, the third waits
    hold.set()
    for t in threads:
        t.join(5)
    assert [n for n, _ in entered] == ["a", "b", "c"]


def test_a_sessions_first_page_goes_before_the_reruns_that_came_earlier():
    """A student who just opened the link looks at an empty tab: their first page goes before the reruns already
    waiting (the others show their page meanwhile), first pages among themselves in the order they came."""
    turns._gate.clear()
    hold = threading.Event()
    entered, threads = _runs(1, ["running", "click 1", "click 2", "new tab 1", "click 3", "new tab 2"], hold,
                             first=("new tab 1", "new tab 2"))
    time.sleep(0.2)
    assert [n for n, _ in entered] == ["running"]
    hold.set()
    for t in threads:
        t.join(5)
    assert [n for n, _ in entered] == ["running", "new tab 1", "new tab 2", "click 1", "click 2", "click 3"]


def test_a_place_handed_on_as_a_wait_runs_out_is_kept_and_never_lost():
    """Each run that got in leaves its place to exactly one other: however the waits end, never more than `at_once`
    inside and never a place lost (the gate would shrink and the class slow down)."""
    gate = turns.Gate(2)
    inside, most, lock = [0], [0], threading.Lock()

    def run(i):
        if gate.acquire(first=i % 3 == 0, timeout=0.002 if i % 4 == 0 else 5):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.001)
            with lock:
                inside[0] -= 1
            gate.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] <= 2 and gate.inside == 0 and not gate._waiting


def test_a_stuck_run_holds_the_others_back_only_so_long(caplog):
    turns._gate.clear()
    hold = threading.Event()
    t0 = time.monotonic()
    entered, threads = _runs(1, ["stuck", "next"], hold, longest_wait_s=0.5)
    threads[1].join(5)
    assert [n for n, _ in entered] == ["stuck", "next"] and entered[1][1] - t0 < 2.0  # went ahead after 0.5 s
    assert "waited" in caplog.text
    hold.set()
    threads[0].join(5)


def test_no_turns_when_switched_off():
    hold = threading.Event()
    entered, threads = _runs(0, ["a", "b"], hold)
    time.sleep(0.2)
    assert [n for n, _ in entered] == ["a", "b"]
    hold.set()
    for t in threads:
        t.join(5)
