"""A data home of a bench run's own, removed when the run ends well (kept, and named, when asked or when it failed)."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile


class ScratchHome:
    """`with ScratchHome("aelab-load-") as home:` gives a fresh folder; set `.keep = True` inside to keep it."""

    def __init__(self, prefix: str, keep: bool = False):
        self.prefix, self.keep, self.path = prefix, keep, ""

    def __enter__(self) -> "ScratchHome":
        self.path = tempfile.mkdtemp(prefix=self.prefix)
        return self

    def __exit__(self, kind, *_) -> None:
        if self.keep or kind is not None:  # a failed run's logs and jobs are what one reads next
            print(f"the run's data home is kept: {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def home_removed_at_exit(prefix: str) -> str:
    """A fresh folder, removed when the process ends (a bench whose data home only holds what it makes itself)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path
