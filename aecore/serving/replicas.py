"""N Streamlit servers over one data home behind HAProxy (Debian's package): sticky sessions, websockets, shared workers.

    python -m aecore serve --replicas 2 [--port 8501]      (or ./aelab app --replicas 2)

Why a proxy and sticky sessions: a Streamlit session (its widgets' state, its websocket) lives in the one server
process that served the page, so every request of a browser must reach the same replica. HAProxy inserts a cookie
naming the replica on the first response and routes on it after (the websocket upgrade carries it too); a browser
without the cookie goes to the replica with the fewest connections. Everything a student owns (workspace, jobs,
runs, results) is in the data home, so a reload that lands on another replica (a replica restarted, a cookie
cleared) finds the same workspace through the address's `ws`.

The workers belong to the data home, not to a replica: every replica's engine starts missing workers under one lock
file and counts the ones another replica has just started (aecore.engine.pool.ensure_workers), so N replicas run
the configured workers once. This process starts them before the replicas and stops them on exit.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from aecore.errors import AELabError
from aecore.serving.frontend import static_dir
from aecore.settings import ROOT, Settings

log = logging.getLogger(__name__)

PROXY_PATHS = ("haproxy", "/usr/sbin/haproxy")  # Debian: apt-get install haproxy
COOKIE = "aelab_replica"  # the cookie HAProxy routes a browser's requests on


class ReplicaError(AELabError):
    """The proxy is missing, a port is taken, or a replica did not start."""


@dataclass(frozen=True)
class ServeConfig:
    replicas: int = 2  # Streamlit server processes (1..16)
    port: int = 8501  # where students connect: the proxy's port
    address: str = "0.0.0.0"  # the proxy's address ("127.0.0.1": this machine only)
    start_timeout_s: float = 120.0  # how long a replica may take to answer its health check

    def __post_init__(self):
        if not 1 <= self.replicas <= 16:
            raise ReplicaError(f"--replicas must be 1..16, got {self.replicas}")
        if not 1 <= self.port <= 65535:
            raise ReplicaError(f"--port must be 1..65535, got {self.port}")


def find_proxy() -> str:
    """The HAProxy executable; ReplicaError saying how to install it when there is none."""
    for p in PROXY_PATHS:
        found = shutil.which(p)
        if found:
            return found
    raise ReplicaError("HAProxy is not installed: `sudo apt-get install haproxy` (./aelab app --replicas does it)")


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports for the replicas."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


PAGE_MAX_BYTES = 12_000  # HAProxy holds an answer's file in one buffer (16 KB by default): larger, the replicas serve it


def streamlit_page() -> str | None:
    """Streamlit's installed index.html (found without importing Streamlit), the page every address of the app is
    answered with; None when it is not found or too large for HAProxy to answer with."""
    static = static_dir()
    page = static / "index.html" if static else None
    if page is not None and page.stat().st_size <= PAGE_MAX_BYTES and not set('"\\') & set(str(page)):
        return str(page)
    log.warning("Streamlit's index.html was not found or is over %d bytes: the replicas serve the app's pages",
                PAGE_MAX_BYTES)
    return None


def proxy_config(cfg: ServeConfig, ports: list[int], page: str | None = None) -> str:
    """HAProxy's configuration: one frontend on cfg.port, the replicas as one backend with a sticky cookie, the app's
    files cached, and with `page` (Streamlit's index.html) the app's pages answered from HAProxy's memory."""
    servers = "\n".join(f"    server r{i + 1} 127.0.0.1:{p} check inter 2s cookie r{i + 1}" for i, p in enumerate(ports))
    # Opening any page (/, /train, /latent?ws=...) a browser first gets this one file, the same for every page: Streamlit
    # answers every address of one path segment without a dot with it (a page that does not exist too: the app then
    # says so), except its login's oauth2callback, which this app does not configure. In a class's arrival a replica
    # took 0.1-0.7 s to send it (its event loop shared with 30 sessions' first runs). The sticky cookie then comes
    # with the page's first request to a replica (its health check, before the websocket).
    pages = ("" if page is None else
             f'    http-request return status 200 content-type "text/html; charset=utf-8" hdr cache-control no-cache '
             f'file "{page}" if METH_GET {{ path_reg ^/[A-Za-z0-9_-]*$ }} !{{ path /oauth2callback }}\n')
    # Opened at a page's address (/train?...), Streamlit's browser code first checks the server as if the app lived
    # under that page (/train/_stcore/health and host-config: 404), then, 0.1 s later, at / (found). The first answer
    # is always "not found" (the app lives at /), so HAProxy gives it at once: from a replica it took as long as any
    # request in a class's arrival.
    probes = ('    http-request return status 404 content-type "text/plain; charset=utf-8" string "Not Found" '
              'hdr cache-control no-cache if { path_reg ^/[A-Za-z0-9_-]+/_stcore/(health|host-config)$ }\n')
    return f"""# written by aecore.serving.replicas: {len(ports)} AE Lab replicas
global
    maxconn 4096

defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 30s

# The app's files (scripts, styles, fonts: about 60 files, 2.3 MB, before the first page; the charts' code after it,
# plotly's 4.7 MB; all named by their hash and marked immutable) from
# HAProxy's memory after the first browser asked for them: a class opening the app at once fetched them all from
# the replicas' Python processes, beside the class's first page runs (bench/load_test.py --replicas 1: 4.5 -> 0.7 s)
cache app_files
    total-max-size 64
    max-object-size 8388608
    max-age 86400

frontend aelab
    bind {cfg.address}:{cfg.port}
    default_backend replicas

backend replicas
    balance leastconn
    cookie {COOKIE} insert indirect nocache httponly
    option httpchk GET /_stcore/health
{pages}{probes}    http-request cache-use app_files if {{ path_beg /static/ }}
    http-response cache-store app_files
{servers}
"""


def _replica_cmd(port: int) -> list[str]:
    # streamlit run, each connection sending at once (aelab_server.py: why)
    return [sys.executable, str(ROOT / "aelab_server.py"), "run", str(ROOT / "app.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def _healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


class Replicas:
    """The proxy, the replicas and the data home's workers, started together and stopped together."""

    def __init__(self, settings: Settings, cfg: ServeConfig):
        self.settings, self.cfg = settings, cfg
        self.logs = settings.home_path / "logs"
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.ports: list[int] = []

    def start(self) -> str:
        """Start everything; returns the address students open. ReplicaError (everything stopped) on failure."""
        proxy = find_proxy()
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start_workers()
            secret = secrets.token_hex(16)
            self.ports = free_ports(self.cfg.replicas)
            for i, port in enumerate(self.ports):
                # one cookie secret (Streamlit takes it only from its environment): a replica accepts the XSRF cookie
                # another one set, should a browser's cookie move (a replica restarted)
                self._spawn(f"replica {i + 1}", _replica_cmd(port), f"replica-{i + 1}.log",
                            STREAMLIT_SERVER_COOKIE_SECRET=secret)
            self._wait_healthy()
            conf = self.settings.home_path / "haproxy.cfg"
            conf.write_text(proxy_config(self.cfg, self.ports, streamlit_page()))
            self._spawn("proxy", [proxy, "-db", "-f", str(conf)], "proxy.log")
            self._wait_port()
        except BaseException:
            self.stop()
            raise
        host = "localhost" if self.cfg.address in ("0.0.0.0", "127.0.0.1") else self.cfg.address
        return f"http://{host}:{self.cfg.port}"

    def _start_workers(self) -> None:
        from aecore.engine.pool import ensure_workers
        from aecore.engine.store import Store

        ensure_workers(Store(self.settings.home), self.settings)

    def _spawn(self, name: str, cmd: list[str], log_name: str, **env: str) -> None:
        out = open(self.logs / log_name, "ab")
        p = subprocess.Popen(cmd, cwd=str(ROOT), env=self.settings.child_env(**env), stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        out.close()
        self.children.append((name, p))

    def _wait_healthy(self) -> None:
        deadline = time.time() + self.cfg.start_timeout_s
        waiting = set(self.ports)
        while waiting:
            for name, p in self.children:
                if p.poll() is not None:
                    raise ReplicaError(f"{name} exited with code {p.returncode} (see {self.logs})")
            waiting = {port for port in waiting if not _healthy(port)}
            if waiting and time.time() > deadline:
                raise ReplicaError(f"replicas on ports {sorted(waiting)} did not start in {self.cfg.start_timeout_s:.0f} s")
            time.sleep(0.3)

    def _wait_port(self) -> None:
        deadline = time.time() + 10
        while time.time() < deadline:
            name, p = self.children[-1]
            if p.poll() is not None:
                tail = (self.logs / "proxy.log").read_text(errors="replace")[-600:]
                raise ReplicaError(f"HAProxy exited (is port {self.cfg.port} taken?): {tail}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.cfg.port)) == 0:
                    return
            time.sleep(0.1)
        raise ReplicaError(f"HAProxy did not listen on port {self.cfg.port}")

    def watch(self) -> int:
        """Block until one child exits (then stop the rest) or a signal arrives; the exit code to return."""
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        try:
            while not stopping:
                for name, p in self.children:
                    if p.poll() is not None:
                        log.error("%s exited with code %s; stopping the others", name, p.returncode)
                        return 1
                time.sleep(0.5)
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the proxy, the replicas and the data home's workers (a running job is left resumable)."""
        from aecore.engine.pool import stop_workers
        from aecore.engine.store import Store

        for _, p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
        for _, p in self.children:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.children.clear()
        if (self.settings.home_path / "jobs.sqlite").exists():
            stop_workers(Store(self.settings.home), timeout_s=10)


def serve(settings: Settings, cfg: ServeConfig) -> int:
    """Start the replicas behind the proxy, say where, and run until Ctrl-C or a child exits."""
    r = Replicas(settings, cfg)
    url = r.start()
    log.info("AE Lab: %s (%d %s on %s %s behind HAProxy; logs in %s)", url, cfg.replicas,
             "replica" if cfg.replicas == 1 else "replicas", "port" if cfg.replicas == 1 else "ports",
             ", ".join(map(str, r.ports)), r.logs)
    return r.watch()
