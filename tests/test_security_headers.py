"""Every answer carries its security headers: each rule of the URL map with each method it allows,
signed in and not, plus a 404, a 405, a dashboard 404 and 405 and a 500, in testing and in
production (where HSTS is on)."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from comment_service import create_app
from comment_service.converters import IdConverter, SlugConverter
from comment_service.extensions import db
from comment_service.models import ModeratorRole
from tests.dashboard.conftest import login, make_moderator

DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                 "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
DASHBOARD = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
OTHER = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
DEMO_PAGES = {"/", "/demo/en", "/demo/list"}
HSTS = "max-age=31536000; includeSubDomains"
ARG = re.compile(r"<(?:(?P<conv>[^:<>]+):)?(?P<name>[^<>]+)>")


def _dummy(rule, name: str) -> str:
    converter = rule._converters[name]
    if isinstance(converter, IdConverter):
        return "1"
    if isinstance(converter, SlugConverter):
        return "news"
    return {"queue": "pending", "filename": "dashboard.css"}.get(name, "x")


def requests_for(app: Flask) -> Iterator[tuple[str, str]]:
    """(method, path) for every rule of the URL map and every method it allows."""
    for rule in app.url_map.iter_rules():
        path = ARG.sub(lambda m, rule=rule: _dummy(rule, m["name"]), rule.rule)
        for method in sorted(rule.methods or ()):
            yield method, path
    # Answers no view gives: nothing here, a method not allowed, the same under /dashboard, a 500.
    yield from [("GET", "/no/such/page"), ("DELETE", "/healthz"), ("GET", "/dashboard/no/such/page"),
                ("GET", "/dashboard/logout"), ("GET", "/dashboard"), ("GET", "/_boom"), ("GET", "/dashboard/_boom")]


def check(r, method: str, path: str, production: bool) -> None:
    where = f"{method} {path} -> {r.status_code}"
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Strict-Transport-Security") == (HSTS if production else None), where
    if path == "/dashboard" or path.startswith("/dashboard/"):
        for name, value in DASHBOARD.items():
            assert r.headers.get(name) == value, (where, name)
        if not path.startswith("/dashboard/static/"):
            assert r.headers.get("Cache-Control") == "no-store", where
            assert "Cookie" in r.headers.get("Vary", ""), where
    elif path in DEMO_PAGES:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "require-trusted-types-for 'script'" in csp, where
        assert r.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    else:
        for name, value in OTHER.items():
            assert r.headers.get(name) == value, (where, name)


def _boom() -> None:
    raise RuntimeError("an unexpected failure")


def add_failing_routes(app: Flask) -> None:
    """Two views that fail unexpectedly (a 500 from the error handler), one under /dashboard."""
    app.add_url_rule("/_boom", "boom", _boom)
    app.add_url_rule("/dashboard/_boom", "dashboard_boom", _boom)


def sweep(app: Flask, clients: list[FlaskClient], production: bool) -> int:
    seen = 0
    for client in clients:
        for method, path in requests_for(app):
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = client.open(path, method=method, headers={"Origin": "https://news.example"}, **kwargs)
            check(r, method, path, production)
            r.close()
            seen += 1
    return seen


@pytest.fixture
def moderator(site):
    return make_moderator("amal@example.org", site, ModeratorRole.ADMIN, "Amal")


def test_every_answer_of_every_route_carries_the_security_headers(app, site, moderator):
    add_failing_routes(app)
    anonymous, signed_in = app.test_client(), app.test_client()
    assert login(signed_in, moderator.email).status_code == 302
    seen = sweep(app, [anonymous, signed_in], production=False)
    assert seen > 2 * 120  # every rule and method of the map, twice


def test_production_adds_hsts_to_every_answer(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.delenv("MAJLIS_HSTS_SECONDS", raising=False)
    app = create_app(env="production")
    add_failing_routes(app)
    with app.app_context():
        db.create_all()
        from comment_service import services
        from comment_service.moderation.status import ModerationMode

        site = services.create_site("news", "The News", ["https://news.example"], ModerationMode.POST)
        make_moderator("amal@example.org", site, ModeratorRole.ADMIN, "Amal")
        anonymous = app.test_client()
        signed_in = app.test_client()
        # The session and device cookies are Secure in production: this browser speaks https.
        signed_in.environ_base["wsgi.url_scheme"] = "https"
        assert login(signed_in, "amal@example.org").status_code == 302
        assert signed_in.get("/dashboard/sites/news/log").status_code == 200
        sweep(app, [anonymous, signed_in], production=True)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_hsts_can_be_turned_off_or_shortened(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    for value, expected in [("0", None), ("600", "max-age=600; includeSubDomains")]:
        monkeypatch.setenv("MAJLIS_HSTS_SECONDS", value)
        app = create_app(env="production")
        assert app.test_client().get("/healthz").headers.get("Strict-Transport-Security") == expected
