"""The moderation pipeline through the API: every rule, as a reader and the database see it."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service import services
from comment_service.models import Ban, Comment, ModerationAction, Thread, utcnow
from comment_service.services.identity import domain_hmac, email_hmac, ip_hmac
from tests.conftest import configure, db_add, db_get, db_run, db_scalar, post

URL = "/api/v1/sites/news/comments?thread=article-42"


def _stored(resp) -> Comment:
    return db_get(Comment, resp.get_json()["comment"]["id"])


def _listed(client) -> list[int]:
    return [c["id"] for c in client.get(URL).get_json()["comments"]]


@pytest.fixture
def strict(ctx, site):
    configure(ctx, "news", {"banned_words": ["قمار"], "suspect_words": ["سياسة*"], "link_limit": 1})
    return site


def test_banned_word_is_rejected_but_the_author_sees_awaiting_moderation(client, strict):
    r = post(client, body="تعالوا إلى القِمار الليلة")
    assert r.status_code == 201
    assert r.get_json()["comment"]["status"] == "pending"
    stored = _stored(r)
    assert stored.status.value == "rejected"
    (reason,) = stored.hold_reasons
    assert reason["code"] == "banned_word"
    assert stored.body_source[reason["span"][0]:reason["span"][1]] == "القِمار"
    assert stored.id not in _listed(client)


def test_suspect_word_and_links_hold_with_every_reason(client, strict):
    r = post(client, body="عن السياسات: https://a.example/1 و https://b.example/2")
    stored = _stored(r)
    assert stored.status.value == "pending"
    assert [x["code"] for x in stored.hold_reasons] == ["suspect_word", "too_many_links"]
    assert "span" in stored.hold_reasons[0] and "span" not in stored.hold_reasons[1]
    action = db_scalar(sa.select(ModerationAction).where(ModerationAction.comment_id == stored.id))
    assert action.reason_code == "suspect_word"


def test_clean_comment_on_strict_site_is_published(client, strict):
    r = post(client, body="أقمار الليل جميلة")  # أقمار (moons) is not قمار (gambling)
    assert r.get_json()["comment"]["status"] == "published"


def test_honeypot_looks_like_success_and_is_stored_as_spam(client, site):
    r = post(client, company="ACME Pills Ltd")
    assert r.status_code == 201
    assert r.get_json()["comment"]["status"] == "pending"
    assert _stored(r).status.value == "spam"
    assert _stored(r).hold_reasons[0]["code"] == "honeypot"


def test_empty_honeypot_is_fine(client, site):
    assert post(client, company="").get_json()["comment"]["status"] == "published"


def test_duplicate_by_same_author_is_held(client, site):
    assert post(client, body="same words").get_json()["comment"]["status"] == "published"
    again = post(client, body="same words")
    assert _stored(again).status.value == "pending"
    assert _stored(again).hold_reasons[0]["code"] == "duplicate"
    other_author = post(client, body="same words", author_email="someone@example.org")
    assert other_author.get_json()["comment"]["status"] == "published"


def test_first_time_authors_held_until_one_comment_is_approved(ctx, client, site):
    configure(ctx, "news", {"hold_first_time": True})
    first = post(client)
    assert _stored(first).hold_reasons[0]["code"] == "first_time_author"
    db_run(sa.update(Comment).where(Comment.id == first.get_json()["comment"]["id"]).values(status="approved"))
    assert post(client).get_json()["comment"]["status"] == "published"
    # trust is per email (keyed hash), not per name: another email with the same name is still new
    assert post(client, author_email="impostor@example.org").get_json()["comment"]["status"] == "pending"


def test_pre_moderation_mode_switch_takes_effect(ctx, client, site):
    configure(ctx, "news", {"mode": "pre"})
    assert post(client).get_json()["comment"]["status"] == "pending"


@pytest.mark.parametrize("kind", ["email", "domain", "ip"])
def test_banned_author_refused_with_403_and_nothing_stored(ctx, client, site, kind):
    digest = ctx({
        "email": lambda: email_hmac("layla@example.org"),
        "domain": lambda: domain_hmac("EXAMPLE.org"),
        "ip": lambda: ip_hmac("127.0.0.99"),
    }[kind])
    db_add(Ban(site_id=site.id, kind=kind, value_hmac=digest, label="x"))
    r = post(client, thread="brand-new-thread")
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "author_banned"
    assert db_scalar(sa.select(sa.func.count()).select_from(Comment)) == 0
    assert db_scalar(sa.select(sa.func.count()).select_from(Thread)) == 0


def test_expired_ban_no_longer_applies(ctx, client, site):
    db_add(Ban(site_id=site.id, kind="email", value_hmac=ctx(email_hmac, "layla@example.org"), label="x",
               expires_at=utcnow() - timedelta(minutes=1)))
    assert post(client).status_code == 201


def test_ban_on_one_site_does_not_apply_to_another(ctx, client, site, premod_site):
    db_add(Ban(site_id=premod_site.id, kind="email", value_hmac=ctx(email_hmac, "layla@example.org"), label="x"))
    assert post(client).status_code == 201


def test_thread_auto_closes_after_n_days(ctx, client, site):
    post(client)
    configure(ctx, "news", {"auto_close_days": 2})
    db_run(sa.update(Thread).values(created_at=utcnow() - timedelta(days=3)))
    r = post(client)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "thread_closed"
    assert post(client, thread="fresh-article").status_code == 201


def test_settings_defaults(ctx, site):
    s = ctx(services.sites.site_settings, site)
    assert s == {
        "mode": "post", "allowed_origins": ["https://news.example"], "link_limit": 2, "banned_words": [],
        "suspect_words": [], "hold_first_time": False, "edit_window_minutes": 15, "report_threshold": 3,
        "auto_close_days": None, "language": "en", "sla_minutes": None,
    }
