"""Browser tests: the app served live on a free 127.0.0.1 port, Debian's Chromium driven by Playwright.

The live server is werkzeug's threaded server in a background thread, on the database of the run
(a temporary SQLite file, or TEST_DATABASE_URL on PostgreSQL, emptied afterwards), seeded by
`flask demo --port PORT` exactly as `make run` seeds it. One server and one browser serve the whole
package; every test gets a fresh browser context (its own localStorage) and unique comment text.
Every page a test opens is watched: a request to any other host, a CSP or Trusted Types violation,
an uncaught script error or a dialog fails the test.
"""
from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, Response
from werkzeug.serving import make_server

from comment_service import create_app
from comment_service.extensions import db, limiter
from tests.conftest import TEST_DATABASE_URL

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"

# Set on every page before any of its scripts: each CSP violation is reported to the test at once
# (so a later navigation cannot lose it).
WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__majlisCsp(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
}, true);
"""


@dataclass
class LiveServer:
    """The app answering on http://127.0.0.1:port (and http://localhost:port, a second origin)."""

    app: Flask
    port: int
    pages: dict[str, tuple[str, str]]  # test host pages: name -> (html, Content-Security-Policy)

    def host_page(self, name: str, html: str, csp: str) -> str:
        """Serve html (under csp) at http://localhost:PORT/_test/NAME: a page of another origin than the
        service's. It is served for real (not faked by the browser), as a loopback page, so Chrome's
        local-network rules treat it like the service's own address space."""
        self.pages[name] = (html, csp)
        return f"{self.other_origin}/_test/{name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def other_origin(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with the demo seeded, served from a thread for the whole package."""
    tmp = tmp_path_factory.mktemp("live")
    uri = f"sqlite:///{tmp / 'majlis.db'}"
    schema = None
    if TEST_DATABASE_URL:
        # A schema of its own: the function-scoped `app` fixture empties the default schema after
        # every test, which would pull the demo site from under this package-long server.
        schema = f"live_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = sa.make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        uri = url.render_as_string(hide_password=False)
    # Built with rate limiting on, so its limiter hooks exist (Flask takes no hooks once serving),
    # then switched off: only a test that asks for limits (test_dashboard_sessions.py) turns them on.
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": uri, "MAJLIS_DEMO_KEY_FILE": str(tmp / "demo-api-key"),
                                  "RATELIMIT_ENABLED": True})
    limiter.enabled = False
    with app.app_context():
        db.create_all()
    pages: dict[str, tuple[str, str]] = {}

    def test_page(name: str) -> Response:
        html, csp = pages[name]
        return Response(html, content_type="text/html; charset=utf-8", headers={"Content-Security-Policy": csp})

    app.add_url_rule("/_test/<name>", "test_page", test_page)  # this test app only
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    try:
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["demo", "--port", str(server.server_port)])
            assert result.exit_code == 0, result.output
            db.session.remove()
        thread.start()
        yield LiveServer(app, server.server_port, pages)
    finally:
        if thread.is_alive():
            server.shutdown()
            thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            if schema:
                with db.engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            db.engine.dispose()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole package; skipped where it or Playwright is absent."""
    # A developer without a browser gets a skip with the reason; CI (.ci/run sets MAJLIS_REQUIRE_BROWSER) a failure.
    missing = pytest.fail if os.environ.get("MAJLIS_REQUIRE_BROWSER") else pytest.skip
    if sync_playwright is None:
        missing("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-core)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """What the pages of one test did that they must not do, and every response they got."""

    hosts: set[str]
    foreign_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)
    csp_events: list[str] = field(default_factory=list)
    csp_expected: list[str] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Watch one page."""
        self.pages.append(page)
        page.on("request", self._request)
        page.on("response", lambda response: self.responses.append(response))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def expect_csp(self, fragment: str) -> None:
        """A test that feeds the page forbidden markup on purpose expects the CSP to report it."""
        self.csp_expected.append(fragment)

    def unexpected_csp(self) -> list[str]:
        """Violations no test asked for (console messages and events)."""
        return [v for v in self.csp_console + self.csp_events if not any(f in v for f in self.csp_expected)]

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc not in self.hosts:
            self.foreign_requests.append(request.url)

    def _console(self, msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Trusted Type" in text or "TrustedHTML" in text:
            self.csp_console.append(text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def watch(live_server: LiveServer) -> Watch:
    """The rules every page of a test runs under; checked when the test ends."""
    hosts = {urlsplit(live_server.url).netloc, urlsplit(live_server.other_origin).netloc}
    w = Watch(hosts)
    yield w
    assert not w.foreign_requests, f"requests to other hosts: {w.foreign_requests}"
    assert not w.page_errors, f"script errors: {w.page_errors}"
    assert not w.dialogs, f"dialogs opened: {w.dialogs}"
    assert not w.unexpected_csp(), f"CSP violations: {w.unexpected_csp()}"


@pytest.fixture
def new_context(browser: Browser, watch: Watch) -> Iterator[Any]:
    """Make browser contexts (separate readers: separate localStorage), each page watched."""
    made: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        ctx = browser.new_context(viewport={"width": 1000, "height": 900}, **kwargs)
        ctx.expose_function("__majlisCsp", lambda text: watch.csp_events.append(text))
        ctx.add_init_script(WATCH)
        ctx.on("page", watch.attach)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def page(new_context: Any) -> Page:
    """A page in a fresh context (the first reader)."""
    return new_context().new_page()


_seq = itertools.count(1)


@pytest.fixture
def unique() -> str:
    """A short marker that makes this test's comment bodies its own."""
    return f"t{os.getpid()}x{next(_seq)}"
