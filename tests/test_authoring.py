"""An author edits or deletes their comment with its edit token, inside the edit window; the thread
keeps a tombstone where a hidden comment still has replies."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service import services
from comment_service.models import Ban, Comment, ModerationAction, Thread, utcnow
from comment_service.moderation.status import Action, Status
from comment_service.read_cache import read_cache
from comment_service.services import moderation
from comment_service.services.identity import email_hmac
from comment_service.services.moderation import Decision
from tests.conftest import ORIGIN, configure, db_add, db_get, db_run, db_scalar, db_scalars, post, statements
from tests.test_openapi_schemathesis import schema as openapi

THREAD = "/api/v1/sites/news/comments?thread=article-42"


def _create(client, slug: str = "news", **overrides) -> tuple[int, str]:
    r = post(client, slug, **overrides)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["comment"]["id"], r.get_json()["edit_token"]


def _edit(client, cid: int, token: str | None, body="Edited text.", slug: str = "news", **kwargs):
    headers = {"X-Edit-Token": token} if token is not None else {}
    headers.update(kwargs.pop("headers", {}))
    if "data" not in kwargs:
        kwargs["json"] = {"body": body}
    return client.patch(f"/api/v1/sites/{slug}/comments/{cid}", headers=headers, **kwargs)


def _delete(client, cid: int, token: str | None, slug: str = "news", **kwargs):
    headers = {"X-Edit-Token": token} if token is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return client.delete(f"/api/v1/sites/{slug}/comments/{cid}", headers=headers, **kwargs)


def _stored(cid: int) -> Comment:
    return db_get(Comment, cid)


def _actions(cid: int) -> list[ModerationAction]:
    return list(db_scalars(
        sa.select(ModerationAction).where(ModerationAction.comment_id == cid).order_by(ModerationAction.id)
    ))


def _listed(client, url: str = THREAD) -> list[dict]:
    return client.get(url).get_json()["comments"]


def _count() -> int:
    return db_scalar(sa.select(Thread.comment_count))


def _age(cid: int, minutes: float) -> None:
    db_run(sa.update(Comment).where(Comment.id == cid).values(created_at=utcnow() - timedelta(minutes=minutes)))


# --- editing ---------------------------------------------------------------------------------

def test_edit_is_a_new_revision_with_an_audit_row_and_shows_at_once(client, site):
    cid, token = _create(client, body="Original text", author_url="https://layla.example")
    etag = client.get(THREAD).headers["ETag"]
    r = _edit(client, cid, token, "Edited: see https://news.example/x")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "thread", "parent_id", "author", "body_html", "status", "created_at"}
    assert body["id"] == cid and body["thread"] == "article-42" and body["status"] == "published"
    assert body["author"]["name"] == "Layla" and body["author"]["url"] == "https://layla.example"
    assert body["body_html"] == ('<p>Edited: see <a href="https://news.example/x" rel="nofollow ugc noopener">'
                                 'https://news.example/x</a></p>')
    stored = _stored(cid)
    assert (stored.revision, stored.body_source, stored.status) == (2, "Edited: see https://news.example/x", Status.PUBLISHED)
    assert stored.edited_at is not None and stored.edited_at >= stored.created_at
    last = _actions(cid)[-1]
    assert (last.actor_type, last.reason_code, last.revision, last.from_status, last.to_status) == (
        "author", "edited", 2, Status.PUBLISHED, Status.PUBLISHED)
    fresh = client.get(THREAD, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and "Edited" in fresh.get_json()["comments"][0]["body_html"]
    assert fresh.get_json()["thread"]["comment_count"] == 1


@pytest.fixture
def strict(ctx, site):
    configure(ctx, "news", {"banned_words": ["قمار"], "suspect_words": ["سياسة*"], "link_limit": 1})
    return site


# start status, new text, stored status, what the author is told, reason codes, thread count after (1 before if visible)
EDIT_OUTCOMES = [
    pytest.param("published", "تعالوا إلى القِمار", "rejected", "pending", ["banned_word"], 0, id="published-banned-word-rejected"),
    pytest.param("published", "عن السياسات", "pending", "pending", ["suspect_word"], 0, id="published-suspect-word-held"),
    pytest.param("published", "https://a.example https://b.example", "pending", "pending", ["too_many_links"], 0,
                 id="published-too-many-links-held"),
    pytest.param("published", "أقمار الليل", "published", "published", [], 1, id="published-clean-stays"),
    pytest.param("approved", "أقمار الليل", "published", "published", [], 1, id="approved-text-changed-is-unreviewed"),
    pytest.param("pending", "أقمار الليل", "published", "published", [], 1, id="held-then-fixed-is-published"),
    pytest.param("pending", "القمار", "rejected", "pending", ["banned_word"], 0, id="held-then-banned-word"),
]


@pytest.mark.parametrize(("start", "text", "status", "told", "reasons", "count"), EDIT_OUTCOMES)
def test_an_edit_runs_the_pipeline_again(ctx, client, strict, start, text, status, told, reasons, count):
    cid, token = _create(client, body="سياسة" if start == "pending" else "Fine words")
    if start == "approved":
        ctx(moderation.decide, strict, cid, Decision(Action.APPROVE, 1), "mod")
    assert _stored(cid).status.value == start
    r = _edit(client, cid, token, text)
    assert r.status_code == 200 and r.get_json()["status"] == told
    stored = _stored(cid)
    assert stored.status.value == status
    assert [h["code"] for h in stored.hold_reasons] == reasons
    last = _actions(cid)[-1]
    assert last.actor_type == "author" and last.reason_code == (reasons[0] if reasons else "edited")
    assert (last.from_status.value, last.to_status.value) == (start, status)
    assert _count() == count
    assert [c["id"] for c in _listed(client)] == ([cid] if count else [])


def test_pre_moderated_site_holds_an_edit(client, premod_site):
    cid, token = _create(client, "careful")
    r = _edit(client, cid, token, slug="careful")
    assert r.get_json()["status"] == "pending"
    assert [h["code"] for h in _stored(cid).hold_reasons] == ["pre_moderation"]


def test_edit_to_the_authors_own_recent_text_is_a_duplicate_but_not_of_itself(client, site):
    _create(client, body="Same words")
    cid, token = _create(client, body="Other words")
    assert _edit(client, cid, token, "Other words!").get_json()["status"] == "published"  # not a duplicate of itself
    assert _edit(client, cid, token, "Same words").get_json()["status"] == "pending"
    assert _stored(cid).hold_reasons[0]["code"] == "duplicate"


def test_sending_the_same_text_changes_nothing(client, site):
    cid, token = _create(client, body="Unchanged")
    r = _edit(client, cid, token, "  Unchanged \n")  # trimmed like a submission
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    assert _stored(cid).revision == 1 and len(_actions(cid)) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body": ""}, "required"),
        ({"body": "   \n "}, "required"),
        ({}, "required"),
        ({"body": None}, "null"),
        ({"body": 5}, "invalid_type"),
        ({"body": "x" * 5001}, "too_long"),
        ({"body": "ok\x07"}, "invalid_characters"),
    ],
)
def test_edit_validation_is_the_same_as_creation(client, site, body, code):
    cid, token = _create(client, body="Original")
    r = client.patch(f"/api/v1/sites/news/comments/{cid}", json=body, headers={"X-Edit-Token": token})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["body"][0]["code"] == code
    assert _stored(cid).body_source == "Original" and _stored(cid).revision == 1


def test_edit_body_strips_bidi_controls_like_creation(client, site):
    cid, token = _create(client)
    assert _edit(client, cid, token, "\u202eمرحبا\u202c").get_json()["body_html"] == "<p>مرحبا</p>"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "body=x", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": "{", "content_type": "application/json"}, 400, "malformed_json"),
        ({"data": b"\xfe", "content_type": "application/json"}, 400, "invalid_encoding"),
        ({"data": '{"body": "a\\u0000b"}', "content_type": "application/json"}, 400, "invalid_characters"),
        ({"data": '{"body": "ok", "author_name": "Someone else"}', "content_type": "application/json"}, 422,
         "validation_failed"),
        ({"data": '["ok"]', "content_type": "application/json"}, 422, "validation_failed"),
    ],
)
def test_malformed_edits_are_4xx_and_change_nothing(client, site, kwargs, status, code):
    cid, token = _create(client, body="Original")
    r = _edit(client, cid, token, **kwargs)
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    assert _stored(cid).revision == 1


def test_edits_can_only_touch_pending_published_or_approved(client, site):
    for status in (Status.REJECTED, Status.SPAM, Status.DELETED):
        cid, token = _create(client)
        db_run(sa.update(Comment).where(Comment.id == cid).values(status=status))
        r = _edit(client, cid, token)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_editable", status
        # one wording for all three: a spammer does not learn their comment was caught
        assert r.get_json()["error"]["message"] == "This comment can no longer be edited."


def test_a_change_made_meanwhile_wins_over_the_edit(ctx, client, site, monkeypatch):
    from comment_service.services import comments

    cid, token = _create(client, body="Original")
    real = comments.evaluate

    def moderator_decides_meanwhile(policy, submission):
        ctx(moderation.decide, site, cid, Decision(Action.APPROVE, 1), "mod")
        return real(policy, submission)

    monkeypatch.setattr(comments, "evaluate", moderator_decides_meanwhile)
    r = _edit(client, cid, token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "edit_conflict"
    stored = _stored(cid)
    assert (stored.body_source, stored.status, stored.revision) == ("Original", Status.APPROVED, 2)


def test_a_banned_author_cannot_edit(ctx, client, site):
    cid, token = _create(client)
    db_add(Ban(site_id=site.id, kind="email", value_hmac=ctx(email_hmac, "layla@example.org"), label="l***@example.org"))
    r = _edit(client, cid, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "author_banned"
    assert _stored(cid).revision == 1


def test_a_closed_thread_refuses_edits_but_not_deletes(client, site):
    cid, token = _create(client)
    db_run(sa.update(Thread).values(closed=True))
    r = _edit(client, cid, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "thread_closed"
    assert _delete(client, cid, token).status_code == 204


# --- who may: the token, the window, the site -------------------------------------------------

@pytest.mark.parametrize("method", [_edit, _delete])
@pytest.mark.parametrize(
    "token",
    [None, "", "wrong-token", "ünïcode", lambda other: other],
    ids=["missing", "empty", "wrong", "non-ascii", "another-comments-token"],
)
def test_without_the_comments_own_token_403(client, site, method, token):
    cid, _ = _create(client, body="Original")
    _, other_token = _create(client)
    if callable(token):
        token = token(other_token)
    r = method(client, cid, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "invalid_edit_token"
    stored = _stored(cid)
    assert (stored.revision, stored.status, stored.body_source) == (1, Status.PUBLISHED, "Original")


@pytest.mark.parametrize("method", [_edit, _delete])
def test_after_the_edit_window_403(client, site, method):
    cid, token = _create(client)
    _age(cid, 14.9)
    assert method(client, cid, token).status_code in (200, 204)
    cid, token = _create(client)
    _age(cid, 15)
    r = method(client, cid, token)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "edit_window_closed"
    assert _stored(cid).revision == 1


def test_the_window_is_the_sites_setting(ctx, client, site):
    configure(ctx, "news", {"edit_window_minutes": 60})
    cid, token = _create(client)
    _age(cid, 59)
    assert _edit(client, cid, token).status_code == 200
    configure(ctx, "news", {"edit_window_minutes": 0})  # edits turned off
    cid, token = _create(client)
    assert _edit(client, cid, token).get_json()["error"]["code"] == "edit_window_closed"


@pytest.mark.parametrize("method", [_edit, _delete])
def test_another_sites_comment_or_an_unknown_id_is_404(client, site, premod_site, method):
    cid, token = _create(client)
    for slug, comment_id in [("careful", cid), ("news", cid + 100), ("nope", cid)]:
        r = method(client, comment_id, token, slug=slug)
        assert r.status_code == 404, (slug, comment_id)
    assert _stored(cid).status is Status.PUBLISHED


@pytest.mark.parametrize("cid", ["2147483648", "99999999999999999999", "-1", "1.5", "abc"])
def test_impossible_comment_ids_are_404(client, site, cid):
    assert client.patch(f"/api/v1/sites/news/comments/{cid}", json={"body": "x"}, headers={"X-Edit-Token": "t"}).status_code == 404
    assert client.delete(f"/api/v1/sites/news/comments/{cid}", headers={"X-Edit-Token": "t"}).status_code == 404


def test_browsers_only_from_the_sites_origins(client, site):
    cid, token = _create(client)
    r = _edit(client, cid, token, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "origin_not_allowed"
    assert _delete(client, cid, token, headers={"Origin": "https://evil.example"}).status_code == 403
    ok = _edit(client, cid, token, headers={"Origin": ORIGIN})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    pre = client.options(f"/api/v1/sites/news/comments/{cid}", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "X-Edit-Token"})
    assert pre.status_code == 204
    assert "PATCH" in pre.headers["Access-Control-Allow-Methods"] and "X-Edit-Token" in pre.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "3 per minute"}])
def test_edits_and_deletes_are_rate_limited_like_submissions(client, site):
    cid, token = _create(client)
    other, other_token = _create(client)
    for _ in range(3):
        assert _edit(client, cid, "wrong").status_code == 403  # refused edits do not count
    assert _edit(client, cid, token, "one").status_code == 200
    assert _edit(client, cid, token, "two").status_code == 200
    assert _delete(client, other, other_token).status_code == 204
    r = _edit(client, cid, token, "three")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert _stored(cid).body_source == "two"


# --- deleting, and the tombstones it leaves -----------------------------------------------------

def test_delete_hides_the_comment_with_an_audit_row(client, site):
    cid, token = _create(client)
    etag = client.get(THREAD).headers["ETag"]
    r = _delete(client, cid, token)
    assert r.status_code == 204 and r.data == b""
    assert _stored(cid).status is Status.DELETED and _count() == 0
    last = _actions(cid)[-1]
    assert (last.actor_type, last.reason_code, last.from_status, last.to_status) == (
        "author", "author_deleted", Status.PUBLISHED, Status.DELETED)
    assert client.get(THREAD, headers={"If-None-Match": etag}).status_code == 200
    assert _listed(client) == []  # no replies: no tombstone
    again = _delete(client, cid, token)
    assert again.status_code == 204 and len(_actions(cid)) == 2  # already deleted: nothing new


@pytest.mark.parametrize("status", [Status.PENDING, Status.APPROVED, Status.REJECTED, Status.SPAM])
def test_an_author_may_withdraw_a_comment_in_any_status(client, site, status):
    cid, token = _create(client)
    db_run(sa.update(Comment).where(Comment.id == cid).values(status=status))
    assert _delete(client, cid, token).status_code == 204
    assert _stored(cid).status is Status.DELETED


def _tombstone(cid: int, parent_id: int | None, thread: str = "article-42") -> dict:
    c = _stored(cid)
    return {"id": cid, "thread": thread, "parent_id": parent_id, "author": None, "body_html": "",
            "status": "deleted", "created_at": c.created_at.isoformat()}


def test_a_deleted_comment_with_replies_stays_as_a_tombstone(client, site):
    parent, token = _create(client, body="Parent")
    reply, _ = _create(client, body="Reply", author_name="Omar", author_email="omar@example.net", parent_id=parent)
    lone, lone_token = _create(client, body="Nobody answers")
    _delete(client, parent, token)
    _delete(client, lone, lone_token)
    listed = _listed(client)
    assert [c["id"] for c in listed] == [parent, reply]
    assert listed[0] == _tombstone(parent, None)
    assert listed[1]["parent_id"] == parent and listed[1]["body_html"] == "<p>Reply</p>"
    page = client.get(THREAD).get_json()
    assert page["thread"]["comment_count"] == 1  # tombstones are not counted


def test_tombstones_follow_a_chain_of_hidden_ancestors(ctx, client, site):
    a, a_token = _create(client, body="A")
    b, b_token = _create(client, body="B", parent_id=a)
    c, _ = _create(client, body="C", parent_id=b)
    d, _ = _create(client, body="D", parent_id=a)
    _delete(client, b, b_token)
    _delete(client, a, a_token)
    ctx(moderation.decide, site, d, Decision(Action.REJECT, 1), "mod")  # hidden, but nothing answers it
    listed = _listed(client)
    assert [x["id"] for x in listed] == [a, b, c]
    assert listed[0] == _tombstone(a, None) and listed[1] == _tombstone(b, a)


def test_a_hidden_parent_of_any_kind_is_a_tombstone_that_says_nothing(ctx, client, site):
    parent, _ = _create(client, body="Secret words", author_url="https://layla.example")
    reply, _ = _create(client, body="Reply", parent_id=parent)
    ctx(moderation.decide, site, parent, Decision(Action.SPAM, 1), "mod")
    listed = client.get(THREAD)
    assert [c["id"] for c in listed.get_json()["comments"]] == [parent, reply]
    text = listed.get_data(as_text=True)
    assert "Secret" not in text and "layla.example" not in text and "spam" not in text


def test_tombstones_on_later_pages(client, site):
    a, a_token = _create(client, body="A")
    b, _ = _create(client, body="B")
    c, _ = _create(client, body="C", parent_id=a)
    d, _ = _create(client, body="D", parent_id=b)
    _delete(client, a, a_token)
    first = client.get(THREAD + "&limit=1").get_json()
    assert [x["id"] for x in first["comments"]] == [b] and first["next_cursor"] == str(b)
    second = client.get(THREAD + f"&limit=5&cursor={b}").get_json()
    # c answers the deleted a (before the cursor): its tombstone comes along; b is visible on page one
    assert [x["id"] for x in second["comments"]] == [a, c, d]
    assert second["comments"][0]["status"] == "deleted" and second["next_cursor"] is None


def _statements(app, client, url: str = THREAD) -> list[str]:
    with statements(app) as sent:
        assert client.get(url).status_code == 200
    return sent


def test_no_extra_query_unless_a_parent_is_missing(app, ctx, client, site):
    a, a_token = _create(client, body="A")
    _create(client, body="B", parent_id=a)
    ctx(lambda: read_cache().clear())
    assert len(_statements(app, client)) == 2  # the version probe and the page: replies to listed parents cost nothing
    _delete(client, a, a_token)
    ctx(lambda: read_cache().clear())
    assert len(_statements(app, client)) == 3  # one more, for the tombstone


def test_deleted_comments_cannot_be_answered(client, site):
    parent, token = _create(client)
    _delete(client, parent, token)
    r = post(client, parent_id=parent)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["parent_id"][0]["code"] == "invalid_parent"


# Documented answers, checked against the served OpenAPI document like the schemathesis run checks them.
def test_answers_match_the_document(ctx, app, client, site):
    parent, token = _create(client, body="Parent")
    _create(client, body="Reply", parent_id=parent)
    path = "/api/v1/sites/{site}/comments/{comment_id}"
    edited = openapi[path]["PATCH"].Case(
        path_parameters={"site": "news", "comment_id": parent}, headers={"X-Edit-Token": token}, body={"body": "New"},
    ).call_and_validate(app=app)
    assert edited.status_code == 200
    not_yours = openapi[path]["DELETE"].Case(
        path_parameters={"site": "news", "comment_id": parent}, headers={"X-Edit-Token": "nope"},
    ).call_and_validate(app=app)
    assert not_yours.status_code == 403
    deleted = openapi[path]["DELETE"].Case(
        path_parameters={"site": "news", "comment_id": parent}, headers={"X-Edit-Token": token},
    ).call_and_validate(app=app)
    assert deleted.status_code == 204
    gone = openapi[path]["PATCH"].Case(
        path_parameters={"site": "news", "comment_id": parent}, headers={"X-Edit-Token": token}, body={"body": "Again"},
    ).call_and_validate(app=app)
    assert gone.status_code == 409
    page = openapi["/api/v1/sites/{site}/comments"]["GET"].Case(
        path_parameters={"site": "news"}, query={"thread": "article-42"}).call_and_validate(app=app)
    assert page.json()["comments"][0]["status"] == "deleted"
    assert ctx(services.site_counts, site.slug, ["article-42"])[1] == {"article-42": 1}
