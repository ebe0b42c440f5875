"""Text of the demo articles: the Arabic seed article (comment_service/demo) and a short English one."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

# Where the scraped page's own furniture starts (related articles, its comment form, "back to top").
_END_OF_ARTICLE = "مقالات ذات صلة"
_READ_ALSO = ("اقرا ايضا", "اقرأ ايضا", "اقرأ أيضا")
EN_THREAD = "riverside-library-sunday-hours"


@dataclass(frozen=True)
class Block:
    """One block of an article: a paragraph, a subheading, or a "read also" line."""

    kind: str  # "p", "h2" or "aside"
    text: str


@dataclass(frozen=True)
class Article:
    """A demo article: the kicker above the headline, the headline, the blocks."""

    kicker: str
    headline: str
    blocks: tuple[Block, ...]


def _block(line: str) -> Block:
    if line.startswith(_READ_ALSO):
        return Block("aside", line)
    # Subheadings are the short lines that end without punctuation.
    if len(line) <= 40 and not line.endswith((".", "…", "؟", "?", ":")):
        return Block("h2", line)
    return Block("p", line)


def _parse(text: str) -> Article:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    body = lines[2:]
    if _END_OF_ARTICLE in body:
        body = body[: body.index(_END_OF_ARTICLE)]
    return Article(lines[0], lines[1], tuple(_block(line) for line in body))


def arabic_article() -> Article:
    """The Arabic seed article (its headline is the thread title `flask demo` stores)."""
    return _parse(resources.files("comment_service.demo").joinpath("article_ar.txt").read_text("utf-8"))


def english_article() -> Article:
    """A short English article for the left-to-right demo."""
    return _parse(resources.files("comment_service.widget").joinpath("content", "article_en.txt").read_text("utf-8"))
