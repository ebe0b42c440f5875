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
