"""The security headers of every answer, set in one place.

An app-level after_request, so answers that no blueprint handled get them too: a 404 for a path
nothing matches (also under /dashboard), a 405, a 500 from the error handler. Which headers an
answer gets depends on the surface it belongs to:

- every answer: `X-Content-Type-Options: nosniff`, and `Strict-Transport-Security: max-age=N;
  includeSubDomains` when `MAJLIS_HSTS_SECONDS` is above 0 (production: a year). Browsers ignore
  HSTS over plain http, so it is sent whatever the scheme (a TLS proxy in front is the normal case);
- anything under /dashboard, unknown paths included: the dashboard's CSP (scripts and styles from
  this origin only, nothing inline, no framing), `X-Frame-Options: DENY`, COOP, Permissions-Policy,
  `Referrer-Policy: same-origin`; and, except for its static files, `Cache-Control: no-store` and
  `Vary: Cookie` (pages show emails and keys);
- the demo pages: the demo CSP (a careful news site's policy, Trusted Types included) and
  `Referrer-Policy: strict-origin-when-cross-origin`;
- everything else (API, probes, widget scripts, errors): `Content-Security-Policy: default-src
  'none'; frame-ancestors 'none'` (nothing may run in, or frame, a JSON answer), `X-Frame-Options:
  DENY` and `Referrer-Policy: no-referrer`.

A security header a view set on purpose is kept. Cache headers other than the dashboard's belong
to their views (widget scripts, thread reads).
"""
from __future__ import annotations

from functools import lru_cache

from flask import Flask, Response, current_app, request

DASHBOARD_PREFIX = "/dashboard"

DASHBOARD_CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
# The demo pages run under the policy a careful news site would set: scripts and connections to
# this origin only, no inline script or style anywhere, HTML sinks only through Trusted Types
# (the widget's one policy, which feeds an inert template that it then filters).
DEMO_CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types majlis",
])
NONE_CSP = "default-src 'none'; frame-ancestors 'none'"

EVERY = {"X-Content-Type-Options": "nosniff"}
DASHBOARD = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
DEMO = {"Content-Security-Policy": DEMO_CSP, "Referrer-Policy": "strict-origin-when-cross-origin"}
OTHER = {"Content-Security-Policy": NONE_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
DEMO_PAGES = frozenset({"widget.demo_ar", "widget.demo_en", "widget.demo_list"})


def _in_dashboard(path: str) -> bool:
    return path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")


def _surface(path: str, endpoint: str | None) -> str:
    if _in_dashboard(path):
        return "dashboard"
    return "demo" if endpoint in DEMO_PAGES else "other"


_SURFACES = {"dashboard": DASHBOARD, "demo": DEMO, "other": OTHER}


@lru_cache(maxsize=16)
def _headers(surface: str, hsts_seconds: int) -> tuple[tuple[str, str, str], ...]:
    """(lowercased name, name, value) of a surface's headers: built once, not on every answer."""
    headers = {**EVERY, **_SURFACES[surface]}
    if hsts_seconds > 0:
        headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"
    if any("\n" in value or "\r" in value for value in headers.values()):  # secure() appends them unchecked
        raise ValueError("a security header's value holds a line break")
    return tuple((name.lower(), name, value) for name, value in headers.items())


def headers_for(path: str, endpoint: str | None, hsts_seconds: int) -> dict[str, str]:
    """The security headers an answer to `path` (routed to `endpoint`, if any) carries."""
    return {name: value for _, name, value in _headers(_surface(path, endpoint), hsts_seconds)}


def secure(response: Response) -> Response:
    """Give an answer its security headers (the after_request below; also called by the error
    handlers for an answer that replaces a failed after_request, since Flask then skips the rest).
    A header the view set is kept. One pass over the answer's headers: this runs on every request."""
    path, endpoint = request.path, request.endpoint
    surface = _surface(path, endpoint)
    raw = response.headers._list  # (name, value) pairs, as Headers keeps them
    present = {name.lower() for name, _ in raw}
    # Appended as they are: the values are this module's constants, checked once when built (no
    # line break), so Headers.add's per-value checks (a regex, an options parse) have nothing to find.
    raw.extend([(name, value) for lowered, name, value in _headers(surface, current_app.config["MAJLIS_HSTS_SECONDS"])
                if lowered not in present])
    if surface == "dashboard" and endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    return response


def init_security_headers(app: Flask) -> None:
    """Put the security headers on every answer of this app."""
    app.after_request(secure)
