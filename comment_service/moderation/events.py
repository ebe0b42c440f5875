"""What a change to a comment means to the outside world: the event types webhooks subscribe to,
which ones a change is, and how a webhook message is signed (Standard Webhooks). Plain Python.

A change (services/changes.CommentChanged) can be more than one event: a new comment is
`comment.created` and also `comment.published`, `comment.held`, `comment.spam` or
`comment.rejected`, by the status the rules gave it; a moderator's approval of a held comment is
`comment.approved` and `comment.published` (readers see it now). A receiver that purges cached pages
subscribes to `comment.published` and `comment.deleted`; one that mirrors the queue, to the rest.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from datetime import timedelta

from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.status import Status, is_visible

CREATED = "comment.created"
PUBLISHED = "comment.published"
HELD = "comment.held"
APPROVED = "comment.approved"
REJECTED = "comment.rejected"
SPAM = "comment.spam"
DELETED = "comment.deleted"
EDITED = "comment.edited"
REPORTED = "report.created"
HIDDEN_BY_REPORTS = "comment.hidden_by_reports"
TEST = "webhook.test"  # what POST .../webhooks/{id}/test sends; no one subscribes to it

EVENT_TYPES = (CREATED, PUBLISHED, HELD, APPROVED, REJECTED, SPAM, DELETED, EDITED, REPORTED, HIDDEN_BY_REPORTS)

# The status a change leads to, as the event that says so (a status reached by the rules or a moderator).
_BY_STATUS = {Status.PENDING: HELD, Status.REJECTED: REJECTED, Status.SPAM: SPAM, Status.DELETED: DELETED}


def event_types(from_status: Status | None, to_status: Status, actor: Actor,
                reason: AuditReason | None) -> list[str]:
    """The event types of one change, most specific first; [] for a change no one outside sees
    (reports dismissed, a privacy erase of a comment already deleted)."""
    if from_status is None:
        first = PUBLISHED if is_visible(to_status) else _BY_STATUS.get(to_status)
        return [CREATED] + ([first] if first else [])
    if is_edit(from_status, to_status, actor):
        # An edit, judged again: the text changed, and the comment may be held now.
        return [EDITED] + ([HELD] if to_status is Status.PENDING and from_status is not Status.PENDING else [])
    if from_status == to_status:
        return []  # a dismissal of reports or an erase: the status stays
    if reason is AuditReason.REPORTED and to_status is Status.PENDING:
        return [HIDDEN_BY_REPORTS]
    if to_status is Status.APPROVED:
        return [APPROVED] + ([] if is_visible(from_status) else [PUBLISHED])
    if to_status is Status.PUBLISHED:
        return [PUBLISHED]  # restored or marked not spam
    return [_BY_STATUS[to_status]]


def is_edit(from_status: Status | None, to_status: Status, actor: Actor) -> bool:
    """Whether a change is an author's edit (their delete is not)."""
    return from_status is not None and actor is Actor.AUTHOR and to_status is not Status.DELETED


def keeps_revision(from_status: Status | None, to_status: Status, actor: Actor) -> bool:
    """Whether the comment's revision after the change is the one its event names: a submission's
    and an edit's (they wrote it); any other change moves the revision one on."""
    return from_status is None or is_edit(from_status, to_status, actor)


def wanted(types: Iterable[str], subscribed: Iterable[str] | None) -> list[str]:
    """The types someone subscribed to, in order."""
    chosen = set(subscribed or ())
    return [t for t in types if t in chosen]


# --- where a webhook may point ------------------------------------------------------------------

def is_public_address(address: str) -> bool:
    """Whether an IP address is one a webhook may be sent to: globally routable, not a private,
    loopback, link-local, shared (CGNAT), reserved or multicast one (an IPv4-mapped IPv6 address
    counts as its IPv4 address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# --- signing (https://www.standardwebhooks.com/) -------------------------------------------------

SECRET_PREFIX = "whsec_"


def secret_text(key: bytes) -> str:
    """A signing key as receivers configure it: whsec_ and its base64."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under one key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signatures(keys: Sequence[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per key in use (during a rotation the new and the
    old secret both sign, space-separated, so a receiver still holding the old one verifies)."""
    return " ".join(signature(key, message_id, timestamp, body) for key in keys)


# --- retries ------------------------------------------------------------------------------------

def next_try(attempts: int, schedule: Sequence[float]) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt (1-based) before the next one; None
    once the schedule is used up (the delivery has failed)."""
    if attempts > len(schedule):
        return None
    return timedelta(seconds=schedule[attempts - 1])
