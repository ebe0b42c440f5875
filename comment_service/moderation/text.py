"""Text rules shared by every plain-text field: Unicode normalisation, and what each kind of field
refuses, removes or keeps of the characters a reader cannot see (CHAR_CLASSES and POLICIES: data,
rendered into the README's table by policy_table()).

Names, thread keys and word-list entries are identities: text that looks the same must be the
same, so nothing invisible survives in them (a zero-width space inside "Admin", a name of three
Hangul fillers, ASCII spelled in TAG characters). Titles and bodies are prose: direction marks
and joiners have work to do there (ZWNJ writes Persian, ZWJ builds emoji) and are kept.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import regex

# Explicit directional embeddings, overrides and isolates: they let a name or URL display as
# something else (an RLO turns "moc.live" into "evil.com").
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# More combining marks than this on one letter is "Zalgo" text that spills over its neighbours;
# fully pointed Hebrew and vocalised Arabic need at most four or five.
MAX_MARKS_PER_LETTER = 6

_MARKS = "\u200e\u200f\u061c"  # direction marks LRM, RLM, ALM
_JOINERS = "\u200c\u200d"  # ZWNJ, ZWJ
_SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef\u180b-\u180d\u180f"
_TAG_SPEC, _CANCEL_TAG = "\U000e0020-\U000e007e", "\U000e007f"
_BLANKS = "\u2800\ufff9-\ufffb"  # not default-ignorable, yet show nothing (braille blank, annotations)
_EMOJI = r"\p{Extended_Pictographic}"
_BASE = r"[^\s\p{C}\p{M}]"  # a character a mark or a selector can sit on


class Treatment(StrEnum):
    """What a field does with a class of characters."""

    REFUSE = "refuse"  # a field error with the class's code
    REMOVE = "remove"  # taken out silently (the field may then be blank: `required`)
    KEEP = "keep"
    IN_CONTEXT = "keep in context"  # kept where it has work to do (CharClass.context), else removed


@dataclass(frozen=True)
class CharClass:
    """A class of characters (a `regex` set, disjoint from the other classes) and, when a field
    refuses it, the field error's code and message."""

    name: str
    chars: str
    examples: str
    context: str | None = None  # what IN_CONTEXT keeps (a pattern that may span a whole sequence)
    where: str = ""  # the context in words, for the table
    code: str = "invalid_characters"
    message: str = "Contains characters that are not allowed."


CHAR_CLASSES: tuple[CharClass, ...] = (
    CharClass("control", r"\p{Cc}", "NUL, BEL, ESC, DEL, U+0085; tab and newline are text in bodies",
              message="Contains control characters."),
    CharClass("noncharacter", r"\p{Noncharacter_Code_Point}", "U+FDD0-FDEF, U+FFFE, U+FFFF, U+10FFFF"),
    CharClass("bidi_control", f"[{BIDI_CONTROLS}]", "LRE RLE PDF LRO RLO, LRI RLI FSI PDI",
              code="bidi_control", message="Contains invisible text-direction controls."),
    CharClass("direction_mark", f"[{_MARKS}]", "LRM U+200E, RLM U+200F, ALM U+061C"),
    CharClass(
        "joiner", f"[{_JOINERS}]", "ZWNJ U+200C, ZWJ U+200D",
        # RFC 5892's CONTEXTJ rules, plus ZWJ between emoji.
        context=(r"(?<=\p{ccc=9})[\u200c\u200d]"
                 r"|(?<=[\p{jt=D}\p{jt=L}]\p{jt=T}*)\u200c(?=\p{jt=T}*[\p{jt=D}\p{jt=R}])"
                 rf"|(?<={_EMOJI}[\ufe0f\U0001f3fb-\U0001f3ff]?)\u200d(?={_EMOJI})"),
        where="after a virama; ZWNJ between letters that join (Persian می‌خواهم); ZWJ between emoji (👩‍💻)",
    ),
    CharClass(
        "tag", f"[{_TAG_SPEC}{_CANCEL_TAG}\U000e0000-\U000e001f]", "U+E0000-E007F, ASCII spelled invisibly",
        context=f"\U0001f3f4[{_TAG_SPEC}]{{2,7}}{_CANCEL_TAG}",
        where="in an emoji tag sequence: black flag, 2-7 tag letters, CANCEL TAG (🏴󠁧󠁢󠁳󠁣󠁴󠁿)",
    ),
    CharClass(
        "variation_selector", f"[{_SELECTORS}]", "VS1-VS256 (VS16 makes ❤️ an emoji), Mongolian FVS1-4",
        # Only after a character that has variants: emoji (❤️, 1️⃣), ideographs, symbols, Mongolian,
        # Myanmar, Phags-pa, Manichaean, Egyptian; one, right after it.
        context=(r"(?<=\p{Emoji})[\ufe0e\ufe0f]|(?<=\p{Ideographic})[\U000e0100-\U000e01ef]"
                 r"|(?<=\p{scx=Mong})[\u180b-\u180d\u180f]"
                 r"|(?<=[\p{S}\p{Ideographic}\p{scx=Mymr}\p{scx=Phag}\p{scx=Mani}\p{scx=Egyp}])[\ufe00-\ufe0d]"),
        where="one, right after an emoji, ideograph or symbol it varies",
    ),
    CharClass(
        "invisible",
        rf"[[\p{{Default_Ignorable_Code_Point}}{_BLANKS}]--[{_MARKS}{_JOINERS}{_SELECTORS}{BIDI_CONTROLS}"
        r"\U000e0000-\U000e007f]]",
        "ZWSP U+200B, WORD JOINER U+2060, BOM U+FEFF, SOFT HYPHEN U+00AD, CGJ U+034F, Hangul fillers "
        "U+115F U+1160 U+3164 U+FFA0, BRAILLE BLANK U+2800, U+2061-2064, U+FFF9-FFFB",
    ),
    CharClass("private_use", r"\p{Co}", "U+E000-F8FF, planes 15 and 16"),
    CharClass("unassigned", r"[\p{Cn}--[\p{Noncharacter_Code_Point}\p{Default_Ignorable_Code_Point}]]",
              "code points not assigned in the `regex` module's Unicode tables"),
    CharClass(
        "combining_mark", rf"[\p{{M}}--[{_SELECTORS}\p{{Default_Ignorable_Code_Point}}]]",
        "accents, harakat, points; alone at the start or after a space they sit on nothing",
        context=rf"(?<={_BASE}\p{{M}}*)\p{{M}}", where="on a letter",
    ),
)
CLASS_BY_NAME: Mapping[str, CharClass] = {c.name: c for c in CHAR_CLASSES}
_ORDER = tuple(CLASS_BY_NAME)


@dataclass(frozen=True)
class TextPolicy:
    """What one kind of field does with each class of characters."""

    name: str
    fields: str  # the fields that follow it, for the table
    treatments: Mapping[str, Treatment]
    refuse_mark_stacks: bool = True  # more than MAX_MARKS_PER_LETTER marks on one letter


def _policy(name: str, fields: str, *treatments: Treatment, refuse_mark_stacks: bool = True) -> TextPolicy:
    return TextPolicy(name, fields, dict(zip(_ORDER, treatments, strict=True)), refuse_mark_stacks)


R, X, K, C = Treatment.REFUSE, Treatment.REMOVE, Treatment.KEEP, Treatment.IN_CONTEXT
#      control noncharacter bidi_control direction_mark joiner tag selector invisible private unassigned mark
NAME = _policy("name", "`author_name`, `X-Majlis-Moderator`, thread keys, word-list entries",
               R, R, R, X, C, C, C, X, R, R, C)
LINE = _policy("line", "`thread_title`, a ban's `reason`", R, R, X, K, K, C, C, X, K, K, C)
TEXT = _policy("text", "`body`, moderators' and readers' `note`s", R, R, X, K, K, C, C, X, K, K, K)
# URLs keep what the URL rules then handle: percent-encoded in the path, IDNA-mapped in the host.
URL = _policy("url", "`author_url`, `thread_url`, then normalised (moderation/urls.py)",
              R, R, R, K, K, K, K, K, K, K, K, refuse_mark_stacks=False)
POLICIES: tuple[TextPolicy, ...] = (NAME, LINE, TEXT, URL)


class TextRefused(ValueError):
    """The text holds a character its field refuses; code and message for the field error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class _Compiled:
    refused: tuple[tuple[regex.Pattern[str], CharClass], ...]
    removals: tuple[regex.Pattern[str], ...]  # each: (?P<keep>context)|class, or just the class
    special: regex.Pattern[str] | None  # any character the policy refuses or may remove: one scan finds none


def _keep(match: regex.Match[str]) -> str:
    return match.group("keep") or ""


_compiled_policies: dict[tuple[str, bool], _Compiled] = {}


def _compiled(policy: TextPolicy, multiline: bool) -> _Compiled:
    key = (policy.name, multiline)
    if key not in _compiled_policies:
        refused, removals, special = [], [], []
        for cls in CHAR_CLASSES:
            how = policy.treatments[cls.name]
            chars = r"[\p{Cc}--[\t\n]]" if cls.name == "control" and multiline else cls.chars
            if how is not Treatment.KEEP:
                special.append(chars)
            if how is Treatment.REFUSE:
                refused.append((regex.compile(chars, regex.V1), cls))
            elif how is Treatment.REMOVE:
                removals.append(regex.compile(f"(?P<keep>(?!))|{chars}", regex.V1))
            elif how is Treatment.IN_CONTEXT:
                removals.append(regex.compile(f"(?P<keep>{cls.context})|{chars}", regex.V1))
        union = regex.compile("|".join(special), regex.V1) if special else None
        _compiled_policies[key] = _Compiled(tuple(refused), tuple(removals), union)
    return _compiled_policies[key]


_MARK_STACK = regex.compile(rf"\p{{M}}{{{MAX_MARKS_PER_LETTER + 1},}}")


def clean_text(text: str, policy: TextPolicy, multiline: bool = False) -> str:
    """The text a field of this policy stores: normalised, without what the policy removes, trimmed.
    Raises TextRefused for a character the policy refuses, or a letter under too many marks."""
    text = normalise(text)
    compiled = _compiled(policy, multiline)
    if compiled.special is None or compiled.special.search(text) is None:  # the usual case: nothing to do
        if policy.refuse_mark_stacks and _MARK_STACK.search(text):
            raise TextRefused("invalid_characters", "Too many marks are stacked on one letter.")
        return text.strip()
    for pattern, cls in compiled.refused:
        if pattern.search(text):
            raise TextRefused(cls.code, cls.message)
    for pattern in compiled.removals:  # in class order: a mark loses its letter before its own turn
        text = pattern.sub(_keep, text)
    if compiled.removals:
        text = unicodedata.normalize("NFC", text)  # "A", CGJ, acute was NFC; without the CGJ it is "Á"
    if policy.refuse_mark_stacks and _MARK_STACK.search(text):
        raise TextRefused("invalid_characters", "Too many marks are stacked on one letter.")
    return text.strip()


_VISIBLE = regex.compile(rf"[^\s\p{{C}}\p{{M}}\p{{Default_Ignorable_Code_Point}}{_BLANKS}]", regex.V1)


_CONTROL = regex.compile(CLASS_BY_NAME["control"].chars)


def has_control_char(text: str) -> bool:
    """True when text holds a control character (C0, DEL, C1; tab and newline included)."""
    return _CONTROL.search(text) is not None


def has_visible_text(text: str) -> bool:
    """True when text holds a character that shows: not a space, mark, control or invisible one."""
    return _VISIBLE.search(text) is not None


def policy_table() -> str:
    """The policies as the Markdown table the README shows (a test keeps the two equal)."""
    def cell(cls: CharClass, how: Treatment) -> str:
        return f"refuse `{cls.code}`" if how is Treatment.REFUSE else how.value

    lines = ["| characters | " + " | ".join(p.name for p in POLICIES) + " |", "|---" * (len(POLICIES) + 1) + "|"]
    for cls in CHAR_CLASSES:
        where = f"; in context: {cls.where}" if cls.where else ""
        lines.append(f"| **{cls.name}**: {cls.examples}{where} | "
                     + " | ".join(cell(cls, p.treatments[cls.name]) for p in POLICIES) + " |")
    lines.append(f"| **mark stack**: more than {MAX_MARKS_PER_LETTER} marks on one letter (Zalgo) | "
                 + " | ".join("refuse `invalid_characters`" if p.refuse_mark_stacks else "keep" for p in POLICIES)
                 + " |")
    lines.append("")
    lines.extend(f"- *{p.name}*: {p.fields}" for p in POLICIES)
    return "\n".join(lines)


_SURROGATE = regex.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """True when text holds a UTF-16 surrogate that no encoding can store (JSON "\\ud800")."""
    return not text.isascii() and _SURROGATE.search(text) is not None


_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n\n"})


def normalise(text: str) -> str:
    """NFC-normalise and unify line breaks (CR LF, CR, LINE and PARAGRAPH SEPARATOR), so equal text is
    stored equally."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    return unicodedata.normalize("NFC", text)


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


class _FoldTable(dict[int, str]):
    """_fold_char by code point, as str.translate reads it, each character folded once per process
    (at most _FOLD_TABLE_MAX of them kept: a text of rare characters cannot grow it without end)."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _FOLD_TABLE_MAX:
            self[code] = folded
        return folded


_FOLD_TABLE_MAX = 20_000
_FOLDS = _FoldTable()


def fold(text: str) -> str:
    """The match-view of text, without offsets (for word-list entries)."""
    if text.isascii():  # nothing in ASCII folds but case (digits, controls and NFKD are the identity)
        return text.lower()
    return text.translate(_FOLDS)


class MatchView:
    """Folded text plus, for each of its characters, the span of the original it came from.

    The folded text is built at once (one str.translate); the offsets only when a match asks for
    them (original_span), which most texts never do.
    """

    __slots__ = ("original", "text", "_starts", "_ends")

    def __init__(self, original: str) -> None:
        self.original = original
        self.text = fold(original)
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    def _offsets(self) -> list[int]:
        starts: list[int] = []
        ends: list[int] = []
        for i, ch in enumerate(self.original):
            folded = _FOLDS[ord(ch)]
            if not folded:
                # A dropped mark or invisible character belongs to the letter before it, so a
                # highlight of "كلبٌ" covers the tanween too.
                if ends and ends[-1] == i:
                    ends[-1] = i + 1
                continue
            for _ in folded:
                starts.append(i)
                ends.append(i + 1)
        self._starts, self._ends = starts, ends
        return starts

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view[start:end] came from."""
        if start >= end:
            raise ValueError("empty span")
        starts = self._starts if self._starts is not None else self._offsets()
        return starts[start], self._ends[end - 1]
