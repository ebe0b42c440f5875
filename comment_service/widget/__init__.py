"""The reader's widget: embed.js and count.js (long-cached, content-hashed), and the demo pages.

Its Blueprint, "widget", and every route of it are in views.py; create_app registers `bp`.
"""
from __future__ import annotations

from comment_service.widget.views import bp

__all__ = ["bp"]
