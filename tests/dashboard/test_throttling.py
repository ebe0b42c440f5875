"""Password guessing is throttled per address and per account; only failures count."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import PASSWORD, csrf, login


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "MAJLIS_LOGIN_RATE_LIMIT": "4 per minute",
            "MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute"}


def test_guessing_one_account_is_throttled_from_any_address(client, admin):
    for i in range(3):
        assert login(client, admin.email, f"guess {i}", REMOTE_ADDR=f"198.51.100.{i}").status_code == 401
    r = login(client, admin.email, PASSWORD, REMOTE_ADDR="203.0.113.50")  # right password, new address
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in r.get_data(as_text=True)
    assert login(client, "other@example.org", "guess", REMOTE_ADDR="203.0.113.51").status_code == 401  # other accounts


def test_one_address_guessing_many_accounts_is_throttled(client, admin):
    for i in range(4):
        assert login(client, f"user{i}@example.org", "guess").status_code == 401
    assert login(client, admin.email).status_code == 429


def test_successful_sign_ins_do_not_use_up_the_limit(client, admin):
    for _ in range(6):
        assert login(client, admin.email).status_code == 302
        client.post("/dashboard/logout", data={"csrf_token": csrf(client, "/dashboard/sites/news/log")})


