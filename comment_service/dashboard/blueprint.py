"""The dashboard's Blueprint, "dashboard", and `t`, the current request's messages, for its views."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from comment_service.dashboard import i18n
from comment_service.security_headers import DASHBOARD_PREFIX

bp = Blueprint(
    "dashboard", __name__, url_prefix=DASHBOARD_PREFIX, template_folder="templates", static_folder="static",
    static_url_path="/static",
)


def t(key: str, count: int | None = None, **values: Any) -> str:
    """A message in the current request's language."""
    return i18n.translate(g.get("lang", i18n.DEFAULT), key, count, **values)
