"""When moderators are alerted: the alert modes and the queue's time limit. Plain Python."""
from __future__ import annotations

from datetime import datetime, timedelta

EACH, DIGEST, NONE = "each", "digest", "none"
ALERT_MODES = (EACH, DIGEST, NONE)  # an email per held or reported comment, a digest, nothing
DIGEST_MINUTES = (5, 7 * 24 * 60)  # the shortest and longest time between two digests


def breach_started(oldest_pending_at: datetime | None, sla_minutes: int | None, now: datetime) -> datetime | None:
    """When the queue went past its time limit (the oldest pending comment's time plus the limit),
    or None while it is within it, or there is no limit or nothing pending."""
    if sla_minutes is None or oldest_pending_at is None:
        return None
    crossed = oldest_pending_at + timedelta(minutes=sla_minutes)
    return crossed if crossed <= now else None


def digest_due(last_sent: datetime | None, every_minutes: int, now: datetime) -> bool:
    """Whether a moderator's next digest is due (the first one: a period after they chose it)."""
    return last_sent is None or now - last_sent >= timedelta(minutes=every_minutes)
