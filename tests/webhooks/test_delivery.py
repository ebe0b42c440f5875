"""What arrives at a receiver: one signed message per event and type it subscribed to, built from the
change recorded in the same transaction, never with an email or an IP; retried on failure, disabled
by 410, never sent for a change that rolled back, never twice for one replayed job."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook as Verifier

from comment_service.extensions import db
from comment_service.jobs import jobs
from comment_service.models import Comment, OutboxEvent, Site, WebhookDelivery, utcnow
from comment_service.moderation.events import EVENT_TYPES
from tests.conftest import ORIGIN, auth, configure, db_get, db_rows, db_scalar, post
from tests.jobs import queued, run_jobs
from tests.netfaults import silent_listener
from tests.receiver import receiver

API = "/api/v1/sites/news"
EMAIL, IP = "layla.private@example.org", "203.0.113.77"


def subscribe(client, key, url, events=EVENT_TYPES):
    r = client.post(f"{API}/webhooks", headers=auth(key), json={"url": url, "events": list(events)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def bodies(got):
    return [json.loads(g.body) for g in got]


def deliveries():
    return db_rows(sa.select(WebhookDelivery.type, WebhookDelivery.status, WebhookDelivery.attempts,
                             WebhookDelivery.last_error).order_by(WebhookDelivery.id))


def test_a_new_comment_arrives_signed_with_the_documented_payload(app, client, site, key, hook):
    secret = subscribe(client, key, hook.url)["secret"]
    r = client.post(f"{API}/comments", headers={"Origin": ORIGIN}, environ_base={"REMOTE_ADDR": IP}, json={
        "thread": "article-42", "thread_title": "مقال تجريبي", "thread_url": "https://news.example/a/42",
        "author_name": "ليلى", "author_email": EMAIL, "author_url": "https://layla.example", "body": "رأي **مهم**"})
    cid = r.get_json()["comment"]["id"]
    assert run_jobs(app) == ["outbox.dispatch", "webhooks.deliver", "webhooks.deliver"]
    got = hook.wait_for(2)
    for message in got:
        Verifier(secret).verify(message.body, message.headers)  # as any receiver would
    created, published = bodies(got)
    assert [created["type"], published["type"]] == ["comment.created", "comment.published"]
    assert created["data"] == published["data"] == {
        "site": "news",
        "thread": {"key": "article-42", "url": "https://news.example/a/42", "title": "مقال تجريبي"},
        "comment": {"id": cid, "status": "published", "revision": 1, "parent_id": None,
                    "author": {"name": "ليلى", "url": "https://layla.example"},
                    "body_html": db_get(Comment, cid).body_html},
        "actor": {"type": "rule", "id": None},
    }
    assert created["timestamp"].endswith("Z") and got[0].headers["webhook-id"] == f"msg_{_event_id()}_comment.created"
    stored = db_get(Comment, cid)
    for message in got:
        for secret_thing in (EMAIL, IP, "203.0.113", stored.email_hmac, stored.ip_hmac):
            assert secret_thing and secret_thing not in message.body.decode(), secret_thing
            assert secret_thing not in str(message.headers)


def _event_id():
    return db_scalar(sa.select(sa.func.max(OutboxEvent.id)))


def test_each_change_sends_its_events_to_whoever_subscribed(app, client, premod_site, ctx, hook):
    from comment_service.services.sites import issue_api_key

    with ctx:
        key = issue_api_key(premod_site)
    base = "/api/v1/sites/careful"
    with receiver() as queue_mirror:
        client.post(f"{base}/webhooks", headers=auth(key), json={"url": hook.url, "events": ["comment.published"]})
        client.post(f"{base}/webhooks", headers=auth(key), json={"url": queue_mirror.url, "events": list(EVENT_TYPES)})
        held = post(client, "careful").get_json()["comment"]
        rejected = post(client, "careful").get_json()["comment"]
        decide = [{"id": held["id"], "action": "approve", "revision": 1},
                  {"id": rejected["id"], "action": "reject", "revision": 1, "reason": "off_topic"}]
        assert client.post(f"{base}/decisions", headers=auth(key, "mod-ali"), json={"decisions": decide}).status_code == 200
        run_jobs(app)
        mirrored = bodies(queue_mirror.wait_for(7))
        purged = bodies(hook.wait_for(1))
    assert [(m["type"], m["data"]["comment"]["id"]) for m in mirrored] == [
        ("comment.created", held["id"]), ("comment.held", held["id"]),
        ("comment.created", rejected["id"]), ("comment.held", rejected["id"]),
        ("comment.approved", held["id"]), ("comment.published", held["id"]),
        ("comment.rejected", rejected["id"]),
    ]
    assert [(m["type"], m["data"]["comment"]["id"]) for m in purged] == [("comment.published", held["id"])]
    by_type = {m["type"]: m["data"] for m in mirrored}
    assert by_type["comment.held"]["reasons"][0]["code"] == "pre_moderation"
    actor = by_type["comment.approved"]["actor"]  # who decided, as the audit log names them (key and moderator)
    assert actor["type"] == "moderator" and actor["id"].startswith("key:mjl_") and actor["id"].endswith("/mod-ali")
    assert by_type["comment.approved"]["comment"]["revision"] == 2 and by_type["comment.approved"]["comment"]["status"] == "approved"
    assert by_type["comment.rejected"]["reasons"] == [{"code": "off_topic", "detail": ""}]


def test_reports_edits_and_deletes_are_events_too(app, client, ctx, site, key, hook):
    configure(ctx, "news", {"report_threshold": 2})
    subscribe(client, key, hook.url, ["report.created", "comment.hidden_by_reports", "comment.edited",
                                      "comment.deleted"])
    first = post(client).get_json()
    cid, token = first["comment"]["id"], first["edit_token"]
    assert client.patch(f"{API}/comments/{cid}", json={"body": "Edited, better."},
                        headers={"X-Edit-Token": token, "Origin": ORIGIN}).status_code == 200
    for n in range(2):
        r = client.post(f"{API}/comments/{cid}/reports", json={"reason": "abuse"},
                        headers={"User-Agent": f"reader-{n}"}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
        assert r.status_code == 201
    other = post(client).get_json()
    client.delete(f"{API}/comments/{other['comment']['id']}", headers={"X-Edit-Token": other["edit_token"],
                                                                      "Origin": ORIGIN})
    run_jobs(app)
    types = [m["type"] for m in bodies(hook.wait_for(5))]
    assert types == ["comment.edited", "report.created", "report.created", "comment.hidden_by_reports",
                     "comment.deleted"]
    report = bodies(hook.got)[1]["data"]
    assert report["report"]["reason"] == "abuse" and set(report["report"]) == {"id", "reason"}
    hidden = bodies(hook.got)[3]["data"]
    assert hidden["comment"]["status"] == "pending" and hidden["reasons"][-1]["code"] == "reported"


def test_a_change_that_rolls_back_sends_nothing(app, client, ctx, site, key, hook):
    from comment_service.services import changes
    from comment_service.services.moderation import get_comment

    subscribe(client, key, hook.url)
    cid = post(client).get_json()["comment"]["id"]
    run_jobs(app)
    hook.wait_for(2)
    with ctx:
        news = db.session.get(Site, site.id)
        from comment_service.moderation.audit import Actor
        from comment_service.moderation.status import Action

        changes.apply(news.id, get_comment(news, cid), changes.Change(Actor.MODERATOR, action=Action.SPAM))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 2  # written...
        db.session.rollback()  # ...and rolled back with the change
    assert db_scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 1
    assert queued(app) == 0 and run_jobs(app) == []
    assert len(hook.got) == 2


def test_a_replayed_job_sends_once(app, client, site, key, hook):
    """At least once into the queue, at most once out: every job run again acts on nothing."""
    subscribe(client, key, hook.url, ["comment.created"])
    post(client)
    queue = jobs(app)
    queue.enqueue("outbox.dispatch")  # a duplicate wake-up
    run_jobs(app)
    assert len(hook.wait_for(1)) == 1
    (delivery_id,) = db_rows(sa.select(WebhookDelivery.id))[0]
    for _ in range(3):
        queue.enqueue("webhooks.deliver", delivery_id)
        queue.enqueue("outbox.dispatch")
    run_jobs(app)
    with app.app_context():
        from comment_service.services import outbox, webhooks

        assert outbox.dispatch() == 0 and webhooks.deliver(delivery_id) is None
    assert len(hook.got) == 1 and deliveries() == [("comment.created", "delivered", 1, None)]


def test_a_site_without_webhooks_writes_no_outbox_and_queues_nothing(app, client, site):
    post(client)
    assert db_scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0 and queued(app) == 0


def test_a_receiver_answering_500_is_retried_then_failed(app, client, site, key):
    with receiver(statuses=[500]) as broken:
        webhook = subscribe(client, key, broken.url, ["comment.created"])["webhook"]
        post(client)
        run_jobs(app)
        attempts = len(app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"]) + 1
        got = broken.wait_for(attempts)
    assert len(got) == attempts and len({g.headers["webhook-id"] for g in got}) == 1
    assert deliveries() == [("comment.created", "failed", attempts, "500 Internal Server Error")]
    log = client.get(f"{API}/webhooks/{webhook['id']}/deliveries", headers=auth(key)).get_json()["deliveries"]
    assert log[0]["status"] == "failed" and log[0]["last_status_code"] == 500 and log[0]["next_attempt_at"] is None
    assert 'majlis_webhook_deliveries{status="failed"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_a_receiver_that_recovers_gets_the_message_once(app, client, site, key):
    with receiver(statuses=[503, 502, 200]) as flaky:
        subscribe(client, key, flaky.url, ["comment.created"])
        post(client)
        run_jobs(app)
        assert len(flaky.wait_for(3)) == 3
    assert deliveries() == [("comment.created", "delivered", 3, None)]


def test_a_hanging_receiver_times_out_and_is_retried(app, client, site, key):
    app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"] = (0,)
    with silent_listener() as port:
        subscribe(client, key, f"http://127.0.0.1:{port}/hook", ["comment.created"])
        post(client)
        import time

        started = time.monotonic()
        run_jobs(app)
        took = time.monotonic() - started
    assert deliveries() == [("comment.created", "failed", 2, "timed out after 1 s")]
    assert 2.0 <= took < 4.0, took  # two attempts of the 1 s timeout each, no more


def test_a_slow_receiver_is_cut_off_at_the_timeout(app, client, site, key):
    app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"] = ()
    with receiver(delay=2.5) as slow:
        subscribe(client, key, slow.url, ["comment.created"])
        post(client)
        run_jobs(app)
    assert deliveries() == [("comment.created", "failed", 1, "timed out after 1 s")]


def test_410_disables_the_endpoint(app, client, site, key):
    with receiver(statuses=[410]) as gone:
        webhook = subscribe(client, key, gone.url, ["comment.created"])["webhook"]
        post(client)
        run_jobs(app)
        post(client)
        run_jobs(app)
        assert len(gone.wait_for(1)) == 1
    assert deliveries() == [("comment.created", "failed", 1, "410 Gone: the endpoint is disabled")]
    listed = client.get(f"{API}/webhooks", headers=auth(key)).get_json()["webhooks"][0]
    assert listed["id"] == webhook["id"] and listed["enabled"] is False and "410" in listed["disabled_reason"]
    assert db_get(Site, 1).outbox_events is None  # nothing is written for it any more


def test_redirects_are_not_followed(app, client, site, key):
    app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"] = ()
    with receiver() as elsewhere, receiver(statuses=[302], location=elsewhere.url) as moved:
        subscribe(client, key, moved.url, ["comment.created"])
        post(client)
        run_jobs(app)
        moved.wait_for(1)
        assert elsewhere.got == []
    assert deliveries() == [("comment.created", "failed", 1, "302: redirects are not followed")]


def test_an_address_that_became_private_is_not_called(app, client, site, key, hook):
    subscribe(client, key, hook.url, ["comment.created"])
    app.config["MAJLIS_WEBHOOK_ALLOW_PRIVATE"] = False  # as in production
    app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"] = ()
    post(client)
    run_jobs(app)
    assert hook.got == []
    assert deliveries() == [("comment.created", "failed", 1,
                             "refused: 127.0.0.1 is a private, loopback or link-local address")]


def test_an_erased_comments_text_is_never_sent(app, client, ctx, site, key, hook):
    """The message is built at each attempt from the comment as it is: a privacy erase between the
    event and a retry leaves nothing of the text to send."""
    from comment_service.services import webhooks

    app.config["MAJLIS_WEBHOOK_RETRY_SECONDS"] = (60,)
    hook.statuses = [500, 204]
    subscribe(client, key, hook.url, ["comment.created"])
    post(client, author_email=EMAIL, author_name="Layla Private", body="Something I regret saying.")
    run_jobs(app, scheduled=False)  # the first attempt fails; its retry waits a minute
    assert client.post(f"{API}/privacy/erase", headers=auth(key), json={"email": EMAIL}).status_code == 200
    with ctx:  # the minute has passed: the sweep finds the delivery due
        db.session.execute(sa.update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=30)))
        db.session.commit()
        assert webhooks.sweep() == 1
    run_jobs(app, scheduled=False)
    first, retry = hook.wait_for(2)
    assert b"regret" in first.body and b"Private" in first.body
    assert b"regret" not in retry.body and b"Private" not in retry.body
    assert deliveries() == [("comment.created", "delivered", 2, None)]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_delivered(app, client, site, key, status):
    with receiver(statuses=[status]) as ok:
        subscribe(client, key, ok.url, ["comment.created"])
        post(client)
        run_jobs(app)
        ok.wait_for(1)
    assert deliveries() == [("comment.created", "delivered", 1, None)]
