"""Schemas of the author edit/delete, bans and privacy endpoints."""
from __future__ import annotations

__all__: list[str] = []
