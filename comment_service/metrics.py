"""Prometheus metrics: what `GET /metrics` (comment_service/ops.py) shows.

| metric | type | labels | what |
|---|---|---|---|
| majlis_http_requests_total | counter | endpoint, method, status | answers given |
| majlis_http_request_duration_seconds | histogram | endpoint, status | time from routing to the answer |
| majlis_http_requests_in_progress | gauge | | requests being handled now, over every worker |
| majlis_queue_pending | gauge | site | pending comments of a site, read at scrape time |
| majlis_queue_oldest_pending_age_seconds | gauge | site | how long the oldest pending comment has waited (0: none) |
| majlis_outbox_undispatched | gauge | | events not yet handed to their consumers, read at scrape time |
| majlis_outbox_oldest_undispatched_age_seconds | gauge | | the oldest one's wait (0: none; grows with no worker) |
| majlis_webhook_deliveries | gauge | status | webhook messages pending and failed (given up; kept 30 days) |
| majlis_rate_limit_store_failures_total | counter | | rate-limit storage (Redis) calls that failed |
| majlis_database_errors_total | counter | kind | database errors: SQLAlchemy's class, or `disconnect` |

Labels are bounded: `endpoint` is Flask's endpoint name (`none` for a URL no route matches), `method`
one of the HTTP methods the service knows (`other` for anything else), `status` the answer's code,
`site` a site's slug. No label ever holds a path, a query, an address or a name.

Under gunicorn each worker is its own process: with PROMETHEUS_MULTIPROC_DIR set (before this module
is imported), each keeps its numbers in a file there and a scrape, answered by any worker, sums them.
gunicorn.conf.py wires `on_starting` (empty the directory, so a restart starts from zero) and
`child_exit` (forget a dead worker's in-progress gauge; its counters stay in the sums).
"""
from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)  # a missing directory would make every metric write fail

disable_created_metrics()  # no `_created` series beside every counter: noise for a scrape

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "majlis_http_requests_total", "HTTP answers, by endpoint, method and status.", ["endpoint", "method", "status"]
)
DURATION = Histogram(
    "majlis_http_request_duration_seconds", "Time to answer, by endpoint and status.", ["endpoint", "status"]
)
IN_PROGRESS = Gauge(
    "majlis_http_requests_in_progress", "Requests being handled now (summed over live workers).",
    multiprocess_mode="livesum",
)
RATE_LIMIT_STORE_FAILURES = Counter(
    "majlis_rate_limit_store_failures_total", "Calls to the rate-limit storage that failed (the limit fell back)."
)
DATABASE_ERRORS = Counter(
    "majlis_database_errors_total", "Errors raised by the database driver, by kind.", ["kind"]
)

# The kinds a database error is counted under: SQLAlchemy's DBAPI error classes (a fixed set).
_DB_ERROR_KINDS = frozenset(
    cls.__name__ for cls in vars(sa.exc).values() if isinstance(cls, type) and issubclass(cls, sa.exc.DBAPIError)
)


# The labelled children of REQUESTS and DURATION, by (endpoint, method, status): a bounded set.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answer and its time. Never raises: metrics must not turn an answer into an error."""
    try:
        key = (endpoint or "none", method if method in METHODS else "other", status)
        children = _children.get(key)
        if children is None:  # labels() costs a lock and a lookup: once per label set per process
            children = _children[key] = (REQUESTS.labels(key[0], key[1], str(status)),
                                         DURATION.labels(key[0], str(status)))
        children[0].inc()
        children[1].observe(seconds)
    except Exception:
        log.warning("could not record request metrics", exc_info=True)


def request_started() -> None:
    """One more request in progress (never raises, like every recording here)."""
    try:
        IN_PROGRESS.inc()
    except Exception:
        log.warning("could not record a request in progress", exc_info=True)


def request_ended() -> None:
    try:
        IN_PROGRESS.dec()
    except Exception:
        log.warning("could not record the end of a request", exc_info=True)


def record_rate_limit_store_failure() -> None:
    """Count one failed call to the rate-limit storage (the caller falls back and carries on)."""
    try:
        RATE_LIMIT_STORE_FAILURES.inc()
    except Exception:
        log.warning("could not record a rate-limit store failure", exc_info=True)


def _count_database_error(context: sa.engine.ExceptionContext) -> None:
    """SQLAlchemy's handle_error event, on every engine: count the error by kind; the error goes on as it was."""
    try:
        if context.is_disconnect:
            kind = "disconnect"
        else:
            name = type(context.sqlalchemy_exception or context.original_exception).__name__
            kind = name if name in _DB_ERROR_KINDS else "other"
        DATABASE_ERRORS.labels(kind).inc()
    except Exception:
        log.warning("could not record a database error", exc_info=True)


if not sa.event.contains(sa.engine.Engine, "handle_error", _count_database_error):
    sa.event.listen(sa.engine.Engine, "handle_error", _count_database_error)


QueueDepths = Callable[[], Iterable[tuple[str, int, int]]]  # per site: slug, pending, oldest age (s)


class QueueCollector(Collector):
    """Per site, at scrape time: pending comments and the age of the oldest, as `read` gives them
    (ops.py passes services.queues.pending_by_site, one statement). If `read` fails (a database
    that does not answer: its error is counted in majlis_database_errors_total), these two are
    left out of the scrape instead of failing it."""

    def __init__(self, read: QueueDepths) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            rows = self.read()
        except Exception:
            log.warning("metrics: the queue depths could not be read", exc_info=True)
            return
        depth = GaugeMetricFamily("majlis_queue_pending", "Pending comments, by site.", labels=["site"])
        age = GaugeMetricFamily(
            "majlis_queue_oldest_pending_age_seconds", "Age of the oldest pending comment (0: none), by site.",
            labels=["site"],
        )
        for slug, pending, oldest_age in rows:
            depth.add_metric([slug], pending)
            age.add_metric([slug], oldest_age)
        yield depth
        yield age


# The outbox's undispatched events, the oldest one's age (s), and its consumers' gauges by
# "<metric>:<status>" (services/outbox.backlog).
JobsState = Callable[[], tuple[int, float, dict[str, int]]]


class JobsCollector(Collector):
    """At scrape time: the outbox's backlog and the webhook delivery log by status, as `read` gives
    them (ops.py); left out of the scrape, like the queue depths, if the database does not answer."""

    def __init__(self, read: JobsState) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            undispatched, oldest_age, gauges = self.read()
        except Exception:
            log.warning("metrics: the outbox and deliveries could not be read", exc_info=True)
            return
        yield GaugeMetricFamily("majlis_outbox_undispatched", "Events not yet handed to their consumers.",
                                value=undispatched)
        yield GaugeMetricFamily("majlis_outbox_oldest_undispatched_age_seconds",
                                "Age of the oldest undispatched event (0: none).", value=oldest_age)
        families: dict[str, GaugeMetricFamily] = {}
        for key, count in sorted(gauges.items()):
            metric, _, status = key.partition(":")
            if metric not in families:
                families[metric] = GaugeMetricFamily(f"majlis_{metric}", _GAUGE_HELP.get(metric, metric),
                                                     labels=["status"])
            families[metric].add_metric([status], count)
        yield from families.values()


_GAUGE_HELP = {"webhook_deliveries": "Webhook messages pending and failed."}


class _ThisProcess(Collector):
    """The process-wide registry (our metrics, and the process/python collectors) in a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape(accept: str | None, queue_depths: QueueDepths, jobs_state: JobsState) -> tuple[bytes, str]:
    """The exposition for a scrape (text format, or OpenMetrics if asked): every worker's numbers, the
    queues and the jobs."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(QueueCollector(queue_depths))
    registry.register(JobsCollector(jobs_state))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


# gunicorn server hooks (gunicorn.conf.py: on_starting = metrics.on_starting; child_exit = metrics.child_exit).


def on_starting(server: Any) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before the workers start: a restart must not add the last run's counts."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (exited or killed): drop its live gauges (in progress); its counters stay counted."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
