"""Who changes a comment and why: the vocabulary of the audit log (ModerationAction) and of the
domain event services/changes.py records with every change."""
from __future__ import annotations

from enum import StrEnum

from comment_service.moderation.rules import ReasonCode
from comment_service.moderation.status import RejectReason


class Actor(StrEnum):
    """Who made a change: the rules (a new or edited comment's status), a moderator (API key or
    dashboard), the comment's author (edit, delete), or the system (reports, bans, privacy erase)."""

    RULE = "rule"
    MODERATOR = "moderator"
    AUTHOR = "author"
    SYSTEM = "system"


class AuditReason(StrEnum):
    """Every reason code the audit log records, from every source (one column, one vocabulary)."""

    # The rules' strongest reason on a new or edited comment (rules.ReasonCode). AUTHOR_BANNED is
    # also the system rejecting a newly banned author's comments; REPORTED, reports hiding one.
    AUTHOR_BANNED = "author_banned"
    HONEYPOT = "honeypot"
    BANNED_WORD = "banned_word"
    SUSPECT_WORD = "suspect_word"
    TOO_MANY_LINKS = "too_many_links"
    FIRST_TIME_AUTHOR = "first_time_author"
    DUPLICATE = "duplicate"
    PRE_MODERATION = "pre_moderation"
    REPORTED = "reported"
    # A moderator's reason (status.RejectReason).
    ABUSE = "abuse"
    PERSONAL_ATTACK = "personal_attack"
    HATE = "hate"
    SPAM_LIKE = "spam_like"
    OFF_TOPIC = "off_topic"
    MISINFORMATION = "misinformation"
    PRIVACY = "privacy"
    ILLEGAL = "illegal"
    OTHER = "other"
    # Authors and the system.
    EDITED = "edited"  # an edit no rule held: published again
    AUTHOR_DELETED = "author_deleted"
    PRIVACY_ERASE = "privacy_erase"
    REPORTS_DISMISSED = "reports_dismissed"

    @classmethod
    def of(cls, code: ReasonCode | RejectReason) -> AuditReason:
        """The audit reason of a rule's or a moderator's reason code (the same value)."""
        return cls(code.value)
