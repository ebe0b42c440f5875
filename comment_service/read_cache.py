"""Per-process cache of serialised thread pages, keyed by a validator that includes the thread's version.

A key never names stale data: any visible change bumps the version and so the key. Entries only
age out by LRU. Each gunicorn worker has its own; that is enough for a hot article.
"""
from __future__ import annotations

import threading

from cachetools import LRUCache
from flask import Flask, current_app


class ReadCache:
    """A thread-safe LRU of bytes."""

    def __init__(self, size: int) -> None:
        self._data: LRUCache[str, bytes] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The cached bytes, or None."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: str, value: bytes) -> None:
        """Remember bytes under key."""
        with self._lock:
            self._data[key] = value

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._data.clear()


def init_read_cache(app: Flask) -> None:
    """Attach a cache sized by MAJLIS_CACHE_SIZE to the app."""
    app.extensions["majlis_read_cache"] = ReadCache(app.config["MAJLIS_CACHE_SIZE"])


def read_cache() -> ReadCache:
    """The current app's cache."""
    return current_app.extensions["majlis_read_cache"]
