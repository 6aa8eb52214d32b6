"""Page runs take turns: a few at a time in one server, the others waiting first come, first served."""

from __future__ import annotations

import contextlib
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


@st.cache_resource(show_spinner=False)
def _gate(at_once: int) -> threading.BoundedSemaphore:
    """One gate per server process (shared by its sessions); a semaphore wakes its waiters in the order they came."""
    return threading.BoundedSemaphore(at_once)


@contextlib.contextmanager
def turn(at_once: int, longest_wait_s: float = LONGEST_WAIT_S):
    """Run the block once fewer than `at_once` page runs of this server are running (0: at once, no turns)."""
    if at_once <= 0:
        yield
        return
    gate = _gate(at_once)
    got = gate.acquire(timeout=longest_wait_s)
    if not got:
        log.warning("a page run waited %.0f s for its turn; it goes ahead beside the others", longest_wait_s)
    try:
        yield
    finally:  # also when the run ends early: st.stop, st.rerun, a click that starts another run, an error
        if got:
            gate.release()
