"""Page runs take turns: a few at a time in one server, a student's first page first, the rest first come, first served."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading

import streamlit as st

log = logging.getLogger(__name__)

# A run that waited this long goes ahead beside the others: one stuck run (a slow disk) never stops the class.
LONGEST_WAIT_S = 10.0

# Why: Streamlit runs each session's script in a thread of one Python process, so a class's page runs share one
# interpreter lock. Thirty runs asked for at once (a class clicking together) then all advance together and all end
# together, after the time of all thirty: every student waits for the slowest. Taking turns, the first run ends
# after its own time, the second after two, and so on: the same work, half the median wait
# (`bench/load_test.py --sessions 30`: page p50 1.0 -> 0.3-0.5 s). Two at once, not one: while one run waits on
# the disk (the job store) or in a library that lets the lock go (torch, PNG encoding), another goes on.
# Fragments (the live progress boxes) are short and never wait for a turn.
#
# A session's first page goes before the reruns of sessions that already show one: its student looks at an empty
# tab, the others at their page with a running indicator. In a class's arrival a browser asks for its first page
# a second or two after the link was opened (its scripts load first), behind the clicks of everyone who was faster.


class Gate:
    """At most `at_once` runs inside; a waiting first page goes before every waiting rerun, each kind in the order
    they came. A leaving run hands its place straight to the next one, so nobody overtakes a waiter."""

    def __init__(self, at_once: int):
        self.at_once, self.inside = at_once, 0
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, threading.Event]] = []  # a heap of (0 first page / 1 rerun, order, wake)
        self._order = itertools.count()

    def acquire(self, first: bool, timeout: float) -> bool:
        """True once inside; False after `timeout` seconds of waiting (then the caller is not inside)."""
        with self._lock:
            if self.inside < self.at_once and not self._waiting:
                self.inside += 1
                return True
            me = (0 if first else 1, next(self._order), threading.Event())
            heapq.heappush(self._waiting, me)
        if me[2].wait(timeout):
            return True
        with self._lock:
            if me[2].is_set():  # handed a place just as the wait ran out
                return True
            self._waiting.remove(me)
            heapq.heapify(self._waiting)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()  # its place passes on: `inside` stays as it is
            else:
                self.inside -= 1


@st.cache_resource(show_spinner=False)
def _gate(at_once: int) -> Gate:
    """One gate per server process, shared by its sessions."""
    return Gate(at_once)


@contextlib.contextmanager
def turn(at_once: int, longest_wait_s: float = LONGEST_WAIT_S, first: bool = False):
    """Run the block once fewer than `at_once` page runs of this server are running (0: at once, no turns); `first`:
    the session's first page, which goes before waiting reruns."""
    if at_once <= 0:
        yield
        return
    gate = _gate(at_once)
    got = gate.acquire(first, longest_wait_s)
    if not got:
        log.warning("a page run waited %.0f s for its turn; it goes ahead beside the others", longest_wait_s)
    try:
        yield
    finally:  # also when the run ends early: st.stop, st.rerun, a click that starts another run, an error
        if got:
            gate.release()
