"""Each request's id, timing, access line and metrics: the one place that hooks the request lifecycle for them.

The request id is the client's `X-Request-ID` when it is 1-128 characters of [A-Za-z0-9._-] (a proxy
or the caller chose it), else a new one (32 hex characters). It is on `g.request_id`, in every log record of the
request (logs.RequestContextFilter) and in the `X-Request-ID` header of every answer: errors, 404s,
405s and 429s included, since the hook runs before any other (the rate limiter's included).
"""
from __future__ import annotations

import itertools
import os
import re
import time

from flask import Flask, Response, current_app, g, request

from comment_service import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


_ids: tuple[int, str, itertools.count[int]] | None = None  # (pid, random prefix, counter) of this process


def new_request_id() -> str:
    """32 hex characters, unique without a system call per request: a random prefix drawn once per
    process (after gunicorn's fork, so workers differ) and a counter."""
    global _ids
    if _ids is None or _ids[0] != os.getpid():
        _ids = (os.getpid(), os.urandom(8).hex(), itertools.count(1))
    return f"{_ids[1]}{next(_ids[2]):016x}"


def request_id_from(header: str | None) -> str:
    """The client's request id if it is a safe token, else a new one."""
    if header and _VALID_ID.fullmatch(header):
        return header
    return new_request_id()


def _start() -> None:
    g.request_id = request_id_from(request.environ.get(_REQUEST_ID_ENVIRON))  # = request.headers.get(...)
    g.request_started = time.perf_counter()
    metrics.request_started()
    g.request_in_progress = True


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    started = g.pop("request_started", None)  # once per request, even if the hooks run twice after an error
    if started is not None:
        seconds = time.perf_counter() - started
        metrics.observe_request(request.endpoint, request.method, response.status_code, seconds)
        if current_app.config["MAJLIS_LOG_FORMAT"] == "json":
            logs.access_line(response.status_code, seconds * 1000)
    return response


def _teardown(_exc: BaseException | None) -> None:
    if g.pop("request_in_progress", False):
        metrics.request_ended()


def init_app(app: Flask) -> None:
    """Logging as configured, and the hooks: first before any other hook, so a refusal by one still has an id."""
    logs.configure_logging(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
