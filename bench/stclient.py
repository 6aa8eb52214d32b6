"""A light Streamlit client for load tests: speaks the app's own websocket protocol (protobuf), no browser."""

from __future__ import annotations

import asyncio
import collections
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates


@dataclass
class RunResult:
    """One script run as the client saw it."""

    seconds: float  # from sending the rerun request to the server's script_finished
    status: int  # ForwardMsg.ScriptFinishedStatus
    errors: list = field(default_factory=list)  # exception elements the run drew


class LightSession:
    """One browser session without the browser: page runs, button clicks and fragment polling."""

    def __init__(self, url: str):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.ws = None
        self.buttons: dict[str, str] = {}  # label -> widget id, from the latest runs
        self.texts: list[str] = []  # markdown / captions / alerts of the latest run
        self.errors: list[str] = []
        self.fragments: dict[str, float] = {}  # fragment id -> polling interval the server asked for
        self.button_fragments: dict[str, str] = {}  # button label -> the fragment that drew it ("" for none)
        self.received: collections.Counter = collections.Counter()  # messages from the server, by kind
        self.query = ""
        self._finished: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self.closed = False

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=60)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.closed = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                kind = msg.WhichOneof("type")
                self.received[kind] += 1
                if kind == "delta":
                    self._on_delta(msg.delta)
                elif kind == "auto_rerun":
                    self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
                elif kind == "stop_auto_rerun":
                    self.fragments.clear()
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "script_finished":
                    await self._finished.put(msg.script_finished)
        except (websockets.ConnectionClosed, asyncio.CancelledError):
            pass
        finally:
            self.closed = True
            await self._finished.put(-1)

    def _on_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        el = delta.new_element
        t = el.WhichOneof("type")
        if t == "button":
            self.buttons[el.button.label] = el.button.id
            self.button_fragments[el.button.label] = delta.fragment_id  # "" outside a fragment
        elif t == "exception":
            self.errors.append(f"{el.exception.type}: {el.exception.message}")
        elif t == "alert":
            self.texts.append(el.alert.body)
            if el.alert.format == 1:  # ERROR
                self.errors.append(el.alert.body)
        elif t == "markdown":
            self.texts.append(el.markdown.body)
        elif t == "progress":
            self.texts.append(el.progress.text)

    async def run(self, page: str = "", query: str | None = None, click: str | None = None, fragment_id: str = "",
                  timeout: float = 120.0) -> RunResult:
        """Ask the server to run the script (a page, a button click or a fragment) and wait until it finished."""
        if query is not None:
            self.query = query
        states = WidgetStates()
        polled = bool(fragment_id)
        if click is not None:  # a button drawn by a fragment reruns that fragment, as in the browser
            states.widgets.append(WidgetState(id=self.buttons[click], trigger_value=True))
            fragment_id = fragment_id or self.button_fragments.get(click, "")
        msg = BackMsg(rerun_script=ClientState(query_string=self.query, page_name=page, widget_states=states,
                                               fragment_id=fragment_id, is_auto_rerun=polled))
        if not fragment_id:  # a full run: the page registers its polling fragments again
            self.texts, self.errors, self.fragments = [], [], {}
        while not self._finished.empty():
            self._finished.get_nowait()
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            status = await asyncio.wait_for(self._finished.get(), timeout)
            if status == -1:
                raise ConnectionError("the server closed the session")
            if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return RunResult(time.perf_counter() - t0, int(status), list(self.errors))


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> bytes:
    """One HTTP/1.1 GET on a kept-alive connection; the body (Content-Length or chunked). On asyncio's own streams:
    the requirements have no async HTTP client, and http.client in threads would go through asyncio's default
    executor (6 threads here), so thirty sessions' 180 connections would queue in the bench, not at the server."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n".encode())
    await writer.drain()
    status = (await reader.readline()).decode("latin-1")
    if " 200 " not in status:
        raise ConnectionError(f"GET {path}: {status.strip() or 'no answer'}")
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return await reader.readexactly(length)
    body = b""
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return body


async def fetch_app_files(url: str, connections: int = 6) -> tuple[int, int]:
    """What a browser with an empty cache fetches before it opens the app's websocket: the page and every file it
    names (the app's scripts, styles and fonts), over `connections` kept-alive connections as a browser does.
    Returns (files, bytes). The scripts' own lazy imports (each widget's code, fetched after the first run) are not
    fetched: a browser's first page fetches about a third more files than these."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        page = await _get(reader, writer, f"{host}:{port}", "/")
    finally:
        writer.close()
    files = list(dict.fromkeys(re.findall(r'(?:src|href)="\./(static/[^"]+)"', page.decode(errors="replace"))))
    queue: asyncio.Queue = asyncio.Queue()
    for f in files:
        queue.put_nowait(f)
    total = len(page)

    async def connection() -> None:
        nonlocal total
        r, w = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                body = await _get(r, w, f"{host}:{port}", "/" + queue.get_nowait())
                total += len(body)
        finally:
            w.close()

    await asyncio.gather(*(connection() for _ in range(min(connections, len(files)))))
    return len(files) + 1, total
