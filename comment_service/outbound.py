"""One HTTP POST to an address someone else chose (a webhook receiver), and nothing more.

- The host is resolved once, and the connection goes to an address that was checked: with
  `allow_private` off, only globally routable ones (events.is_public_address), so a name that
  resolves to 10.0.0.5, or is rebound to it between a check and the connection, reaches nothing
  inside. TLS still verifies the certificate against the host name (SNI), as usual.
- `timeout` bounds the whole exchange (connecting, sending, the status line, the headers and the
  first 4 KB of the body), not each read: a receiver that drips a byte a second is cut off.
- Redirects are never followed; a 3xx is an answer like any other.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from comment_service.moderation.events import is_public_address

READ_MAX = 4096
USER_AGENT = "Majlis-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What came back: the status code (None: no answer) and, for a failure, why in a short line."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Refused(Exception):
    """The address may not be called: private, or (Unresolvable) no address at all."""


class Unresolvable(Refused):
    """The host name has no address (now)."""


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Pinned(http.client.HTTPConnection):
    """http.client's connection to one already-checked address; Host stays the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTls(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_tls())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses the host may be reached at, in the resolver's order; Refused if none may."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable(f"cannot resolve {host}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        addresses = [a for a in addresses if is_public_address(a)]
        if not addresses:
            raise Refused(f"{host} is a private, loopback or link-local address")
    return addresses


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> Answer:
    """POST `body` to `url` (see the module's docstring); never raises for a network failure."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    try:
        address = resolve(host, port, allow_private)[0]
    except Refused as why:
        return Answer(None, f"refused: {why}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = (_PinnedTls if tls else _Pinned)(host, port, address, timeout)
    deadline = threading.Timer(timeout, _cut, (conn,))
    deadline.daemon = True
    started = time.monotonic()
    deadline.start()
    try:
        conn.request("POST", target, body=body, headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
        })
        response = conn.getresponse()
        response.read(READ_MAX)
        status = response.status
    except (OSError, http.client.HTTPException, ssl.SSLError) as err:
        late = time.monotonic() - started >= timeout
        return Answer(None, f"timed out after {timeout:g} s" if late else f"{type(err).__name__}: {err}"[:200])
    finally:
        deadline.cancel()
        conn.close()
    if time.monotonic() - started >= timeout:
        return Answer(None, f"timed out after {timeout:g} s")
    if 300 <= status < 400:
        return Answer(status, f"{status}: redirects are not followed")
    return Answer(status, None if 200 <= status < 300 else f"{status} {http.client.responses.get(status, '')}".strip())


def _cut(conn: http.client.HTTPConnection) -> None:
    """The deadline: shut the socket, so a read blocked on it returns at once."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
