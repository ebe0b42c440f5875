"""The reader's widget: embed.js and count.js (long-cached, content-hashed), and the demo pages."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("widget", __name__, template_folder="templates")

from comment_service.widget import views  # noqa: E402,F401  (routes register on import)
