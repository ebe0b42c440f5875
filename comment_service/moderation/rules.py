"""The moderation policy of a site and the decision it makes on a new or edited comment.

Pure domain: `evaluate(policy, submission)` returns a `Decision(status, reasons)`. Every rule that
fires adds a structured `HoldReason`; the strongest outcome wins (refuse > spam > rejected >
pending > published) and every reason is kept, so a moderator sees all of them at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from comment_service.moderation.status import ModerationMode, Status
from comment_service.moderation.text import MatchView
from comment_service.moderation.words import compile_words


class ReasonCode(StrEnum):
    """Why the pipeline held, rejected or refused a comment."""

    AUTHOR_BANNED = "author_banned"
    HONEYPOT = "honeypot"
    BANNED_WORD = "banned_word"
    SUSPECT_WORD = "suspect_word"
    TOO_MANY_LINKS = "too_many_links"
    FIRST_TIME_AUTHOR = "first_time_author"
    DUPLICATE = "duplicate"
    PRE_MODERATION = "pre_moderation"
    REPORTED = "reported"


@dataclass(frozen=True)
class HoldReason:
    """One explained hit: a code, a human detail and, for text matches, the span in the body."""

    code: ReasonCode
    detail: str
    span: tuple[int, int] | None = None
    # Structured facts behind the detail (the listed entry, counts and limits), so a dashboard can
    # say it in any language without parsing the English detail.
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored with the comment and shown to moderators."""
        out: dict[str, Any] = {"code": self.code.value, "detail": self.detail, **self.facts}
        if self.span is not None:
            out["span"] = list(self.span)
        return out


@dataclass(frozen=True)
class Policy:
    """A site's moderation settings as the rules need them."""

    mode: ModerationMode = ModerationMode.PRE
    link_limit: int = 2
    banned_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    hold_first_time: bool = False


@dataclass(frozen=True)
class Submission:
    """What the rules know about a comment: its body and facts the service looked up."""

    body: str
    link_count: int = 0
    author_has_approved_comment: bool = False
    duplicate_of_recent: bool = False
    honeypot_filled: bool = False
    author_banned: bool = False


@dataclass(frozen=True)
class Decision:
    """The status a comment gets and every reason behind it; `refused` means store nothing."""

    status: Status
    reasons: list[HoldReason] = field(default_factory=list)
    refused: bool = False

    @property
    def reason_code(self) -> ReasonCode | None:
        """The first (strongest) reason's code, for the audit log."""
        return self.reasons[0].code if self.reasons else None


def _word_reasons(code: ReasonCode, entries: tuple[str, ...], view: MatchView, label: str) -> list[HoldReason]:
    return [
        HoldReason(code, f"{label} «{m.entry}» matched «{m.matched}»", m.span, {"entry": m.entry})
        for m in compile_words(entries).find(view)
    ]


def evaluate(policy: Policy, submission: Submission) -> Decision:
    """Decide a comment's status under the policy, explaining every rule that fired."""
    if submission.author_banned:
        banned = HoldReason(ReasonCode.AUTHOR_BANNED, "The author is banned on this site.")
        return Decision(Status.REJECTED, [banned], refused=True)
    if submission.honeypot_filled:
        return Decision(Status.SPAM, [HoldReason(ReasonCode.HONEYPOT, "A field hidden from people was filled in.")])

    view = MatchView(submission.body)
    banned = _word_reasons(ReasonCode.BANNED_WORD, policy.banned_words, view, "Banned word")
    if banned:
        return Decision(Status.REJECTED, banned)

    held = _word_reasons(ReasonCode.SUSPECT_WORD, policy.suspect_words, view, "Suspect word")
    if submission.link_count > policy.link_limit:
        held.append(HoldReason(
            ReasonCode.TOO_MANY_LINKS, f"{submission.link_count} links; this site allows {policy.link_limit}.",
            facts={"count": submission.link_count, "limit": policy.link_limit},
        ))
    if policy.hold_first_time and not submission.author_has_approved_comment:
        held.append(HoldReason(ReasonCode.FIRST_TIME_AUTHOR, "The author has no approved comment on this site yet."))
    if submission.duplicate_of_recent:
        held.append(HoldReason(ReasonCode.DUPLICATE, "The same author posted the same text recently."))
    if policy.mode is ModerationMode.PRE:
        held.append(HoldReason(ReasonCode.PRE_MODERATION, "This site reviews every comment before it is shown."))
    if held:
        return Decision(Status.PENDING, held)
    return Decision(Status.PUBLISHED)
