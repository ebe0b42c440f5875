"""Pure pieces: the highlighted body, plural rules, the two catalogs, reasons in words."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from comment_service.dashboard import i18n
from comment_service.dashboard.render import has_invisible, highlight, reason_spans


@pytest.mark.parametrize("text,reasons,expected,why", [
    ("plain", [], "plain", "no reasons, nothing marked"),
    ("a <b> & c", [], "a &lt;b&gt; &amp; c", "everything is escaped"),
    ("bad word", [{"code": "x", "span": [0, 3]}], '<mark data-reasons="0">bad</mark> word', "one span"),
    ("<i>x</i>", [{"code": "x", "span": [3, 4]}], '&lt;i&gt;<mark data-reasons="0">x</mark>&lt;/i&gt;', "escaped around the mark"),
    ("abcdef", [{"span": [0, 3]}, {"span": [2, 5]}], '<mark data-reasons="0 1">abcde</mark>f', "overlaps merge"),
    ("abcdef", [{"span": [0, 2]}, {"span": [2, 4]}], '<mark data-reasons="0 1">abcd</mark>ef', "touching spans merge"),
    ("abcdef", [{"span": [4, 6]}, {"span": [0, 1]}], '<mark data-reasons="1">a</mark>bcd<mark data-reasons="0">ef</mark>', "in text order"),
    ("abc", [{"span": [2, 9]}, {"span": [-1, 1]}, {"span": [2, 2]}, {"span": "0,1"}, {"span": [0.0, 1]}],
     "abc", "spans outside the text or malformed are dropped"),
    ("هذا كَلب", [{"span": [4, 8]}], 'هذا <mark data-reasons="0">كَلب</mark>', "Arabic with a mark inside"),
    ("😀 spam", [{"span": [2, 6]}], '😀 <mark data-reasons="0">spam</mark>', "offsets are code points"),
])
def test_highlight(text, reasons, expected, why):
    assert str(highlight(text, reasons)) == expected, why


def test_highlight_titles_marks_with_reason_labels_escaped():
    out = str(highlight("xy", [{"span": [0, 1]}], ['Word "<x>"']))
    assert out == '<mark data-reasons="0" title="Word &#34;&lt;x&gt;&#34;">x</mark>y'


def test_reason_spans_report_which_reasons_each_mark_holds():
    assert reason_spans([{"span": [0, 2]}, {"code": "pre"}, {"span": [1, 3]}], 5) == [(0, 3, [0, 2])]


@pytest.mark.parametrize("text,expected", [("ok", False), ("a\u200bb", True), ("\u202eevil", True), ("\u061c", True)])
def test_invisible_characters_are_flagged(text, expected):
    assert has_invisible(text) is expected


@pytest.mark.parametrize("n,category", [(0, "zero"), (1, "one"), (2, "two"), (3, "few"), (10, "few"), (11, "many"),
                                        (99, "many"), (100, "other"), (102, "other"), (103, "few"), (111, "many")])
def test_arabic_plural_categories(n, category):
    assert i18n.plural_category("ar", n) == category


@pytest.mark.parametrize("seconds,en,ar", [
    (3, "just now", "الآن"), (45, "45 seconds ago", "منذ 45 ثانية"), (60, "1 minute ago", "منذ دقيقة"),
    (120, "2 minutes ago", "منذ دقيقتين"), (300, "5 minutes ago", "منذ 5 دقائق"), (3600 * 11, "11 hours ago", "منذ 11 ساعة"),
    (86400 * 2, "2 days ago", "منذ يومين"), (86400 * 100, "100 days ago", "منذ 100 يوم"),
])
def test_ages_read_naturally(seconds, en, ar):
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert i18n.age("en", now - timedelta(seconds=seconds), now) == en
    assert i18n.age("ar", now - timedelta(seconds=seconds), now) == ar


def _catalog_keys(lang: str) -> set[str]:
    text = resources.files("comment_service.dashboard").joinpath("translations", f"{lang}.json").read_text("utf-8")
    keys = set(json.loads(text))  # each plural message also under its name without the category
    return keys | {re.sub(r"_(zero|one|two|few|many|other)$", "", k) for k in keys}


def test_both_catalogs_have_the_same_messages():
    def names(lang: str) -> set[str]:
        return {re.sub(r"_(zero|one|two|few|many|other)$", "", k) for k in _catalog_keys(lang)}

    assert names("en") == names("ar")


def test_every_message_the_templates_use_exists():
    root = resources.files("comment_service.dashboard")
    used: set[str] = set()
    for path in root.joinpath("templates", "dashboard").iterdir():
        used |= set(re.findall(r"""_\(\s*["']([a-z_]+)["']""", path.read_text("utf-8")))
    for path in root.iterdir():
        if path.name.endswith(".py"):
            used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+)["']""", path.read_text("utf-8")))
    used = {k for k in used if not k.endswith("_")}  # prefixes of composed keys, checked below
    assert used, "found no messages"
    assert used - _catalog_keys("en") == set()


def test_every_enum_value_has_words():
    from comment_service.models import ModeratorRole
    from comment_service.moderation.rules import ReasonCode
    from comment_service.moderation.status import Action, RejectReason, ReportReason, Status

    keys = _catalog_keys("en")
    wanted = ({f"status_{s}" for s in Status} | {f"reject_{r}" for r in RejectReason} | {f"why_{r}" for r in RejectReason}
              | {f"report_{r}" for r in ReportReason} | {f"reason_{c}" for c in ReasonCode} | {f"why_{c}" for c in ReasonCode}
              | {f"action_{a}" for a in Action} | {f"done_{a}" for a in Action} | {f"role_{r}" for r in ModeratorRole})
    assert wanted - keys == set()
