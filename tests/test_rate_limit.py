"""Rate limits: 429 with Retry-After; only stored comments count; limits are configurable."""
from __future__ import annotations

import pytest

from tests.conftest import post
from tests.netfaults import redis_db, redis_up


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "3 per minute"}


def test_fourth_comment_in_a_minute_is_429_with_retry_after(client, site):
    for _ in range(3):
        assert post(client).status_code == 201
    r = post(client)
    assert r.status_code == 429
    assert r.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 61  # the window plus the rounding second
    assert client.get("/api/v1/sites/news/counts?thread=article-42").get_json()["counts"]["article-42"] == 3


def test_field_errors_do_not_use_up_the_limit(client, site):
    for _ in range(5):
        assert post(client, body="").status_code == 422
    assert post(client).status_code == 201


def test_limit_is_per_client_address(client, site):
    for _ in range(3):
        post(client)
    other = client.post(
        "/api/v1/sites/news/comments",
        json={"thread": "t", "author_name": "B", "author_email": "b@example.org", "body": "x"},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert other.status_code == 201


def test_forwarded_for_is_ignored_without_trusted_proxies(client, site):
    for _ in range(3):
        post(client)
    r = client.post(
        "/api/v1/sites/news/comments",
        json={"thread": "t", "author_name": "B", "author_email": "b@example.org", "body": "x"},
        headers={"X-Forwarded-For": "192.0.2.50"},
    )
    assert r.status_code == 429


def test_successful_answers_carry_no_retry_after(client, site):
    assert "Retry-After" not in post(client).headers



@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
@pytest.mark.parametrize("app_config", [{
    "RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "2 per minute",
    "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:6379/{redis_db(15)}",
}])
def test_limits_are_kept_in_redis(app, client, site):
    """Production keeps limits in Redis, so every process (and host) counts the same submissions."""
    import redis

    from comment_service.extensions import limiter

    limiter.reset()
    store = redis.Redis.from_url(f"redis://127.0.0.1:6379/{redis_db(15)}")
    assert post(client).status_code == 201
    assert post(client).status_code == 201
    keys = store.keys("*")
    assert any(b"LIMITS" in k for k in keys)  # the counter lives in Redis, not in this process
    assert not any(b"127.0.0.1" in k for k in keys)  # the client's address is not in the store's keys
    r = post(client)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    limiter.reset()
    store.close()
