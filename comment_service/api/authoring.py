"""placeholder: filled by the authoring work"""
from __future__ import annotations
