"""The two ways work ends early: a request AE Lab refuses (with a message for a person) and a stop on request."""

from __future__ import annotations


class AELabError(ValueError):
    """Bad input or a request that cannot be met; the message says what to do. Anything else is a bug."""


class Stopped(Exception):
    """Work ended early on request (Stop, Pause or the time limit) where there is nothing partial to keep."""


def stop_point(stop) -> None:
    """Raise Stopped when `stop` (anything with is_set(), e.g. a job's context) says so; None never stops."""
    if stop is not None and stop.is_set():
        raise Stopped()
