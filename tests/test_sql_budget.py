"""SQL statements per request, counted at the engine (before_cursor_execute: SAVEPOINTs count, BEGIN
and COMMIT are the driver's): a budget that fails the suite when a change makes a request cost more.

Measured before issue 10 (9410afe, each request in its own app context as in production): a second
comment on a thread 8, a moderator decision 10 (with a claim and a report: 10), the dashboard's
reported queue with 20 reported items 50 against 8 for none (one report read per item). The same on
SQLite and PostgreSQL (where a claim adds its SET LOCAL, on both pages alike).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Claim, Comment, Report, utcnow
from tests.conftest import auth, comment_payload, db_add, db_get, db_run, post, statements
from tests.dashboard.conftest import login, make_moderator

POST_BUDGET = 5  # site, author facts (bans, history, parent, thread), comment, audit row, thread count
DECISION_BUDGET = 7  # key, item, guarded UPDATE, claim, reports, audit row, thread count
# On PostgreSQL a change's audit row and thread count go in one statement (with a new comment's
# INSERT too): one statement less for each.
ONE_STATEMENT_LESS_ON_POSTGRESQL = 1


def _budget(app, budget: int) -> int:
    with app.app_context():
        dialect = db.engine.dialect.name
    return budget - ONE_STATEMENT_LESS_ON_POSTGRESQL if dialect == "postgresql" else budget


def _sql(app, call) -> tuple[object, list[str]]:
    with statements(app) as sent:
        result = call()
    return result, sent


def test_a_second_comment_on_a_thread(app, client, site):
    assert post(client).status_code == 201  # the first creates the thread (a SAVEPOINT more)
    r, sent = _sql(app, lambda: post(client))
    assert r.status_code == 201
    assert len(sent) <= _budget(app, POST_BUDGET), sent


def test_a_reply_costs_no_more(app, client, site):
    parent = post(client).get_json()["comment"]["id"]
    r, sent = _sql(app, lambda: post(client, parent_id=parent))
    assert r.status_code == 201
    assert len(sent) <= _budget(app, POST_BUDGET), sent


# The key's record; the rate limiter's question reads the site with it (and its answer spares the
# replay lookup), so the view does not read the site again.
KEYED_EXTRA = 1


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "100 per minute",
                                         "MAJLIS_IDEMPOTENCY_PURGE_SECONDS": 60}])
def test_a_second_comment_the_way_the_widget_sends_it(app, client, site):
    """With an Idempotency-Key and the rate limit on: one statement more, and no purge of expired
    keys on every post (once a minute a process: the first post here purged)."""
    payloads = {"first": comment_payload(), "second": comment_payload()}
    send = lambda key: client.post("/api/v1/sites/news/comments", json=payloads[key], headers={  # noqa: E731
        "Idempotency-Key": key})
    assert send("first").status_code == 201
    r, sent = _sql(app, lambda: send("second"))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert len(sent) <= _budget(app, POST_BUDGET + KEYED_EXTRA), sent
    assert not [s for s in sent if s.lstrip().upper().startswith("DELETE")], sent
    r, sent = _sql(app, lambda: send("second"))  # its retry: answered from the record, nothing stored
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
    assert not [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))], sent


def test_a_moderators_decision(app, client, site, key):
    """The dearest kind: a claimed, reported, visible comment rejected (every part of a change runs)."""
    cid = post(client).get_json()["comment"]["id"]
    moderator = f"key:{key[:12]}/amal"
    db_add(Claim(comment_id=cid, site_id=site.id, claimed_by=moderator, expires_at=utcnow() + timedelta(minutes=5)),
           Report(site_id=site.id, comment_id=cid, reason="abuse", fingerprint="f"))
    db_run(sa.update(Comment).where(Comment.id == cid).values(open_reports=1))
    r, sent = _sql(app, lambda: client.post(f"/api/v1/sites/news/comments/{cid}/decision", headers=auth(key, "amal"),
                                            json={"action": "reject", "reason": "abuse", "revision": 1}))
    assert r.status_code == 200 and r.get_json()["comment"]["status"] == "rejected"
    assert len(sent) <= _budget(app, DECISION_BUDGET), sent
    assert db_get(Comment, cid).open_reports == 0


@pytest.fixture
def moderator_browser(app, site):
    admin = make_moderator("amal@example.org", site)
    browser = app.test_client()
    assert login(browser, admin.email).status_code == 302
    return browser


def test_the_queue_page_reads_reports_once_whatever_their_number(app, client, site, moderator_browser):
    """20 items on the page: none reported, then every one: the same statements (it was one per item)."""
    ids = [post(client, thread=f"t-{i}").get_json()["comment"]["id"] for i in range(20)]
    page = "/dashboard/sites/news/queues/unmoderated"
    r, without = _sql(app, lambda: moderator_browser.get(page))
    assert r.status_code == 200 and r.get_data(as_text=True).count('class="item ') == 20
    db_add(*(Report(site_id=site.id, comment_id=cid, reason="abuse", fingerprint="f", note=f"n{cid}") for cid in ids))
    db_run(sa.update(Comment).values(open_reports=1))
    r, reported = _sql(app, lambda: moderator_browser.get(page))
    html = r.get_data(as_text=True)
    assert all(f"n{cid}" in html for cid in ids)  # every item shows its report
    assert len(reported) == len(without), reported
