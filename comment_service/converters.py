"""URL converters: a site slug or an id that can't exist is a 404 before any query runs."""
from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter

SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,63}"


class SlugConverter(BaseConverter):
    """Site slugs: 1-64 lowercase letters, digits and dashes (what `flask sites create` accepts)."""

    regex = SLUG_PATTERN


def _at_most(limit: int) -> str:
    """A regex for the decimal numbers 0..limit (leading zeros allowed), digit by digit."""
    digits = str(limit)
    alternatives = [f"[0-9]{{1,{len(digits) - 1}}}"]  # every shorter number
    for i, d in enumerate(digits):
        if d != "0":
            below = "0" if d == "1" else f"0-{int(d) - 1}"
            rest = len(digits) - i - 1
            alternatives.append(digits[:i] + f"[{below}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "0*(?:" + "|".join(alternatives) + ")"


ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """Integer ids within PostgreSQL's integer range: a larger one is a 404 from the router.

    The bound is in the regex, not `max=`: Werkzeug answers a converter's refusal with a 405 when
    another method of a similar route exists, and past the range the driver would fail (500).
    """

    regex = _at_most(ID_MAX)
