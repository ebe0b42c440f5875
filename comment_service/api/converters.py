"""URL converters: a site slug or an id that can't exist is a 404 before any query runs."""
from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter

SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,63}"


class SlugConverter(BaseConverter):
    """Site slugs: 1-64 lowercase letters, digits and dashes (what `flask sites create` accepts)."""

    regex = SLUG_PATTERN


class IdConverter(IntegerConverter):
    """Integer ids of at most 10 digits: a longer one is a 404, never an overflow in the driver.

    (Bounding by regex rather than `max=`: Werkzeug answers a converter's refusal with a 405 when
    another method of a similar route exists.)
    """

    regex = r"[0-9]{1,10}"
