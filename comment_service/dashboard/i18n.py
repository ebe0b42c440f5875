"""The dashboard's two languages: message catalogs (translations/*.json), plurals, ages.

A moderator's saved choice wins; before sign-in (or with no choice saved) the browser's
Accept-Language decides, English by default. Plural keys carry CLDR category suffixes
(`_zero _one _two _few _many _other`), as the widget's catalogs do.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "ar")
DEFAULT = "en"
RTL = frozenset({"ar"})


@cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of one language."""
    text = resources.files("comment_service.dashboard").joinpath("translations", f"{lang}.json").read_text("utf-8")
    return json.loads(text)


def plural_category(lang: str, n: int) -> str:
    """The CLDR plural category of n (Arabic has six; English two)."""
    if lang == "ar":
        if n == 0:
            return "zero"
        if n == 1:
            return "one"
        if n == 2:
            return "two"
        if 3 <= n % 100 <= 10:
            return "few"
        if 11 <= n % 100 <= 99:
            return "many"
        return "other"
    return "one" if n == 1 else "other"


CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def plural_forms(lang: str, key: str) -> dict[str, str]:
    """Every plural form of a message ({n} left in), for the page's script (Intl.PluralRules picks)."""
    messages = catalog(lang)
    return {c: messages[f"{key}_{c}"] for c in CATEGORIES if f"{key}_{c}" in messages}


def translate(lang: str, key: str, count: int | None = None, **values: Any) -> str:
    """The message `key` in `lang` (English if missing there), with {placeholders} filled in."""
    messages, fallback = catalog(lang), catalog(DEFAULT)
    if count is not None:
        values.setdefault("n", count)
        for candidate in (f"{key}_{plural_category(lang, count)}", f"{key}_other"):
            if candidate in messages:
                return messages[candidate].format(**values)
        key = f"{key}_{plural_category(DEFAULT, count)}"
    text = messages.get(key) or fallback.get(key) or key
    return text.format(**values) if values else text


def duration(lang: str, seconds: float, form: str = "unit") -> str:
    """A span of time in its largest whole unit: "5 minutes" (form "unit"), "5 minutes ago" ("ago")
    or "in 5 minutes" ("in").

    The forms are separate messages because Arabic changes the noun after منذ and بعد (يومان, منذ
    يومين, بعد يومين).
    """
    seconds = max(0, int(seconds))
    if form == "ago" and seconds < 10:
        return translate(lang, "just_now")
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return translate(lang, f"{form}_{unit}", count=seconds // size)
    return translate(lang, f"{form}_seconds", count=seconds)


def age(lang: str, when: datetime, now: datetime) -> str:
    """How long ago `when` was, in words."""
    return duration(lang, (now - when).total_seconds(), "ago")


def until(lang: str, when: datetime, now: datetime) -> str:
    """How long until `when`, in words ("due now" once it has come)."""
    seconds = (when - now).total_seconds()
    return translate(lang, "due_now") if seconds < 1 else duration(lang, seconds, "in")


def pick_language(saved: str | None, chosen: str | None, accept: Any) -> str:
    """The interface language: the moderator's saved choice, this session's choice, the browser's, English."""
    for lang in (saved, chosen):
        if lang in LANGUAGES:
            return lang
    return accept.best_match(LANGUAGES, default=DEFAULT) if accept else DEFAULT
