"""placeholder: filled by the privacy work"""
from __future__ import annotations
