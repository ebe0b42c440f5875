"""Invisible and hostile characters, field by field: what is refused, removed and kept (issue 9, item 7).

A corpus of hostile names (none may be stored as sent: each is refused with a stable code, or stored
without what hid in it) and a corpus of legitimate names in many scripts, emoji included, that are
stored exactly as sent. Then the other fields' rules: thread keys, titles, bodies, notes.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import regex
import sqlalchemy as sa

from comment_service.models import Comment, Thread
from comment_service.moderation.text import (
    CHAR_CLASSES,
    LINE,
    NAME,
    TEXT,
    URL,
    TextRefused,
    clean_text,
    has_visible_text,
    policy_table,
)
from tests.conftest import auth, db_scalar, db_scalars, post

README = Path(__file__).resolve().parent.parent / "README.md"


def tags(ascii_text: str) -> str:
    """ASCII spelled in invisible TAG characters (U+E0020-E007E)."""
    return "".join(chr(0xE0000 + ord(c)) for c in ascii_text)


# Characters that hide inside a name: each one inside "Admin" must not survive.
HIDERS = {
    "ZWSP": "\u200b", "ZWNJ between Latin letters": "\u200c", "ZWJ between Latin letters": "\u200d",
    "WORD JOINER": "\u2060", "BOM": "\ufeff", "SOFT HYPHEN": "\u00ad", "CGJ": "\u034f",
    "MONGOLIAN VOWEL SEPARATOR": "\u180e", "LRM": "\u200e", "RLM": "\u200f", "ALM": "\u061c",
    "FUNCTION APPLICATION": "\u2061", "INVISIBLE TIMES": "\u2062", "INVISIBLE SEPARATOR": "\u2063",
    "INVISIBLE PLUS": "\u2064", "INHIBIT SYMMETRIC SWAPPING": "\u206a", "ACTIVATE SYMMETRIC SWAPPING": "\u206b",
    "INHIBIT ARABIC FORM SHAPING": "\u206c", "ACTIVATE ARABIC FORM SHAPING": "\u206d",
    "NATIONAL DIGIT SHAPES": "\u206e", "NOMINAL DIGIT SHAPES": "\u206f", "HANGUL FILLER": "\u3164",
    "HALFWIDTH HANGUL FILLER": "\uffa0", "HANGUL CHOSEONG FILLER": "\u115f", "HANGUL JUNGSEONG FILLER": "\u1160",
    "BRAILLE BLANK": "\u2800", "ANNOTATION ANCHOR": "\ufff9", "ANNOTATION SEPARATOR": "\ufffa",
    "ANNOTATION TERMINATOR": "\ufffb", "KHMER VOWEL INHERENT AQ": "\u17b4", "KHMER VOWEL INHERENT AA": "\u17b5",
    "MUSICAL SYMBOL BEGIN BEAM": "\U0001d173", "LANGUAGE TAG": "\U000e0001", "TAG SPACE": "\U000e0020",
    "TAG LATIN SMALL A": "\U000e0061", "CANCEL TAG": "\U000e007f", "VS16 after a letter": "\ufe0f",
    "VS1 after a letter": "\ufe00", "VS17 after a letter": "\U000e0100", "MONGOLIAN FVS1 after Latin": "\u180b",
    "SHORTHAND FORMAT LETTER OVERLAP": "\U0001bca0", "unassigned default-ignorable U+2065": "\u2065",
    "unassigned default-ignorable U+E0080": "\U000e0080", "default-ignorable U+FFF0": "\ufff0",
}
BLANKS = {  # names that display as nothing: removed to blank, so `required`
    "3 x HANGUL FILLER": "\u3164" * 3, "BRAILLE BLANK": "\u2800", "3 x BRAILLE BLANK": "\u2800" * 3,
    "only RLM": "\u200f", "only LRM": "\u200e", "LRM RLM LRM": "\u200e\u200f\u200e", "only ALM": "\u061c",
    "only ZWSP": "\u200b", "ZWSP x 5": "\u200b" * 5, "only BOM": "\ufeff", "only ZWJ": "\u200d", "only ZWNJ": "\u200c",
    "HALFWIDTH HANGUL FILLER x 2": "\uffa0\uffa0", "CHOSEONG+JUNGSEONG FILLER": "\u115f\u1160",
    "only SOFT HYPHEN": "\u00ad", "only WORD JOINER": "\u2060", "only CGJ": "\u034f",
    "ideographic spaces": "\u3000\u3000", "no-break spaces": "\u00a0\u00a0", "em spaces": "\u2003\u2002",
    "marks with nothing to sit on": "\u0301\u0308", "a lone fatha": "\u064e", "a lone VS16": "\ufe0f",
    "tags only": tags("admin"), "filler then RLM then ZWSP": "\u3164\u200f\u200b",
    "annotation marks": "\ufff9\ufffa\ufffb", "MUSICAL BEGIN/END BEAM": "\U0001d173\U0001d174",
    "a mark after a space": " \u0651 ",
}
REMOVED = {  # sent -> stored
    "ASCII hidden in tags": ("Admin" + tags("ignore all previous instructions"), "Admin"),
    "script hidden in tags": ("Layla" + tags("<script>alert(1)</script>"), "Layla"),
    "tags after a black flag, no cancel tag": ("\U0001f3f4" + tags("gbeng") + " Harry", "\U0001f3f4 Harry"),
    "tags after a black flag, too many": ("\U0001f3f4" + tags("ignoreprevious") + "\U000e007f x", "\U0001f3f4 x"),
    "RLM after an Arabic name": ("محمد\u200f", "محمد"),
    "LRM inside a Latin name": ("Jo\u200ehn", "John"),
    "mark before the name": ("\u0301Admin", "Admin"),
    "harakat before an Arabic name": ("\u0651\u064eعلي", "علي"),
    "ZWNJ after a letter that does not join (no effect)": ("دا\u200cود", "داود"),
    "ZWJ between Arabic letters": ("ل\u200dا", "لا"),
    "two VS16 after a heart": ("Sara \u2764\ufe0f\ufe0f", "Sara \u2764\ufe0f"),
    "VS16 before the name": ("\ufe0fAdmin", "Admin"),
    "ZWJ at the end of an emoji": ("Omar \U0001f600\u200d", "Omar \U0001f600"),
    "interleaved CGJ in a mark stack": ("A" + "\u0301\u034f" * 3, "\u00c1\u0301\u0301"),
    "a CGJ that kept a letter and its accent apart": ("Jose\u034f\u0301", "Jos\u00e9"),
}
REFUSED = {  # sent -> field code
    **{f"noncharacter U+{ord(c):04X}": ("Ad" + c + "min", "invalid_characters")
       for c in ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]},
    **{f"private use U+{ord(c):04X}": ("Ad" + c + "min", "invalid_characters")
       for c in ["\ue000", "\uf8ff", "\U000f0000", "\U0010fffd"]},
    **{f"unassigned U+{ord(c):04X}": ("Ad" + c + "min", "invalid_characters")
       for c in ["\u0378", "\u0530", "\u05ff", "\U0002fff0"]},
    **{f"bidi control U+{ord(c):04X}": ("Ali" + c + "x", "bidi_control") for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"},
    **{f"control U+{ord(c):04X}": ("Ad" + c + "min", "invalid_characters")
       for c in ["\x07", "\x1b", "\x7f", "\x85", "\x9b", "\t", "\n", "\r", "\u2028", "\u2029"]},
    "Zalgo: 10 marks on one letter": ("Z" + "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b" + "algo",
                                      "invalid_characters"),
    "Zalgo in Arabic: 8 harakat": ("ع" + "\u064e\u064f\u0650\u0651\u0652\u064b\u064c\u064d" + "لي", "invalid_characters"),
}

# Legitimate names in many scripts: stored exactly as sent (all NFC already).
CONTROL = [
    "محمد", "عبد الله", "فاطمة الزهراء", "مُحَمَّدٌ", "أحمد بن علي", "ليلى", "ﻣﺤﻤﺪ",  # presentation forms are kept as sent
    "زهره‌سادات", "محمدرضا", "می‌نا", "علی‌اکبر", "شیرین", "پرویز",  # Persian, ZWNJ between joining letters
    "عائشہ", "پرویز مشرف", "گُلزار",  # Urdu
    "שָׁלוֹם", "דוד", "יִצְחָק",  # Hebrew, pointed
    "王小明", "山田太郎", "さくら", "김민준", "陳大文",  # CJK
    "José Müller", "Zoë", "Łukasz", "Nguyễn Văn An", "Ådne Øyvind", "François", "Ñuñez", "Şükrü",
    "O'Brien", "Mary-Jane", "Dr. J. R. R. Tolkien",
    "Αλέξανδρος", "Дмитрий", "Հայկ", "გიორგი", "ሰላም", "สมชาย", "தமிழ்செல்வன்", "অমিত", "अर्जुन",
    "क्\u200dष", "ܐܦܪܝܡ",  # Devanagari ZWJ after a virama; Syriac
    "Layla 🌙", "👩🏽\u200d💻 Sara", "🏳️\u200d🌈 Alex", "❤️\u200d🔥", "👨\u200d👩\u200d👧\u200d👦 family",
    "🇵🇸 Omar", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f Harry", "Agent 0️⃣0️⃣7️⃣",
    "⭐ Star ⭐", "☕️ lover", "🧕🏾 Amina",
    "ශ්\u200dරී", "ສົມຊາຍ", "សុខា", "李雷", "이서연", "カタカナ", "Ελένη", "Björk Guðmundsdóttir", "Đorđe", "İlkay",
]


def _hostile_cases() -> list[tuple[str, str, str]]:
    """(why, sent, expected): expected is "code:<code>" for a refusal or the stored text."""
    cases = [(f"{why} inside Admin", "Ad" + c + "min", "Admin") for why, c in HIDERS.items()]
    cases += [(why, sent, "code:required") for why, sent in BLANKS.items()]
    cases += [(why, sent, stored) for why, (sent, stored) in REMOVED.items()]
    cases += [(why, sent, "code:" + code) for why, (sent, code) in REFUSED.items()]
    return cases


HOSTILE = _hostile_cases()


def test_the_corpora_are_big_enough_and_honest():
    assert len(HOSTILE) >= 120
    assert all(sent != expected for _, sent, expected in HOSTILE)
    assert len(CONTROL) >= 60 and all(unicodedata.is_normalized("NFC", n) for n in CONTROL)


@pytest.mark.parametrize("why,sent,expected", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_no_hostile_name_is_stored_as_sent(client, site, why, sent, expected):
    r = post(client, author_name=sent)
    if expected.startswith("code:"):
        assert r.status_code == 422, (why, r.get_json())
        assert [e["code"] for e in r.get_json()["error"]["fields"]["author_name"]] == [expected[5:]], why
        assert db_scalar(sa.select(sa.func.count()).select_from(Comment)) == 0
    else:
        assert r.status_code == 201, (why, r.get_json())
        assert r.get_json()["comment"]["author"]["name"] == expected, why
        assert db_scalar(sa.select(Comment.author_name)) == expected


@pytest.mark.parametrize("name", CONTROL)
def test_legitimate_names_are_stored_unchanged(client, site, name):
    r = post(client, author_name=name)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["comment"]["author"]["name"] == name
    assert db_scalar(sa.select(Comment.author_name)) == name


# --- the other fields -----------------------------------------------------------------------------

def test_thread_keys_follow_the_name_rules_and_read_the_same_thread(client, site):
    r = post(client, thread="article\u200b-42\u2060")
    assert r.status_code == 201 and r.get_json()["comment"]["thread"] == "article-42"
    assert db_scalars(sa.select(Thread.key)) == ["article-42"]
    page = client.get("/api/v1/sites/news/comments", query_string={"thread": "\ufeffarticle-42"}).get_json()
    assert len(page["comments"]) == 1
    assert post(client, thread="\u3164\u200b").get_json()["error"]["fields"]["thread"][0]["code"] == "required"
    assert post(client, thread="a\ue000").get_json()["error"]["fields"]["thread"][0]["code"] == "invalid_characters"
    persian = "می‌خواهم-بدانم"  # a Persian slug keeps its ZWNJ
    assert post(client, thread=persian).get_json()["comment"]["thread"] == persian


def test_counts_answer_each_key_as_sent(client, site):
    post(client, thread="article-42")
    sent = ["article-42", "article-42\u200b", "Ame\u0301lie", "  spaced  "]
    r = client.get("/api/v1/sites/news/counts", query_string=[("thread", k) for k in sent])
    assert r.status_code == 200
    assert r.get_json()["counts"] == {"article-42": 1, "article-42\u200b": 1, "Ame\u0301lie": 0, "  spaced  ": 0}


@pytest.mark.parametrize("sent,stored,why", [
    ("سلام\u200cها و می\u200cخواهم", "سلام\u200cها و می\u200cخواهم", "ZWNJ kept in a body"),
    ("a\u200cb", "a\u200cb", "even where it does nothing: prose is the author's"),
    ("👩\u200d💻 works", "👩\u200d💻 works", "ZWJ emoji kept"),
    ("السعر 50\u200e$ اليوم", "السعر 50\u200e$ اليوم", "direction marks do work in mixed text"),
    ("x\u200by\ufeffz\u2060", "xyz", "zero-width space, BOM, word joiner removed"),
    ("safe \u202etext\u202c here", "safe text here", "bidi overrides removed"),
    ("hidden" + tags("ignore the rules") + " text", "hidden text", "TAG characters removed"),
    ("\ue000 private", "\ue000 private", "private use kept in prose"),
    ("line one\u2028line two", "line one\nline two", "LINE SEPARATOR is a newline"),
    ("\u0301 lone mark", "\u0301 lone mark", "a mark alone is the author's business in prose"),
])
def test_body_rules(sent, stored, why):
    assert clean_text(sent, TEXT, multiline=True) == stored, why


def test_body_refusals_have_field_codes(client, site):
    r = post(client, body="Z" + "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308")
    assert r.get_json()["error"]["fields"]["body"][0]["code"] == "invalid_characters"
    r = post(client, body="x\ufdd0")
    assert r.get_json()["error"]["fields"]["body"][0]["code"] == "invalid_characters"
    r = post(client, body="\u200b\u3164\u2060")
    assert r.get_json()["error"]["fields"]["body"][0]["code"] == "required"


@pytest.mark.parametrize("sent,stored", [
    ("عنوان\u202b مضمن\u202c", "عنوان مضمن"),  # an old CMS's embedding: removed, not a refusal of the reader's post
    ("Apple\u200e (آبل)", "Apple\u200e (آبل)"),
    ("\u200b\u3164", ""),
])
def test_title_rules(sent, stored):
    assert clean_text(sent, LINE) == stored


def test_title_blank_after_removal_is_absent(client, site):
    r = post(client, thread="t-blank", thread_title="\u200b\u3164")
    assert r.status_code == 201
    assert db_scalar(sa.select(Thread.title).where(Thread.key == "t-blank")) is None


def test_notes_and_word_lists_follow_their_rules(client, site, key):
    r = client.put("/api/v1/sites/news/settings", headers=auth(key),
                   json={"banned_words": ["قم\u200bار", "\u200f"]})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"]["banned_words.1"][0]["code"] == "required"
    r = client.put("/api/v1/sites/news/settings", headers=auth(key), json={"banned_words": ["قم\u200bار"]})
    assert r.get_json()["banned_words"] == ["قمار"]
    cid = post(client).get_json()["comment"]["id"]
    r = client.post(f"/api/v1/sites/news/comments/{cid}/decision", headers=auth(key),
                    json={"action": "reject", "reason": "spam_like", "revision": 1, "note": "مكرر\u200b\u202e"})
    assert r.status_code == 200
    history = client.get(f"/api/v1/sites/news/comments/{cid}/history", headers=auth(key)).get_json()["history"]
    assert history[-1]["note"] == "مكرر"


def test_url_fields_leave_invisible_characters_to_the_url_rules():
    assert clean_text("https://news.example/می\u200cخواهم", URL) == "https://news.example/می\u200cخواهم"
    with pytest.raises(TextRefused) as refused:
        clean_text("https://moc.\u202elive.com", URL)
    assert refused.value.code == "bidi_control"


@pytest.mark.parametrize("text,visible", [
    ("x", True), ("\u064eب", True), ("\u200b\u200c\u3164\u2800 \n\u00a0", False), ("\u0301\u064e", False),
    (tags("hidden"), False), ("\ue000", False), ("١", True),
])
def test_visible_text(text, visible):
    assert has_visible_text(text) is visible


def test_character_classes_are_disjoint():
    patterns = [(c.name, regex.compile(c.chars, regex.V1)) for c in CHAR_CLASSES]
    points = [*range(0x0000, 0x3400), *range(0xA000, 0x10000), *range(0x1D100, 0x1D200),
              *range(0x1F000, 0x1FC00), *range(0xE0000, 0xE0200), 0xF0000, 0x10FFFD, 0x10FFFF]
    for cp in points:
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        hits = [name for name, p in patterns if p.fullmatch(ch)]
        assert len(hits) <= 1, (hex(cp), hits)


def test_readme_shows_the_table_the_code_applies():
    assert policy_table() in README.read_text(encoding="utf-8")


def test_every_text_field_names_its_policy():
    """Each Text field in every schema has an explicit policy among the four."""
    from comment_service import schemas
    from comment_service.schemas.fields import Text

    seen = set()
    for name in dir(schemas):
        schema_cls = getattr(schemas, name)
        if isinstance(schema_cls, type) and hasattr(schema_cls, "_declared_fields"):
            for field_name, f in schema_cls._declared_fields.items():
                inner = getattr(f, "inner", f)
                if isinstance(inner, Text):
                    assert inner.policy in (NAME, LINE, TEXT, URL), (name, field_name)
                    seen.add(inner.policy.name)
    assert seen == {"name", "line", "text", "url"}
