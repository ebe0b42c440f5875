"""Per-process caches of the public thread read.

- Pages by ETag: serialised pages keyed by a validator that includes the thread's version. A key
  never names stale data: any visible change bumps the version and so the key.
- A short memo of the latest page per (site, thread, cursor, limit), for MAJLIS_READ_MEMO_SECONDS
  (default 1 s, 0 turns it off). It spares the version probe on a hot article. A write in this
  process clears it at once; a write in another process shows here within the memo's lifetime,
  which is shorter than the Cache-Control max-age readers already accept.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Any

from cachetools import LRUCache, TTLCache
from flask import Flask, current_app


class ReadCache:
    """Thread-safe LRU of page bytes plus a TTL memo of recent pages."""

    def __init__(self, size: int, memo_seconds: float, timer: Any = time.monotonic) -> None:
        self._pages: LRUCache[str, bytes] = LRUCache(maxsize=size)
        self._memo: TTLCache[Hashable, Any] | None = (
            TTLCache(maxsize=size, ttl=memo_seconds, timer=timer) if memo_seconds > 0 else None
        )
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        """The cached page bytes for an ETag, or None."""
        with self._lock:
            return self._pages.get(etag)

    def put(self, etag: str, value: bytes) -> None:
        """Remember page bytes under their ETag."""
        with self._lock:
            self._pages[etag] = value

    def recent(self, key: Hashable) -> Any:
        """The memoised page for key if it is still fresh, else None."""
        if self._memo is None:
            return None
        with self._lock:
            return self._memo.get(key)

    def remember(self, key: Hashable, page: Any) -> None:
        """Memoise a page for the memo's lifetime."""
        if self._memo is not None:
            with self._lock:
                self._memo[key] = page

    def forget_recent(self) -> None:
        """Drop every memoised page (this process changed a thread)."""
        if self._memo is not None:
            with self._lock:
                self._memo.clear()

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._pages.clear()
            if self._memo is not None:
                self._memo.clear()


def init_read_cache(app: Flask) -> None:
    """Attach a cache sized by MAJLIS_CACHE_SIZE to the app."""
    app.extensions["majlis_read_cache"] = ReadCache(
        app.config["MAJLIS_CACHE_SIZE"], app.config["MAJLIS_READ_MEMO_SECONDS"]
    )


def read_cache() -> ReadCache:
    """The current app's cache."""
    return current_app.extensions["majlis_read_cache"]
