"""Flask, less the work it repeats on every request for answers that never change.

Measured on the thread read (bench/read_thread.py's request, in-process, cProfile): of ~220 µs a
request, Flask spent ~9 % opening the session, building itsdangerous' signing serializer anew
each time (a dozen objects, and a test `dumps({})`), and ~5 % asking `inspect` ten times whether
each hook and the view is a coroutine function. Both answers depend only on things fixed once
the app is set up (the secret keys; the function), so they are worked out once. Behaviour is
Flask's own: the same serializer settings, the same cookie, the same calls.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_CACHE_MAX = 4096  # functions (hooks, views, error handlers) are a fixed set: far below this


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per set of secret keys."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        try:
            return self._serializers[key]
        except KeyError:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) < 16:  # a key rotation adds one; tests that change keys a few
                self._serializers[key] = serializer
            return serializer


class MajlisFlask(Flask):
    """The app class: Flask with the once-only work above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = SessionInterface()  # one per app: its cache follows this app's keys
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, remembered per function."""
        try:
            return self._sync[func]
        except KeyError:
            pass
        except TypeError:  # not hashable: ask every time
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if len(self._sync) < _CACHE_MAX:
            self._sync[func] = sync
        return sync
