"""placeholder: filled by the bans work"""
from __future__ import annotations
