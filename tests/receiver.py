"""A real HTTP receiver for webhook tests: a threaded server on 127.0.0.1 that records every request
and answers what the test tells it (a status, or a delay first)."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived


@dataclass
class Receiver:
    """What the server got, and what it answers next: `statuses` in turn (the last one repeats),
    after `delay` seconds; `location` is sent with a 3xx."""

    port: int = 0
    statuses: list[int] = field(default_factory=lambda: [204])
    delay: float = 0.0
    location: str = "http://127.0.0.1:9/elsewhere"
    got: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/majlis"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` requests, waiting for them to arrive (AssertionError when they do not)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.got) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"the receiver got {len(self.got)} of {count} requests in {timeout} s"
                self.arrived.wait(left)
            return list(self.got[:count])


@contextlib.contextmanager
def receiver(**options: object) -> Iterator[Receiver]:
    """Serve a Receiver until the block ends."""
    state = Receiver(**options)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.arrived:
                state.got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                status = state.statuses[min(len(state.got) - 1, len(state.statuses) - 1)]
                state.arrived.notify_all()
            if state.delay:
                time.sleep(state.delay)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
