"""URL converters: a site slug that can't exist is a 404 before any query runs."""
from __future__ import annotations

from werkzeug.routing import BaseConverter

SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,63}"


class SlugConverter(BaseConverter):
    """Site slugs: 1-64 lowercase letters, digits and dashes (what `flask sites create` accepts)."""

    regex = SLUG_PATTERN
