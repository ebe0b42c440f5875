"""The moderation API as a site's back end uses it: keys, settings, queues, claims, decisions."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service.models import Claim, Comment, ModerationAction, utcnow
from tests.conftest import auth, configure, db_get, db_run, db_scalar, db_scalars, post

API = "/api/v1/sites/news"


@pytest.fixture
def held(ctx, client, site):
    """Five pending comments on a pre-moderated "news" site; their ids."""
    configure(ctx, "news", {"mode": "pre"})
    return [post(client, body=f"held {i}").get_json()["comment"]["id"] for i in range(5)]


def _decide(client, key, cid, action, revision, moderator=None, **extra):
    return client.post(f"{API}/comments/{cid}/decision", json={"action": action, "revision": revision, **extra},
                       headers=auth(key, moderator))


# --- keys ------------------------------------------------------------------------------------

def test_no_key_is_401_with_challenge(client, site):
    r = client.get(f"{API}/queues")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic abc", "mjl_x"])
def test_bad_key_is_401(client, site, key, header):
    assert client.get(f"{API}/queues", headers={"Authorization": header}).status_code == 401


def test_keys_are_stored_hashed(site, key):
    from comment_service.models import SiteApiKey

    row = db_scalar(sa.select(SiteApiKey))
    assert row.key_hash != key and key not in row.key_hash and row.prefix == key[:12]


def test_rotated_and_revoked_keys(runner, client, site, key):
    r = runner.invoke(args=["sites", "rotate-key", "news"])
    new = r.output.split(": ")[-1].strip()
    assert client.get(f"{API}/queues", headers=auth(new)).status_code == 200
    assert client.get(f"{API}/queues", headers=auth(key)).status_code == 200  # old one still valid
    r = runner.invoke(args=["sites", "revoke-key", "news", key[:12]])
    assert r.exit_code == 0, r.output
    assert client.get(f"{API}/queues", headers=auth(key)).status_code == 401
    assert client.get(f"{API}/queues", headers=auth(new)).status_code == 200
    runner.invoke(args=["sites", "rotate-key", "news", "--revoke-old"])
    assert client.get(f"{API}/queues", headers=auth(new)).status_code == 401
    listing = runner.invoke(args=["sites", "keys", "news"]).output
    assert listing.count("revoked") == 2 and listing.count("active") == 1


def test_sites_create_prints_a_working_key_once(runner, client):
    r = runner.invoke(args=["sites", "create", "gazette", "--name", "G"])
    key = r.output.split("API key (shown once, store it now): ")[1].strip()
    assert client.get("/api/v1/sites/gazette/settings", headers=auth(key)).status_code == 200


# --- settings --------------------------------------------------------------------------------

def test_settings_roundtrip(client, site, key):
    r = client.put(f"{API}/settings", headers=auth(key), json={
        "mode": "pre", "banned_words": ["قمار", "كلب*"], "link_limit": 0, "auto_close_days": 30,
        "allowed_origins": ["https://news.example", "https://m.news.example"],
    })
    assert r.status_code == 200, r.get_json()
    got = client.get(f"{API}/settings", headers=auth(key)).get_json()
    assert got["mode"] == "pre" and got["banned_words"] == ["قمار", "كلب*"] and got["link_limit"] == 0
    assert got["report_threshold"] == 3  # untouched settings keep their value
    assert got["allowed_origins"] == ["https://news.example", "https://m.news.example"]
    assert post(client, body="لا للقمار").get_json()["comment"]["status"] == "pending"  # rejected, shown as pending


@pytest.mark.parametrize(
    "body,field,code",
    [
        ({"mode": "sometimes"}, "mode", "invalid_choice"),
        ({"link_limit": -1}, "link_limit", "out_of_range"),
        ({"link_limit": "2"}, "link_limit", "invalid_type"),
        ({"hold_first_time": "yes"}, "hold_first_time", "invalid_type"),
        ({"banned_words": ["x" * 101]}, "banned_words.0", "too_long"),
        ({"banned_words": [""]}, "banned_words.0", "required"),
        ({"report_threshold": 0}, "report_threshold", "out_of_range"),
        ({"allowed_origins": ["https://a.example/path"]}, "allowed_origins.0", "invalid_origin"),
        ({"allowed_origins": ["news.example"]}, "allowed_origins.0", "invalid_origin"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_settings_validation(client, site, key, body, field, code):
    before = client.get(f"{API}/settings", headers=auth(key)).get_json()
    r = client.put(f"{API}/settings", headers=auth(key), json=body)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"][field][0]["code"] == code
    assert client.get(f"{API}/settings", headers=auth(key)).get_json() == before


# --- queues ----------------------------------------------------------------------------------

def test_queue_counts_and_oldest_age(client, key, held):
    r = client.get(f"{API}/queues", headers=auth(key)).get_json()
    assert r["counts"]["pending"] == 5 and r["counts"]["unmoderated"] == 5 and r["counts"]["spam"] == 0
    assert r["oldest_pending_age_seconds"] >= 0


def test_queue_page_shows_what_a_moderator_needs(client, key, held):
    r = client.get(f"{API}/queues/pending?limit=2", headers=auth(key))
    assert r.status_code == 200
    page = r.get_json()
    assert [i["id"] for i in page["items"]] == held[:2]
    item = page["items"][0]
    assert item["author"]["email"] == "layla@example.org"  # moderators see the email
    assert item["reasons"][0]["code"] == "pre_moderation"
    assert item["revision"] == 1 and item["thread"] == {"key": "article-42", "title": "مقال تجريبي"}
    assert item["author_history"]["pending"] == 5
    rest = client.get(f"{API}/queues/pending?limit=50&cursor={page['next_cursor']}", headers=auth(key)).get_json()
    assert [i["id"] for i in rest["items"]] == held[2:] and rest["next_cursor"] is None


def test_unknown_queue_is_404(client, key, site):
    r = client.get(f"{API}/queues/everything", headers=auth(key))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "queue_not_found"


# --- claims ----------------------------------------------------------------------------------

def test_claims_never_hand_the_same_item_to_two_moderators(client, key, held):
    a = client.post(f"{API}/queues/pending/claim", json={"limit": 3, "lease_seconds": 60}, headers=auth(key, "amal"))
    b = client.post(f"{API}/queues/pending/claim", json={"limit": 3, "lease_seconds": 60}, headers=auth(key, "bilal"))
    ids_a = [i["id"] for i in a.get_json()["items"]]
    ids_b = [i["id"] for i in b.get_json()["items"]]
    assert ids_a == held[:3] and ids_b == held[3:]
    assert a.get_json()["items"][0]["claim"]["by"].endswith("/amal")
    # a decision on an item leased to someone else is refused and changes nothing
    r = _decide(client, key, ids_a[0], "approve", 1, "bilal")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "claimed_by_other"
    assert db_get(Comment, ids_a[0]).status.value == "pending"
    assert _decide(client, key, ids_a[0], "approve", 1, "amal").status_code == 200


def test_leases_expire_by_themselves(client, key, held):
    client.post(f"{API}/queues/pending/claim", json={"limit": 5, "lease_seconds": 60}, headers=auth(key, "amal"))
    assert client.post(f"{API}/queues/pending/claim", json={"limit": 5}, headers=auth(key, "bilal")).get_json()["items"] == []
    db_run(sa.update(Claim).values(expires_at=utcnow() - timedelta(seconds=1)))
    again = client.post(f"{API}/queues/pending/claim", json={"limit": 5}, headers=auth(key, "bilal")).get_json()
    assert [i["id"] for i in again["items"]] == held


def test_release_gives_items_back(client, key, held):
    client.post(f"{API}/queues/pending/claim", json={"limit": 2}, headers=auth(key, "amal"))
    r = client.post(f"{API}/queues/pending/release", json={"ids": held[:2]}, headers=auth(key, "bilal"))
    assert r.get_json() == {"released": 0}  # not theirs to release
    r = client.post(f"{API}/queues/pending/release", json={"ids": held[:2]}, headers=auth(key, "amal"))
    assert r.get_json() == {"released": 2}


@pytest.mark.parametrize("body,field", [({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                                        ({"lease_seconds": 5}, "lease_seconds"), ({"limit": "5"}, "limit")])
def test_claim_validation(client, key, held, body, field):
    r = client.post(f"{API}/queues/pending/claim", json=body, headers=auth(key))
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]


# --- decisions -------------------------------------------------------------------------------

def test_approve_publishes_and_writes_audit_in_the_same_transaction(client, key, held):
    r = _decide(client, key, held[0], "approve", 1, "amal", note="fine")
    assert r.status_code == 200
    c = r.get_json()["comment"]
    assert c["status"] == "approved" and c["revision"] == 2
    page = client.get(f"{API}/comments?thread=article-42").get_json()
    assert [x["id"] for x in page["comments"]] == [held[0]] and page["thread"]["comment_count"] == 1
    # the audit row and the event of a decision: tests/test_changes.py; here, who and the note as sent
    last = db_scalars(sa.select(ModerationAction).where(ModerationAction.comment_id == held[0]))[-1]
    assert last.actor_id.endswith("/amal") and last.note == "fine"


def test_stale_revision_is_409_and_changes_nothing(client, key, held):
    assert _decide(client, key, held[0], "approve", 1).status_code == 200
    r = _decide(client, key, held[0], "reject", 1, reason="abuse")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_revision"
    assert "revision 2" in r.get_json()["error"]["message"]
    assert db_get(Comment, held[0]).status.value == "approved"  # nothing else written: tests/test_changes.py


def test_transition_that_does_not_apply_is_409(client, key, held):
    assert _decide(client, key, held[0], "not_spam", 1).get_json()["error"]["code"] == "invalid_transition"


def test_reject_needs_a_reason_code(client, key, held):
    r = _decide(client, key, held[0], "reject", 1)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["reason"][0]["code"] == "required"
    r = _decide(client, key, held[0], "reject", 1, reason="because")
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    assert _decide(client, key, held[0], "reject", 1, reason="personal_attack").status_code == 200


def test_delete_and_restore_returns_to_previous_status(client, key, held):
    _decide(client, key, held[0], "approve", 1)
    _decide(client, key, held[0], "delete", 2)
    assert client.get(f"{API}/counts?thread=article-42").get_json()["counts"]["article-42"] == 0
    r = _decide(client, key, held[0], "restore", 3)
    assert r.get_json()["comment"]["status"] == "approved"
    assert client.get(f"{API}/counts?thread=article-42").get_json()["counts"]["article-42"] == 1


def test_spam_and_not_spam(client, key, held):
    assert _decide(client, key, held[0], "spam", 1).get_json()["comment"]["status"] == "spam"
    assert _decide(client, key, held[0], "not_spam", 2).get_json()["comment"]["status"] == "pending"


def test_unknown_comment_is_404(client, key, held):
    assert _decide(client, key, 999999, "approve", 1).status_code == 404


def test_history_lists_every_change(client, key, held):
    _decide(client, key, held[0], "approve", 1, "amal")
    _decide(client, key, held[0], "reject", 2, "amal", reason="off_topic")
    h = client.get(f"{API}/comments/{held[0]}/history", headers=auth(key)).get_json()["history"]
    assert [(e["from_status"], e["to_status"], e["reason"]) for e in h] == [
        (None, "pending", "pre_moderation"), ("pending", "approved", None), ("approved", "rejected", "off_topic")]
    assert [e["revision"] for e in h] == [1, 1, 2]


def test_bulk_decisions_report_each_item(client, key, held):
    r = client.post(f"{API}/decisions", headers=auth(key), json={"decisions": [
        {"id": held[0], "action": "approve", "revision": 1},
        {"id": held[1], "action": "approve", "revision": 7},
        {"id": 999999, "action": "approve", "revision": 1},
        {"id": held[2], "action": "spam", "revision": 1},
    ]})
    assert r.status_code == 200
    res = r.get_json()["results"]
    assert [(x["id"], x["ok"], x["status_code"]) for x in res] == [
        (held[0], True, 200), (held[1], False, 409), (999999, False, 404), (held[2], True, 200)]
    assert res[1]["error"]["code"] == "stale_revision"
    assert [db_get(Comment, i).status.value for i in held[:3]] == ["approved", "pending", "spam"]


def test_bulk_validation_names_the_item(client, key, held):
    r = client.post(f"{API}/decisions", headers=auth(key), json={"decisions": [
        {"id": held[0], "action": "approve", "revision": 1}, {"id": held[1], "action": "reject", "revision": 1}]})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["decisions.1.reason"][0]["code"] == "required"
    assert db_get(Comment, held[0]).status.value == "pending"  # a malformed request decides nothing


def test_moderator_header_is_checked(client, key, held):
    r = client.get(f"{API}/queues", headers=auth(key, "x" * 65))
    assert r.status_code == 200  # reads do not use it
    r = client.post(f"{API}/queues/pending/claim", json={}, headers=auth(key, "x" * 65))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_moderator"


# --- reports ---------------------------------------------------------------------------------

def _report(client, cid, reason="abuse", ua="reader-1", ip="198.51.100.7", **extra):
    return client.post(f"{API}/comments/{cid}/reports", json={"reason": reason, **extra},
                       headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": ip})


def test_reports_count_once_per_reader_and_hide_at_threshold(client, key, site):
    cid = post(client, body="controversial").get_json()["comment"]["id"]
    assert _report(client, cid).status_code == 201
    assert _report(client, cid).status_code == 200  # the same reader again: counted once
    assert db_get(Comment, cid).open_reports == 1
    queue = client.get(f"{API}/queues/reported", headers=auth(key)).get_json()["items"]
    assert [i["id"] for i in queue] == [cid]
    _report(client, cid, ua="reader-2", note="insulting")
    _report(client, cid, ua="reader-3", ip="203.0.113.9", reason="spam")
    c = db_get(Comment, cid)
    assert c.status.value == "pending" and c.hold_reasons[-1]["code"] == "reported"
    assert client.get(f"{API}/comments?thread=article-42").get_json()["comments"] == []
    reports = client.get(f"{API}/comments/{cid}/reports", headers=auth(key)).get_json()["reports"]
    assert [r["reason"] for r in reports] == ["abuse", "abuse", "spam"] and reports[1]["note"] == "insulting"
    assert "fingerprint" not in reports[0]
    # the moderator keeps it: approving answers the reports
    r = _decide(client, key, cid, "approve", c.revision)
    assert r.get_json()["comment"]["open_reports"] == 0
    assert client.get(f"{API}/queues/reported", headers=auth(key)).get_json()["items"] == []


def test_dismissing_reports_keeps_the_comment(client, key, site):
    cid = post(client, body="fine really").get_json()["comment"]["id"]
    _report(client, cid)
    r = client.post(f"{API}/comments/{cid}/reports/dismiss", json={"revision": 1}, headers=auth(key))
    assert r.status_code == 200
    assert r.get_json()["comment"]["status"] == "published" and r.get_json()["comment"]["open_reports"] == 0
    again = client.post(f"{API}/comments/{cid}/reports/dismiss", json={"revision": 2}, headers=auth(key))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "no_open_reports"


@pytest.mark.parametrize("body,field,code", [({}, "reason", "required"), ({"reason": "boring"}, "reason", "invalid_choice"),
                                             ({"reason": "other", "note": "n" * 501}, "note", "too_long")])
def test_report_validation(client, site, body, field, code):
    cid = post(client).get_json()["comment"]["id"]
    r = client.post(f"{API}/comments/{cid}/reports", json=body)
    assert r.status_code == 422 and r.get_json()["error"]["fields"][field][0]["code"] == code


def test_only_visible_comments_can_be_reported(client, site, held):
    assert _report(client, held[0]).status_code == 404
    assert _report(client, 424242).status_code == 404


@pytest.mark.parametrize("cid", ["2147483648", "9999999999", "99999999999999999999", "-1", "1.5"])
def test_impossible_comment_ids_are_404(client, key, site, cid):
    r = client.get(f"{API}/comments/{cid}/history", headers=auth(key))
    assert r.status_code == 404
