"""Rate limits that never fail a request: when the store fails, limits count per process for a while.

Flask-Limiter keeps the counters in RATELIMIT_STORAGE_URI (Redis across hosts; by default a
SQLite file the workers of one host share; memory in tests). When that store fails, at the
check before a view or at the deduction after it (a comment is already committed then), the
failure goes to `store_failed` and the same operation is made on Flask-Limiter's in-memory
fallback: the request goes on, limited per process. Flask-Limiter then asks the store every
1, 2, 4 ... 32 s whether it answers again, and goes back to it when it does.

Every call to the store has a short timeout (MAJLIS_RATELIMIT_TIMEOUT), and redis-py's own
retries are off, so an unreachable or silent Redis costs a request at most that long.
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any, cast

import flask
import flask_limiter
from limits.strategies import RateLimiter

import comment_service.limits_sqlite  # noqa: F401  (registers the sqlite:// storage scheme)
from comment_service import metrics
from comment_service.moderation import privacy

log = logging.getLogger(__name__)



@lru_cache(maxsize=8)
def _client_key_secret(secret: str) -> bytes:
    return privacy.derive_key(secret, "rate-limit-client")


def client_key() -> str:
    """Whom a per-client limit counts: a keyed digest of the client's address (request.remote_addr,
    which ProxyFix sets only for trusted hops). The whole address, not its /24 like stored
    comments, so neighbours behind one network do not share a limit; never the address itself,
    which would sit in the store's keys (Redis) and in Flask-Limiter's log line of a breach.
    Asked once per limit and again per deduction: computed once per request."""
    environ = flask.request.environ
    key = environ.get(_CLIENT_KEY)
    if key is None:
        digest = privacy.keyed_digest(_client_key_secret(flask.current_app.config["SECRET_KEY"]),
                                      flask.request.remote_addr or "127.0.0.1")  # as get_remote_address
        key = environ[_CLIENT_KEY] = "client:" + digest[:32]
    return key


_CLIENT_KEY = "majlis.rate_limit_client"


_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "valkey", "valkeys", "valkey+unix")


def store_failed(exc: BaseException) -> None:
    """The one place a rate-limit store failure is accounted for: a warning (never the store's
    address or a client's), after which limits are kept per process until the store answers."""
    log.warning(
        "rate-limit store failed (%s); limits are kept per process until it answers again", type(exc).__name__
    )
    metrics.record_rate_limit_store_failure()


def storage_options(uri: str, timeout: float) -> dict[str, Any]:
    """RATELIMIT_STORAGE_OPTIONS for a store URI: short timeouts, and no retries inside a request."""
    scheme = uri.split(":", 1)[0]
    if scheme in _REDIS_SCHEMES:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # redis-py 8 retries a failed command 3 times with backoff by default: seconds per request.
        return {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": Retry(NoBackoff(), 0)}
    if scheme == "sqlite":
        return {"timeout": timeout}
    return {}


class _FailSafe:
    """The store's strategy, answering from the in-memory fallback once the store fails."""

    def __init__(self, extension: Limiter, primary: RateLimiter, fallback: RateLimiter) -> None:
        self._extension, self._primary, self._fallback = extension, primary, fallback

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._primary, name)(*args, **kwargs)
        except Exception as exc:  # whatever the store raised: the request must not fail for it
            store_failed(exc)
            self._extension.store_down()
            return getattr(self._fallback, name)(*args, **kwargs)

    def hit(self, *args: Any, **kwargs: Any) -> bool:
        return cast(bool, self._call("hit", *args, **kwargs))

    def test(self, *args: Any, **kwargs: Any) -> bool:
        return cast(bool, self._call("test", *args, **kwargs))

    def get_window_stats(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("get_window_stats", *args, **kwargs)

    def clear(self, *args: Any, **kwargs: Any) -> None:
        self._call("clear", *args, **kwargs)


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter whose store may fail: see the module's docstring.

    Flask-Limiter's own fallback covers the check before a view only; a failure while deducting
    after it (deduct_when) or while reading a window for Retry-After would raise, turning a
    stored comment into a 500. Every strategy call goes through `_FailSafe` instead.
    """

    def init_app(self, app: flask.Flask) -> None:
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # anything else Flask-Limiter meets: logged
        uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", storage_options(uri, app.config.get("MAJLIS_RATELIMIT_TIMEOUT", 0.25))
        )
        # A new app starts on its own store, with its own options and a fresh recovery back-off
        # (Flask-Limiter's private counters, reset as its constructor sets them).
        self._storage_dead = False
        self._storage_options = {}
        self._Limiter__check_backend_count = 0
        self._Limiter__last_check_backend = time.time()
        super().init_app(app)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        """Flask-Limiter's check before every view, skipped where it can find no limit to apply.

        Every limit of this app is declared on its view (`@limiter.limit`, `shared_limit`) and is
        checked by the decorator when the view is called. This before_request pass evaluates only
        meta, application, default and blueprint limits (a decorated view's limits, and the hints
        Flask-Limiter keeps for them, only decide whether the defaults apply). With none of them,
        and the store up (while it is down the pass also asks whether it is back), it finds
        nothing, and the pass, ~0.1 ms of every request, is skipped. tests/test_perf.py holds the
        two ways to agree.
        """
        if in_middleware and callable_name is None and not self._storage_dead and not self._limits_before_views():
            return
        super()._check_request_limit(callable_name, in_middleware)

    def _limits_before_views(self) -> bool:
        """Whether the before_request pass could find a limit for this request (see above)."""
        manager = self.limit_manager
        return bool(
            self._meta_limits or manager._application_limits or manager._default_limits
            or manager._blueprint_limits
        )

    def reset(self) -> None:
        """Clear every limit (tests, operators); an unreachable store is reported, not raised."""
        try:
            super().reset()
        except Exception as exc:
            store_failed(exc)

    def store_down(self) -> None:
        """Count in memory from now on; Flask-Limiter checks the store again from time to time."""
        self._storage_dead = True

    @property
    def degraded(self) -> bool:
        """True while limits are counted per process because the store failed."""
        return bool(self._storage_dead)

    @property
    def limiter(self) -> RateLimiter:
        strategy = super().limiter
        fallback = self._fallback_limiter
        if fallback is None or strategy is fallback:
            return strategy
        return cast(RateLimiter, _FailSafe(self, strategy, fallback))


def store_status(app: flask.Flask, limiter: Limiter) -> str:
    """The readiness of the app's rate-limit store: "ok", "unavailable" or "disabled" (limits are off).

    A ping on the limiter's own client, so it has the same short timeouts.
    """
    if not app.config.get("RATELIMIT_ENABLED", True) or limiter._storage is None:
        return "disabled"
    try:
        return "ok" if limiter.storage.check() else "unavailable"
    except Exception:  # a store that raises from its health check is not available either
        return "unavailable"
