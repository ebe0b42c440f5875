"""The widget's served files, assembled once per process: strings and styles go into the scripts,
each file gets a content hash for its long-cached URL and a gzipped copy."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

LANGUAGES = ("ar", "en")
# CLDR plural categories of each language: count strings must cover exactly these.
PLURAL_CATEGORIES = {"ar": ("zero", "one", "two", "few", "many", "other"), "en": ("one", "other")}
MIME = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
NAMES = ("embed.js", "count.js", "demo.css")


@dataclass(frozen=True)
class Asset:
    """One served file: its bytes, their gzip, and the hash that names this version."""

    name: str
    body: bytes
    gzipped: bytes
    digest: str

    @property
    def hashed_name(self) -> str:
        """embed.js -> embed.<digest>.js"""
        stem, ext = self.name.rsplit(".", 1)
        return f"{stem}.{self.digest}.{ext}"

    @property
    def mimetype(self) -> str:
        """The Content-Type to serve it with."""
        return MIME[self.name.rsplit(".", 1)[1]]


def _read(*parts: str) -> str:
    return resources.files("comment_service.widget").joinpath(*parts).read_text("utf-8")


def strings() -> dict[str, dict[str, str]]:
    """Every string of the widget, per language."""
    return {lang: json.loads(_read("translations", f"{lang}.json")) for lang in LANGUAGES}


def minify_css(css: str) -> str:
    """Drop comments and spacing (enough for our own hand-written sheet; not a general minifier)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};,>])\s*", r"\1", css).replace(";}", "}").strip()


def strip_js(js: str) -> str:
    """Drop indentation, blank lines and whole-line comments (the sources keep every line of code
    on its own line and no template literal spans lines, so this changes no meaning)."""
    js = re.sub(r"^/\*.*?\*/\n", "", js, flags=re.S)  # the header comment
    lines = (line.strip() for line in js.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fill(source: str, marker: str, value: object) -> str:
    placeholder = f"/*@{marker}*/" + ("''" if isinstance(value, str) else "{}")
    if source.count(placeholder) != 1:
        raise RuntimeError(f"{marker} placeholder missing from the widget source")
    return source.replace(placeholder, _json(value))


def _source(name: str) -> str:
    text = _read("static", name)
    if name.endswith(".js"):
        text = strip_js(text)
    if name == "embed.js":
        text = _fill(text, "strings", strings())
        text = _fill(text, "css", minify_css(_read("static", "widget.css")))
    elif name == "count.js":
        counts = {lang: {k: v for k, v in s.items() if k.startswith("count_")} for lang, s in strings().items()}
        text = _fill(text, "counts", counts)
    return text


@cache
def asset(name: str) -> Asset:
    """The served version of one of NAMES (built on first use, then kept for the process)."""
    if name not in NAMES:
        raise KeyError(name)
    body = _source(name).encode("utf-8")
    # mtime=0: the same bytes give the same gzip, whichever process builds it.
    return Asset(name, body, gzip.compress(body, compresslevel=9, mtime=0), hashlib.sha256(body).hexdigest()[:12])
