"""Privacy requests a site makes for an author: export everything stored about their comments, erase
their personal data (keeping tombstones where replies depend on them); one site's key reaches only its data."""
from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, ModerationAction, Report, Thread
from comment_service.moderation.status import Action, ModerationMode, Status
from comment_service.services import moderation
from comment_service.services.identity import email_hmac, ip_hmac
from comment_service.services.moderation import Decision
from comment_service.services.sites import get_site, issue_api_key
from tests.conftest import auth, configure, db_get, db_scalar, db_scalars, in_ctx, new_site, post
from tests.test_openapi_schemathesis import schema as openapi

EXPORT = "/api/v1/sites/news/privacy/export"
ERASE = "/api/v1/sites/news/privacy/erase"
EMAIL = "Layla.Private@Example.org"
STORED = "Layla.Private@example.org"  # email-validator lowercases the domain
NAME = "ليلى الخاصة"
URL = "https://layla-private.example/blog"
BODIES = ["أول تعليق خاص بليلى", "Second private words", "Held: السياسات الخاصة", "Rejected: نادي القِمار", "Deleted words"]
# Parts of the bodies the rules quote in their reasons (the site's word lists hold only "سياسة*" and "قمار").
QUOTED = ["السياسات", "القِمار"]


@pytest.fixture
def other():
    """A second site, with its own key."""
    return new_site("other", "Other Times", [], ModerationMode.POST)


@pytest.fixture
def other_key(ctx, other) -> str:
    return ctx(issue_api_key, other)


def _as_layla(client, slug: str = "news", **overrides) -> int:
    data = {"thread": "article-42", "thread_title": "مقال", "author_name": NAME, "author_email": EMAIL,
            "author_url": URL, **overrides}
    r = client.post(f"/api/v1/sites/{slug}/comments", environ_base={"REMOTE_ADDR": "203.0.113.77"}, json=data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["comment"]["id"]


@pytest.fixture
def layla(ctx, client, site, other):
    """Layla's comments on "news" in every status, replies to one, a report, a moderator's note; and one on "other".
    The site has a webhook for every event, so its outbox holds the events of all of them."""
    from comment_service.moderation.events import EVENT_TYPES
    from comment_service.services import webhooks

    configure(ctx, "news", {"banned_words": ["قمار"], "suspect_words": ["سياسة*"]})
    with ctx:
        webhooks.create_webhook(get_site("news"), "https://cms.example/hooks", list(EVENT_TYPES), "mirror")
    ids = {
        "published": _as_layla(client, body=BODIES[0]),
        "approved": _as_layla(client, body=BODIES[1], thread="second-article"),
        "pending": _as_layla(client, body=BODIES[2]),
        "rejected": _as_layla(client, body=BODIES[3]),
        "deleted": _as_layla(client, body=BODIES[4]),
    }
    ctx(moderation.decide, site, ids["approved"], Decision(Action.APPROVE, 1, note=f"Fine, {NAME} from layla-private.example"),
                      "mod")
    ctx(moderation.decide, site, ids["deleted"], Decision(Action.DELETE, 1), "mod")
    ids["reply"] = post(client, author_name="Omar", author_email="omar@example.net", body="Omar answers",
                        parent_id=ids["published"]).get_json()["comment"]["id"]
    client.post(f"/api/v1/sites/news/comments/{ids['published']}/reports", json={"reason": "abuse", "note": "rude"})
    ids["elsewhere"] = _as_layla(client, "other", body="On the other site")
    return ids


def _export(client, key, email=EMAIL, url=EXPORT):
    return client.post(url, json={"email": email}, headers=auth(key))


def test_export_returns_every_comment_of_the_author_on_this_site(client, site, key, layla):
    r = _export(client, key, "layla.private@EXAMPLE.ORG")  # normalised and looked up like a submission
    assert r.status_code == 200
    comments = r.get_json()["comments"]
    assert [c["id"] for c in comments] == [layla[k] for k in ("published", "approved", "pending", "rejected", "deleted")]
    assert [c["status"] for c in comments] == ["published", "approved", "pending", "rejected", "deleted"]
    assert [c["body"] for c in comments] == BODIES
    first = comments[0]
    assert set(first) == {"id", "thread", "parent_id", "name", "url", "body", "status", "created_at", "edited_at"}
    assert first["thread"] == {"key": "article-42", "title": "مقال", "url": None}
    assert comments[1]["thread"]["key"] == "second-article"
    assert (first["name"], first["url"], first["parent_id"], first["edited_at"]) == (NAME, URL, None, None)
    assert layla["reply"] not in [c["id"] for c in comments] and layla["elsewhere"] not in [c["id"] for c in comments]


def test_export_of_someone_without_comments_is_empty(client, site, key, layla):
    assert _export(client, key, "nobody@example.org").get_json() == {"comments": []}


@in_ctx
def _site_rows(site_id: int) -> list[tuple[str, dict]]:
    """Every row of every table that belongs to this site, all columns."""
    rows = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name == "site":
                where = table.c.id == site_id
            elif "site_id" in table.c:
                where = table.c.site_id == site_id
            elif table.name == "webhook_delivery":  # a site's through its endpoint
                hooks = db.metadata.tables["webhook"]
                where = table.c.webhook_id.in_(sa.select(hooks.c.id).where(hooks.c.site_id == site_id))
            elif table.name == "moderator":  # dashboard staff accounts, not a site's readers (roles: moderator_site)
                continue
            elif table.name == "used_action_link":  # digests of moderators' used email links, nobody's data
                continue
            else:  # pragma: no cover - every other table hangs off a site today
                raise AssertionError(f"{table.name} has no site_id: decide what erase does with it")
            rows += [(table.name, dict(row._mapping)) for row in conn.execute(sa.select(table).where(where))]
    return rows


@in_ctx
def _traces() -> list[str]:
    """Everything of Layla that must not survive an erase, in the forms it could be stored in."""
    local = EMAIL.split("@")[0]
    return [EMAIL, STORED, EMAIL.lower(), local, local.lower(), NAME, URL, "layla-private", email_hmac(EMAIL),
            ip_hmac("203.0.113.77"), *BODIES, *QUOTED]


def test_erase_removes_every_trace_of_the_author_from_the_sites_rows(ctx, client, site, key, layla, other, caplog):
    before = json.dumps([r for _, r in _site_rows(site.id)], default=str, ensure_ascii=False)
    # the test would see them: in the comment rows, the rules' reasons, a moderator's note
    assert all(t in before for t in [STORED, NAME, URL, *BODIES, *QUOTED, "layla-private", ctx(email_hmac, EMAIL)])
    avatars = {db_get(Comment, layla[k]).avatar for k in ("published", "approved")}
    caplog.set_level(logging.INFO)
    r = client.post(ERASE, json={"email": EMAIL.upper()}, headers=auth(key))
    assert r.status_code == 200 and r.get_json() == {"erased": 5}
    for table, row in _site_rows(site.id):
        text = json.dumps(row, default=str, ensure_ascii=False)
        for trace in [*_traces(), *avatars]:
            assert trace not in text, f"{trace!r} left in {table}: {text}"
    # the other site's data is its own
    elsewhere = db_get(Comment, layla["elsewhere"])
    assert (elsewhere.author_email, elsewhere.author_name, elsewhere.status) == (STORED, NAME, Status.PUBLISHED)
    # logged with the site and the count, never the email
    logs = [rec.getMessage() for rec in caplog.records if rec.name.startswith("comment_service")]
    assert "privacy erase on site news: 5 comments erased" in logs
    assert not any(t in "\n".join(logs) for t in _traces())


def test_erase_deletes_through_the_state_machine_and_keeps_the_rows(client, site, key, layla):
    assert db_scalar(sa.select(Thread.comment_count).where(Thread.key == "article-42")) == 2
    client.post(ERASE, json={"email": EMAIL}, headers=auth(key))
    for k in ("published", "approved", "pending", "rejected", "deleted"):
        c = db_get(Comment, layla[k])
        assert c.status is Status.DELETED
        last = (db_scalars(sa.select(ModerationAction).where(ModerationAction.comment_id == c.id)
                                  .order_by(ModerationAction.id.desc())) or [None])[0]
        assert (last.actor_type, last.actor_id, last.reason_code, last.to_status) == (
            "system", f"key:{key[:12]}", "privacy_erase", Status.DELETED), k
        assert (c.author_name, c.author_email, c.email_hmac, c.author_url, c.ip_hmac, c.body_source, c.body_html) == (
            "", None, None, None, None, "", "")
    assert db_scalar(sa.select(Thread.comment_count).where(Thread.key == "article-42")) == 1  # Omar's
    assert db_scalar(sa.select(Thread.comment_count).where(Thread.key == "second-article")) == 0
    # the reader's report stays (it is the reader's), answered by the deletion
    (report,) = db_scalars(sa.select(Report))
    assert report.note == "rude" and report.resolved


def test_replies_to_an_erased_comment_still_render_under_a_tombstone(client, site, key, layla):
    client.post(ERASE, json={"email": EMAIL}, headers=auth(key))
    page = client.get("/api/v1/sites/news/comments?thread=article-42").get_json()
    assert [c["id"] for c in page["comments"]] == [layla["published"], layla["reply"]]
    tombstone, reply = page["comments"]
    assert tombstone["status"] == "deleted" and tombstone["author"] is None and tombstone["body_html"] == ""
    assert reply["parent_id"] == layla["published"] and reply["body_html"] == "<p>Omar answers</p>"


def test_after_erase_export_finds_nothing_and_a_second_erase_erases_nothing(client, site, key, layla):
    client.post(ERASE, json={"email": EMAIL}, headers=auth(key))
    assert _export(client, key).get_json() == {"comments": []}
    assert client.post(ERASE, json={"email": EMAIL}, headers=auth(key)).get_json() == {"erased": 0}


def test_an_erased_author_can_comment_again_as_someone_new(client, site, key, layla):
    client.post(ERASE, json={"email": EMAIL}, headers=auth(key))
    new_id = _as_layla(client, body="Back again")
    assert [c["id"] for c in _export(client, key).get_json()["comments"]] == [new_id]


@pytest.mark.parametrize("url", [EXPORT, ERASE])
@pytest.mark.parametrize(
    ("kwargs", "status", "field", "code"),
    [
        ({"json": {"email": "not-an-email"}}, 422, "email", "invalid_email"),
        ({"json": {"email": ""}}, 422, "email", "required"),
        ({"json": {}}, 422, "email", "required"),
        ({"json": {"email": None}}, 422, "email", "null"),
        ({"json": {"email": ["layla@example.org"]}}, 422, "email", "invalid_type"),
        ({"json": {"email": "a" * 320 + "@example.org"}}, 422, "email", "too_long"),
        ({"json": {"email": EMAIL, "name": NAME}}, 422, "name", "unknown_field"),
        ({"json": [EMAIL]}, 422, "_request", "invalid_type"),
        ({"data": "email=x", "content_type": "application/x-www-form-urlencoded"}, 415, None, "unsupported_media_type"),
        ({"data": "{", "content_type": "application/json"}, 400, None, "malformed_json"),
        ({"data": '{"email": "a\\u0000@example.org"}', "content_type": "application/json"}, 400, "email",
         "invalid_characters"),
    ],
)
def test_bad_requests_are_4xx_and_erase_nothing(client, site, key, layla, url, kwargs, status, field, code):
    r = client.post(url, headers=auth(key), **kwargs)
    assert r.status_code == status
    error = r.get_json()["error"]
    if field is None:
        assert error["code"] == code
    else:
        assert error["fields"][field][0]["code"] == code
    assert EMAIL not in r.get_data(as_text=True)
    assert db_get(Comment, layla["published"]).author_email == STORED


@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_a_key_of_one_site_gets_404_for_anothers_privacy_requests(client, site, key, other_key, layla, url):
    r = client.post(url.replace("/news/", "/other/"), json={"email": EMAIL}, headers=auth(key))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "site_not_found"
    assert db_get(Comment, layla["elsewhere"]).author_email == STORED
    # and its own key reaches only its own site's comments
    theirs = client.post(EXPORT.replace("/news/", "/other/"), json={"email": EMAIL}, headers=auth(other_key))
    assert [c["id"] for c in theirs.get_json()["comments"]] == [layla["elsewhere"]]


@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_without_a_key_401(client, site, layla, url):
    r = client.post(url, json={"email": EMAIL})
    assert r.status_code == 401 and EMAIL not in r.get_data(as_text=True)


def test_answers_match_the_document(app, client, site, key, layla):
    for path in ("/api/v1/sites/{site}/privacy/export", "/api/v1/sites/{site}/privacy/erase"):
        r = openapi[path]["POST"].Case(path_parameters={"site": "news"}, body={"email": EMAIL}).call_and_validate(
            app=app, headers=auth(key))
        assert r.status_code == 200
