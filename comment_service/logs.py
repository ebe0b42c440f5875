"""Log lines: JSON (production) or plain text, each with the request it belongs to, never an email or an IP.

`configure_logging(app)` puts one handler on the root logger, so the service's loggers, the libraries'
(Flask-Limiter, SQLAlchemy) and anything else that propagates share it. Every line goes through
`moderation.privacy.redact`: a library's message may quote a rate-limit key (an IP, or a sign-in's
email), a client may put an address in a path, an exception may quote what it was given.

A JSON line: {"ts", "level", "logger", "message", "pid", "request_id", "method", "path", "endpoint"}
plus "status" and "duration_ms" on access lines and "exc" (the traceback) when there is one. The path
is logged without its query string. gunicorn's own lines (worker boots, timeouts) are text unless its
`logconfig_dict` is `gunicorn_logconfig()`, which sends them through the same formatter.

Our own formatter rather than python-json-logger: the fields are fixed, the redaction has to see the
whole line, and the stdlib json module is all the rest needs.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from flask import Flask, g, has_request_context, request

from comment_service.moderation.privacy import redact

ACCESS_LOGGER = "comment_service.access"
_ACCESS = logging.getLogger(ACCESS_LOGGER)
PATH_MAX = 1024  # longer paths are cut: a log line is not a place for a 4 KB request line

# The request fields every record carries (None outside a request); set by RequestContextFilter.
_REQUEST_FIELDS = ("request_id", "method", "path", "endpoint")


class RequestContextFilter(logging.Filter):
    """Adds the current request's id, method, path (no query) and endpoint to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        missing = [name for name in _REQUEST_FIELDS if not hasattr(record, name)]  # an access line brings its own
        if not missing:
            return True
        if has_request_context():
            values = {
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path[:PATH_MAX],
                "endpoint": request.endpoint,
            }
        else:
            values = dict.fromkeys(_REQUEST_FIELDS)
        for name in missing:
            setattr(record, name, values[name])
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, ASCII only (any log shipper can read it), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "pid": record.process,
        }
        for name in (*_REQUEST_FIELDS, "status", "duration_ms"):
            value = getattr(record, name, None)
            if value is not None:
                out[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    """Plain lines for development, with the request id, redacted like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return redact(super().format(record))


def configure_logging(app: Flask) -> None:
    """Send every log record to stderr in the configured format (MAJLIS_LOG_FORMAT); unset: leave logging alone.

    Idempotent: a second app in the same process replaces the first one's handler instead of adding one.
    """
    fmt = app.config["MAJLIS_LOG_FORMAT"]
    if not fmt:
        return
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_majlis", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler._majlis = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    root.setLevel(app.config["MAJLIS_LOG_LEVEL"])
    # What no line of ours shows is not gathered for every record: the caller's file and line (a
    # frame walk per record), thread and multiprocessing names (the logging HOWTO, "Optimization").
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # three lines per worker boot


def access_line(status: int, duration_ms: float) -> None:
    """The access line of the current request (JSON mode only: in text mode gunicorn's access log serves)."""
    logger = _ACCESS  # the one logger of that name (getLogger takes the module lock on every call)
    if not logger.isEnabledFor(logging.INFO):  # MAJLIS_LOG_LEVEL=WARNING: nothing to build
        return
    method, path = request.method, request.path[:PATH_MAX]
    logger.info("%s %s %s", method, path, status, extra={
        "status": status, "duration_ms": round(duration_ms, 2),
        "request_id": g.get("request_id"), "method": method, "path": path, "endpoint": request.endpoint,
    })


def gunicorn_logconfig(access: bool = False) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error log as the same JSON lines, and its access log only if
    `access` (gunicorn writes access lines whenever a logconfig_dict is set, so it is silenced here).

    The app writes its own access line per request, so gunicorn's access log is best left off (its
    default format starts with the client's IP; this formatter would redact it).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "comment_service.logs.JsonFormatter"}},
        "handlers": {
            "json_stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        # The app puts its own handler on the root logger (configure_logging); gunicorn's default would
        # add a second one, writing every line again as text to stdout.
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO" if access else "CRITICAL",
                                "handlers": ["json_stderr"] if access else [], "propagate": False},
        },
    }
