"""Bans through the API: by email, domain or IP prefix, stored as digests; listing, lifting, rejecting
what a banned author already posted; every failure a field-level 4xx; one site's key sees only its bans."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from comment_service import services
from comment_service.extensions import db
from comment_service.models import Ban, Comment, Thread, utcnow
from comment_service.moderation.status import Action, ModerationMode, Status
from comment_service.services import moderation
from comment_service.services.identity import domain_hmac, email_hmac, ip_hmac
from comment_service.services.moderation import Decision
from comment_service.services.sites import issue_api_key, revoke_api_keys
from tests.conftest import auth, db_get, db_run, db_scalar, db_scalars, post
from tests.test_openapi_schemathesis import schema as openapi

BANS = "/api/v1/sites/news/bans"


@pytest.fixture
def other_key(ctx) -> str:
    """The API key of a second site, "other"."""
    with ctx:
        return issue_api_key(services.create_site("other", "Other Times", [], ModerationMode.POST))


def _ban(client, key, **body):
    return client.post(BANS, json=body, headers=auth(key))


def _bans() -> list[Ban]:
    return list(db_scalars(sa.select(Ban).order_by(Ban.id)))


def _status(comment_id: int) -> Status:
    return db_get(Comment, comment_id).status


# kind, value as sent, the label shown, the digest stored, a submission it refuses (email, client IP)
BAN_CASES = [
    pytest.param("email", "Layla@EXAMPLE.org", "L***@example.org", lambda: email_hmac("layla@example.org"),
                 ("LAYLA@example.org", "192.0.2.1"), id="email-any-case"),
    pytest.param("email", "ليلى@مثال.مصر", "ل***@مثال.مصر", lambda: email_hmac("ليلى@مثال.مصر"),
                 ("ليلى@XN--MGBH0FB.XN--WGBH1C", "192.0.2.1"), id="email-internationalised"),
    pytest.param("domain", "EXAMPLE.org", "example.org", lambda: domain_hmac("example.org"),
                 ("anyone@Example.ORG", "192.0.2.1"), id="domain"),
    pytest.param("domain", "@example.org", "example.org", lambda: domain_hmac("example.org"),
                 ("anyone@example.org", "192.0.2.1"), id="domain-with-at"),
    pytest.param("domain", "XN--MGBH0FB.XN--WGBH1C", "مثال.مصر", lambda: domain_hmac("مثال.مصر"),
                 ("ليلى@مثال.مصر", "192.0.2.1"), id="domain-idna-form"),
    pytest.param("ip", "203.0.113.7", "203.0.113.0/24", lambda: ip_hmac("203.0.113.200"),
                 ("x@example.net", "203.0.113.250"), id="ipv4-address-bans-its-24"),
    pytest.param("ip", "203.0.113.64/26", "203.0.113.0/24", lambda: ip_hmac("203.0.113.1"),
                 ("x@example.net", "203.0.113.1"), id="ipv4-narrow-prefix-widens-to-24"),
    pytest.param("ip", "::ffff:203.0.113.7", "203.0.113.0/24", lambda: ip_hmac("203.0.113.9"),
                 ("x@example.net", "203.0.113.9"), id="ipv4-mapped"),
    pytest.param("ip", "2001:DB8:1:2::7", "2001:db8:1::/48", lambda: ip_hmac("2001:db8:1:ffff::1"),
                 ("x@example.net", "2001:db8:1:ffff::1"), id="ipv6-address-bans-its-48"),
    pytest.param("ip", "2001:db8:1::/48", "2001:db8:1::/48", lambda: ip_hmac("2001:db8:1::1"),
                 ("x@example.net", "2001:db8:1::1"), id="ipv6-prefix"),
]


@pytest.mark.parametrize(("kind", "value", "label", "digest", "refused"), BAN_CASES)
def test_ban_stores_a_digest_and_a_safe_label_and_refuses_the_author(ctx, client, site, key, kind, value, label,
                                                                    digest, refused):
    r = _ban(client, key, kind=kind, value=value, reason="Repeated abuse")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["rejected_comments"] == 0
    ban = body["ban"]
    assert ban["kind"] == kind and ban["label"] == label and ban["reason"] == "Repeated abuse"
    assert ban["expires_at"] is None and ban["expired"] is False
    assert ban["created_by"] == f"key:{key[:12]}"
    (stored,) = _bans()
    assert stored.value_hmac == ctx(digest) and stored.label == label
    email, ip = refused
    r = client.post("/api/v1/sites/news/comments", environ_base={"REMOTE_ADDR": ip},
                    json={"thread": "t", "author_name": "A", "author_email": email, "body": "Hello"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "author_banned"


def test_ban_does_not_cover_neighbours(client, site, key):
    _ban(client, key, kind="domain", value="example.org")
    _ban(client, key, kind="ip", value="203.0.113.7")
    _ban(client, key, kind="email", value="layla@example.net")
    for email, ip in [("x@sub.example.org", "192.0.2.1"), ("x@example.org.evil", "192.0.2.1"),
                      ("x@example.com", "203.0.114.7"), ("layla2@example.net", "192.0.2.1")]:
        r = client.post("/api/v1/sites/news/comments", environ_base={"REMOTE_ADDR": ip},
                        json={"thread": "t", "author_name": "A", "author_email": email, "body": f"Hi {email}"})
        assert r.status_code == 201, (email, ip)


PAST = (utcnow() - timedelta(minutes=1)).isoformat()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"kind": "email", "value": "not-an-email"}, "value", "invalid_email"),
        ({"kind": "email", "value": "a@b@example.org"}, "value", "invalid_email"),
        ({"kind": "domain", "value": "exa mple.org"}, "value", "invalid_domain"),
        ({"kind": "domain", "value": "layla@example.org"}, "value", "invalid_domain"),
        ({"kind": "domain", "value": "@"}, "value", "invalid_domain"),
        ({"kind": "ip", "value": "999.1.1.1"}, "value", "invalid_ip"),
        ({"kind": "ip", "value": "203.0.113"}, "value", "invalid_ip"),
        ({"kind": "ip", "value": "example.org"}, "value", "invalid_ip"),
        ({"kind": "ip", "value": "fe80::1%eth0"}, "value", "invalid_ip"),
        ({"kind": "ip", "value": "203.0.113.0/33"}, "value", "invalid_ip"),
        ({"kind": "ip", "value": "10.0.0.0/8"}, "value", "prefix_too_wide"),
        ({"kind": "ip", "value": "2001:db8::/32"}, "value", "prefix_too_wide"),
        ({"kind": "ip", "value": "::ffff:10.0.0.0/104"}, "value", "prefix_too_wide"),
        ({"kind": "name", "value": "Layla"}, "kind", "invalid_choice"),
        ({"value": "layla@example.org"}, "kind", "required"),
        ({"kind": "email"}, "value", "required"),
        ({"kind": "email", "value": ""}, "value", "required"),
        ({"kind": "email", "value": None}, "value", "null"),
        ({"kind": "email", "value": 42}, "value", "invalid_type"),
        ({"kind": "domain", "value": "a" * 321}, "value", "too_long"),
        ({"kind": "email", "value": "x@example.org", "reason": "r" * 501}, "reason", "too_long"),
        ({"kind": "email", "value": "x@example.org", "reason": "a\u202eb"}, None, None),  # bidi stripped, not refused
        ({"kind": "email", "value": "x@example.org", "expires_at": PAST}, "expires_at", "in_the_past"),
        ({"kind": "email", "value": "x@example.org", "expires_at": "tomorrow"}, "expires_at", "invalid_datetime"),
        ({"kind": "email", "value": "x@example.org", "expires_at": "9999-12-31T23:59:59-14:00"}, "expires_at", "out_of_range"),
        ({"kind": "email", "value": "x@example.org", "expires_in_days": 0}, "expires_in_days", "out_of_range"),
        ({"kind": "email", "value": "x@example.org", "expires_in_days": 3651}, "expires_in_days", "out_of_range"),
        ({"kind": "email", "value": "x@example.org", "expires_in_days": "7"}, "expires_in_days", "invalid_type"),
        ({"kind": "email", "value": "x@example.org", "expires_in_days": 7, "expires_at": "2999-01-01T00:00:00Z"},
         "expires_in_days", "mutually_exclusive"),
        ({"kind": "email", "value": "x@example.org", "reject_existing": "yes"}, "reject_existing", "invalid_type"),
        ({"kind": "email", "value": "x@example.org", "label": "mine"}, "label", "unknown_field"),
    ],
)
def test_ban_validation_errors_are_field_level_and_store_nothing(client, site, key, body, field, code):
    r = _ban(client, key, **body)
    if field is None:
        assert r.status_code == 201 and r.get_json()["ban"]["reason"] == "ab"
        return
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert code in [e["code"] for e in error["fields"][field]], error
    assert _bans() == []


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "kind=email", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": "{", "content_type": "application/json"}, 400, "malformed_json"),
        ({"data": b"\xff", "content_type": "application/json"}, 400, "invalid_encoding"),
        ({"json": ["email", "x@example.org"]}, 422, "validation_failed"),
        ({"json": {"kind": "email", "value": "x\u0000@example.org"}}, 400, "invalid_characters"),
    ],
)
def test_malformed_requests_are_4xx(client, site, key, kwargs, status, code):
    r = client.post(BANS, headers=auth(key), **kwargs)
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    assert _bans() == []


def test_expiry_in_days_or_at_a_time(client, site, key):
    before = utcnow()
    r = _ban(client, key, kind="email", value="a@example.org", expires_in_days=7)
    expires = datetime.fromisoformat(r.get_json()["ban"]["expires_at"])
    assert before + timedelta(days=7) <= expires <= utcnow() + timedelta(days=7)
    r = _ban(client, key, kind="email", value="b@example.org", expires_at="2999-01-01T12:00:00+03:00")
    assert r.get_json()["ban"]["expires_at"] == "2999-01-01T09:00:00+00:00"
    r = _ban(client, key, kind="email", value="c@example.org", expires_at="2999-01-01T12:00:00")  # no offset: UTC
    assert r.get_json()["ban"]["expires_at"] == "2999-01-01T12:00:00+00:00"


def test_list_is_newest_first_with_expired_flagged_and_pages(client, site, key):
    for i in range(5):
        assert _ban(client, key, kind="email", value=f"u{i}@example.org", expires_in_days=1).status_code == 201
    db_run(sa.update(Ban).where(Ban.id == 2).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = client.get(BANS, headers=auth(key))
    assert r.status_code == 200
    bans = r.get_json()["bans"]
    assert [b["id"] for b in bans] == [5, 4, 3, 2, 1]
    assert [b["expired"] for b in bans] == [False, False, False, True, False]
    assert "u1@example.org" not in r.get_data(as_text=True)
    seen, cursor = [], None
    while True:
        page = client.get(BANS + "?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=auth(key)).get_json()
        seen += [b["id"] for b in page["bans"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]


@pytest.mark.parametrize(("query", "field", "code"), [
    ("?limit=0", "limit", "out_of_range"), ("?limit=201", "limit", "out_of_range"),
    ("?limit=x", "limit", "invalid_type"), ("?cursor=%C2%B2", "cursor", "invalid_cursor"),
    ("?cursor=99999999999", "cursor", "invalid_cursor"),
])
def test_list_query_errors(client, site, key, query, field, code):
    r = client.get(BANS + query, headers=auth(key))
    assert r.status_code == 422 and r.get_json()["error"]["fields"][field][0]["code"] == code


def test_an_active_ban_of_the_same_value_is_a_conflict_an_expired_one_is_not(client, site, key):
    assert _ban(client, key, kind="email", value="layla@example.org").status_code == 201
    r = _ban(client, key, kind="email", value="LAYLA@example.org", reject_existing=True)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_banned"
    db_run(sa.update(Ban).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _ban(client, key, kind="email", value="layla@example.org").status_code == 201
    assert len(_bans()) == 2


def test_lifting_a_ban_lets_the_author_in_again(client, site, key):
    ban_id = _ban(client, key, kind="email", value="layla@example.org").get_json()["ban"]["id"]
    assert post(client).status_code == 403
    r = client.delete(f"{BANS}/{ban_id}", headers=auth(key))
    assert r.status_code == 204 and r.data == b""
    assert post(client).status_code == 201
    again = client.delete(f"{BANS}/{ban_id}", headers=auth(key))
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "ban_not_found"


@pytest.mark.parametrize("ban_id", ["424242", "2147483648", "99999999999999999999", "-1", "x"])
def test_lifting_an_unknown_ban_is_404(client, site, key, ban_id):
    assert client.delete(f"{BANS}/{ban_id}", headers=auth(key)).status_code == 404


@pytest.fixture
def authors(ctx, client, site):
    """Layla's comments (published, pending, approved) and Omar's (a reply to Layla; one from another network)."""
    ids = {"layla_published": post(client, body="first").get_json()["comment"]["id"]}
    ids["layla_pending"] = post(client, body="first").get_json()["comment"]["id"]  # a duplicate: held
    ids["layla_approved"] = post(client, body="third").get_json()["comment"]["id"]
    ctx(moderation.decide, site, ids["layla_approved"], Decision(Action.APPROVE, 1), "mod")
    ids["omar_reply"] = post(client, author_name="Omar", author_email="omar@example.net", body="reply",
                             parent_id=ids["layla_published"]).get_json()["comment"]["id"]
    ids["omar_elsewhere"] = client.post(
        "/api/v1/sites/news/comments", environ_base={"REMOTE_ADDR": "198.51.100.7"},
        json={"thread": "article-42", "author_name": "Omar", "author_email": "omar@example.net", "body": "x"},
    ).get_json()["comment"]["id"]
    assert _status(ids["layla_pending"]) is Status.PENDING
    return ids


def _count() -> int:
    return db_scalar(sa.select(Thread.comment_count))


def test_reject_existing_rejects_pending_and_published_through_the_state_machine(client, site, key, authors):
    listed_before = client.get("/api/v1/sites/news/comments?thread=article-42")
    assert _count() == 4
    r = _ban(client, key, kind="email", value="LAYLA@example.org", reject_existing=True)
    assert r.status_code == 201 and r.get_json()["rejected_comments"] == 2
    assert _status(authors["layla_published"]) is Status.REJECTED
    assert _status(authors["layla_pending"]) is Status.REJECTED
    assert _status(authors["layla_approved"]) is Status.APPROVED  # a human kept it
    assert _status(authors["omar_reply"]) is Status.PUBLISHED
    assert _count() == 3
    # each rejection's audit row and event: tests/test_changes.py (test_a_ban_rejecting_what_the_author_posted)
    listed = client.get("/api/v1/sites/news/comments?thread=article-42")
    assert listed.headers["ETag"] != listed_before.headers["ETag"]
    ids = [c["id"] for c in listed.get_json()["comments"]]
    assert authors["layla_published"] in ids  # as a tombstone: Omar's reply still answers it
    tombstone = listed.get_json()["comments"][ids.index(authors["layla_published"])]
    assert tombstone["status"] == "deleted" and tombstone["author"] is None and tombstone["body_html"] == ""


def test_without_reject_existing_nothing_already_posted_changes(client, site, key, authors):
    assert _ban(client, key, kind="email", value="layla@example.org").get_json()["rejected_comments"] == 0
    assert _status(authors["layla_published"]) is Status.PUBLISHED and _count() == 4


def test_domain_ban_rejects_by_email_domain_case_insensitively(client, site, key, authors):
    db_run(sa.update(Comment).where(Comment.id == authors["omar_reply"]).values(author_email="Omar@EXAMPLE.NET"))
    other = post(client, author_email="x@sub.example.net").get_json()["comment"]["id"]
    r = _ban(client, key, kind="domain", value="Example.Net", reject_existing=True)
    assert r.get_json()["rejected_comments"] == 2
    assert _status(authors["omar_reply"]) is Status.REJECTED
    assert _status(authors["omar_elsewhere"]) is Status.REJECTED
    assert _status(other) is Status.PUBLISHED and _status(authors["layla_published"]) is Status.PUBLISHED


def test_ip_ban_rejects_comments_from_the_prefix(client, site, key, authors):
    r = _ban(client, key, kind="ip", value="198.51.100.0/24", reject_existing=True)
    assert r.get_json()["rejected_comments"] == 1
    assert _status(authors["omar_elsewhere"]) is Status.REJECTED
    assert _status(authors["omar_reply"]) is Status.PUBLISHED


def test_a_conflict_while_rejecting_stores_nothing(client, site, key, authors, monkeypatch):
    from comment_service.services import changes

    real = changes.apply
    calls = []

    def change_meanwhile(site_, c, change, now=None):
        calls.append(c.id)
        if len(calls) == 2:  # a moderator decided on the second comment in between (another transaction:
            # the ban's copy of the row does not see it)
            db.session.execute(sa.update(Comment).where(Comment.id == c.id).values(revision=Comment.revision + 1)
                               .execution_options(synchronize_session=False))
        return real(site_, c, change, now)

    monkeypatch.setattr(changes, "apply", change_meanwhile)
    r = _ban(client, key, kind="email", value="layla@example.org", reject_existing=True)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_revision"
    assert _bans() == []
    assert _status(authors["layla_published"]) is Status.PUBLISHED and _count() == 4


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/sites/other/bans"), ("post", "/api/v1/sites/other/bans"), ("delete", "/api/v1/sites/other/bans/1"),
])
def test_a_key_of_one_site_gets_404_for_another_sites_bans(client, site, key, other_key, method, path):
    r = getattr(client, method)(path, headers=auth(key), json={"kind": "email", "value": "x@example.org"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "site_not_found"


def test_another_sites_ban_is_invisible_and_cannot_be_lifted(client, site, key, other_key):
    theirs = client.post("/api/v1/sites/other/bans", headers=auth(other_key), json={"kind": "email", "value": "x@example.org"})
    ban_id = theirs.get_json()["ban"]["id"]
    assert client.get(BANS, headers=auth(key)).get_json()["bans"] == []
    r = client.delete(f"{BANS}/{ban_id}", headers=auth(key))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "ban_not_found"
    assert len(_bans()) == 1
    assert post(client, author_email="x@example.org").status_code == 201  # their ban is theirs only


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer mjl_nope"}, {"Authorization": "Basic eDp5"}])
def test_without_a_valid_key_401(client, site, key, headers):
    for r in (
        client.get(BANS, headers=headers),
        client.post(BANS, headers=headers, json={"kind": "email", "value": "x@example.org"}),
        client.delete(f"{BANS}/1", headers=headers),
    ):
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert _bans() == []


def test_a_revoked_key_is_401(ctx, client, site, key):
    ctx(revoke_api_keys, site)
    assert client.get(BANS, headers=auth(key)).status_code == 401


# Documented answers, checked against the served OpenAPI document like the schemathesis run checks them.
def test_answers_match_the_document(app, client, site, key, authors):
    created = openapi["/api/v1/sites/{site}/bans"]["POST"].Case(
        path_parameters={"site": "news"}, body={"kind": "email", "value": "layla@example.org", "reject_existing": True},
    ).call_and_validate(app=app, headers=auth(key))
    assert created.status_code == 201
    conflict = openapi["/api/v1/sites/{site}/bans"]["POST"].Case(
        path_parameters={"site": "news"}, body={"kind": "email", "value": "layla@example.org"},
    ).call_and_validate(app=app, headers=auth(key))
    assert conflict.status_code == 409
    listed = openapi["/api/v1/sites/{site}/bans"]["GET"].Case(path_parameters={"site": "news"}).call_and_validate(
        app=app, headers=auth(key))
    assert listed.status_code == 200
    page = openapi["/api/v1/sites/{site}/comments"]["GET"].Case(
        path_parameters={"site": "news"}, query={"thread": "article-42"}).call_and_validate(app=app)
    assert "deleted" in page.text  # the rejected parent as a tombstone matches the documented Comment
    lifted = openapi["/api/v1/sites/{site}/bans/{ban_id}"]["DELETE"].Case(
        path_parameters={"site": "news", "ban_id": 1}).call_and_validate(app=app, headers=auth(key))
    assert lifted.status_code == 204
