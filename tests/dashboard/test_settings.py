"""The settings page (admins): the API's validation, errors shown beside each field; API key rotation."""
from __future__ import annotations

import re

import pytest

from comment_service.services.sites import get_site, site_settings
from tests.conftest import auth, in_ctx
from tests.dashboard.conftest import csrf

URL = "/dashboard/sites/news/settings"
VALID = {"mode": "pre", "banned_words": "قمار\nكلب*\n", "suspect_words": "", "link_limit": "1",
         "hold_first_time": "on", "edit_window_minutes": "10", "report_threshold": "4", "auto_close_days": "",
         "allowed_origins": "https://news.example\nhttps://m.news.example"}


@in_ctx
def _settings() -> dict:
    return site_settings(get_site("news"))


def _save(client, **changes):
    data = {**VALID, "csrf_token": csrf(client, URL), **changes}
    return client.post(URL, data={k: v for k, v in data.items() if v is not None})


def test_settings_are_saved(signed_in, site):
    r = _save(signed_in)
    assert r.status_code == 302 and "Settings saved." in signed_in.get(URL).get_data(as_text=True)
    got = _settings()
    assert got["mode"] == "pre" and got["banned_words"] == ["قمار", "كلب*"] and got["link_limit"] == 1
    assert got["hold_first_time"] is True and got["auto_close_days"] is None and got["report_threshold"] == 4
    assert got["allowed_origins"] == ["https://news.example", "https://m.news.example"]
    r = _save(signed_in, hold_first_time=None, auto_close_days="30")  # an unticked box is "off"
    assert _settings()["hold_first_time"] is False and _settings()["auto_close_days"] == 30


@pytest.mark.parametrize("field,value,message", [
    ("mode", "sometimes", "Must be one of: pre, post."),
    ("link_limit", "-1", "Must be between 0 and 100."),
    ("link_limit", "two", "Must be a whole number."),
    ("link_limit", "٢", "Must be a whole number."),
    ("edit_window_minutes", "99999", "Must be between 0 and 1440."),
    ("report_threshold", "0", "Must be between 1 and 1000."),
    ("auto_close_days", "0", "Must be between 1 and 3650."),
    ("banned_words", "ok\n" + "x" * 101, "line 2: Must be at most 100 characters."),
    ("allowed_origins", "https://news.example/path", "line 1: Give an origin like https://news.example (no path)."),
])
def test_each_invalid_field_says_what_is_wrong_beside_it(signed_in, site, field, value, message):
    before = _settings()
    r = _save(signed_in, **{field: value})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "nothing was saved" in page
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page) or f'aria-invalid="true" aria-describedby="err-{field}-1"' in page
    assert f'<p class="field-error" id="err-{field}-1">{message}</p>' in page.replace("\n  ", "")
    assert _settings() == before


def test_errors_are_in_arabic_for_an_arabic_moderator(ctx, signed_in, site, admin):
    from comment_service.services import moderators

    with ctx:
        moderators.set_language(moderators.find_moderator(admin.email), "ar")
    page = _save(signed_in, link_limit="-1").get_data(as_text=True)
    assert "خارج المدى المسموح." in page and "عدد صحيح من 0 إلى 100." in page


def test_rotating_the_api_key_shows_it_once(client, signed_in, site, key):
    token = csrf(signed_in, URL)
    r = signed_in.post(f"{URL}/keys", data={"csrf_token": token, "op": "rotate", "revoke_old": "on"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new = re.search(r'<code dir="ltr" class="secret">(mjl_[^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/sites/news/queues", headers=auth(new)).status_code == 200
    assert client.get("/api/v1/sites/news/queues", headers=auth(key)).status_code == 401  # revoked
    page = signed_in.get(URL).get_data(as_text=True)
    assert new not in page and new[:12] in page  # later only its prefix
    r = signed_in.post(f"{URL}/keys", data={"csrf_token": token, "op": "revoke", "prefix": new[:12]})
    assert r.status_code == 302 and client.get("/api/v1/sites/news/queues", headers=auth(new)).status_code == 401
