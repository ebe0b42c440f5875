"""Jobs on the app's queue as the web processes and the worker use them: enqueued by a commit only,
run at most once in effect, recovered by the sweep when a worker died holding one."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service import create_app
from comment_service.extensions import db
from comment_service.jobs import after_commit
from comment_service.models import WebhookDelivery, utcnow
from tests.conftest import auth, db_rows, post
from tests.jobs import queued, run_jobs, run_next


def test_a_worker_that_died_mid_attempt_leaves_a_lease_that_runs_out(app, client, ctx, site, key, hook):
    client.post("/api/v1/sites/news/webhooks", headers=auth(key), json={"url": hook.url, "events": ["comment.created"]})
    post(client)
    assert run_next(app) == "outbox.dispatch"  # the delivery is queued
    with ctx:  # a worker took it and died before answering
        db.session.execute(sa.update(WebhookDelivery).values(attempts=1, lease_until=utcnow() + timedelta(minutes=1)))
        db.session.commit()
    run_jobs(app)
    assert hook.got == []  # its lease holds
    with ctx:
        from comment_service.services import webhooks

        assert webhooks.sweep() == 0
        db.session.execute(sa.update(WebhookDelivery).values(lease_until=utcnow() - timedelta(seconds=1),
                                                             next_attempt_at=utcnow() - timedelta(seconds=10)))
        db.session.commit()
        assert webhooks.sweep() == 1
    run_jobs(app)
    assert len(hook.wait_for(1)) == 1
    assert db_rows(sa.select(WebhookDelivery.status, WebhookDelivery.attempts)) == [("delivered", 2)]


def test_a_job_asked_for_in_a_transaction_is_enqueued_by_its_commit_only(app, ctx):
    with ctx:
        after_commit(db.session(), "outbox.dispatch")
        db.session.rollback()
        assert queued(app) == 0
        after_commit(db.session(), "outbox.dispatch")
        after_commit(db.session(), "outbox.dispatch")  # asked twice: once
        assert queued(app) == 0
        db.session.commit()
        assert queued(app) == 1


@pytest.mark.parametrize("url", ["amqp://127.0.0.1/", "sqlite://", "jobs.db"])
def test_a_jobs_url_it_cannot_use_refuses_to_start(url):
    with pytest.raises(RuntimeError, match="MAJLIS_JOBS_URL"):
        create_app(test_config={"MAJLIS_JOBS_URL": url})


def test_a_delivery_whose_job_crashes_every_time_is_failed_not_retried_forever(app, client, ctx, site, key, hook):
    from comment_service.services import webhooks

    client.post("/api/v1/sites/news/webhooks", headers=auth(key), json={"url": hook.url, "events": ["comment.created"]})
    post(client)
    assert run_next(app) == "outbox.dispatch"
    most = len(app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"]) + 1
    with ctx:  # every attempt was claimed and its worker died before an outcome
        db.session.execute(sa.update(WebhookDelivery).values(
            attempts=most, lease_until=utcnow() - timedelta(seconds=1), next_attempt_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        assert webhooks.sweep() == 0
    assert db_rows(sa.select(WebhookDelivery.status, WebhookDelivery.last_error)) == [
        ("failed", "gave up: the attempts ended without an answer")]
