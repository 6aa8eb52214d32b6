"""Start Streamlit as `streamlit run` does, with every connection sending at once (TCP_NODELAY) and, on the Python
releases that need it, page scripts parsed one at a time: python aelab_server.py run app.py …"""

from __future__ import annotations

import ast
import functools
import gc
import logging
import socket
import sys
import threading

log = logging.getLogger(__name__)

# Why: Streamlit 1.67's server binds its listening socket itself, as socket.socket(family) with the protocol left at
# 0. The connections it accepts inherit that 0, and asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
# sockets that say they are TCP, so it stays on. Then in every page run, once the first message has gone out, the
# next ones wait for the browser's delayed acknowledgement: about 40 ms on Linux, on every rerun, click and live
# box's update, before the page is complete (the same cause as uvicorn's issue #3149, for pre-bound sockets).
# Measured with bench/stclient.py on a 5-element page: 44 ms from rerun to script_finished, 4 ms with this.
# The fix gives the bound socket its protocol (the same file descriptor, a socket object that says IPPROTO_TCP),
# so every accepted connection reports it and asyncio sets TCP_NODELAY, as it does for servers it binds itself.


def tcp_bound(bind):
    """Wrap a function that returns a bound listening socket so the socket it returns says it is TCP."""

    @functools.wraps(bind)  # keeps the original as __wrapped__
    def bind_tcp(*args, **kwargs) -> socket.socket:
        sock = bind(*args, **kwargs)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM and not sock.proto:
            blocking = sock.getblocking()
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.setblocking(blocking)
        return sock

    bind_tcp.tcp_bound = True  # patch_streamlit wraps once
    return bind_tcp


def patch_streamlit() -> bool:
    """Make Streamlit's server bind TCP sockets that say so; False (and a log line) when this Streamlit has no such
    function (a later version binds its sockets another way: then nothing is changed)."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        log.warning("Streamlit's Starlette server was not found: connections keep Streamlit's own socket options")
        return False
    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None:
        log.warning("Streamlit binds its sockets another way: connections keep Streamlit's own socket options")
        return False
    if not getattr(bind, "tcp_bound", False):
        starlette_server._bind_socket = tcp_bound(bind)
    return True


# Why: CPython 3.11.0-3.11.7 and 3.12.0 keep the AST constructor's recursion depth in state every thread shares
# (CPython gh-106905; fixed in 3.11.8 and 3.12.1). The constructor is C code that keeps the interpreter lock, except
# when one of its allocations starts a garbage collection: the finalizers and weakref callbacks that runs are Python
# code, and the lock can pass to another thread there. If that thread parses too, it resets the shared depth and the
# first parse fails with `SystemError: AST constructor recursion depth mismatch` on a correct tree. Streamlit parses a
# page's script (ast.parse, for its "magic") when it is first run, and again after the last session has gone (it then
# empties its script cache); a traceback formatted on 3.11 parses as well (its ^^^ lines). Measured: one of about ten
# 30-session classes (bench/load_test.py) began with a student's page showing "This app has encountered an error",
# that SystemError in the server's log. Parsing one at a time with collection held off makes each parse run no Python
# code, so nothing can come between its start and its end.
AST_RACE = (3, 11) <= sys.version_info[:3] < (3, 11, 8) or sys.version_info[:3] == (3, 12, 0)


def parsed_alone(parse):
    """Wrap ast.parse so calls run one at a time, with garbage collection held off while one runs."""
    lock = threading.Lock()

    @functools.wraps(parse)
    def parse_alone(*args, **kwargs):
        with lock:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return parse(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    parse_alone.parsed_alone = True  # patch_ast wraps once
    return parse_alone


def patch_ast(affected: bool = AST_RACE) -> bool:
    """On the Python releases with the race, make every ast.parse in this process run alone; True when it does."""
    if affected and not getattr(ast.parse, "parsed_alone", False):
        ast.parse = parsed_alone(ast.parse)
    return bool(getattr(ast.parse, "parsed_alone", False))


def main() -> None:
    patch_ast()
    patch_streamlit()
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
