"""The production stack under test, and the slow clients that attack it (also used by bench/slow_clients.py).

`ProductionStack` builds a throw-away database with the real migrations, seeds the demo site with
`flask demo`, and runs `deploy/stack.sh` (nginx from deploy/nginx.conf in front of gunicorn from
deploy/gunicorn.conf.py) with MAJLIS_ENV=production on a free loopback port. `SlowClients` keeps N
connections open that each send one byte a second (reopened when the server drops them);
`probe` times one GET on a fresh connection, as a load balancer's health check does.
Everything stays on 127.0.0.0/8.
"""
from __future__ import annotations

import heapq
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.netfaults import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_NGINX = os.environ.get("MAJLIS_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"  # as deploy/stack.sh finds it
NGINX = _NGINX if os.access(_NGINX, os.X_OK) else None



@dataclass
class Response:
    """What one raw HTTP exchange gave back."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def request(addr: tuple[str, int], raw: bytes, timeout: float = 5.0, source: str | None = None) -> Response:
    """Send raw bytes on a fresh connection and read one answer (by its Content-Length, else until closed)."""
    start = time.perf_counter()
    with socket.create_connection(addr, timeout=timeout, source_address=(source, 0) if source else None) as s:
        s.sendall(raw)
        data = b""
        headers: dict[str, str] | None = None
        while True:
            chunk = s.recv(65536)
            data += chunk
            if headers is None and b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                if not lines[0].startswith("HTTP/"):
                    raise ConnectionError(f"no HTTP answer: {data[:80]!r}")
                status = int(lines[0].split()[1])
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name, value = name.strip().lower(), value.strip()
                    # A field sent twice (nginx adds its own Vary) is one list, as HTTP reads it.
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if headers is not None:
                body = data.partition(b"\r\n\r\n")[2]
                length = int(headers.get("content-length", -1))
                if 0 <= length <= len(body) or raw.startswith(b"HEAD "):
                    body = body[:length] if length >= 0 else body
                    break
            if not chunk:
                if headers is None:
                    raise ConnectionError(f"no HTTP answer: {data[:80]!r}")
                break
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Response(status, headers, body, time.perf_counter() - start)


def _unchunk(data: bytes) -> bytes:
    """The body of a chunked answer (nginx sends a compressed one so): the chunks, joined."""
    out, rest = b"", data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


def get(addr: tuple[str, int], path: str, headers: dict[str, str] | None = None, method: str = "GET",
        body: bytes = b"", timeout: float = 5.0, source: str | None = None) -> Response:
    """One HTTP/1.1 request, Connection: close."""
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return request(addr, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, timeout, source)


def probe(addr: tuple[str, int], path: str = "/healthz", timeout: float = 2.0) -> float | None:
    """Seconds one GET took to answer 200 on a new connection; None if it failed or took over `timeout`."""
    try:
        r = get(addr, path, timeout=timeout)
    except OSError:
        return None
    return r.seconds if r.status == 200 and r.seconds <= timeout else None


def probe_series(addr: tuple[str, int], seconds: float, pause: float = 0.05, path: str = "/healthz",
                 timeout: float = 2.0) -> list[float | None]:
    """Probe one after the other for `seconds`, `pause` apart: each probe's latency, or None."""
    results: list[float | None] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        results.append(probe(addr, path, timeout))
        time.sleep(pause)
    return results


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


SLOW_HEADERS = (b"", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n" + b"X-Slow: 1\r\n" * 1000)
SLOW_BODY = (
    b"POST /api/v1/sites/demo/comments HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: 60000\r\n\r\n",
    b'{"thread": "t", "body": "' + b"x" * 59000,
)


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    opened: float
    sent: int = 0
    closed: bool = False


@dataclass
class SlowClients:
    """`count` connections to `addr`, each sending `head` at once and then `trickle` one byte per
    `interval` seconds, reopened whenever the server closes one (an attacker would)."""

    addr: tuple[str, int]
    count: int
    head: bytes
    trickle: bytes
    interval: float = 1.0
    dropped: list[float] = field(default_factory=list)  # lifetimes of connections the server closed
    opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("could not open the slow connections")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(10)

    def _open(self, sel: selectors.BaseSelector, due: list, start_in: float) -> None:
        s = socket.create_connection(self.addr, timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.head:
            s.sendall(self.head)
        s.setblocking(False)
        now = time.monotonic()
        conn = _Conn(s, now)
        sel.register(s, selectors.EVENT_READ, conn)
        heapq.heappush(due, (now + start_in, id(conn), conn))
        self.opened += 1

    def _run(self) -> None:
        # One thread, woken only when a byte is due or the server closes a connection, so the
        # probes measured beside it are not slowed by this process.
        sel = selectors.DefaultSelector()
        due: list[tuple[float, int, _Conn]] = []
        try:
            for i in range(self.count):  # first bytes spread over one interval
                self._open(sel, due, self.interval * i / self.count)
            self._ready.set()
            while not self._stop.is_set():
                now = time.monotonic()
                while due and due[0][0] <= now:
                    _, _, conn = heapq.heappop(due)
                    if conn.closed or conn.sent >= len(self.trickle):
                        continue
                    try:
                        conn.sock.send(self.trickle[conn.sent:conn.sent + 1])
                        conn.sent += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._drop(sel, due, conn)
                        continue
                    heapq.heappush(due, (now + self.interval, id(conn), conn))
                wait = min(0.2, max(0.0, due[0][0] - time.monotonic())) if due else 0.2
                for key, _ in sel.select(timeout=wait):
                    conn = key.data
                    try:
                        data = conn.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:  # the server closed it (or answered): open another
                        self._drop(sel, due, conn)
        finally:
            for key in list(sel.get_map().values()):
                key.data.sock.close()
            sel.close()

    def _drop(self, sel: selectors.BaseSelector, due: list, conn: _Conn) -> None:
        sel.unregister(conn.sock)
        conn.sock.close()
        conn.closed = True
        self.dropped.append(time.monotonic() - conn.opened)
        if not self._stop.is_set():
            self._open(sel, due, 0.0)


class ProductionStack:
    """nginx + gunicorn as deploy/stack.sh starts them, on a database of their own, in a temp dir."""

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
        # Not under pytest's tmp dirs (mode 0700): nginx's workers run as nobody when started as root
        # and must reach gunicorn's socket.
        self.dir = Path(tempfile.mkdtemp(prefix="majlis-stack-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.addr = ("127.0.0.1", self.port)
        self._schema: str | None = None  # PostgreSQL: the stack's schema, also its application_name
        self._admin_url = database_url
        self.database_url = f"sqlite:///{self.dir / 'majlis.db'}"
        self.env = {
            **os.environ,
            "MAJLIS_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": self.database_url,
            "FLASK_APP": "wsgi",
            "MAJLIS_STACK_DIR": str(self.dir),
            "MAJLIS_LISTEN": f"127.0.0.1:{self.port}",
            "MAJLIS_GUNICORN": str(BIN / "gunicorn"),
            "MAJLIS_NGINX": NGINX,
            "MAJLIS_DEMO_KEY_FILE": str(self.dir / "demo-api-key"),
            "MAJLIS_DEMO_MODERATOR_FILE": str(self.dir / "demo-moderator"),
            "WEB_CONCURRENCY": "2",
            **(env or {}),
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.api_key = ""

    def prepare(self) -> None:
        """The database: migrated from empty with the real migrations, the demo site seeded."""
        if self._admin_url:
            self.database_url = self.env["DATABASE_URL"] = self._schema_url(self._admin_url)
        self._flask("db", "upgrade")
        self._flask("demo", "--port", str(self.port))
        self.api_key = (self.dir / "demo-api-key").read_text().strip()

    def _schema_url(self, url: str) -> str:
        import sqlalchemy as sa

        self._schema = f"stack_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self._schema}"'))
        engine.dispose()
        # application_name: the stack's connections can be told apart (and killed) in pg_stat_activity.
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={self._schema}",
                                                     "application_name": self._schema})
        return scoped.render_as_string(hide_password=False)

    def _flask(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def stack(self, *args: str) -> subprocess.CompletedProcess:
        """Run deploy/stack.sh with this stack's environment; raise if it fails."""
        done = subprocess.run([str(ROOT / "deploy" / "stack.sh"), *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=90)
        if done.returncode:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{done.stderr}\n{self.logs()}")
        return done

    def logs(self) -> str:
        """Every log the stack wrote, concatenated."""
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')}" for p in sorted((self.dir / "logs").glob("*")))

    def bare_gunicorn(self, port: int, *extra: str) -> subprocess.Popen:
        """gunicorn with the same config on 127.0.0.1:port and no nginx in front (for comparison)."""
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             *extra],
            cwd=ROOT, env={**self.env, "MAJLIS_ACCESS_LOG": ""}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for _ in range(150):
            if probe(("127.0.0.1", port), timeout=1) is not None:
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        proc.terminate()
        raise RuntimeError("bare gunicorn did not start")

    def close(self) -> None:
        """Stop nginx and gunicorn, drop the database, delete the temp dir."""
        try:
            self.stack("stop")
        finally:
            if self._schema and self._admin_url:
                import sqlalchemy as sa

                engine = sa.create_engine(self._admin_url)
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{self._schema}" CASCADE'))
                engine.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def started(database_url: str | None = None, env: dict[str, str] | None = None) -> Iterator[ProductionStack]:
    """A started stack, stopped and removed afterwards (for fixtures and the bench)."""
    stack = ProductionStack(database_url, env)
    try:
        stack.prepare()
        stack.stack("start")
        yield stack
    finally:
        stack.close()
