"""Nothing after the commit turns a success into an error, and a retry with the same Idempotency-Key
stores nothing new (issue 9, item 2)."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from limits.storage import MemoryStorage

from comment_service.models import Comment, IdempotentSubmission
from comment_service.moderation.status import ModerationMode
from tests.conftest import (
    ORIGIN,
    TEST_DATABASE_URL,
    comment_payload,
    configure,
    db_rows,
    db_run,
    db_scalar,
    new_site,
)

API = "/api/v1/sites/news/comments"
KEY = "Idempotency-Key"


class DeductFails(MemoryStorage):
    """A store that answers the check before a view and fails the deduction after it: the fault
    of a Redis that drops between the two (the comment is committed by then)."""

    STORAGE_SCHEME = ["test-deduct-fails"]

    def acquire_entry(self, key, limit, expiry, amount=1):  # the moving window's deduction
        raise ConnectionError("injected: the store went away after the commit")


def send(client, payload=None, key: str | None = None, **headers):
    if key is not None:
        headers[KEY] = key
    return client.post(API, json=payload if payload is not None else comment_payload(), headers=headers)


def stored() -> int:
    return db_scalar(sa.select(sa.func.count()).select_from(Comment))


def test_a_retry_with_the_same_key_answers_the_first_comment(client, site):
    payload = comment_payload()
    first = send(client, payload, "9f1c-retry-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = send(client, payload, "9f1c-retry-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()  # the same comment, the same edit token
    assert stored() == 1
    # The replayed token is a working edit token.
    cid, token = first.get_json()["comment"]["id"], again.get_json()["edit_token"]
    r = client.patch(f"{API}/{cid}", json={"body": "Edited after a retry."}, headers={"X-Edit-Token": token})
    assert r.status_code == 200, r.get_json()
    replay = send(client, payload, "9f1c-retry-1").get_json()
    assert replay["comment"]["body_html"] == "<p>Edited after a retry.</p>"  # the comment as it is now


def test_without_a_key_nothing_changes_and_keys_are_per_submission(client, site):
    payload = comment_payload()
    assert send(client, payload).status_code == 201
    assert send(client, payload).status_code == 201  # no key: a second comment (held as a duplicate)
    assert send(client, comment_payload(), "a").status_code == 201
    assert send(client, comment_payload(), "b").status_code == 201
    assert stored() == 4


def test_the_same_key_with_another_request_is_refused(client, site):
    assert send(client, comment_payload(body="First text."), "k-1").status_code == 201
    r = send(client, comment_payload(body="Other text."), "k-1")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "idempotency_key_reused"
    assert stored() == 1


def test_keys_belong_to_their_site(ctx, client, site):
    new_site("gazette", "The Gazette", [ORIGIN], ModerationMode.POST)
    payload = comment_payload()
    a = send(client, payload, "shared-key").get_json()
    b = client.post("/api/v1/sites/gazette/comments", json=payload, headers={KEY: "shared-key"}).get_json()
    assert a["comment"]["id"] != b["comment"]["id"] and a["edit_token"] != b["edit_token"]


@pytest.mark.parametrize("value", ["", " ", "x" * 201, "caf\u00e9", "tab\there", "line\x7f"])
def test_a_malformed_key_is_a_400(client, site, value):
    r = send(client, key=value)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert stored() == 0


@pytest.mark.parametrize("value", ["x", "x" * 200, "550e8400-e29b-41d4-a716-446655440000", "a key ~!@#"])
def test_well_formed_keys(client, site, value):
    assert send(client, key=value).status_code == 201


def test_after_24_hours_a_key_is_new_and_old_rows_are_purged(client, site):
    payload = comment_payload()
    first = send(client, payload, "old-key").get_json()
    send(client, comment_payload(), "other-old-key")
    rows = db_rows(sa.select(IdempotentSubmission.key_hmac, IdempotentSubmission.created_at))
    db_run(*(sa.update(IdempotentSubmission).where(IdempotentSubmission.key_hmac == key_hmac)
             .values(created_at=created_at - timedelta(hours=24, seconds=1)) for key_hmac, created_at in rows))
    again = send(client, payload, "old-key")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["comment"]["id"] != first["comment"]["id"]
    assert db_scalar(sa.select(sa.func.count()).select_from(IdempotentSubmission)) == 1  # the new one


@pytest.mark.parametrize("app_config", [{"MAJLIS_IDEMPOTENCY_PURGE_SECONDS": 60}])
def test_an_expired_key_is_recorded_again_in_place_between_purges(client, site):
    """A process purges once a minute: a key whose record expired meanwhile still takes its new
    submission (its expired row gives way in the INSERT), and a live one still refuses another."""
    first = send(client, comment_payload(), "reused").get_json()  # this post purged; the next ones do not
    ((created_at,),) = db_rows(sa.select(IdempotentSubmission.created_at))
    db_run(sa.update(IdempotentSubmission).values(created_at=created_at - timedelta(hours=24, seconds=1)))
    payload = comment_payload()
    again = send(client, payload, "reused")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["comment"]["id"] != first["comment"]["id"]
    rows = db_rows(sa.select(IdempotentSubmission.comment_id))
    assert rows == [(again.get_json()["comment"]["id"],)]
    assert send(client, payload, "reused").headers["Idempotent-Replayed"] == "true"
    assert send(client, comment_payload(), "reused").status_code == 422 and stored() == 2


def test_a_deleted_submission_is_409(client, site):
    payload = comment_payload()
    first = send(client, payload, "gone").get_json()
    r = client.delete(f"{API}/{first['comment']['id']}", headers={"X-Edit-Token": first["edit_token"]})
    assert r.status_code == 204
    r = send(client, payload, "gone")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "submission_withdrawn"
    assert stored() == 1


def test_a_rejected_comment_replays_as_awaiting_moderation(ctx, client, site):
    configure(ctx, "news", {"banned_words": ["casino"]})
    payload = comment_payload(body="Visit the casino.")
    first = send(client, payload, "spam-1").get_json()
    again = send(client, payload, "spam-1").get_json()
    assert first == again and again["comment"]["status"] == "pending"


def test_preflight_allows_the_header(client, site):
    r = client.options(API, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "content-type, idempotency-key"})
    assert r.status_code == 204
    assert "idempotency-key" in r.headers["Access-Control-Allow-Headers"].lower()


def test_the_header_is_documented(client):
    op = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/sites/{site}/comments"]["post"]
    assert [p["name"] for p in op["parameters"]] == [KEY]
    assert "Idempotent-Replayed" in op["responses"]["201"]["headers"]


class TestRateLimits:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "2 per minute"}

    def test_a_replay_neither_counts_nor_is_refused(self, client, site):
        a = comment_payload()
        assert send(client, a, "first").status_code == 201
        assert send(client, comment_payload(), "second").status_code == 201  # the limit is used up
        for _ in range(3):  # the lost answer to the first, asked again: not 429, and not counted
            r = send(client, a, "first")
            assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
        assert send(client, comment_payload(), "third").status_code == 429
        assert stored() == 2


class TestFailureAfterCommit:
    """The rate-limit store fails after the comment is committed (the deduction of deduct_when)."""

    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "test-deduct-fails://",
                "MAJLIS_POST_RATE_LIMIT": "5 per minute"}

    def test_the_post_succeeds_and_its_retry_stores_nothing(self, client, site, caplog):
        caplog.set_level(logging.WARNING, logger="comment_service.ratelimit")
        payload = comment_payload()
        first = send(client, payload, "after-commit")
        assert first.status_code == 201, first.get_json()
        assert any("rate-limit store failed (ConnectionError)" in r.getMessage() for r in caplog.records)
        # A client that lost that answer anyway (a dropped connection) retries: the same comment.
        again = send(client, payload, "after-commit")
        assert again.status_code == 201 and again.get_json() == first.get_json()
        assert stored() == 1

    def test_author_edits_and_deletes_succeed(self, client, site):
        created = send(client).get_json()
        cid, token = created["comment"]["id"], created["edit_token"]
        from comment_service.extensions import limiter

        limiter._storage_dead = False  # back on the failing store for each change
        r = client.patch(f"{API}/{cid}", json={"body": "Changed."}, headers={"X-Edit-Token": token})
        assert r.status_code == 200, r.get_json()
        limiter._storage_dead = False
        assert client.delete(f"{API}/{cid}", headers={"X-Edit-Token": token}).status_code == 204


@pytest.mark.postgres_only
@pytest.mark.skipif(not TEST_DATABASE_URL or not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="needs PostgreSQL (TEST_DATABASE_URL): SQLite has a single writer")
def test_concurrent_retries_with_one_key_store_one_comment(app, site):
    payload, n = comment_payload(), 8
    barrier = threading.Barrier(n)
    answers: list = [None] * n
    errors: list[BaseException] = []

    def retry(i: int) -> None:
        try:  # each request has an app context of its own, as in a server's thread
            c = app.test_client()
            barrier.wait(10)
            r = c.post(API, json=payload, headers={KEY: "one-key"})
            answers[i] = (r.status_code, r.headers.get("Idempotent-Replayed"), r.get_json())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=retry, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert {status for status, _, _ in answers} == {201}
    assert len({body["comment"]["id"] for _, _, body in answers}) == 1
    assert len({body["edit_token"] for _, _, body in answers}) == 1
    assert sum(1 for _, replayed, _ in answers if replayed is None) == 1  # one stored, the others replayed
    assert stored() == 1
    assert db_scalar(sa.select(sa.func.count()).select_from(IdempotentSubmission)) == 1
