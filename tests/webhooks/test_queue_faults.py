"""The queue is a wake-up call, the outbox the record: a queue that is down fails no change, and the
worker's sweep delivers what it missed. Jobs asked for in a transaction are enqueued only by its commit."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from comment_service import create_app
from comment_service.extensions import db
from comment_service.models import OutboxEvent, WebhookDelivery, utcnow
from comment_service.moderation.status import ModerationMode
from comment_service.services import outbox
from tests.conftest import auth, db_rows, db_scalar, post, serving
from tests.jobs import run_jobs
from tests.netfaults import TcpProxy, redis_db, redis_up

pytestmark = pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy(("127.0.0.1", 6379))
    p.up()
    yield p
    p.down()


@pytest.fixture
def app_config(proxy: TcpProxy) -> dict[str, Any]:
    from huey import RedisHuey

    url = f"redis://127.0.0.1:{proxy.port}/{redis_db(12)}"
    RedisHuey("majlis", url=f"redis://127.0.0.1:6379/{redis_db(12)}").flush()
    return {"MAJLIS_JOBS_URL": url, "MAJLIS_WEBHOOK_RETRY_SECONDS": (0,)}


def test_a_queue_that_is_down_fails_no_post_and_the_sweep_delivers_later(app, client, ctx, site, key, hook, proxy,
                                                                         caplog):
    assert client.post("/api/v1/sites/news/webhooks", headers=auth(key),
                       json={"url": hook.url, "events": ["comment.created"]}).status_code == 201
    proxy.down()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="comment_service.jobs"):
        r = post(client)
    assert r.status_code == 201 and time.monotonic() - started < 3
    assert "could not enqueue outbox.dispatch" in caplog.text
    assert db_scalar(sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))) == 1
    scraped = client.get("/metrics").get_data(as_text=True)
    assert "majlis_outbox_undispatched 1.0" in scraped
    proxy.up()
    with ctx:  # the sweep leaves rows younger than a few seconds to the queue...
        outbox.sweep()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
        db.session.execute(sa.update(OutboxEvent).values(created_at=utcnow() - timedelta(seconds=20)))
        db.session.commit()
        outbox.sweep()  # ...and takes the older ones
    run_jobs(app)
    assert len(hook.wait_for(1)) == 1
    assert db_rows(sa.select(WebhookDelivery.status, WebhookDelivery.attempts)) == [("delivered", 1)]
    assert "majlis_outbox_undispatched 0.0" in client.get("/metrics").get_data(as_text=True)


@pytest.fixture
def silent_queue() -> Iterator[str]:
    from tests.netfaults import silent_listener

    with silent_listener() as port:
        yield f"redis://127.0.0.1:{port}/0"


def test_a_queue_that_stops_answering_delays_a_post_by_its_timeout_only(silent_queue, hook):
    """A Redis that accepts and never answers: the post waits MAJLIS_JOBS_TIMEOUT (no retries), not
    redis-py's own seconds, and is stored; the sweep sends it later."""
    with serving(create_app(test_config={"MAJLIS_JOBS_URL": silent_queue})) as app:
        client = app.test_client()
        with app.app_context():
            from comment_service.services import sites, webhooks

            news = sites.create_site("news2", "News", ["https://news.example"], ModerationMode.POST)
            webhooks.create_webhook(news, hook.url, ["comment.created"], None)
        started = time.monotonic()
        r = post(client, "news2")
        took = time.monotonic() - started
        assert r.status_code == 201 and took < 1.0, took
        assert db_scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 1
