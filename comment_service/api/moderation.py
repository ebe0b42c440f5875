"""Moderation API: settings, queues, claims, decisions, history, reports (site API key)."""
from __future__ import annotations
