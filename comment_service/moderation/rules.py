"""The moderation policy of a site and the decision it makes on a new comment.

Pure domain: `evaluate(policy, ...)` returns a `Decision(status, reasons)`, every hold explained
by a structured `HoldReason`. This issue's policy is only the site's mode; word lists, links,
first-time authors and duplicates join it as rules in the same shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from comment_service.moderation.status import ModerationMode, Status


class ReasonCode(StrEnum):
    """Why the pipeline held or refused a comment."""

    PRE_MODERATION = "pre_moderation"


@dataclass(frozen=True)
class HoldReason:
    """One explained hit: a code, a human detail and, for text matches, the span in the body."""

    code: ReasonCode
    detail: str
    span: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored with the comment and shown to moderators."""
        out: dict[str, Any] = {"code": self.code.value, "detail": self.detail}
        if self.span is not None:
            out["span"] = list(self.span)
        return out


@dataclass(frozen=True)
class Policy:
    """A site's moderation settings as the rules need them."""

    mode: ModerationMode = ModerationMode.PRE


@dataclass(frozen=True)
class Decision:
    """The status a new comment gets and every reason behind it."""

    status: Status
    reasons: list[HoldReason] = field(default_factory=list)


def evaluate(policy: Policy) -> Decision:
    """Decide a new comment's status under the policy."""
    if policy.mode is ModerationMode.PRE:
        return Decision(
            Status.PENDING,
            [HoldReason(ReasonCode.PRE_MODERATION, "This site reviews every comment before it is shown.")],
        )
    return Decision(Status.PUBLISHED)
