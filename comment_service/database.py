"""What the app does when the database fails under it: one place for the faults of a connection.

A connection can die at any moment (a PostgreSQL restart or failover, `pg_terminate_backend`, a
network cut): in a statement, in the ROLLBACK of an error handler, in the session's close after
the answer is built. pool_pre_ping only catches connections that died while idle in the pool.
So:

- closing the session at the end of a request and rolling it back in an error handler never
  raise: the connection is dropped from the pool and the answer stands (a sign-in whose
  connection died after the password check is still signed in);
- a read (GET, HEAD, OPTIONS) whose statement failed because the database was unavailable runs
  once more from the start, on a fresh connection (`RetryReads`); it changes nothing, so running
  it twice cannot double anything;
- a write that failed so is answered 503 `database_unavailable` with Retry-After, never sent again
  by the server (errors.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask, request
from sqlalchemy.dialects import postgresql, sqlite

from comment_service.extensions import db

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 1
_RETRY = "majlis.retry_read"      # set by the error handler: run this read again
_RETRIED = "majlis.read_retried"  # set on the second run: do not run it a third time


def is_disconnect(err: BaseException) -> bool:
    """The connection under the statement is gone (the pool has dropped it)."""
    return isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated


def is_unavailable(err: BaseException) -> bool:
    """The database, not the request, failed, and trying again shortly may work: a lost or
    refused connection, a pool with no connection to give, an operational error (PostgreSQL: a
    server shutting down, a deadlock, a cancelled statement; SQLite: a busy or locked file)."""
    if is_disconnect(err) or isinstance(err, sa.exc.TimeoutError):
        return True
    if not isinstance(err, sa.exc.OperationalError):
        return False
    # sqlite3 calls a missing table "operational" too: that one is a bug, not an outage.
    name = getattr(err.orig, "sqlite_errorname", None)
    return name is None or name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _twice(action: Callable[[], None], what: str) -> None:
    """Run a session clean-up; if the connection is gone it raises once and is invalidated, so a
    second run succeeds. Never raises."""
    try:
        action()
    except Exception as err:
        log.warning("database connection lost during %s (%s)", what, type(err).__name__)
        try:
            action()
        except Exception:
            log.exception("could not %s", what)


def dialect() -> str:
    """The name of the session's database dialect ("sqlite", "postgresql"): where a statement has a
    form only one of them can run (ON CONFLICT, a data-modifying WITH, SKIP LOCKED)."""
    return db.session.get_bind().dialect.name


def conflict_insert(table: sa.Table, dialect_name: str | None = None) -> Any:
    """INSERT into `table` in the form that takes ON CONFLICT (PostgreSQL's or SQLite's, which
    spell it the same): for the session's dialect, or `dialect_name` when a statement is built
    once per dialect."""
    name = dialect_name or dialect()
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def safe_rollback() -> None:
    """Roll the request's session back, whatever state its connection is in."""
    _twice(db.session.rollback, "rollback")


def commit_keeping_state() -> None:
    """Commit without expiring what the session holds: the answer is built from objects already
    loaded, so nothing after the commit goes back to the database (a failure there would turn a
    stored change into an error, and a retry would store it twice)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def retry_read() -> bool:
    """Ask for this request to run once more if it is a read not already retried; True if it will be."""
    if request.method not in READ_METHODS or request.environ.get(_RETRIED):
        return False
    request.environ[_RETRY] = True
    return True


class RetryReads:
    """WSGI middleware: a read whose first run asked for a retry (`retry_read`) runs again from
    the start, with a fresh request context and session; its first answer is thrown away."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in READ_METHODS:
            return self.app(environ, start_response)
        first = dict(environ)
        started: list[Any] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never writes through this

        body = self.app(first, hold)
        if not first.get(_RETRY):
            start_response(*started)
            return body
        if hasattr(body, "close"):
            body.close()
        log.warning("database unavailable during a read; running it again")
        return self.app(dict(environ, **{_RETRIED: True}), start_response)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers never wait for the writer, and a commit appends to the log instead of
    rewriting and syncing a rollback journal; with synchronous=NORMAL it syncs at checkpoints
    only (a power cut may lose the last commits, never corrupt the file). An in-memory database
    answers "memory" and stays so."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def tune_engine(engine: sa.Engine) -> None:
    """Per back end: SQLite in WAL mode (PostgreSQL keeps pool_pre_ping, config/settings.py)."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)


def init_app(app: Flask) -> None:
    """Tune the app's engine (tune_engine) and close each request's session safely. Call after
    db.init_app: teardown functions run last registered first, so this one closes the session
    before Flask-SQLAlchemy's finds it empty."""
    with app.app_context():
        tune_engine(db.engine)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        _twice(db.session.remove, "closing the session")
