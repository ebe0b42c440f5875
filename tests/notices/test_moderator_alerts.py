"""A held or reported comment reaches its site's moderators by email, once, from the event recorded
with the change; the address is read when the message is sent; a mail server that refuses or is
down is retried and nothing is lost; the queue's time limit alerts once per breach."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service.extensions import db
from comment_service.jobs import jobs
from comment_service.models import Comment, ModeratorSite, Notification, Site, utcnow
from comment_service.moderation.roles import ModeratorRole
from comment_service.services import notices, outbox
from tests.conftest import auth, configure, db_rows, db_scalar, post
from tests.dashboard.conftest import make_moderator
from tests.jobs import run_jobs, run_next

API = "/api/v1/sites/news"


@pytest.fixture
def premod(ctx, site):
    configure(ctx, "news", {"mode": "pre"})
    return site


@pytest.fixture
def amal(premod):
    return make_moderator("amal@example.org", premod, ModeratorRole.ADMIN, "Amal")


@pytest.fixture
def bilal(premod):
    return make_moderator("bilal@example.org", premod, ModeratorRole.MODERATOR, "Bilal")


def notices_of(*columns):
    return db_rows(sa.select(*columns).order_by(Notification.id))


def set_alerts(ctx, moderator, mode, minutes=None):
    with ctx:
        notices.set_alerts(db.session.get(ModeratorSite, (moderator.id, 1)), mode, minutes)


def test_a_held_comment_mails_each_moderator_once(app, client, premod, amal, bilal, mailbox):
    cid = post(client, author_email="layla.private@example.org", body="Hold me, please.").get_json()["comment"]["id"]
    queue = jobs(app).huey
    assert all(isinstance(a, int) for t in queue.pending() for a in t.args), "jobs carry ids, never addresses"
    run_jobs(app)
    got = mailbox.wait_for(2)
    assert sorted(to for _, (to,) in mailbox.envelopes) == ["amal@example.org", "bilal@example.org"]
    message = got[0]
    assert message["From"] == "Majlis <alerts@majlis.example>"
    assert message["Message-ID"].endswith("@majlis.example>") and message["Message-ID"] != got[1]["Message-ID"]
    assert message["List-Unsubscribe"].startswith("<https://comments.example/dashboard/alerts/off/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = mailbox.raw[0]  # as a mail client reads it: a plain <https://...>, not an encoded word
    assert b"\r\nList-Unsubscribe: <https://comments.example/dashboard/alerts/off/" in raw
    assert b"=?utf-8?" not in raw.split(b"\r\nList-Unsubscribe:")[1].split(b"\r\n")[0]
    text = message.get_body(("plain",)).get_content()
    assert "Hold me, please." in text and "https://comments.example/dashboard/act/" in text
    assert "layla.private" not in message.as_string(), "the author's address is the dashboard's, not the mail's"
    assert notices_of(Notification.kind, Notification.status, Notification.comment_id) == [
        ("held", "sent", cid), ("held", "sent", cid)]
    run_jobs(app)
    assert len(mailbox.messages) == 2


def test_a_replayed_job_or_dispatch_sends_once(app, client, premod, amal, mailbox):
    post(client)
    queue = jobs(app)
    queue.enqueue("outbox.dispatch")
    run_jobs(app)
    (notice_id,) = [n for (n,) in notices_of(Notification.id)]
    for _ in range(3):
        queue.enqueue("notices.send", notice_id)
    run_jobs(app)
    with app.app_context():
        from comment_service.dashboard import alerts

        assert outbox.dispatch() == 0 and alerts.send(notice_id) is None
    assert len(mailbox.wait_for(1)) == 1 and len(mailbox.messages) == 1


def test_reports_mail_once_per_comment(app, client, ctx, site, amal, mailbox):
    configure(ctx, "news", {"mode": "post", "report_threshold": 5})
    cid = post(client).get_json()["comment"]["id"]
    for n in range(3):
        client.post(f"{API}/comments/{cid}/reports", json={"reason": "abuse"}, headers={"User-Agent": f"r{n}"},
                    environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
    run_jobs(app)
    (message,) = mailbox.wait_for(1)
    assert notices_of(Notification.kind, Notification.status) == [("reported", "sent")]


def test_alerts_off_or_digest_send_no_mail_per_comment(app, client, ctx, premod, amal, bilal, mailbox):
    set_alerts(ctx, amal, "none")
    set_alerts(ctx, bilal, "digest", 60)
    post(client)
    run_jobs(app)
    assert mailbox.messages == [] and notices_of(Notification.id) == []
    set_alerts(ctx, bilal, "none")
    with ctx:
        assert db.session.get(Site, premod.id).outbox_events is None, "nobody listens: no outbox row per comment"


def test_a_digest_comes_when_its_time_has_come(app, client, ctx, premod, bilal, mailbox):
    set_alerts(ctx, bilal, "digest", 30)
    post(client, body="First held.")
    post(client, body="Second held.")

    def half_an_hour_passes():
        with ctx:
            member = db.session.get(ModeratorSite, (bilal.id, premod.id))
            member.digest_sent_at = member.digest_sent_at - timedelta(minutes=31)
            for comment in db.session.scalars(sa.select(Comment)):
                comment.created_at -= timedelta(minutes=31)
            db.session.commit()

    def sweep():
        with ctx:
            outbox.sweep()
        run_jobs(app)

    sweep()  # the first digest comes a period after the choice, not at once
    assert mailbox.messages == []
    half_an_hour_passes()
    sweep()
    (digest,) = mailbox.wait_for(1)
    assert digest["To"] == "bilal@example.org"
    assert "First held." in digest.get_body(("plain",)).get_content()
    sweep()  # not due again for 30 minutes
    assert len(mailbox.messages) == 1, notices_of(Notification.kind, Notification.dedupe_key)
    half_an_hour_passes()
    sweep()  # due, but nothing was written since the last one
    assert len(mailbox.messages) == 1


def test_a_comment_decided_before_its_notice_went_out_is_not_mailed(app, client, premod, amal, mailbox, key):
    cid = post(client).get_json()["comment"]["id"]
    assert run_next(app) == "outbox.dispatch"  # the notice waits to be sent
    r = client.post(f"{API}/comments/{cid}/decision", headers=auth(key), json={"action": "approve", "revision": 1})
    assert r.status_code == 200
    run_jobs(app)
    assert mailbox.messages == []
    assert notices_of(Notification.status, Notification.last_error) == [
        ("dropped", "the comment was decided before the notice went out")]


def test_a_refusing_server_is_retried_then_the_notice_fails_and_shows_in_metrics(app, client, premod, amal, mailbox):
    mailbox.refuse_rcpt = "550 5.1.1 <amal@example.org>: Recipient address rejected"
    post(client)
    run_jobs(app)
    attempts = len(app.config["MAJLIS_MAIL_RETRY_SECONDS"]) + 1
    ((status, tries, error),) = notices_of(Notification.status, Notification.attempts, Notification.last_error)
    assert (status, tries) == ("failed", attempts)
    assert "550" in error and "amal@example.org" not in error, error
    assert 'majlis_notifications{status="failed"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_a_server_that_is_down_loses_nothing(app, client, ctx, premod, amal, mailbox):
    app.config["MAJLIS_MAIL_RETRY_SECONDS"] = (600,)
    mailbox.stop()
    post(client, body="Mail me when you can.")
    run_jobs(app)
    ((status, tries, error),) = notices_of(Notification.status, Notification.attempts, Notification.last_error)
    assert (status, tries) == ("pending", 1) and "Connection refused" in error
    assert 'majlis_notifications{status="pending"} 1.0' in client.get("/metrics").get_data(as_text=True)
    mailbox.start()
    with ctx:  # ten minutes later
        db.session.execute(sa.update(Notification).values(next_attempt_at=utcnow() - timedelta(seconds=10)))
        db.session.commit()
        outbox.sweep()
    run_jobs(app, scheduled=False)
    (message,) = mailbox.wait_for(1)
    assert "Mail me when you can." in message.get_body(("plain",)).get_content()
    assert notices_of(Notification.status, Notification.attempts) == [("sent", 2)]


def test_without_a_mail_server_messages_are_written_as_eml_files(app, client, premod, amal, tmp_path, caplog):
    app.config["MAJLIS_SMTP_URL"] = None
    app.config["MAJLIS_MAIL_DIR"] = str(tmp_path / "outbox")
    post(client, body="Written down instead.")
    with caplog.at_level(logging.INFO, logger="comment_service.mail"):
        run_jobs(app)
    (path,) = list((tmp_path / "outbox").glob("*.eml"))
    assert b"Written down instead." in path.read_bytes() and path.name.startswith("majlis.notice.")
    assert str(path) in caplog.text and "amal@example.org" not in caplog.text
    assert notices_of(Notification.status) == [("sent",)]


def test_the_queues_time_limit_alerts_once_per_breach(app, client, ctx, premod, amal, bilal, mailbox, key):
    set_alerts(ctx, bilal, "none")  # wants nothing, not even breaches
    configure(ctx, "news", {"sla_minutes": 30})
    cid = post(client).get_json()["comment"]["id"]
    run_jobs(app)
    held = len(mailbox.wait_for(1))  # Amal's held-comment email
    sla = client.get(f"{API}/queues", headers=auth(key)).get_json()["sla"]
    assert sla == {"minutes": 30, "breached": False, "since": None}
    with ctx:
        db.session.execute(sa.update(Comment).values(created_at=utcnow() - timedelta(minutes=45)))
        db.session.commit()
    for _ in range(3):  # the sweep runs every minute: one alert for this breach
        with ctx:
            outbox.sweep()
        run_jobs(app)
    messages = mailbox.wait_for(held + 1)
    assert len(mailbox.messages) == held + 1 and messages[-1]["To"] == "amal@example.org"
    sla = client.get(f"{API}/queues", headers=auth(key)).get_json()["sla"]
    assert sla["breached"] is True and sla["since"]
    assert db_scalar(sa.select(Site.sla_breached_at)) is not None
    client.post(f"{API}/comments/{cid}/decision", headers=auth(key), json={"action": "approve", "revision": 1})
    with ctx:
        outbox.sweep()  # back within the limit: the breach is over
    assert db_scalar(sa.select(Site.sla_breached_at)) is None
    post(client)
    with ctx:
        db.session.execute(sa.update(Comment).where(Comment.status == "pending")
                           .values(created_at=utcnow() - timedelta(minutes=40)))
        db.session.commit()
        outbox.sweep()
    run_jobs(app)
    assert [m["To"] for m in mailbox.messages].count("amal@example.org") == held + 3  # new held, new breach


def test_a_moderator_who_left_gets_nothing(app, client, ctx, premod, amal, mailbox):
    post(client)
    assert run_next(app) == "outbox.dispatch"
    with ctx:
        db.session.delete(db.session.get(ModeratorSite, (amal.id, premod.id)))
        db.session.commit()
    run_jobs(app)
    assert mailbox.messages == []
    assert notices_of(Notification.status, Notification.last_error) == [
        ("dropped", "the moderator no longer works on this site")]


def test_a_held_comment_costs_one_statement_more_where_someone_listens(app, client, ctx, premod):
    """Its outbox row; a site where nobody listens pays nothing (the site is in the session already)."""
    from tests.conftest import statements

    post(client)
    with statements(app) as quiet:
        post(client)
    make_moderator("amal@example.org", premod, ModeratorRole.MODERATOR, "Amal")
    post(client)
    with statements(app) as heard:
        post(client)
    assert len(heard) == len(quiet) + 1, heard
    assert any("INSERT INTO outbox_event" in s for s in heard)


def test_an_emails_approve_link_asks_first_and_decides_once_on_post(app, client, premod, amal, mailbox):
    """The whole way: the email's link opens a page (a scanner following it changes nothing); its
    button's POST approves, with an audit row naming the moderator; the same link again changes nothing."""
    import re

    from comment_service.models import ModerationAction

    cid = post(client, body="Approve me from your inbox.").get_json()["comment"]["id"]
    run_jobs(app)
    (message,) = mailbox.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    links = re.findall(r"https://comments\.example(/dashboard/act/[^\s<>\"]+)", text)
    by_action = {_action_of(app, link): link for link in links}
    assert set(by_action) == {"approve", "reject", "spam"}
    approve, spam = by_action["approve"], by_action["spam"]
    page = client.get(approve)
    assert page.status_code == 200 and "Approve me from your inbox." in page.get_data(as_text=True)
    assert db_scalar(sa.select(Comment.status).where(Comment.id == cid)) == "pending"
    done = client.post(approve)
    assert done.status_code == 200
    assert db_scalar(sa.select(Comment.status).where(Comment.id == cid)) == "approved"
    assert db_rows(sa.select(ModerationAction.actor_id, ModerationAction.note)
                   .where(ModerationAction.comment_id == cid, ModerationAction.to_status == "approved")) == [
        (f"mod:{amal.id}", "email link")]
    again = client.post(approve)
    assert again.status_code == 409
    assert client.post(spam).status_code == 409  # the comment moved on: the email's revision is stale
    assert db_scalar(sa.select(Comment.status).where(Comment.id == cid)) == "approved"


def _action_of(app, link: str) -> str:
    from comment_service.services import action_links

    with app.app_context():
        return action_links.read_decision(link.rsplit("/", 1)[1]).action.value
