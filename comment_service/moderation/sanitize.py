"""Comment bodies to safe HTML. The only module that imports bleach.

Bodies are plain text with a little optional HTML. We keep paragraphs (blank lines) and line breaks,
allow a small set of tags, keep only http/https/mailto links, linkify bare URLs and mark every link
`rel="nofollow ugc noopener"`. Callers enforce the length limit before calling: bleach's parser
slows down sharply on deeply nested input, so it must never see an unbounded body.
"""
from __future__ import annotations

import re
from functools import lru_cache, partial
from html import escape, unescape

from bleach.linkifier import LinkifyFilter, build_url_re
from bleach.sanitizer import Cleaner

ALLOWED_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "code", "pre", "blockquote", "p", "br", "ul", "ol", "li"}
)
ALLOWED_ATTRIBUTES = {"a": ["href", "rel"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

_BLOCK_START = re.compile(r"^\s*<(p|pre|ul|ol|blockquote)[\s>]", re.IGNORECASE)
_PRE_BLOCK = re.compile(r"(<pre[\s>].*?</pre>)", re.IGNORECASE | re.DOTALL)
_BLANK_LINES = re.compile(r"\n[ \t]*\n+")


def _set_rel(attrs: dict, new: bool = False) -> dict | None:
    """Every link, written or linkified, gets our rel; a link without an href stays plain text."""
    if (None, "href") not in attrs:
        return None
    attrs[(None, "rel")] = LINK_REL
    return attrs


# bleach only linkifies hosts under the TLDs it knows (no .news, .example, .io ...). A URL that
# spells out http(s):// is unambiguous, so it is linkified whatever its TLD; a bare domain still
# needs a known TLD, or "file.txt" and "end.Next" would become links.
_EXPLICIT_URL = r"""\(*\bhttps?://[\w-]+(?:\.[\w-]+)+(?:\:[0-9]+)?(?:[/?\#][^\s\{\}\|\\\^`<>"]*)?"""
_URL_RE = re.compile(
    f"(?:{_EXPLICIT_URL})|(?:{build_url_re(protocols=['http', 'https']).pattern})",
    re.IGNORECASE | re.VERBOSE | re.UNICODE,
)

_cleaner = Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[
        partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=False, url_re=_URL_RE)
    ],
)


def _paragraphs(text: str) -> str:
    """Turn blank-line separated blocks into <p> and single newlines into <br>, leaving <pre> alone."""
    out: list[str] = []
    for part in _PRE_BLOCK.split(text):
        if _PRE_BLOCK.fullmatch(part):
            out.append(part)
            continue
        for block in _BLANK_LINES.split(part.strip("\n")):
            if not block.strip():
                continue
            if _BLOCK_START.match(block):
                out.append(block)
            else:
                out.append("<p>" + block.strip("\n").replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


@lru_cache(maxsize=64)  # the schema's visibility check and the service sanitise the same body
def sanitize_body(text: str) -> str:
    """Return the safe HTML shown to readers for a comment body (already length-checked)."""
    return _cleaner.clean(_paragraphs(text))


_TAG = re.compile(r"<[^>]*>")


def text_of(body_html: str) -> str:
    """The text a reader sees of sanitised HTML (tags dropped, entities decoded)."""
    return unescape(_TAG.sub("", body_html))


def plain_text_html(text: str) -> str:
    """Escape plain text (names, titles) for contexts that want HTML."""
    return escape(text, quote=True)


_LINK = re.compile(r"<a\s[^>]*href=", re.IGNORECASE)


def count_links(body_html: str) -> int:
    """How many links a sanitised body holds (written and linkified alike)."""
    return len(_LINK.findall(body_html))
