"""Background jobs on huey: an SQLite file under instance/ by default (one host), Redis across hosts.

A job is a plain function registered by name with `job` (or `periodic`, run by the worker on a
schedule) in the module that owns its work; each runs in an app context of its own, so it has a
database session of its own. `flask worker` runs the consumer (README "Background jobs").

Work that must follow a change (a webhook) is written to the database in the change's transaction
(services/outbox.py) and handed to the queue only once that transaction has committed:
`after_commit(name, *args)` remembers the job on the session and enqueues it from the session's
after_commit event; a rollback forgets it. The queue is a wake-up call, not the record: if
enqueueing fails (Redis down) or the process dies right after the commit, the worker's sweep finds
the committed rows and the job runs anyway, late. So enqueueing never turns a success into an
error, and the queue's SQLite file need not be synced to disk on every write.

The huey instance is built on first use in each process (a gunicorn worker forked from a preloading
master must not share the master's SQLite connection or Redis socket).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Job = Callable[..., Any]
_JOBS: dict[str, Job] = {}
_PERIODIC: dict[str, tuple[Job, int]] = {}
_PENDING = "majlis_jobs_after_commit"


def job(name: str) -> Callable[[Job], Job]:
    """Register a function as the job `name` (usable as a decorator; the function stays callable)."""

    def register(fn: Job) -> Job:
        _JOBS[name] = fn
        return fn

    return register


def periodic(name: str, every_minutes: int = 1) -> Callable[[Job], Job]:
    """Register a function the worker runs every `every_minutes` minutes."""

    def register(fn: Job) -> Job:
        _PERIODIC[name] = (fn, every_minutes)
        return fn

    return register


_SCHEMES = ("sqlite:///", "redis://", "rediss://", "unix://")


def build_huey(url: str, timeout: float | None = None) -> Huey:
    """The huey instance for MAJLIS_JOBS_URL: sqlite:///path, redis://..., or memory://. `timeout`:
    how long a call to the store may take (web processes: MAJLIS_JOBS_TIMEOUT, no retries, so a
    store that stalls delays a request by that much at most; None: huey's and redis-py's own, for
    the worker, whose blocking reads wait longer)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # fsync off: the database's outbox is the record (see the module's docstring).
        options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        return SqliteHuey("majlis", filename=path, results=False, fsync=False, **options)
    if url.startswith(_SCHEMES[1:]):
        if timeout is None:
            return RedisHuey("majlis", url=url, results=False)
        from redis import ConnectionPool
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = ConnectionPool.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                       retry=Retry(NoBackoff(), 0))
        return RedisHuey("majlis", connection_pool=pool, results=False)
    if url == "memory://":
        return MemoryHuey("majlis", results=False)
    raise RuntimeError(f"MAJLIS_JOBS_URL must be sqlite:///<file>, redis://... or memory://, not {url!r}")


class Jobs:
    """The app's queue: its huey instance (per process) and its tasks, each wrapping a registered job."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.url = app.config["MAJLIS_JOBS_URL"]
        if not self.url.startswith(_SCHEMES) and self.url != "memory://":  # a bad URL refuses to start
            raise RuntimeError(f"MAJLIS_JOBS_URL must be sqlite:///<file>, redis://... or memory://, not {self.url!r}")
        self.timeout: float | None = app.config["MAJLIS_JOBS_TIMEOUT"]  # None in the worker (run_worker)
        self._pid: int | None = None
        self._huey: Huey | None = None
        self._tasks: dict[str, TaskWrapper] = {}

    @property
    def huey(self) -> Huey:
        if self._pid != os.getpid():
            self._huey, self._tasks, self._pid = build_huey(self.url, self.timeout), {}, os.getpid()
        assert self._huey is not None
        return self._huey

    def _in_app(self, fn: Job) -> Job:
        app = self.app

        def run(*args: Any) -> Any:
            with app.app_context():
                return fn(*args)

        run.__name__ = getattr(fn, "__name__", "job")
        return run

    def task(self, name: str) -> TaskWrapper:
        """The huey task of the registered job `name`."""
        huey = self.huey
        if name not in self._tasks:
            self._tasks[name] = huey.task(name=name)(self._in_app(_JOBS[name]))
        return self._tasks[name]

    def bind_all(self) -> None:
        """Create every registered job's task and the periodic ones: what a worker does before it starts."""
        for name in _JOBS:
            self.task(name)
        for name, (fn, minutes) in _PERIODIC.items():
            if name not in self._tasks:
                schedule = crontab(minute="*" if minutes == 1 else f"*/{minutes}")
                self._tasks[name] = self.huey.periodic_task(schedule, name=name)(self._in_app(fn))

    def enqueue(self, name: str, *args: Any, eta: datetime | None = None) -> None:
        """Put the job on the queue now (at `eta`, if given). Raises what the queue's store raises."""
        task = self.task(name)
        if eta is None:
            task(*args)
        else:
            task.schedule(args=args, eta=eta)

    def enqueue_quietly(self, name: str, *args: Any, eta: datetime | None = None) -> bool:
        """enqueue, logging instead of raising when the store fails (the sweep runs the job later)."""
        try:
            self.enqueue(name, *args, eta=eta)
            return True
        except Exception:
            log.warning("jobs: could not enqueue %s; the worker's sweep will run it", name, exc_info=True)
            return False

    def run_worker(self, threads: int) -> None:
        """Run the consumer until SIGINT (finish running jobs) or SIGTERM (stop now)."""
        self.timeout, self._pid = None, None  # the store's own timeouts: the consumer's reads block
        self.bind_all()
        # huey logs two lines per job at INFO, and the scheduler one a minute: below our WARNING.
        # Its consumer's start and stop stay.
        for name in ("huey", "huey.consumer.Scheduler", "huey.consumer.Worker"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("huey.consumer").setLevel(logging.INFO)
        consumer = self.huey.create_consumer(
            workers=threads, worker_type="thread", periodic=True,
            initial_delay=0.05, backoff=1.5, max_delay=0.5,  # an idle SQLite queue is polled at least twice a second
            check_worker_health=True,
        )
        consumer.run()


def jobs(app: Flask | None = None) -> Jobs:
    """The app's Jobs (current_app's by default)."""
    return (app or current_app).extensions["majlis_jobs"]


def after_commit(session: Session, name: str, *args: Any) -> None:
    """Enqueue the job once `session`'s transaction commits (once, however often asked); forgotten on rollback."""
    pending = session.info.setdefault(_PENDING, {})
    pending.setdefault((name, args), jobs())


def _enqueue_pending(session: Session) -> None:
    for (name, args), queue in session.info.pop(_PENDING, {}).items():
        queue.enqueue_quietly(name, *args)


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    """Give the app its queue, and the `flask worker` command."""
    import click

    app.extensions["majlis_jobs"] = Jobs(app)

    @app.cli.command("worker")
    @click.option("--threads", type=int, default=None, help="Jobs run at once (default: MAJLIS_WORKER_THREADS).")
    def worker(threads: int | None) -> None:
        """Run the background jobs (webhooks, the outbox's sweep) until Ctrl-C."""
        queue = jobs(app)
        click.echo(f"majlis worker: jobs from {_shown(queue.url)}")
        queue.run_worker(threads or app.config["MAJLIS_WORKER_THREADS"])


def _shown(url: str) -> str:
    """The queue's URL without its password (a log line, a console)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://")[0] + "://…"


if not sa.event.contains(Session, "after_commit", _enqueue_pending):
    sa.event.listen(Session, "after_commit", _enqueue_pending)
    sa.event.listen(Session, "after_rollback", _forget_pending)
