"""Several moderators working one queue at once, on PostgreSQL (real concurrent transactions)."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from comment_service.models import Claim, Comment, ModerationAction
from tests.conftest import TEST_DATABASE_URL, auth, configure, db_rows, db_run, db_scalar, db_scalars, post

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL or not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs PostgreSQL (TEST_DATABASE_URL): SQLite has a single writer, nothing runs concurrently",
)

API = "/api/v1/sites/news"
ITEMS, MODERATORS = 120, 4


@pytest.fixture
def queue(ctx, app, client, site):
    configure(ctx, "news", {"mode": "pre"})
    return [post(client, body=f"item {i}").get_json()["comment"]["id"] for i in range(ITEMS)]


def _run(app, target, n: int) -> list:
    results: list = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = target(app.test_client(), f"mod{i}")
        except BaseException as err:  # surfaced below: a thread's failure must fail the test
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_claiming_moderators_decide_every_item_exactly_once(app, key, queue):
    def moderator(client, name):
        decided, conflicts = [], []
        while True:
            r = client.post(f"{API}/queues/pending/claim", json={"limit": 5, "lease_seconds": 120},
                            headers=auth(key, name))
            assert r.status_code == 200, r.get_json()
            items = r.get_json()["items"]
            if not items:
                return decided, conflicts
            for item in items:
                action = "approve" if item["id"] % 2 else "spam"
                d = client.post(f"{API}/comments/{item['id']}/decision",
                                json={"action": action, "revision": item["revision"]}, headers=auth(key, name))
                (decided if d.status_code == 200 else conflicts).append((item["id"], d.status_code))

    results = _run(app, moderator, MODERATORS)
    decided = [cid for mine, _ in results for cid, _ in mine]
    conflicts = [c for _, theirs in results for c in theirs]
    assert conflicts == []  # claims are exclusive, so no moderator ever meets another's item
    assert sorted(decided) == sorted(queue) and len(set(decided)) == ITEMS
    assert sum(1 for mine, _ in results if mine) >= 2  # the work really was shared
    statuses = Counter(c.status.value for c in db_scalars(sa.select(Comment)))
    assert statuses == {"approved": ITEMS // 2, "spam": ITEMS // 2}
    audit = db_rows(
        sa.select(ModerationAction.comment_id, sa.func.count())
        .where(ModerationAction.actor_type == "moderator").group_by(ModerationAction.comment_id)
    )
    assert len(audit) == ITEMS and all(n == 1 for _, n in audit)  # audit rows equal decisions


def test_racing_moderators_without_claims_get_explained_409s(app, key, queue):
    """Everyone decides every item at once: one wins each, every loser gets 409 with a reason."""
    targets = queue[:40]

    def moderator(client, name):
        out = []
        for cid in targets:
            r = client.post(f"{API}/comments/{cid}/decision", json={"action": "approve", "revision": 1},
                            headers=auth(key, name))
            out.append((cid, r.status_code, (r.get_json().get("error") or {}).get("code")))
        return out

    results = _run(app, moderator, MODERATORS)
    flat = [x for mine in results for x in mine]
    wins = Counter(cid for cid, status, _ in flat if status == 200)
    assert wins == Counter({cid: 1 for cid in targets})
    losers = [(status, code) for _, status, code in flat if status != 200]
    assert len(losers) == len(targets) * (MODERATORS - 1)
    assert set(losers) <= {(409, "stale_revision")}
    assert db_scalar(sa.select(sa.func.count()).select_from(ModerationAction)
                             .where(ModerationAction.actor_type == "moderator")) == len(targets)


def _claim_at_once(app, key: str, n: int, limit: int) -> list[list[int]]:
    """n moderators claim `limit` items each at the same instant (a barrier); their batches' ids."""
    barrier = threading.Barrier(n)

    def moderator(client, name):
        barrier.wait(timeout=30)
        r = client.post(f"{API}/queues/pending/claim", json={"limit": limit, "lease_seconds": 60},
                        headers=auth(key, name))
        assert r.status_code == 200, r.get_json()
        return [item["id"] for item in r.get_json()["items"]]

    return _run(app, moderator, n)


def test_simultaneous_claims_get_full_batches_that_never_overlap(app, key, queue):
    """Eight moderators open the queue at the same instant, 25 times: each gets its 10 items, none
    twice. (A claimer whose statement starts just before another commits sees the other's items as
    free and loses them to ON CONFLICT; it must ask again rather than answer a short batch. Without
    that, about one round in four had a short batch.)"""
    n, limit = 8, 10
    for _ in range(25):
        got = _claim_at_once(app, key, n, limit)
        ids = [cid for batch in got for cid in batch]
        assert [len(batch) for batch in got] == [limit] * n
        assert len(set(ids)) == n * limit
        assert sorted(ids) == queue[: n * limit]  # the oldest items, between them
        db_run(sa.delete(Claim))
