"""Comment statuses and which of them the public may see."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a comment stands in moderation (DESIGN.md section 3)."""

    PENDING = "pending"
    PUBLISHED = "published"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"
    DELETED = "deleted"


class ModerationMode(StrEnum):
    """A site's default: hold everything (pre) or publish unless a rule holds (post)."""

    PRE = "pre"
    POST = "post"


VISIBLE: frozenset[Status] = frozenset({Status.PUBLISHED, Status.APPROVED})


def is_visible(status: Status) -> bool:
    """True when readers may see a comment in this status."""
    return status in VISIBLE


class Action(StrEnum):
    """What a moderator (or an author, for delete) can do to a comment."""

    APPROVE = "approve"
    REJECT = "reject"
    SPAM = "spam"
    NOT_SPAM = "not_spam"
    DELETE = "delete"
    RESTORE = "restore"


# action -> (statuses it applies to, status it leads to). RESTORE is special: it returns a
# deleted comment to the status it had before (the service reads it from the audit log).
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.APPROVE: (frozenset({Status.PENDING, Status.PUBLISHED, Status.REJECTED, Status.SPAM}), Status.APPROVED),
    Action.REJECT: (frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED}), Status.REJECTED),
    Action.SPAM: (frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED, Status.REJECTED}), Status.SPAM),
    Action.NOT_SPAM: (frozenset({Status.SPAM}), Status.PENDING),
    Action.DELETE: (frozenset(set(Status) - {Status.DELETED}), Status.DELETED),
    Action.RESTORE: (frozenset({Status.DELETED}), None),
}


class TransitionError(ValueError):
    """The action does not apply to a comment in this status."""


def next_status(current: Status, action: Action, previous: Status | None = None) -> Status:
    """The status `action` leads to from `current`; `previous` is the status before a delete."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise TransitionError(f"cannot {action.value} a {current.value} comment")
    if target is None:
        return previous if previous is not None and previous is not Status.DELETED else Status.PENDING
    return target


class RejectReason(StrEnum):
    """Why a moderator rejected a comment (shown in the audit log and, later, to the author)."""

    ABUSE = "abuse"
    PERSONAL_ATTACK = "personal_attack"
    HATE = "hate"
    SPAM_LIKE = "spam_like"
    OFF_TOPIC = "off_topic"
    MISINFORMATION = "misinformation"
    PRIVACY = "privacy"
    ILLEGAL = "illegal"
    OTHER = "other"


class ReportReason(StrEnum):
    """Why a reader reported a comment."""

    SPAM = "spam"
    ABUSE = "abuse"
    OFF_TOPIC = "off_topic"
    OTHER = "other"
