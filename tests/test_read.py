"""Reading a thread and counting comments: order, paging, visibility, caching."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.models import Comment, Thread
from comment_service.moderation.status import Status
from comment_service.read_cache import ReadCache
from tests.conftest import db_get, db_run, post, statements

URL = "/api/v1/sites/news/comments?thread=article-42"


def _ids(resp) -> list[int]:
    return [c["id"] for c in resp.get_json()["comments"]]


def test_visible_comments_oldest_first_with_replies(client, site):
    a = post(client, body="first").get_json()["comment"]["id"]
    b = post(client, body="second").get_json()["comment"]["id"]
    c = post(client, body="reply", parent_id=a).get_json()["comment"]["id"]
    r = client.get(URL)
    assert r.status_code == 200
    data = r.get_json()
    assert _ids(r) == [a, b, c]
    assert data["comments"][2]["parent_id"] == a
    assert data["thread"] == {
        "key": "article-42", "title": "مقال تجريبي", "url": None, "closed": False, "comment_count": 3,
    }
    assert data["next_cursor"] is None


def test_only_published_and_approved_are_listed(ctx, client, site):
    ids = [post(client, body=f"c{i}").get_json()["comment"]["id"] for i in range(6)]
    for cid, status in zip(ids, Status, strict=True):
        db_run(sa.update(Comment).where(Comment.id == cid).values(status=status))
    from comment_service.read_cache import read_cache

    ctx(lambda: read_cache().clear())  # the direct UPDATE above bypassed the version bump on purpose
    listed = client.get(URL).get_json()["comments"]
    assert sorted(c["status"] for c in listed) == ["approved", "published"]


def test_cursor_pagination_walks_every_comment_once(client, site):
    ids = [post(client, body=f"c{i}").get_json()["comment"]["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        r = client.get(URL + "&limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += _ids(r)
        cursor = r.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize(
    "query,field,code",
    [
        ("", "thread", "required"),
        ("?thread=", "thread", "required"),
        ("?thread=a&limit=0", "limit", "out_of_range"),
        ("?thread=a&limit=201", "limit", "out_of_range"),
        ("?thread=a&limit=abc", "limit", "invalid_type"),
        ("?thread=a&cursor=xyz", "cursor", "invalid_cursor"),
        ("?thread=" + "k" * 256, "thread", "too_long"),
    ],
)
def test_bad_read_queries_get_field_errors(client, site, query, field, code):
    r = client.get("/api/v1/sites/news/comments" + query)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"][field][0]["code"] == code


def test_unknown_thread_is_empty_not_404(client, site):
    r = client.get("/api/v1/sites/news/comments?thread=never-commented")
    assert r.status_code == 200
    assert r.get_json()["comments"] == [] and r.get_json()["thread"]["comment_count"] == 0


def test_unknown_site_is_404(client, site):
    r = client.get("/api/v1/sites/nope/comments?thread=a")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "site_not_found"


def test_etag_revalidation_and_short_public_cache(client, site):
    post(client)
    r = client.get(URL)
    etag = r.headers["ETag"]
    assert r.headers["Cache-Control"] == "public, max-age=5"
    again = client.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    post(client, body="new one")  # a visible change makes the old validator stale
    fresh = client.get(URL, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and len(fresh.get_json()["comments"]) == 2
    assert fresh.headers["ETag"] != etag


def test_a_weakened_etag_revalidates_too(client, site):
    """nginx's gzip passes the ETag on as W/"..."; the browser sends that back (weak comparison)."""
    post(client)
    etag = client.get(URL).headers["ETag"]
    assert client.get(URL, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(URL, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    post(client, body="new one")
    assert client.get(URL, headers={"If-None-Match": f"W/{etag}"}).status_code == 200


def test_pending_comment_does_not_change_the_public_page(client, premod_site):
    url = "/api/v1/sites/careful/comments?thread=article-42"
    post(client, "careful")  # creates the thread
    etag = client.get(url).headers["ETag"]
    post(client, "careful")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def _statements(app, client, url=URL) -> tuple[object, list[str]]:
    with statements(app) as sent:
        r = client.get(url)
    return r, sent


def test_hot_thread_read_runs_no_query_within_the_memo(app, client, site):
    post(client)
    client.get(URL)
    r, statements = _statements(app, client)
    assert r.status_code == 200 and statements == []


@pytest.mark.parametrize("app_config", [{"MAJLIS_READ_MEMO_SECONDS": 0}])
def test_cached_page_costs_one_indexed_probe(app, client, site):
    post(client)
    client.get(URL)
    r, statements = _statements(app, client)
    assert r.status_code == 200
    assert len(statements) == 1 and "FROM site" in statements[0]


def test_change_by_another_process_shows_after_the_memo_expires(app, ctx, client, site):
    now = [1000.0]
    app.extensions["majlis_read_cache"] = ReadCache(64, 1.0, timer=lambda: now[0])
    post(client, body="one")
    assert len(client.get(URL).get_json()["comments"]) == 1
    # another worker publishes a comment: the database changes, this process's memo does not know
    other = db_get(Comment, 1)
    with ctx:
        db.session.add(Comment(**{c: getattr(other, c) for c in (
            "site_id", "thread_id", "author_name", "author_email", "email_hmac", "avatar", "body_source",
            "body_html", "status")}))
        db.session.execute(sa.update(Thread).values(version=Thread.version + 1, comment_count=2))
        db.session.commit()
    assert len(client.get(URL).get_json()["comments"]) == 1  # within the memo: the page it had
    now[0] += 1.5
    assert len(client.get(URL).get_json()["comments"]) == 2  # after it: the new version


def test_own_write_is_visible_at_once(client, site):
    post(client, body="one")
    client.get(URL)
    post(client, body="two")
    assert len(client.get(URL).get_json()["comments"]) == 2


def test_counts_for_many_threads_in_one_request(client, site, premod_site):
    post(client, thread="a")
    post(client, thread="a")
    post(client, thread="b")
    post(client, "careful", thread="c")
    r = client.get("/api/v1/sites/news/counts?thread=a&thread=b&thread=zzz")
    assert r.get_json() == {"counts": {"a": 2, "b": 1, "zzz": 0}}
    # another site's threads never show up, pending comments never count
    assert client.get("/api/v1/sites/careful/counts?thread=a&thread=c").get_json() == {"counts": {"a": 0, "c": 0}}


@pytest.mark.parametrize("n,status", [(100, 200), (101, 422), (0, 422)])
def test_counts_accepts_up_to_100_threads(client, site, n, status):
    q = "&".join(f"thread=t{i}" for i in range(n))
    r = client.get(f"/api/v1/sites/news/counts?{q}")
    assert r.status_code == status
    if status == 422:
        assert "thread" in r.get_json()["error"]["fields"]


def test_counts_unknown_site_404(client):
    assert client.get("/api/v1/sites/nope/counts?thread=a").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sites/%00/comments?thread=a",
        "/api/v1/sites/News/comments?thread=a",
        "/api/v1/sites/" + "a" * 65 + "/comments?thread=a",
        "/api/v1/sites/%ED%A0%80/counts?thread=a",
    ],
)
def test_impossible_site_slugs_are_404_before_any_query(client, site, path):
    r = client.get(path)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "comments?thread=%00",
        "comments?thread=a%00b",
        "comments?thread=%ED%A0%80",
        "comments?thread=a&cursor=9999999999",
        "comments?thread=a&cursor=2147483647",
        "counts?thread=%00",
        "counts?thread=ok&thread=%C0%AF",
    ],
)
def test_odd_query_strings_never_500(client, site, query):
    post(client, thread="a")
    r = client.get(f"/api/v1/sites/news/{query}")
    assert r.status_code in (200, 422), r.get_json()


@pytest.mark.parametrize("cursor", ["%C2%B2", "12%C2%B9", "%E2%91%A0", "%D9%A3", "12345678901"])
def test_non_ascii_or_overlong_cursor_is_one_field_error(client, site, cursor):
    r = client.get(f"/api/v1/sites/news/comments?thread=a&cursor={cursor}")
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["cursor"] == [{"code": "invalid_cursor", "message": "Not a valid cursor."}]
