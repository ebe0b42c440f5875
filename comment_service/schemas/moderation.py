"""Schemas of the moderation API: settings, queues, claims, decisions, history, reports."""
from __future__ import annotations

__all__: list[str] = []
