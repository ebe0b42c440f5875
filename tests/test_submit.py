"""Submitting comments: what a reader and a site engineer see, success and every failure."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from comment_service.models import Comment, ModerationAction, Thread
from tests.conftest import comment_payload, db_get, db_run, db_scalar, post


def _count() -> int:
    return db_scalar(sa.select(sa.func.count()).select_from(Comment))


def test_created_comment_shape(client, site):
    r = post(client, author_url="https://layla.example/blog", thread_url="https://news.example/a/42")
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"comment", "edit_token", "editable_until"}
    c = body["comment"]
    assert set(c) == {"id", "thread", "parent_id", "author", "body_html", "status", "created_at"}
    assert c["thread"] == "article-42"
    assert c["parent_id"] is None
    assert c["author"]["name"] == "Layla"
    assert c["author"]["url"] == "https://layla.example/blog"
    assert len(c["author"]["avatar"]) == 16
    assert c["status"] == "published"
    assert c["created_at"].endswith("+00:00")
    assert len(body["edit_token"]) >= 40


def test_first_comment_creates_thread_with_title_and_url(client, site):
    post(client, thread="new-key", thread_title="عنوان", thread_url="https://news.example/x")
    thread = db_scalar(sa.select(Thread).where(Thread.key == "new-key"))
    assert (thread.title, thread.url, thread.comment_count) == ("عنوان", "https://news.example/x", 1)
    post(client, thread="new-key", thread_title="other title")
    thread = db_get(Thread, thread.id)
    assert thread.title == "عنوان" and thread.comment_count == 2


def test_a_thread_first_commented_without_title_or_url_takes_them_from_a_later_comment(client, site):
    assert post(client, thread="bare-key", thread_title="", thread_url="").status_code == 201
    thread = db_scalar(sa.select(Thread).where(Thread.key == "bare-key"))
    assert (thread.title, thread.url) == (None, None)
    assert post(client, thread="bare-key", thread_title="عنوان لاحق").status_code == 201
    thread = db_get(Thread, thread.id)
    assert (thread.title, thread.url, thread.comment_count) == ("عنوان لاحق", None, 2)
    assert post(client, thread="bare-key", thread_url="https://news.example/later").status_code == 201
    thread = db_get(Thread, thread.id)
    assert (thread.title, thread.url, thread.comment_count) == ("عنوان لاحق", "https://news.example/later", 3)


def test_pre_moderated_site_holds_comment_with_reason_and_audit_row(client, premod_site):
    r = post(client, "careful")
    assert r.status_code == 201
    assert r.get_json()["comment"]["status"] == "pending"
    stored = db_get(Comment, r.get_json()["comment"]["id"])
    assert stored.hold_reasons[0]["code"] == "pre_moderation"
    action = db_scalar(sa.select(ModerationAction).where(ModerationAction.comment_id == stored.id))
    assert (action.from_status, action.to_status.value, action.actor_type) == (None, "pending", "rule")
    listed = client.get("/api/v1/sites/careful/comments?thread=article-42").get_json()
    assert listed["comments"] == [] and listed["thread"]["comment_count"] == 0


def test_email_stored_normalised_and_hmac_beside_it(client, site):
    r = post(client, author_email="Layla@EXAMPLE.org")
    stored = db_get(Comment, r.get_json()["comment"]["id"])
    assert stored.author_email == "Layla@example.org"  # email-validator lowercases the domain only
    other = post(client, author_email="layla@example.ORG").get_json()["comment"]
    assert db_get(Comment, other["id"]).email_hmac == stored.email_hmac
    assert len(stored.email_hmac) == 64 and "layla" not in stored.email_hmac


def test_internationalised_email_accepted(client, site):
    r = post(client, author_email="ليلى@مثال.مصر")
    assert r.status_code == 201, r.get_json()


def test_reply_to_visible_comment(client, site):
    parent = post(client).get_json()["comment"]
    r = post(client, parent_id=parent["id"], body="reply")
    assert r.status_code == 201
    assert r.get_json()["comment"]["parent_id"] == parent["id"]


@pytest.mark.parametrize("case", ["missing", "other_thread", "pending", "huge", "string"])
def test_reply_parent_must_be_visible_comment_of_same_thread(client, site, premod_site, case):
    other = post(client, thread="other-article").get_json()["comment"]["id"]
    held = post(client, "careful").get_json()["comment"]["id"]
    parent = {"missing": 99999, "other_thread": other, "pending": held, "huge": 2**40, "string": "1"}[case]
    slug = "careful" if case == "pending" else "news"
    before = _count()
    r = post(client, slug, parent_id=parent)
    assert r.status_code == 422
    code = r.get_json()["error"]["fields"]["parent_id"][0]["code"]
    assert code == {"huge": "out_of_range", "string": "invalid_type"}.get(case, "invalid_parent")
    assert _count() == before


# Each row: the field changes, the field that is blamed, the stable code, why.
FIELD_CASES = [
    ({"author_name": ...}, "author_name", "required", "name missing"),
    ({"author_name": "   "}, "author_name", "required", "name blank after trimming"),
    ({"author_name": "x" * 101}, "author_name", "too_long", "name over 100"),
    ({"author_name": "Ali\u202egnp.exe"}, "author_name", "bidi_control", "RLO spoofing in a name"),
    ({"author_name": "Ali\u2067x"}, "author_name", "bidi_control", "isolate in a name"),
    ({"author_name": "Ali\x07"}, "author_name", "invalid_characters", "control char in a name"),
    ({"author_name": 42}, "author_name", "invalid_type", "name not a string"),
    ({"author_name": None}, "author_name", "null", "name null"),
    ({"author_email": ...}, "author_email", "required", "email missing"),
    ({"author_email": ""}, "author_email", "required", "email empty"),
    ({"author_email": "not-an-email"}, "author_email", "invalid_email", "no @"),
    ({"author_email": "a@b"}, "author_email", "invalid_email", "no dot in domain"),
    ({"author_email": "a" * 310 + "@example.org"}, "author_email", "too_long", "email over 320"),
    ({"body": ...}, "body", "required", "body missing"),
    ({"body": " \n\t "}, "body", "required", "body blank"),
    ({"body": "x" * 5001}, "body", "too_long", "body over 5000"),
    ({"thread": ...}, "thread", "required", "thread missing"),
    ({"thread": ""}, "thread", "required", "thread empty"),
    ({"thread": "k" * 256}, "thread", "too_long", "thread key over 255"),
    ({"author_url": "javascript:alert(1)"}, "author_url", "invalid_url", "script URL"),
    ({"author_url": "ftp://example.org"}, "author_url", "invalid_url", "not http(s)"),
    ({"author_url": "example.org"}, "author_url", "invalid_url", "no scheme"),
    ({"author_url": "http://"}, "author_url", "invalid_url", "no host"),
    ({"author_url": "http://exa mple.org"}, "author_url", "invalid_url", "space"),
    ({"author_url": "http://example.org:99999"}, "author_url", "invalid_url", "bad port"),
    ({"author_url": "https://moc.\u202elive.com"}, "author_url", "bidi_control", "RLO in URL"),
    ({"thread_url": "javascript:x"}, "thread_url", "invalid_url", "thread URL scheme"),
    ({"surprise": 1}, "surprise", "unknown_field", "unknown field"),
]


@pytest.mark.parametrize("changes,field,code,why", FIELD_CASES, ids=[c[3] for c in FIELD_CASES])
def test_field_errors_have_stable_codes(client, site, changes, field, code, why):
    post(client)  # something stored already must survive every failure
    r = post(client, **changes)
    assert r.status_code == 422, why
    err = r.get_json()["error"]
    assert err["code"] == "validation_failed"
    assert [e["code"] for e in err["fields"][field]] == [code], why
    assert all(e["message"] for e in err["fields"][field])
    assert _count() == 1


def test_every_missing_field_reported_at_once(client, site):
    r = client.post("/api/v1/sites/news/comments", json={})
    fields = r.get_json()["error"]["fields"]
    assert {f: [e["code"] for e in v] for f, v in fields.items()} == {
        "thread": ["required"], "author_name": ["required"], "author_email": ["required"], "body": ["required"],
    }


def test_limits_are_inclusive(client, site):
    r = post(client, author_name="n" * 100, body="b" * 5000, thread="t" * 255)
    assert r.status_code == 201


def test_length_counts_characters_not_bytes(client, site):
    r = post(client, body="ع" * 5000, author_name="ل" * 100)
    assert r.status_code == 201


def test_optional_empty_strings_mean_absent(client, site):
    r = post(client, author_url="", thread_url="", thread_title="")
    assert r.status_code == 201
    assert r.get_json()["comment"]["author"]["url"] is None


def test_text_is_nfc_normalised_and_trimmed(client, site):
    r = post(client, author_name="  Ame\u0301lie  ")
    assert r.get_json()["comment"]["author"]["name"] == "Am\u00e9lie"


def test_body_bidi_overrides_are_stripped_not_refused(client, site):
    r = post(client, body="safe \u202etext\u202c here")
    assert r.status_code == 201
    assert "\u202e" not in r.get_json()["comment"]["body_html"]


def test_non_object_json_is_422(client, site):
    r = client.post("/api/v1/sites/news/comments", json=["a"])
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["_request"][0]["code"] == "invalid_type"


@pytest.mark.parametrize(
    "data,content_type,status,code",
    [
        ("thread=a", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("{}", "text/plain", 415, "unsupported_media_type"),
        ('{"thread": ', "application/json", 400, "malformed_json"),
        (b'{"thread": "\xff\xfe"}', "application/json", 400, "invalid_encoding"),
        ('{"thread": "a", "body": "x\\ud800y"}', "application/json", 400, "invalid_characters"),
        ('{"thread": "a", "author_name": "x\\u0000y"}', "application/json", 400, "invalid_characters"),
        ('{"thread": "a", "body": "x\\udfff"}', "application/json", 400, "invalid_characters"),
        ("", "application/json", 400, "malformed_json"),
    ],
)
def test_undecodable_requests_are_4xx_never_500(client, site, data, content_type, status, code):
    post(client)
    r = client.post("/api/v1/sites/news/comments", data=data, content_type=content_type)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert _count() == 1


def test_lone_surrogate_names_the_field(client, site):
    r = client.post(
        "/api/v1/sites/news/comments",
        data='{"thread": "a", "author_name": "\\ud83d", "author_email": "a@example.org", "body": "x"}',
        content_type="application/json",
    )
    assert r.status_code == 400
    assert list(r.get_json()["error"]["fields"]) == ["author_name"]


def test_body_over_size_cap_is_413(client, site):
    big = comment_payload(body="x" * 70_000)
    r = client.post("/api/v1/sites/news/comments", json=big)
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "payload_too_large"


def test_unknown_site_is_404(client, site):
    r = post(client, "nowhere")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "site_not_found"


def test_closed_thread_is_403_and_stores_nothing(client, site):
    post(client)
    db_run(sa.update(Thread).values(closed=True))
    r = post(client)
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "thread_closed"
    assert _count() == 1


def test_wrong_method_is_405_json(client, site):
    r = client.put("/api/v1/sites/news/comments", json={})
    assert r.status_code == 405
    assert r.get_json()["error"]["code"] == "method_not_allowed"


def test_unknown_path_is_404_json(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_ip_is_stored_truncated_and_keyed(client, site):
    r = client.post(
        "/api/v1/sites/news/comments", json=comment_payload(), environ_base={"REMOTE_ADDR": "203.0.113.77"}
    )
    first = db_get(Comment, r.get_json()["comment"]["id"]).ip_hmac
    r = client.post(
        "/api/v1/sites/news/comments", json=comment_payload(), environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    second = db_get(Comment, r.get_json()["comment"]["id"]).ip_hmac
    assert first == second  # same /24
    assert "203.0.113" not in first


def test_unexpected_error_is_json_500_without_details(app, client, site, monkeypatch):
    from comment_service import services

    def boom(*a, **k):
        raise RuntimeError("secret detail layla@example.org")

    monkeypatch.setattr(services, "submit_comment", boom)
    r = post(client)
    assert r.status_code == 500
    assert r.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}


def test_required_reads_the_same_whether_missing_or_blank(client, site):
    missing = post(client, body=...).get_json()["error"]["fields"]["body"][0]
    blank = post(client, body="  ").get_json()["error"]["fields"]["body"][0]
    assert missing == blank == {"code": "required", "message": "This field is required."}


def test_author_sees_own_pending_comments_by_token_only(client, premod_site):
    mine = post(client, "careful").get_json()
    other = post(client, "careful", author_email="x@example.org").get_json()
    assert mine["editable_until"] > mine["comment"]["created_at"]
    r = client.post("/api/v1/sites/careful/comments/own", json={"comments": [
        {"id": mine["comment"]["id"], "edit_token": mine["edit_token"]},
        {"id": other["comment"]["id"], "edit_token": mine["edit_token"]},  # not mine: left out, silently
        {"id": 99999, "edit_token": "nope"},
    ]})
    assert r.status_code == 200
    found = r.get_json()["comments"]
    assert [c["comment"]["id"] for c in found] == [mine["comment"]["id"]]
    assert found[0]["comment"]["status"] == "pending" and "email" not in str(found)
    assert client.get("/api/v1/sites/careful/comments?thread=article-42").get_json()["comments"] == []


def test_own_comments_of_another_site_are_not_found(client, site, premod_site):
    mine = post(client, "careful").get_json()
    r = client.post("/api/v1/sites/news/comments/own",
                    json={"comments": [{"id": mine["comment"]["id"], "edit_token": mine["edit_token"]}]})
    assert r.get_json() == {"comments": []}


@pytest.mark.parametrize("body,field", [({}, "comments"), ({"comments": [{"id": 1}]}, "comments.0.edit_token"),
                                        ({"comments": [{"id": 1, "edit_token": "t"}] * 51}, "comments")])
def test_own_comments_validation(client, site, body, field):
    r = client.post("/api/v1/sites/news/comments/own", json=body)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
