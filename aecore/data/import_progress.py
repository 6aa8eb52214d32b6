"""An import's progress between images: on_progress called at most every PROGRESS_EVERY_S."""

from __future__ import annotations

import time
from typing import Callable

PROGRESS_EVERY_S = 0.1  # on_progress is called at least this often during the phases that are not per image


class Ticker:
    """on_progress for the phases that are not one image each (headers, checks, writing): called at most every
    PROGRESS_EVERY_S, so that the worker's Stop and time limit are looked at there too, without a report per step."""

    def __init__(self, on_progress: Callable[[int, int], None] | None):
        self.on_progress, self.last = on_progress, 0.0

    def __call__(self, done: int, total: int, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.on_progress(done, total)
