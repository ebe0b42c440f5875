"""The SQLite rate-limit storage: the limits library's strategies on it, and several processes sharing one file."""
from __future__ import annotations

import multiprocessing
import time

import pytest
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from comment_service.limits_sqlite import SQLiteStorage, path_of


@pytest.fixture
def storage(tmp_path):
    return storage_from_string(f"sqlite:///{tmp_path / 'limits.db'}", timeout=1.0)


def test_the_scheme_is_registered_and_the_uri_names_a_file(storage, tmp_path):
    assert isinstance(storage, SQLiteStorage) and storage.check()
    assert path_of(f"sqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
    assert str(path_of("sqlite:///instance/x.db")) == "instance/x.db"
    with pytest.raises(ValueError):
        path_of("sqlite://")


def test_moving_window(storage):
    limiter, five = MovingWindowRateLimiter(storage), RateLimitItemPerMinute(5)
    assert [limiter.hit(five, "1.2.3.4") for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.test(five, "1.2.3.4")
    assert limiter.hit(five, "5.6.7.8")  # another key
    reset_at, remaining = limiter.get_window_stats(five, "1.2.3.4")
    assert remaining == 0 and time.time() + 55 < reset_at <= time.time() + 60
    assert not limiter.hit(RateLimitItemPerMinute(2), "big", cost=3)
    limiter.clear(five, "1.2.3.4")
    assert limiter.hit(five, "1.2.3.4")


def test_moving_window_entries_leave_the_window(storage):
    limiter, two = MovingWindowRateLimiter(storage), RateLimitItemPerSecond(2, 1)
    assert limiter.hit(two, "k") and limiter.hit(two, "k") and not limiter.hit(two, "k")
    time.sleep(1.1)
    assert limiter.test(two, "k") and limiter.hit(two, "k")
    (left,) = storage._connection().execute("SELECT count(*) FROM window_entry").fetchone()
    assert left == 1  # the expired entries were deleted, not only ignored


def test_fixed_window(storage):
    limiter, three = FixedWindowRateLimiter(storage), RateLimitItemPerSecond(3, 1)
    assert [limiter.hit(three, "k") for _ in range(4)] == [True, True, True, False]
    assert storage.get_expiry(three.key_for("k")) > time.time()
    time.sleep(1.1)
    assert limiter.hit(three, "k") and storage.get(three.key_for("k")) == 1


def test_reset(storage):
    limiter = MovingWindowRateLimiter(storage)
    limiter.hit(RateLimitItemPerMinute(5), "k")
    FixedWindowRateLimiter(storage).hit(RateLimitItemPerMinute(5), "k")
    assert storage.reset() == 2 and limiter.test(RateLimitItemPerMinute(1), "k")


def test_a_file_that_cannot_be_opened_fails_its_check_and_raises(tmp_path):
    (tmp_path / "file").write_text("")
    broken = storage_from_string(f"sqlite:///{tmp_path / 'file' / 'limits.db'}")
    assert broken.check() is False
    with pytest.raises(OSError):
        MovingWindowRateLimiter(broken).hit(RateLimitItemPerMinute(5), "k")


def _hammer(uri: str, hits: int, out) -> None:
    limiter = MovingWindowRateLimiter(storage_from_string(uri, timeout=5.0))
    out.put(sum(limiter.hit(RateLimitItemPerMinute(50), "shared") for _ in range(hits)))


def test_processes_share_one_limit(ctx, storage, tmp_path):
    uri = f"sqlite:///{tmp_path / 'limits.db'}"
    MovingWindowRateLimiter(storage).hit(RateLimitItemPerMinute(50), "shared")  # a connection before the fork
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(uri, 30, out)) for _ in range(4)]
    for p in procs:
        p.start()
    granted = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert sum(granted) == 49  # 120 attempts from 4 processes at once: exactly the 49 left of 50
