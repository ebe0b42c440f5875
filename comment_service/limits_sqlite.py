"""A `limits` storage in a SQLite file: rate limits shared by every worker process of one host.

The embedded default (RATELIMIT_STORAGE_URI=sqlite:///<instance>/ratelimits.db). `memory://`
keeps counters per process, so n gunicorn workers allowed n times the limit; Redis is what
several hosts share, and PyPI has no maintained SQLite storage for `limits`, hence this one.

The URI follows SQLAlchemy's form: `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`.
Importing this module registers the `sqlite` scheme with `limits.storage.storage_from_string`.
It supports the fixed-window and moving-window strategies (not the sliding-window counter).

Each process (and thread) opens its own connection on first use, in WAL mode, so a connection
made before gunicorn forks is never shared. Every check is one short transaction; a writer
waits at most `timeout` seconds for another (a longer wait is a store failure, which the
limiter answers by counting in memory for a while).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import MovingWindowSupport, Storage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS window_entry (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ix_window_entry_key_at ON window_entry (key, at);
CREATE INDEX IF NOT EXISTS ix_window_entry_expires ON window_entry (expires);
CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ix_counter_expires ON counter (expires);
"""


def path_of(uri: str) -> Path:
    """The file a `sqlite:///...` URI names (relative paths are relative to the working directory)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or len(uri) == len(prefix):
        raise ValueError(f"a SQLite rate-limit URI looks like sqlite:///path/to/file.db, not {uri!r}")
    return Path(uri[len(prefix):])


class SQLiteStorage(Storage, MovingWindowSupport):
    """Fixed and moving windows in two tables of one SQLite file."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, timeout: float = 1.0, **options: object) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.path = path_of(uri)
        self.timeout = float(timeout)
        self._local = threading.local()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (sqlite3.Error, OSError)  # OSError: the file's folder cannot be made or opened

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: each operation opens its own BEGIN IMMEDIATE transaction.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # losing the last instant of counts in a power cut is fine
            conn.executescript(_SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _write(self, fn):  # type: ignore[no-untyped-def]
        """Run fn(conn, now) in one immediate (write-locked) transaction."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, time.time())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # --- fixed window -----------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        def run(conn: sqlite3.Connection, now: float) -> int:
            conn.execute("DELETE FROM counter WHERE key = ? AND expires <= ?", (key, now))
            row = conn.execute(
                "INSERT INTO counter (key, value, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING value",
                (key, amount, now + expiry),
            ).fetchone()
            return int(row[0])

        return self._write(run)

    def get(self, key: str) -> int:
        row = self._connection().execute(
            "SELECT value FROM counter WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._connection().execute(
            "SELECT expires FROM counter WHERE key = ? AND expires > ?", (key, now)
        ).fetchone()
        return float(row[0]) if row else now

    # --- moving window ----------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False

        def run(conn: sqlite3.Connection, now: float) -> bool:
            # Entries nobody counts any more go first (cheap: an index range on expires).
            conn.execute("DELETE FROM window_entry WHERE expires <= ?", (now,))
            (taken,) = conn.execute(
                "SELECT count(*) FROM window_entry WHERE key = ? AND at > ?", (key, now - expiry)
            ).fetchone()
            if taken + amount > limit:
                return False
            conn.executemany(
                "INSERT INTO window_entry (key, at, expires) VALUES (?, ?, ?)", [(key, now, now + expiry)] * amount
            )
            return True

        return bool(self._write(run))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, taken = self._connection().execute(
            "SELECT min(at), count(*) FROM window_entry WHERE key = ? AND at > ?", (key, now - expiry)
        ).fetchone()
        return (float(oldest), int(taken)) if taken else (now, 0)

    # --- housekeeping -----------------------------------------------------------------------
    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, OSError):
            return False

    def reset(self) -> int | None:
        def run(conn: sqlite3.Connection, now: float) -> int:
            n = conn.execute("DELETE FROM window_entry").rowcount + conn.execute("DELETE FROM counter").rowcount
            return int(n)

        return self._write(run)

    def clear(self, key: str) -> None:
        def run(conn: sqlite3.Connection, now: float) -> None:
            conn.execute("DELETE FROM window_entry WHERE key = ?", (key,))
            conn.execute("DELETE FROM counter WHERE key = ?", (key,))

        self._write(run)
