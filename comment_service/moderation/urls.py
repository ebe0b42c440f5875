"""Web addresses as the service stores and hands them out: author and article URLs, allowed origins.

A URL is stored normalised, so that no consumer of the API or of a webhook has to clean it: the
scheme and host lowercased, the default port dropped, the path, query and fragment percent-encoded
(RFC 3986: nothing outside its unreserved and reserved characters, and no quote, so `"`, `'`, `<`,
`>`, backticks, spaces and non-ASCII never reach a page or a log as themselves). The host is mapped
by IDNA (UTS 46, as browsers do: fullwidth letters folded, zero-width characters dropped) and
checked (IDNA 2008); a label that mixes scripts (Cyrillic "а" in "pаypal"), or spells a Latin
word in Cyrillic look-alikes ("аррӏе.com"), is shown in its punycode form, xn--..., as browsers
show it, while a label in one script (مثال, 例え, münchen) stays readable. Origins, compared with
the browser's Origin header, are stored in their ASCII form.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

import idna
import regex

WEB_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_MAX = 253


class UrlRefused(ValueError):
    """Not an address the field accepts."""


# --- hosts ------------------------------------------------------------------------------------

# ISO 15924 codes of Unicode's scripts (Script_Extensions values of the regex module's tables). A
# character of a script missing here counts as a script of its own, so it is shown as punycode.
SCRIPTS = (
    "Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Berf Bhks Bopo Brah Brai Bugi Buhd Cakm "
    "Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Gara Geor "
    "Glag Gong Gonm Goth Gran Grek Gujr Gukh Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng Hmnp Hrkt Hung "
    "Ital Java Jurc Kali Kana Kawi Khar Khmr Khoj Kits Knda Krai Kthi Lana Laoo Latn Lepc Limb Lina Linb "
    "Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Miao Mlym Modi Mong Mroo Mtei Mult Mymr "
    "Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Onao Orkh Orya Osge Osma Ougr Palm Pauc Pcun Perm Phag "
    "Phli Phlp Phnx Prti Rjng Rohg Runr Samr Sarb Saur Seal Sgnw Shaw Shrd Sidd Sidt Sind Sinh Sogd Sogo "
    "Sora Soyo Sund Sunu Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Tayo Telu Tfng Tglg Thaa Thai Tibt "
    "Tirh Tnsa Todr Tols Toto Tutg Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb"
).split()
_SCRIPT_PATTERNS = [(code, regex.compile(rf"\p{{scx={code}}}")) for code in SCRIPTS]
# UTS 39's augmentation: the writing systems that mix scripts by nature.
_AUGMENT = {"Hani": {"Hanb", "Jpan", "Kore"}, "Hira": {"Jpan"}, "Kana": {"Jpan"}, "Hrkt": {"Jpan"},
            "Hang": {"Kore"}, "Bopo": {"Hanb"}}
# UTS 39's "highly restrictive" level (what Chrome allows in one label): one script, or Latin with
# Japanese, Chinese with Bopomofo, or Korean.
_ALLOWED_MIXES = ({"Latn", "Jpan"}, {"Latn", "Hanb"}, {"Latn", "Kore"})


@lru_cache(maxsize=4096)
def _scripts_of(ch: str) -> frozenset[str] | None:
    """The augmented Script_Extensions of a character; None for Common and Inherited (any script)."""
    found = {code for code, pattern in _SCRIPT_PATTERNS if pattern.match(ch)}
    if not found:
        if regex.match(r"[\p{scx=Zyyy}\p{scx=Zinh}]", ch):
            return None
        return frozenset({f"unknown:{ord(ch):X}"})
    for code in list(found):
        found |= _AUGMENT.get(code, set())
    return frozenset(found)


def is_mixed_script(label: str) -> bool:
    """True when a host label mixes scripts beyond what UTS 39's highly restrictive level allows."""
    sets = [s for s in map(_scripts_of, label) if s is not None]
    if not sets:
        return False
    common = frozenset.intersection(*sets)
    if common:
        return False
    return not any(all(s & mix for s in sets) for mix in _ALLOWED_MIXES)


# Cyrillic letters that look like Latin ones (Chrome's list): a label of nothing else, under a
# TLD that is not Cyrillic, spells a Latin word in another script ("аррӏе"), so it is shown as
# punycode although it is one script.
_LATIN_LOOKALIKES = regex.compile(r"^[аысԁеԍһіюјӏорԛѕԝхуъЬҽпгѵѡ0-9-]+$")
_CYRILLIC = regex.compile(r"\p{scx=Cyrl}")


def _confusable(label: str, tld: str) -> bool:
    return bool(_LATIN_LOOKALIKES.match(label)) and not _CYRILLIC.search(tld)


_ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def normalise_host(host: str) -> tuple[str, str]:
    """A host as (ASCII form, form to show): lowercased, IDNA-mapped and checked; UrlRefused if it
    is no host name or IP address."""
    if ":" in host:  # an IPv6 literal (urlsplit took the brackets off)
        if "%" in host:
            raise UrlRefused("an IPv6 zone names an interface of the sender's machine")
        try:
            literal = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise UrlRefused("not an IPv6 address") from None
        return literal, literal
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise UrlRefused("not a host name") from None
    mapped = mapped.removesuffix(".")  # the root's dot: example.org. is example.org
    labels = mapped.split(".")
    if all(label.isdigit() for label in labels):
        try:
            address = str(ipaddress.IPv4Address(mapped))
        except ValueError:
            raise UrlRefused("not an IPv4 address") from None
        return address, address
    pairs = []  # (ASCII, Unicode) per label
    for label in labels:
        try:
            if label.isascii() and not label.startswith("xn--"):
                if not _ASCII_LABEL.match(label):
                    raise UrlRefused("not a host name")
                pairs.append((label, label))
            else:
                ascii_label = idna.encode(label).decode("ascii")
                pairs.append((ascii_label, idna.decode(ascii_label)))
        except (idna.IDNAError, UnicodeError):
            raise UrlRefused("not a host name") from None
    ascii_host = ".".join(a for a, _ in pairs)
    if len(ascii_host) > HOST_MAX:
        raise UrlRefused("host name too long")
    tld = pairs[-1][1]
    shown = [a if is_mixed_script(u) or _confusable(u, tld) else u for a, u in pairs]
    return ascii_host, ".".join(shown)


# --- URLs -------------------------------------------------------------------------------------

# RFC 3986's unreserved and reserved characters but the quote (a sub-delim, yet it ends an HTML
# attribute), and "%" of a %XX escape; "#" is only ever the fragment's start.
_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&()*+,;=:@/?%]")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _encode(part: str) -> str:
    part = _UNSAFE.sub(lambda m: quote(m.group(), safe=""), part)
    return _ESCAPE.sub(lambda m: m.group().upper(), part)


def _split(value: str) -> tuple[str, str, int | None, object]:
    """(scheme, host, port, parts) of an http(s) URL with a host and no user info."""
    if any(ch.isspace() for ch in value):
        raise UrlRefused("spaces")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        raise UrlRefused("bad port or host") from None
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.hostname:
        raise UrlRefused("not http(s) with a host")
    if "@" in parts.netloc or "\\" in parts.netloc:
        # https://bank.example@evil.example opens evil.example; a browser reads "\" as "/".
        raise UrlRefused("user info")
    return scheme, parts.hostname, port, parts


def _netloc(scheme: str, host: str, port: int | None) -> str:
    return host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"


def normalise_web_url(value: str) -> str:
    """An author's or article's address as stored and handed out (see the module's docstring)."""
    scheme, host, port, parts = _split(value)
    _, shown = normalise_host(host)
    netloc = _netloc(scheme, shown, port)
    return urlunsplit((scheme, netloc, _encode(parts.path), _encode(parts.query), _encode(parts.fragment)))


def normalise_origin(value: str) -> str:
    """scheme://host[:port] in the ASCII form a browser's Origin header has (UrlRefused otherwise)."""
    if "?" in value or "#" in value:
        raise UrlRefused("an origin has no query or fragment")
    scheme, host, port, parts = _split(value)
    if parts.path not in ("", "/"):
        raise UrlRefused("an origin has no path")
    ascii_host, _ = normalise_host(host)
    return f"{scheme}://{_netloc(scheme, ascii_host, port)}"


def normalise_endpoint_url(value: str) -> str:
    """A webhook receiver's address as the service connects to it: ASCII host (punycode), the path
    and query percent-encoded, no fragment (a server never sees one); UrlRefused otherwise."""
    if "#" in value:
        raise UrlRefused("a receiver's address has no fragment")
    scheme, host, port, parts = _split(value)
    ascii_host, _ = normalise_host(host)
    netloc = _netloc(scheme, ascii_host, port)
    return urlunsplit((scheme, netloc, _encode(parts.path) or "/", _encode(parts.query), ""))
