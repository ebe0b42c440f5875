"""A failing rate-limit store never fails a request (issue 9, item 1).

The store is a real socket each time: Redis stopped (a closed port), black-holed (a listener
that accepts and never answers), unreachable (a listener whose backlog is full, so a connect
hangs), and a real Redis behind a proxy that is cut and restored. Writes and sign-ins go on,
each fast, limited per process meanwhile; a warning says so; /readyz says "degraded".
"""
from __future__ import annotations

import logging
import time

import pytest

from comment_service.extensions import limiter
from comment_service.ratelimit import client_key
from tests.conftest import comment_payload, post
from tests.dashboard.conftest import PASSWORD, login, make_moderator
from tests.netfaults import TcpProxy, free_port, full_backlog_listener, redis_db, redis_up, silent_listener

FAST = 1.0  # seconds: what any one request may take with the store gone (the timeout is 0.25 s)
WARNING = "rate-limit store failed"
DB = redis_db(14)


class Store:
    def __init__(self, uri: str, proxy: TcpProxy | None = None) -> None:
        self.uri, self.proxy = uri, proxy


@pytest.fixture
def store(request):
    kind = request.param
    if kind == "stopped":
        yield Store(f"redis://127.0.0.1:{free_port()}/{DB}")
    elif kind == "black-holed":
        with silent_listener() as port:
            yield Store(f"redis://127.0.0.1:{port}/{DB}")
    elif kind == "never-accepting":
        with full_backlog_listener() as port:
            yield Store(f"redis://127.0.0.1:{port}/{DB}")
    elif kind == "redis-via-proxy":
        if not redis_up():
            pytest.skip("no Redis on 127.0.0.1:6379")
        proxy = TcpProxy(("127.0.0.1", 6379))
        try:
            yield Store(f"redis://127.0.0.1:{proxy.port}/{DB}", proxy)
        finally:
            proxy.down()


@pytest.fixture
def app_config(store):
    return {
        "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": store.uri, "MAJLIS_POST_RATE_LIMIT": "3 per minute",
        "MAJLIS_LOGIN_RATE_LIMIT": "3 per minute", "MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute",
    }


def post_from(client, address: str):
    return client.post("/api/v1/sites/news/comments", json=comment_payload(), environ_base={"REMOTE_ADDR": address})


def timed(fn, *args, **kwargs):
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - start


DEAD = pytest.mark.parametrize("store", ["stopped", "black-holed", "never-accepting"], indirect=True)


@DEAD
def test_comments_are_stored_fast_and_still_limited_per_process(client, site, caplog):
    caplog.set_level(logging.WARNING, logger="comment_service.ratelimit")
    for i in range(3):
        r, took = timed(post, client)
        assert r.status_code == 201, r.get_json()
        assert took < FAST, f"post {i} took {took:.2f}s"
    r, took = timed(post, client)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # the limit holds, in this process
    assert took < FAST
    warnings = [rec.getMessage() for rec in caplog.records if WARNING in rec.getMessage()]
    assert warnings and all("127.0.0.1" not in w for w in warnings)
    assert client.get("/api/v1/sites/news/counts?thread=article-42").get_json()["counts"]["article-42"] == 3


@DEAD
def test_readiness_names_the_degraded_store_and_answers_fast(client, site):
    r, took = timed(client.get, "/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "degraded", "checks": {"database": "ok", "rate_limit_store": "unavailable"}}
    assert took < FAST
    r, took = timed(client.get, "/healthz")
    assert r.status_code == 200 and took < FAST


@DEAD
def test_sign_in_works_and_failures_are_still_counted(client, site, caplog):
    caplog.set_level(logging.WARNING, logger="comment_service.ratelimit")
    admin = make_moderator("amal@example.org", site)
    for _ in range(3):
        r, took = timed(login, client, admin.email, "wrong guess")
        assert r.status_code == 401 and took < FAST
    r, took = timed(login, client, admin.email, PASSWORD)
    assert r.status_code == 429 and took < 2 * FAST  # the per-process count held the 3 failures
    r, took = timed(login, client, admin.email, PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert took < 2 * FAST
    assert any(WARNING in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize("store", ["redis-via-proxy"], indirect=True)
def test_limits_go_back_to_redis_when_it_answers_again(app, client, site, store, caplog):
    import redis

    caplog.set_level(logging.WARNING, logger="comment_service.ratelimit")
    db14 = redis.Redis.from_url(f"redis://127.0.0.1:6379/{DB}")
    db14.flushdb()
    try:
        assert post_from(client, "198.51.100.1").status_code == 201  # proxy down
        assert limiter.degraded and any(WARNING in rec.getMessage() for rec in caplog.records)
        assert client.get("/readyz").get_json()["status"] == "degraded"
        store.proxy.up()
        deadline = time.monotonic() + 10
        n = 1
        while limiter.degraded and time.monotonic() < deadline:  # Flask-Limiter asks again after 1, 2, 4 ... s
            time.sleep(0.3)
            n += 1
            assert post_from(client, f"198.51.100.{n}").status_code == 201
        assert not limiter.degraded
        assert post_from(client, "198.51.100.200").status_code == 201
        with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.200"}):
            counted_as = client_key().encode()
        assert any(counted_as in k for k in db14.keys("LIMITS*"))  # counted in Redis again
        assert client.get("/readyz").get_json() == {
            "status": "ok", "checks": {"database": "ok", "rate_limit_store": "ok"}}
        # Cut it mid-way again: the next write still succeeds, per process.
        store.proxy.down()
        r, took = timed(post_from, client, "198.51.100.201")
        assert r.status_code == 201 and took < FAST and limiter.degraded
    finally:
        db14.flushdb()
        db14.close()


def test_redis_client_gets_short_timeouts_and_no_retries():
    from comment_service.ratelimit import storage_options

    opts = storage_options("redis://127.0.0.1:6379/0", 0.25)
    assert opts["socket_connect_timeout"] == opts["socket_timeout"] == 0.25
    assert opts["retry"].get_retries() == 0
    assert storage_options("sqlite:////tmp/x.db", 0.25) == {"timeout": 0.25}
    assert storage_options("memory://", 0.25) == {}
