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
