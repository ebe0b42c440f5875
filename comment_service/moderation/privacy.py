"""Keyed hashes that let us look people up without exposing them: emails, IP prefixes, avatars.

Every digest is an HMAC under a key derived from the service secret and a purpose label, so a
database dump alone cannot be reversed by hashing a list of known emails, and an avatar on one
site cannot be linked to the same person on another.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets


def derive_key(secret: str, purpose: str) -> bytes:
    """A sub-key of the service secret for one purpose ("email", "ip", "avatar:<site>")."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_digest(key: bytes, value: str) -> str:
    """Hex HMAC-SHA256 of value under key."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def email_lookup_form(email: str) -> str:
    """The form of a (validated, normalised) email we hash: case-folded, so lookups ignore case."""
    return email.casefold()


def ip_prefix(address: str | None) -> str | None:
    """Truncate an IP to its /24 (IPv4) or /48 (IPv6) network; None when there is no valid address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def new_token() -> str:
    """A random URL-safe token (edit tokens, API keys)."""
    return secrets.token_urlsafe(32)


def derived_token(key: bytes, value: str) -> str:
    """A token as strong as new_token() but reproducible by whoever holds key and value: the edit
    token of a submission made with an Idempotency-Key, so a retry gets it again without it being
    stored anywhere."""
    return base64.urlsafe_b64encode(hmac.new(key, value.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()


def token_digest(token: str) -> str:
    """How a high-entropy token is stored: SHA-256 is enough, there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(token: str, digest: str | None) -> bool:
    """Constant-time comparison of a presented token with its stored digest."""
    return digest is not None and hmac.compare_digest(token_digest(token), digest)


# Addresses in free text (log lines): an email is an RFC 5322 local part (atext and dots, any script,
# but for / = ? & which separate a path or a query from what follows) before "@" (or its
# percent-encoding) and a domain; an IP is whatever ipaddress accepts.
_EMAIL = re.compile(r"[\w.!#$%'*+^`{|}~-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:%\w+)?(?![\w:])", re.IGNORECASE
)
EMAIL_MARK, IP_MARK = "[email]", "[ip]"


def _ip_or_text(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    return IP_MARK


def redact(text: str) -> str:
    """`text` with every email address and IP address replaced by a mark ("[email]", "[ip]").

    For text the service did not write itself, such as a library's log message ("ratelimit ...
    (203.0.113.7) exceeded"), a path a client sent, or an exception's message: a log line must never
    carry either. The cheap membership tests keep the common case (no "@", no digits) fast.
    """
    if "@" in text or "%40" in text.lower():
        text = _EMAIL.sub(EMAIL_MARK, text)
    if ":" in text:
        text = _IPV6.sub(_ip_or_text, text)
    if "." in text:
        text = _IPV4.sub(_ip_or_text, text)
    return text
