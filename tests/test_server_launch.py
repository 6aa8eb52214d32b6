"""The app's launcher (aelab_server.py): Streamlit's connections send at once (TCP_NODELAY), as asyncio's own do."""

import asyncio
import socket
import sys

import aelab_server


def _listening(proto: int = 0) -> socket.socket:
    """A bound, listening, non-blocking socket made as Streamlit 1.67 makes its own (the protocol left at 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _nodelay_of_accepted(sock: socket.socket) -> int:
    """TCP_NODELAY of a connection that an asyncio server on `sock` accepted (as uvicorn serves Streamlit)."""
    seen = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def go():
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(go())
    return seen[0]


def test_a_socket_bound_as_streamlit_binds_it_leaves_nagle_on_and_the_launcher_turns_it_off():
    assert _nodelay_of_accepted(_listening()) == 0  # the cause: every page run's later messages wait ~40 ms
    bound = aelab_server.tcp_bound(_listening)()
    assert bound.proto == socket.IPPROTO_TCP and not bound.getblocking()
    assert _nodelay_of_accepted(bound) == 1


def test_the_launcher_finds_streamlits_socket_binding_and_patches_it_once(monkeypatch):
    from streamlit.web.server.starlette import starlette_server

    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)  # put back after the test
    assert aelab_server.patch_streamlit()  # False: Streamlit changed how it binds; see aelab_server.py
    patched = starlette_server._bind_socket
    assert hasattr(patched, "__wrapped__")
    assert aelab_server.patch_streamlit() and starlette_server._bind_socket is patched  # not wrapped twice
    sock = patched("127.0.0.1", 0, 8)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert _nodelay_of_accepted(sock) == 1
    finally:
        sock.close()


def _parse_in_threads(parse, source: str, rounds: int) -> list[str]:
    """Parse `source` in three threads at different stack depths while every garbage collection runs Python code
    (where the interpreter lock can pass to another thread): the SystemErrors seen."""
    import gc
    import threading
    import time

    errors = []

    def handoff(phase, info):
        time.sleep(0)

    def parse_at(depth: int) -> None:
        if depth:
            return parse_at(depth - 1)
        for _ in range(rounds):
            try:
                parse(source)
            except SystemError as e:
                errors.append(str(e))
                return

    gc.callbacks.append(handoff)
    try:
        threads = [threading.Thread(target=parse_at, args=(d,)) for d in (0, 30, 60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.callbacks.remove(handoff)
    return errors


def test_page_scripts_parsed_in_many_threads_at_once_never_fail_on_the_python_releases_with_the_ast_race():
    import ast
    from pathlib import Path

    source = (Path(aelab_server.__file__).parent / "app_pages" / "train.py").read_text()
    assert _parse_in_threads(aelab_server.parsed_alone(ast.parse), source, rounds=60) == []
    assert aelab_server.AST_RACE == ((3, 11) <= sys.version_info[:3] < (3, 11, 8) or sys.version_info[:3] == (3, 12, 0))


def test_the_launcher_wraps_ast_parse_once_and_only_where_the_race_is(monkeypatch):
    import ast

    monkeypatch.setattr(ast, "parse", ast.parse)  # put back after the test
    original = ast.parse
    assert not aelab_server.patch_ast(affected=False) and ast.parse is original
    assert aelab_server.patch_ast(affected=True)
    wrapped = ast.parse
    assert wrapped is not original and ast.dump(wrapped("x = 1")) == ast.dump(original("x = 1"))
    assert aelab_server.patch_ast(affected=True) and ast.parse is wrapped  # not wrapped twice


def test_the_browsers_flags_keep_every_feature_playwright_disables_and_drop_the_hidden_address_bar_popup():
    """Chromium keeps only the last --disable-features: ours comes after Playwright's, so it must repeat all of them."""
    import re
    from pathlib import Path

    import playwright

    from browser_kit import CHROMIUM_FLAGS

    bundle = Path(playwright.__file__).parent / "driver" / "package" / "lib" / "coreBundle.js"
    listed = re.search(r"disabledFeatures = \[(.*?)\]", bundle.read_text(), re.S)
    assert listed, "Playwright's list of disabled features was not found: see scripts/appserver.py"
    theirs = set(re.findall(r'^\s*"(\w+)"', listed.group(1), re.M))
    ours = [f for f in CHROMIUM_FLAGS if f.startswith("--disable-features=")]
    assert len(ours) == 1 and len(theirs) > 10
    ours = set(ours[0].split("=", 1)[1].split(","))
    assert theirs <= ours, sorted(theirs - ours)
    assert {"WebUIOmniboxPopup", "WebUIOmniboxAimPopup"} <= ours
