"""The comment state machine: statuses, who may see them, the queues over them, and which changes apply.

Every change to a comment's status or revision is a `Transition` built here (services/changes.py
writes it): a moderator's, an author's or the system's action (`decide`), a new comment's first
status (`submitted`), an author's edit moderated again (`reviewed`), reports hiding a comment
(`hidden`), reports dismissed (`dismissed`) and a deleted comment erased (`erased`).
"""
from __future__ import annotations

from dataclasses import dataclass
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


# Display order of the actions a comment offers (dashboard buttons): "not spam" first in the spam queue.
ACTION_ORDER: tuple[Action, ...] = (
    Action.NOT_SPAM, Action.APPROVE, Action.REJECT, Action.SPAM, Action.DELETE, Action.RESTORE,
)
# A decision on these answers the comment's reader reports (they are resolved with it).
RESOLVING: frozenset[Action] = frozenset({Action.APPROVE, Action.REJECT, Action.SPAM, Action.DELETE})
# What an author may edit. Rejected and spam comments look "awaiting moderation" to their author;
# they get the same refusal as a deleted one, which does not say which of the three it is.
EDITABLE: frozenset[Status] = frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED})


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


def applicable(status: Status) -> tuple[Action, ...]:
    """The actions that apply to a comment in this status, in display order."""
    return tuple(a for a in ACTION_ORDER if status in TRANSITIONS[a][0])


@dataclass(frozen=True)
class Transition:
    """A change the state machine allows: from which status (None: a new comment) to which, and
    what it settles besides. `decided`: a decision (one of the actions), which ends the comment's
    claim and stamps its decision time; `resolves_reports`: it answers the reader reports."""

    source: Status | None
    target: Status
    decided: bool = False
    resolves_reports: bool = False

    @property
    def visibility_delta(self) -> int:
        """+1 when readers start seeing the comment, -1 when they stop, else 0."""
        was = self.source is not None and is_visible(self.source)
        return int(is_visible(self.target)) - int(was)


def decide(current: Status, action: Action, previous: Status | None = None) -> Transition:
    """A moderator's, an author's or the system's action; TransitionError when it does not apply."""
    return Transition(current, next_status(current, action, previous), decided=True,
                      resolves_reports=action in RESOLVING)


def submitted(target: Status) -> Transition:
    """A new comment's first status, as the rules decided it."""
    return Transition(None, target)


def reviewed(current: Status, target: Status) -> Transition:
    """An author's edit, moderated again: the status the rules give the new text."""
    if current not in EDITABLE:
        raise TransitionError(f"cannot edit a {current.value} comment")
    return Transition(current, target)


def hidden(current: Status) -> Transition:
    """Reader reports reached the threshold: a visible comment waits for a moderator again."""
    if not is_visible(current):
        raise TransitionError(f"cannot hide a {current.value} comment")
    return Transition(current, Status.PENDING)


def dismissed(current: Status) -> Transition:
    """A moderator finds the reports unfounded: they are resolved, the status stays."""
    return Transition(current, current, resolves_reports=True)


def erased(current: Status) -> Transition:
    """A privacy erase of a comment already deleted: the status stays, the text goes."""
    if current is not Status.DELETED:
        raise TransitionError(f"erase deletes a {current.value} comment first")
    return Transition(current, current)


class Queue(StrEnum):
    """Views over comments that moderators work through (DESIGN.md section 3)."""

    PENDING = "pending"
    REPORTED = "reported"
    UNMODERATED = "unmoderated"
    SPAM = "spam"
    APPROVED = "approved"
    REJECTED = "rejected"


# The statuses each queue shows; `reported` also needs open reports.
QUEUE_STATUSES: dict[Queue, frozenset[Status]] = {
    Queue.PENDING: frozenset({Status.PENDING}),
    Queue.REPORTED: frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED}),
    Queue.UNMODERATED: frozenset({Status.PENDING, Status.PUBLISHED}),
    Queue.SPAM: frozenset({Status.SPAM}),
    Queue.APPROVED: frozenset({Status.APPROVED}),
    Queue.REJECTED: frozenset({Status.REJECTED}),
}


def queue_actions(queue: Queue) -> tuple[Action, ...]:
    """The actions that apply to some item of a queue, in display order."""
    return tuple(a for a in ACTION_ORDER if any(a in applicable(s) for s in QUEUE_STATUSES[queue]))


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
