"""Text checks shared by every plain-text field: Unicode normalisation and forbidden characters."""
from __future__ import annotations

import unicodedata

# Explicit directional embeddings, overrides and isolates: they let a name or URL display as
# something else (an RLO turns "moc.live" into "evil.com"). LRM/RLM/ALM marks are harmless.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_lone_surrogate(text: str) -> bool:
    """True when text holds a UTF-16 surrogate that no encoding can store (JSON "\\ud800")."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def has_bidi_control(text: str) -> bool:
    """True when text holds a bidi embedding, override or isolate control."""
    return any(ch in BIDI_CONTROLS for ch in text)


def strip_bidi_controls(text: str) -> str:
    """Remove bidi embedding, override and isolate controls (kept out of bodies)."""
    return "".join(ch for ch in text if ch not in BIDI_CONTROLS)


def has_control_char(text: str, allow_newlines: bool = False) -> bool:
    """True when text holds a C0/C1 control (NUL included); tabs and newlines only if allowed."""
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(
        (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) and ch not in allowed for ch in text
    )


def normalise(text: str) -> str:
    """NFC-normalise and unify line endings, so equal text is stored equally."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


# --- Match view -------------------------------------------------------------------------------
# Word lists are matched against a folded copy of the text, so that marks, elongation, invisible
# characters and letter variants cannot smuggle a listed word through. Every character of the
# view remembers where it came from, so a match can be highlighted in the original.

TATWEEL = "\u0640"
LETTER_FOLDS = {
    "\u0671": "\u0627",  # ٱ alef wasla -> ا (أ إ آ fold through decomposition: alef + hamza/madda mark)
    "\u0649": "\u064a",  # ى alef maksura -> ي
    "\u06a9": "\u0643",  # Persian ک -> ك
    "\u06cc": "\u064a",  # Persian ی -> ي
}


def _fold_char(ch: str) -> str:
    """The match-view form of one character ("" when it is invisible for matching)."""
    if ch in LETTER_FOLDS:
        return LETTER_FOLDS[ch]
    digit = unicodedata.decimal(ch, None)
    if digit is not None:  # Arabic-Indic, Persian and every other script's digits
        return str(digit)
    if ch == TATWEEL:
        return ""
    out = []
    # Compatibility decomposition: presentation forms and ligatures to letters, أ to ا + hamza mark.
    for part in unicodedata.normalize("NFKD", ch):
        category = unicodedata.category(part)
        # Mn: harakat (U+064B-U+065F), superscript alef (U+0670), hamza/madda marks, Latin accents.
        # Cf: zero-width (non-)joiners, word joiner, BOM, soft hyphen, ALM, LRM/RLM, bidi controls.
        if category in ("Mn", "Cf"):
            continue
        out.append(LETTER_FOLDS.get(part, part))
    return "".join(out).casefold()


def fold(text: str) -> str:
    """The match-view of text, without offsets (for word-list entries)."""
    return "".join(_fold_char(ch) for ch in text)


class MatchView:
    """Folded text plus, for each of its characters, the span of the original it came from."""

    __slots__ = ("original", "text", "_starts", "_ends")

    def __init__(self, original: str) -> None:
        self.original = original
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for i, ch in enumerate(original):
            folded = _fold_char(ch)
            if not folded:
                # A dropped mark or invisible character belongs to the letter before it, so a
                # highlight of "كلبٌ" covers the tanween too.
                if ends and ends[-1] == i:
                    ends[-1] = i + 1
                continue
            for out in folded:
                chars.append(out)
                starts.append(i)
                ends.append(i + 1)
        self.text = "".join(chars)
        self._starts, self._ends = starts, ends

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view[start:end] came from."""
        if start >= end:
            raise ValueError("empty span")
        return self._starts[start], self._ends[end - 1]
