"""What a moderator may do on one site."""
from __future__ import annotations

from enum import StrEnum


class ModeratorRole(StrEnum):
    """What a moderator may do on one site: moderate its queues, or also change its settings and keys."""

    MODERATOR = "moderator"
    ADMIN = "admin"
