"""What a moderator sees of a comment, however it is fetched: a queue page, a claim, one comment.

The three read the same columns (the claim on PostgreSQL straight from its UPDATE ... RETURNING),
and the API writes them with a hand-written dump that must give exactly the schema's JSON.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service.models import Claim, Comment, utcnow
from comment_service.moderation.status import ModerationMode, Status
from comment_service.schemas import ModeratorCommentSchema, dump_moderator_comment
from comment_service.services import queues
from comment_service.services.queues import Queue
from tests.conftest import ORIGIN, auth, configure, db_get, db_rows, db_run, db_scalar, new_site, post

API = "/api/v1/sites/news"
# Layla's record on "news" once the fixture has run; her other site's comments must not count.
LAYLA = {"pending": 3, "published": 0, "approved": 2, "rejected": 1, "spam": 1, "deleted": 1}
NOBODY = {s.value: 0 for s in Status}


def _set_status(cid: int, status: Status) -> None:
    db_run(sa.update(Comment).where(Comment.id == cid).values(status=status))


@pytest.fixture
def record(ctx, client, site):
    """On "news" (pre-moderated): Layla with comments in five statuses (3 still pending), Omar with
    one pending comment, and one pending comment whose author was erased. On "other": Layla again,
    with two comments. Returns the ids of the pending comments, oldest first."""
    configure(ctx, "news", {"mode": "pre"})
    other = new_site("other", "Other Paper", [ORIGIN], ModerationMode.PRE)
    ids = [post(client, body=f"Layla {i}").get_json()["comment"]["id"] for i in range(8)]
    for cid, status in zip(ids[3:], [Status.APPROVED, Status.APPROVED, Status.REJECTED, Status.SPAM, Status.DELETED],
                           strict=True):
        _set_status(cid, status)
    omar = post(client, author_name="Omar", author_email="omar@example.net", body="Omar here").get_json()["comment"]
    erased = post(client, author_name="Gone", author_email="gone@example.net", body="Later erased").get_json()["comment"]
    db_run(sa.update(Comment).where(Comment.id == erased["id"]).values(email_hmac=None, author_email=None))
    for i in range(2):
        post(client, slug="other", body=f"Layla elsewhere {i}")
    assert db_scalar(sa.select(sa.func.count()).where(Comment.site_id == other.id)) == 2
    return [*ids[:3], omar["id"], erased["id"]]


def _histories(items) -> dict[int, dict[str, int]]:
    return {i["id"]: i["author_history"] for i in items}


def test_author_record_counts_every_status_on_this_site_only(client, key, record):
    want = {record[0]: LAYLA, record[1]: LAYLA, record[2]: LAYLA,
            record[3]: {**NOBODY, "pending": 1}, record[4]: NOBODY}
    page = client.get(f"{API}/queues/pending?limit=50", headers=auth(key)).get_json()["items"]
    assert _histories(page) == want
    claimed = client.post(f"{API}/queues/pending/claim", json={"limit": 50}, headers=auth(key, "amal")).get_json()
    assert _histories(claimed["items"]) == want
    for cid, history in want.items():
        assert client.get(f"{API}/comments/{cid}", headers=auth(key)).get_json()["author_history"] == history


def test_a_claim_answers_what_the_queue_page_shows_plus_the_lease(client, key, record):
    page = client.get(f"{API}/queues/pending?limit=50", headers=auth(key)).get_json()["items"]
    claimed = client.post(f"{API}/queues/pending/claim", json={"limit": 4, "lease_seconds": 120},
                          headers=auth(key, "amal")).get_json()["items"]
    assert [i["id"] for i in claimed] == record[:4]  # oldest first, whatever order RETURNING gave
    for got, seen in zip(claimed, page, strict=False):
        assert got["claim"]["by"].endswith("/amal")
        assert {k: v for k, v in got.items() if k != "claim"} == {k: v for k, v in seen.items() if k != "claim"}
    # and the page shows the leases now
    again = client.get(f"{API}/queues/pending?limit=50", headers=auth(key)).get_json()["items"]
    assert [i["claim"] is not None for i in again] == [True] * 4 + [False]


def test_narrowed_claims_take_only_matching_items(ctx, client, key, site, record):
    held = post(client, thread="article-7", body="Casino 50% off_today").get_json()["comment"]["id"]
    got = ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 10, 60, text="50%")
    assert [i.id for i in got] == [held]
    got = ctx(queues.claim_batch, site, Queue.PENDING, "mod:2", 10, 60, text="layla", thread="article-42")
    assert [i.id for i in got] == record[:3]
    assert ctx(queues.claim_batch, site, Queue.PENDING, "mod:3", 10, 60, thread="no-such-article") == []


def test_the_written_dump_is_the_schema_dump(ctx, client, key, site, record):
    # every optional part set on one item: a live claim, an edit time, a spam score, reasons with spans
    db_run(sa.update(Comment).where(Comment.id == record[0]).values(
        edited_at=utcnow(), spam_score=0.75,
        hold_reasons=[{"code": "suspect_word", "detail": "«x»", "span": [0, 5], "entry": "x"}],
    ))
    ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 1, 60)
    items, _ = ctx(queues.queue_items, site, Queue.PENDING, None, 50)
    schema = ModeratorCommentSchema()
    assert items[0].claim and items[0].edited_at and items[0].spam_score == 0.75
    assert any(i.claim is None and i.edited_at is None for i in items)
    for item in items:
        assert json.dumps(dump_moderator_comment(item)) == json.dumps(schema.dump(item))
    # the API answers with it
    page = client.get(f"{API}/queues/pending?limit=50", headers=auth(key)).get_json()["items"]
    assert page == [json.loads(json.dumps(schema.dump(i))) for i in items]


def test_an_expired_lease_is_shown_and_taken_over(ctx, client, key, site, record):
    ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 2, 60)
    db_run(sa.update(Claim).values(expires_at=utcnow() - timedelta(seconds=1)))
    got = client.post(f"{API}/queues/pending/claim", json={"limit": 2}, headers=auth(key, "bilal")).get_json()
    assert [i["id"] for i in got["items"]] == record[:2]
    assert all(i["claim"]["by"].endswith("/bilal") for i in got["items"])


def test_a_claim_writes_its_own_rows_and_leaves_the_comments_as_they_were(client, key, site, record):
    def rows():
        return [tuple(r) for r in db_rows(sa.select(Comment.__table__).order_by(Comment.id))]

    before = rows()
    got = client.post(f"{API}/queues/pending/claim", json={"limit": 3}, headers=auth(key, "amal")).get_json()
    assert rows() == before
    claims = db_rows(sa.select(Claim.comment_id, Claim.site_id, Claim.claimed_by)
                                .order_by(Claim.comment_id))
    assert claims == [(i["id"], site.id, i["claim"]["by"]) for i in got["items"]]


def test_a_decision_ends_the_claim_so_another_moderator_can_act_next(client, key, record):
    item = client.post(f"{API}/queues/pending/claim", json={"limit": 1}, headers=auth(key, "amal")).get_json()["items"][0]
    r = client.post(f"{API}/comments/{item['id']}/decision", json={"action": "approve", "revision": 1},
                    headers=auth(key, "amal"))
    assert r.status_code == 200 and r.get_json()["comment"]["claim"] is None
    assert db_get(Claim, item["id"]) is None
    # Bilal, browsing the approved queue a minute later, is not told Amal still holds it
    r = client.post(f"{API}/comments/{item['id']}/decision",
                    json={"action": "reject", "reason": "off_topic", "revision": 2}, headers=auth(key, "bilal"))
    assert r.status_code == 200 and r.get_json()["comment"]["status"] == "rejected"


def test_the_compiled_dump_refuses_what_it_would_not_dump_like_the_schema():
    """schemas/dump.py compiles the field kinds it knows; anything else fails when it is built, not in an answer."""
    from marshmallow import Schema, fields

    from comment_service.schemas.dump import compile_dump

    class Renamed(Schema):
        name = fields.String(attribute="author_name")

    class Computed(Schema):
        when = fields.Method("_when")

        def _when(self, obj):
            return None

    class Deep(Schema):
        outer = fields.Nested(ModeratorCommentSchema)

    for schema in (Renamed, Computed, Deep):
        with pytest.raises(TypeError):
            compile_dump(schema)
