"""The order workers take queued jobs in: view jobs first, round robin over workspaces, the zoo's warm-up last."""

from __future__ import annotations

import sqlite3

from aecore.engine.records import RUNNING, Waiting
from aecore.engine.workspaces import WARM_UP_WORKSPACE


def _running_counts(c: sqlite3.Connection) -> dict[tuple[str, bool], int]:
    """Running jobs per (workspace, in the view lane)."""
    return {(r[0], r[1] == "view"): r[2] for r in c.execute(
        "SELECT workspace, lane, COUNT(*) FROM jobs WHERE status=? GROUP BY workspace, lane", (RUNNING,)).fetchall()}


def _fair_order(queued: list[Waiting], running: dict[tuple[str, bool], int]) -> list[Waiting]:
    """Short view jobs a page waits for first, then the rest; within each, round robin over workspaces (a
    workspace's n-th waiting job goes after every other workspace's (n-1)-th, counting its running jobs of that lane
    first), oldest first. The start-up warm-up of the zoo's codes comes after every student's view job."""
    seen: dict[tuple[str, bool], int] = {}
    keyed = []
    for j in queued:  # oldest first
        view = j.lane == "view"
        slot = (j.workspace, view)
        n = seen.get(slot, running.get(slot, 0))
        seen[slot] = n + 1
        keyed.append(((0 if view else 1, int(view and j.workspace == WARM_UP_WORKSPACE), n, j.submitted, j.id), j))
    return [j for _, j in sorted(keyed, key=lambda t: t[0])]
