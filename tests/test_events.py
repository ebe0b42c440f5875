"""The events a change is, where a webhook may point, how a message is signed and when it is retried
(moderation/events.py, plain Python)."""
from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook as Receiver
from standardwebhooks.webhooks import WebhookVerificationError

from comment_service.moderation import events
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.status import Status

P, A, PUB, R, S, D = Status.PENDING, Status.APPROVED, Status.PUBLISHED, Status.REJECTED, Status.SPAM, Status.DELETED


@pytest.mark.parametrize(("before", "after", "actor", "reason", "types"), [
    (None, PUB, Actor.RULE, None, ["comment.created", "comment.published"]),
    (None, P, Actor.RULE, AuditReason.PRE_MODERATION, ["comment.created", "comment.held"]),
    (None, S, Actor.RULE, AuditReason.HONEYPOT, ["comment.created", "comment.spam"]),
    (None, R, Actor.RULE, AuditReason.AUTHOR_BANNED, ["comment.created", "comment.rejected"]),
    (P, A, Actor.MODERATOR, None, ["comment.approved", "comment.published"]),
    (PUB, A, Actor.MODERATOR, None, ["comment.approved"]),  # readers saw it already
    (P, R, Actor.MODERATOR, AuditReason.ABUSE, ["comment.rejected"]),
    (PUB, S, Actor.MODERATOR, None, ["comment.spam"]),
    (PUB, D, Actor.AUTHOR, AuditReason.AUTHOR_DELETED, ["comment.deleted"]),
    (PUB, PUB, Actor.AUTHOR, AuditReason.EDITED, ["comment.edited"]),  # the text changed, the status not
    (P, P, Actor.AUTHOR, AuditReason.PRE_MODERATION, ["comment.edited"]),  # held before, held still
    (PUB, P, Actor.AUTHOR, AuditReason.SUSPECT_WORD, ["comment.edited", "comment.held"]),
    (PUB, P, Actor.SYSTEM, AuditReason.REPORTED, ["comment.hidden_by_reports"]),
    (A, A, Actor.MODERATOR, AuditReason.REPORTS_DISMISSED, []),
    (D, D, Actor.SYSTEM, AuditReason.PRIVACY_ERASE, []),
    (S, PUB, Actor.MODERATOR, None, ["comment.published"]),  # not spam after all
    (D, P, Actor.MODERATOR, None, ["comment.held"]),  # restored to the queue
])
def test_each_change_is_the_events_a_receiver_expects(before, after, actor, reason, types):
    assert events.event_types(before, after, actor, reason) == types


def test_an_edit_is_an_authors_change_other_than_a_delete():
    """An author's edit of a published comment the rules let through: same status, yet an edit (the
    text changed), so receivers purging pages hear of it."""
    assert events.is_edit(PUB, PUB, Actor.AUTHOR)
    assert not events.is_edit(PUB, D, Actor.AUTHOR) and not events.is_edit(None, PUB, Actor.AUTHOR)


def test_the_revision_after_a_change():
    assert events.keeps_revision(None, PUB, Actor.RULE) and events.keeps_revision(PUB, P, Actor.AUTHOR)
    assert not events.keeps_revision(P, A, Actor.MODERATOR)


def test_only_the_subscribed_types_in_order():
    assert events.wanted(["comment.created", "comment.held"], ["comment.held", "report.created"]) == ["comment.held"]
    assert events.wanted(["comment.created"], None) == []


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False),  # the cloud metadata service
    ("100.64.0.1", False),  # shared address space (CGNAT)
    ("0.0.0.0", False), ("224.0.0.1", False), ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),  # IPv4-mapped
])
def test_which_addresses_a_webhook_may_reach(address, public):
    assert events.is_public_address(address) is public


def test_a_signature_verifies_with_the_standard_webhooks_library():
    key, now = bytes(range(32)), int(time.time())
    body = '{"type":"comment.created","data":{"x":"مرحبا"}}'.encode()
    headers = {"webhook-id": "msg_1_comment.created", "webhook-timestamp": str(now),
               "webhook-signature": events.signatures([key], "msg_1_comment.created", now, body)}
    receiver = Receiver(events.secret_text(key))
    assert receiver.verify(body, headers)["data"]["x"] == "مرحبا"
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Receiver(events.secret_text(bytes(32))).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body, {**headers, "webhook-id": "msg_2_comment.created"})
    # During a rotation both keys sign: a receiver holding either one verifies.
    both = events.signatures([bytes(32), key], "msg_1_comment.created", now, body)
    assert receiver.verify(body, {**headers, "webhook-signature": both})
    assert Receiver(events.secret_text(bytes(32))).verify(body, {**headers, "webhook-signature": both})
    assert events.secret_text(key).startswith("whsec_") and base64.b64decode(events.secret_text(key)[6:]) == key


def test_the_default_retries_are_at_least_six_attempts_over_at_least_an_hour():
    from config.settings import TestingConfig

    waits = TestingConfig({}).MAJLIS_WEBHOOK_RETRY_SECONDS
    assert len(waits) + 1 >= 6 and sum(waits) >= 3600
    assert events.next_try(1, waits) == timedelta(seconds=waits[0])
    assert events.next_try(len(waits), waits) == timedelta(seconds=waits[-1])
    assert events.next_try(len(waits) + 1, waits) is None


def test_a_bad_retry_setting_refuses_to_start():
    from config.settings import TestingConfig

    with pytest.raises(RuntimeError, match="MAJLIS_WEBHOOK_RETRY_SECONDS"):
        TestingConfig({"MAJLIS_WEBHOOK_RETRY_SECONDS": "5,soon"})
