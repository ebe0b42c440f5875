"""How a comment is shown to moderators: the source text, escaped, with what the rules matched marked.

Never the stored HTML: the body is rendered from `body_source`, every character escaped, and the
only markup added is `<mark>` around the spans of the hold reasons (offsets into `body_source`).
"""
from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

# Characters a reader cannot see that still change what a text says or how it is laid out.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]")


def reason_spans(reasons: list[dict[str, Any]], length: int) -> list[tuple[int, int, list[int]]]:
    """The highlighted spans: overlapping or touching spans merged, each with the reasons (by index) in it.

    Spans that are malformed or fall outside the text are dropped rather than trusted.
    """
    spans: list[tuple[int, int, int]] = []
    for i, reason in enumerate(reasons):
        span = reason.get("span") if isinstance(reason, dict) else None
        if not (isinstance(span, list | tuple) and len(span) == 2 and all(type(x) is int for x in span)):
            continue
        start, end = span
        if 0 <= start < end <= length:
            spans.append((start, end, i))
    merged: list[tuple[int, int, list[int]]] = []
    for start, end, i in sorted(spans):
        if merged and start <= merged[-1][1]:
            last_start, last_end, which = merged[-1]
            merged[-1] = (last_start, max(last_end, end), which + [i])
        else:
            merged.append((start, end, [i]))
    return merged


def highlight(text: str, reasons: list[dict[str, Any]], labels: list[str] | None = None) -> Markup:
    """The text, HTML-escaped, with each reason's span in a <mark> (titled with its reasons' labels)."""
    out: list[str] = []
    at = 0
    for start, end, which in reason_spans(reasons, len(text)):
        out.append(str(escape(text[at:start])))
        title = " · ".join(labels[i] for i in which) if labels else ""
        attrs = f' title="{escape(title)}"' if title else ""
        out.append(f'<mark data-reasons="{" ".join(map(str, which))}"{attrs}>{escape(text[start:end])}</mark>')
        at = end
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


def matched_text(text: str, reason: dict[str, Any]) -> str | None:
    """The part of the text a reason's span points at, if it has a valid one."""
    spans = reason_spans([reason], len(text))
    return text[spans[0][0]:spans[0][1]] if spans else None


def has_invisible(text: str) -> bool:
    """True if the text holds zero-width or direction characters a moderator would not see."""
    return INVISIBLE.search(text) is not None
