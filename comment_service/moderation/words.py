"""Word lists (banned, suspect) matched whole-word on the match view, Arabic proclitics included.

An entry matches as a whole word, also behind the common Arabic proclitics: و ف (and, so),
ب ك ل (with, like, for) and the article ال, alone or combined (وال، بال، فبال، لل ...). An entry
ending in `*` also matches any ending (plurals, pronoun suffixes): `كلب*` catches
كلبه and كلبان (a broken plural such as كلاب needs its own entry); a starred entry ending in
ة also matches its ت and ات forms (`سياسة*` catches سياستهم and السياسات).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from comment_service.moderation.text import MatchView, fold

# Optional conjunction, then a preposition and/or the article; ل + ال is written لل.
PROCLITICS = "(?:[\u0648\u0641]?(?:[\u0628\u0643]?\u0627\u0644|\u0644\u0644|[\u0628\u0643\u0644])?)"
TEH_MARBUTA = "\u0629"


@dataclass(frozen=True)
class WordMatch:
    """One listed word found in a text: the entry as listed and where it is in the original."""

    entry: str
    span: tuple[int, int]
    matched: str


def _pattern(entry: str) -> tuple[str, str] | None:
    """The entry's regex, and a literal that every text it matches holds (its first word, in the
    match view): the prefilter of WordList.find."""
    folded = fold(entry.strip())
    star = folded.endswith("*")
    core = folded.rstrip("*").strip()
    if not core:
        return None
    parts = core.split()
    body = r"\s+".join(re.escape(part) for part in parts)
    literal = parts[0]
    if star and core.endswith(TEH_MARBUTA):
        # ة becomes ت before a suffix (سياستهم) and is replaced in the sound plural (سياسات).
        body = body[: -len(TEH_MARBUTA)] + "(?:\u0629|\u062a|\u0627)"
        if len(parts) == 1:
            literal = literal[: -len(TEH_MARBUTA)]
    return rf"(?<!\w){PROCLITICS}{body}" + (r"\w*" if star else "") + r"(?!\w)", literal


class WordList:
    """A compiled list of entries; build it with `compile_words` to share compiled lists."""

    def __init__(self, entries: Iterable[str], prefilter: bool = True) -> None:
        self.entries: list[str] = []
        parts: list[str] = []
        literals: set[str] = set()
        for entry in entries:
            compiled = _pattern(entry)
            if compiled is not None:
                parts.append(f"(?P<e{len(self.entries)}>{compiled[0]})")
                literals.add(compiled[1])
                self.entries.append(entry.strip())
        self._regex = re.compile("|".join(parts)) if parts else None
        # No entry's first word in the text: no entry can match, and the regex (lookbehinds and
        # proclitics tried at every position) need not run. Substring tests are a fast scan each.
        self._literals = tuple(sorted(literals)) if prefilter and "" not in literals else None

    def find(self, view: MatchView) -> list[WordMatch]:
        """Every non-overlapping match in the text, in order."""
        if self._regex is None:
            return []
        if self._literals is not None:
            text = view.text
            if not any(literal in text for literal in self._literals):
                return []
        found = []
        for m in self._regex.finditer(view.text):
            start, end = view.original_span(m.start(), m.end())
            index = int(m.lastgroup[1:])  # type: ignore[index]
            found.append(WordMatch(self.entries[index], (start, end), view.original[start:end]))
        return found


@lru_cache(maxsize=256)
def compile_words(entries: tuple[str, ...]) -> WordList:
    """A compiled word list, cached by its entries (sites share nothing but identical lists)."""
    return WordList(entries)
