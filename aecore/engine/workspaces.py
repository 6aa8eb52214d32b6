"""Workspace ids: the server's secret, the ids it signs, the reserved workspaces, a client's cap on waiting jobs."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
from pathlib import Path

from aecore.engine.failures import StoreError
from aecore.engine.records import QUEUED

WARM_UP_WORKSPACE = "zoo-warm-up"  # where the app queues the zoo's codes at start (after anything a student asks)
SHELL_WORKSPACE = "shell-jobs"  # where jobs queued from a shell go unless told otherwise (the command line's default)
RESERVED_WORKSPACES = frozenset({WARM_UP_WORKSPACE, SHELL_WORKSPACE})  # never reachable from a browser's address
MAX_STUDENT_NAME = 40  # characters of the name a student gives for the teacher (workspaces.name)


def _random_part() -> str:
    """16 random URL-safe characters (never starting with '-', which a shell command would take for an option)."""
    token = secrets.token_urlsafe(12)
    while token.startswith("-"):
        token = secrets.token_urlsafe(12)
    return token


def _mac(secret: bytes, random_part: str) -> str:
    digest = hmac.new(secret, b"aelab-workspace:" + random_part.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:16]  # 96 bits


def signed_token(secret: bytes) -> str:
    """A new workspace id the server will accept: 16 random characters and their HMAC under the server's secret
    (32 URL-safe characters)."""
    r = _random_part()
    return r + _mac(secret, r)


def is_signed(ws: str | None, secret: bytes) -> bool:
    """Whether `ws` is a workspace id this server issued (its HMAC checks out; compared in constant time)."""
    if not isinstance(ws, str) or len(ws) != 32 or not valid_token(ws):
        return False
    return hmac.compare_digest(_mac(secret, ws[:16]), ws[16:])


def read_secret(home: str | os.PathLike) -> bytes:
    """The server's secret that signs workspace ids: `<home>/secret` (mode 0600), made once, the first time it is
    needed (so a link the server issued keeps working after a restart). Two processes making it at once agree: it
    is written beside and linked into place, which only the first one does."""
    path = Path(home) / "secret"
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text().strip()
        if len(text) >= 32:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return text.encode()
    tmp = path.with_name(f".secret-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:  # made by another process meanwhile, or unusable (empty): then ours replaces it
            if len(path.read_text().strip()) < 32:
                os.replace(tmp, path)
        return path.read_text().strip().encode()
    finally:
        tmp.unlink(missing_ok=True)


def new_token(home: str | os.PathLike | None = None) -> str:
    """A new workspace id signed with the secret of the data home `home` (None: this process's settings' home), so
    the server accepts it in an address (?ws=)."""
    if home is None:
        from aecore.settings import current

        home = current().home
    return signed_token(read_secret(home))


def valid_token(ws: str | None) -> bool:
    """Whether `ws` can name a workspace in the store (8-64 letters, digits, '-' or '_'); a browser's address must
    also hold one the server signed (see is_signed)."""
    return isinstance(ws, str) and 8 <= len(ws) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in ws)


def _check_client(c: sqlite3.Connection, workspace: str, per_client: int | None) -> None:
    """StoreError when the client the workspace was issued to has `per_client` jobs waiting over all its workspaces
    (one person with many workspaces cannot fill the class's queue); workspaces made elsewhere have no client."""
    if not per_client:
        return
    row = c.execute("SELECT client FROM workspaces WHERE id=?", (workspace,)).fetchone()
    if row is None or not row[0]:
        return
    waiting = c.execute("SELECT COUNT(*) FROM jobs WHERE status=? AND workspace IN "
                        "(SELECT id FROM workspaces WHERE client=?)", (QUEUED, row[0])).fetchone()[0]
    if waiting >= per_client:
        raise StoreError(f"{waiting} jobs from your computer wait in the queue already, over all its workspaces (the "
                         f"limit is {per_client}, so that everyone in the class gets a turn): wait for some to start")
