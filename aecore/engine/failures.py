"""What the job store refuses (StoreError), and its disk or database failures in plain words (StoreUnavailable)."""

from __future__ import annotations

import errno
import os
import sqlite3

from aecore.errors import AELabError


class StoreError(AELabError):
    """A request the store refuses: not your job or run, a full queue, a limit reached, an unknown id."""


class StoreUnavailable(StoreError):
    """The store itself cannot do it: the disk is full, the store is read-only, busy or damaged. The message says
    what happened and whom to ask; trying again once that is mended works."""


_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_BUSY, _SQLITE_LOCKED = 13, 8, 5, 6
_SQLITE_CANTOPEN, _SQLITE_CORRUPT, _SQLITE_NOTADB, _SQLITE_PERM, _SQLITE_AUTH = 14, 11, 26, 3, 23


def unavailable(e: BaseException, where: str | os.PathLike) -> StoreUnavailable:
    """A failure of the disk or of SQLite (sqlite3.Error, OSError) as a StoreUnavailable with a message for a person.

    `where`: the file or folder it happened to (named in the message: the person who runs the server needs it)."""
    if isinstance(e, StoreUnavailable):
        return e
    text = str(e).lower()
    code = getattr(e, "sqlite_errorcode", None)
    code = code & 0xFF if isinstance(code, int) else None  # extended result codes keep the primary one in the low byte
    if isinstance(e, OSError):
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        readonly = e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        busy = damaged = False
    else:
        full = code == _SQLITE_FULL or "disk is full" in text
        readonly = code in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_AUTH) or "readonly" in text or "read-only" in text
        busy = code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text
        damaged = code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text or "not a database" in text
        if not (full or readonly or busy or damaged) and (code == _SQLITE_CANTOPEN or "unable to open" in text):
            return StoreUnavailable(f"the job store ({where}) cannot be opened ({e}): is its folder there and "
                                    "writable? Ask the person who runs the server")
    if full:
        return StoreUnavailable(f"the disk is full: the server cannot save anything in {where}; ask the person who "
                                "runs the server to free some space, then try again")
    if readonly:
        return StoreUnavailable(f"the job store ({where}) is read-only: nothing can be saved or queued; ask the person "
                                "who runs the server")
    if busy:
        return StoreUnavailable(f"the job store ({where}) is busy (another program holds it); try again in a minute")
    if damaged:
        return StoreUnavailable(f"the job store ({where}) is damaged ({e}); ask the person who runs the server")
    if isinstance(e, OSError):
        return StoreUnavailable(f"the server could not read or write {where} ({e.strerror or type(e).__name__}); "
                                "ask the person who runs the server")
    return StoreUnavailable(f"the job store ({where}) cannot be used ({e}); ask the person who runs the server")


def _store_failure(e: BaseException) -> bool:
    """A failure of the database or the disk (translated into StoreUnavailable), not a mistake in a query (a bug)."""
    return isinstance(e, (sqlite3.OperationalError, OSError)) or type(e) is sqlite3.DatabaseError
