"""The service pieces the dashboard added: narrowed queues and claims, releases that spare renewed leases."""
from __future__ import annotations

import sqlalchemy as sa

from comment_service.models import Claim, utcnow
from comment_service.services import queues
from comment_service.services.queues import Queue
from tests.conftest import db_scalar, post


def test_queue_items_narrowed_by_thread_and_text(ctx, client, site, held):
    other = post(client, thread="article-7", body="Casino 50% off_today").get_json()["comment"]["id"]
    ids = lambda **kw: [i.id for i in ctx(queues.queue_items, site, Queue.PENDING, None, 50, **kw)[0]]  # noqa: E731
    assert ids() == [*held, other]  # without filters: as before
    assert ids(thread="article-7") == [other] and ids(thread="article-42") == held
    assert ids(text="casino") == [other] and ids(text="50%") == [other] and ids(text="0%_") == []
    assert ids(text="off_today") == [other] and ids(text="layla") == [*held, other]  # the author's name too
    assert ids(thread="article-7", text="held") == []


def test_claim_batch_narrowed_by_thread(ctx, client, site, held):
    other = post(client, thread="article-7").get_json()["comment"]["id"]
    got = ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 10, 60, thread="article-7")
    assert [i.id for i in got] == [other]
    assert [i.id for i in ctx(queues.claim_batch, site, Queue.PENDING, "mod:2", 10, 60)] == held


def test_release_spares_leases_renewed_after_the_page_was_made(ctx, site, held):
    first = ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 10, 60)
    lease = first[0].claim.expires_at
    assert ctx(queues.release_claims, site, "mod:1", held, leased_until=lease) == 5
    ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 10, 60)
    renewed = ctx(queues.claim_batch, site, Queue.PENDING, "mod:1", 10, 600)
    assert ctx(queues.release_claims, site, "mod:1", held, leased_until=lease) == 0
    assert ctx(queues.release_claims, site, "mod:1", held, leased_until=renewed[0].claim.expires_at) == 5
    assert ctx(queues.release_claims, site, "mod:1", held) == 0  # and without the guard, as before
    assert db_scalar(sa.select(sa.func.count()).where(Claim.expires_at > utcnow())) == 0
