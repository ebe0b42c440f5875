"""Database connections that die under a request, and errors at every layer the app owns.

On PostgreSQL the app's connections are killed for real (pg_terminate_backend): between requests,
in the middle of a statement (the request waits on a table lock held by the test, and the test
kills the waiting backend), and after the last statement (during a sign-in's password check).
Reads answer 200, writes 201 or 503 `database_unavailable` in JSON, a sign-in signs in, and
nothing is stored twice or lost. On both back ends, an exception injected in a before_request,
an after_request, a teardown or an error handler answers in the JSON shape, or with the
dashboard's styled page.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, request

from comment_service.extensions import db
from comment_service.models import Comment, ModeratorRole
from tests.conftest import TEST_DATABASE_URL, comment_payload, db_scalars, post
from tests.dashboard.conftest import PASSWORD, csrf, login, make_moderator

ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"))


def postgres_only(test: Callable[..., Any]) -> Callable[..., Any]:
    """Runs where the app's connections can be killed: PostgreSQL."""
    skip = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (TEST_DATABASE_URL) to kill its connections")
    return pytest.mark.postgres_only(skip(test))


THREAD = "/api/v1/sites/news/comments?thread=article-42"


@pytest.fixture
def app_config() -> dict[str, Any]:
    # Every read goes to the database (no 1 s memo), and failures are answered as in production
    # instead of being raised into the test.
    return {"MAJLIS_READ_MEMO_SECONDS": 0, "PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def admin(site):
    """An admin of "news" (the dashboard tests' Amal)."""
    return make_moderator("amal@example.org", site, ModeratorRole.ADMIN, "Amal")


@pytest.fixture
def pg() -> Iterator[sa.Engine]:
    """A connection of the test's own to the same database, outside the app's pool."""
    engine = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def kill_app_connections(pg: sa.Engine) -> int:
    """Terminate every other backend of this database (the app's pooled connections)."""
    with pg.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar_one()


def stored_bodies() -> list[str]:
    return list(db_scalars(sa.select(Comment.body_source)))


def own_context(call: Callable[[], Any]) -> Any:
    """Run a request as a server does: in an app context of its own (a thread), so its session and
    connection go back to the pool when it ends (the test's app context would keep them)."""
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", call()))
    worker.start()
    worker.join(30)
    assert "value" in result, "the request raised instead of answering"
    return result["value"]


def killed_mid_statement(pg: sa.Engine, table: str, call: Callable[[], Any]) -> Any:
    """Run `call` in a thread while `table` is locked, kill the backend that waits on the lock
    (the request's, mid-statement), release the lock, and return what `call` returned."""
    result: dict[str, Any] = {}
    with pg.connect() as locker:
        locker.execute(sa.text("BEGIN"))
        locker.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
        worker = threading.Thread(target=lambda: result.setdefault("value", call()))
        worker.start()
        with pg.connect() as killer:
            for _ in range(200):
                pids = killer.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )).scalars().all()
                if pids:
                    break
                time.sleep(0.02)
            assert pids, "the request never waited on the lock"
            for pid in pids:
                killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        locker.execute(sa.text("COMMIT"))
    worker.join(30)
    assert "value" in result, "the request raised instead of answering"
    return result["value"]


def assert_database_unavailable(r) -> None:
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert r.get_json()["error"]["code"] == "database_unavailable"
    assert int(r.headers["Retry-After"]) >= 1


@postgres_only
def test_connections_killed_between_requests_cost_nothing(app, site, pg):
    client = app.test_client()
    assert own_context(lambda: post(client)).status_code == 201
    for _ in range(3):
        assert kill_app_connections(pg) >= 1
        assert own_context(lambda: client.get(THREAD)).status_code == 200
        kill_app_connections(pg)
        assert own_context(lambda: post(client)).status_code == 201
    assert len(stored_bodies()) == 4


@postgres_only
def test_a_read_whose_connection_dies_mid_statement_is_run_again(app, site, pg):
    client = app.test_client()
    assert post(client, body="visible").status_code == 201
    r = killed_mid_statement(pg, "site", lambda: app.test_client().get(THREAD))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert [c["body_html"] for c in r.get_json()["comments"]] == ["<p>visible</p>"]
    r = killed_mid_statement(pg, "site", lambda: app.test_client().get("/api/v1/sites/news/counts?thread=article-42"))
    assert r.status_code == 200 and r.get_json()["counts"] == {"article-42": 1}


@postgres_only
def test_a_write_whose_connection_dies_is_a_503_and_stores_nothing(app, site, pg):
    payload = comment_payload(body="written once")
    r = killed_mid_statement(pg, "site", lambda: app.test_client().post("/api/v1/sites/news/comments", json=payload))
    assert_database_unavailable(r)
    assert stored_bodies() == []
    # The client's retry stores it, once.
    assert app.test_client().post("/api/v1/sites/news/comments", json=payload).status_code == 201
    assert stored_bodies() == ["written once"]


@postgres_only
def test_a_sign_in_whose_connection_dies_after_the_password_check_signs_in(app, client, admin, pg, monkeypatch):
    """The connection dies while the password is checked (the session's transaction still open): the
    sign-in's answer stands; closing the session afterwards must not turn it into a 500."""
    from comment_service.services import moderators

    real_check = moderators.check_password_hash

    def check_then_lose_the_connection(pwhash: str, password: str) -> bool:
        ok = real_check(pwhash, password)
        kill_app_connections(pg)
        return ok

    monkeypatch.setattr(moderators, "check_password_hash", check_then_lose_the_connection)
    r = login(client, admin.email, PASSWORD)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    assert r.headers["Location"].startswith("/dashboard/")
    monkeypatch.undo()
    assert client.get("/dashboard/sites/news/queues/pending").status_code == 200  # signed in


@postgres_only
def test_dashboard_pages_survive_a_dying_connection(app, client, admin, pg):
    assert login(client, admin.email).status_code == 302
    cookie = client.get_cookie("majlis_session")
    assert cookie is not None

    def page(path: str, **kw: Any):
        other = app.test_client()
        other.set_cookie("majlis_session", cookie.value)
        return other.get(path, **kw)

    # A page (its session loads the moderator first): run again, 200.
    r = killed_mid_statement(pg, "moderator", lambda: page("/dashboard/sites/news/queues/pending"))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    # A change: not retried; the styled page says the database is unavailable (its script gets JSON).
    token = csrf(client, "/dashboard/sites/news/queues/pending")

    def change(accept: str):
        other = app.test_client()
        other.set_cookie("majlis_session", cookie.value)
        return other.post("/dashboard/language", data={"lang": "ar", "csrf_token": token, "next": "/dashboard/"},
                          headers={"Accept": accept})

    r = killed_mid_statement(pg, "moderator", lambda: change("text/html"))
    assert r.status_code == 503 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'data-code="database_unavailable"' in html and "dashboard.css" in html
    assert_database_unavailable(killed_mid_statement(pg, "moderator", lambda: change("application/json")))


# Injected failures, on both back ends ------------------------------------------------------------

class Boom(RuntimeError):
    """The injected failure."""


def fail_at(app: Flask, hook: str, *path_prefixes: str) -> None:
    """Make one of Flask's hooks raise for requests under the prefixes (before the app's first request)."""
    def boom(*args: Any) -> Any:
        if request.path.startswith(path_prefixes):
            raise Boom(hook)
        return args[0] if hook == "after_request" else None

    getattr(app, hook)(boom)


def assert_json_500(r) -> None:
    assert r.status_code == 500, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/json"
    assert r.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}


def assert_styled_500(r, styled: bool = True) -> None:
    assert r.status_code == 500, r.get_data(as_text=True)[:300]
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'class="card error-page"' in html and "/dashboard/static/dashboard.css" in html
    assert 'data-code="internal_error"' in html
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("hook", ["before_request", "after_request", "teardown_request"])
def test_a_failing_hook_answers_json_on_the_api(app, client, site, hook):
    fail_at(app, hook, "/api/")
    assert_json_500(client.get(THREAD))
    assert_json_500(post(client))
    assert client.get("/healthz").status_code == 200  # other paths unaffected


@pytest.mark.parametrize("hook", ["before_request", "after_request", "teardown_request"])
def test_a_failing_hook_answers_the_styled_page_on_the_dashboard(app, client, admin, hook):
    fail_at(app, hook, "/dashboard/sites/")
    assert login(client, admin.email).status_code == 302
    assert_styled_500(client.get("/dashboard/sites/news/queues/pending"))
    r = client.get("/dashboard/sites/news/queues/pending", headers={"Accept": "application/json"})
    assert_json_500(r)


def test_a_rollback_that_fails_in_an_error_handler_still_answers(app, client, site, monkeypatch):
    """The handler's own rollback raises (as on a dead connection): the answer keeps its shape and code."""
    def rollback_fails_once() -> None:
        monkeypatch.undo()
        raise sa.exc.OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.session, "rollback", rollback_fails_once)
    r = client.get("/api/v1/sites/nowhere/comments?thread=x")  # 404: its handler rolls back
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "site_not_found"


def test_an_error_page_that_cannot_be_drawn_falls_back_to_the_plain_one(app, client, admin, monkeypatch):
    """Drawing the styled page fails (it shows who is signed in, from the database): the plain page."""
    import comment_service.dashboard as dashboard

    fail_at(app, "before_request", "/dashboard/sites/")
    assert login(client, admin.email).status_code == 302

    def cannot_draw(name: str, **context: Any) -> str:
        if name == "dashboard/error.html":
            raise Boom("template")
        return real_render(name, **context)

    real_render = dashboard.render_template
    monkeypatch.setattr(dashboard, "render_template", cannot_draw)
    r = client.get("/dashboard/sites/news/queues/pending")
    assert_styled_500(r)
    assert "Something went wrong on our side." in r.get_data(as_text=True)


def test_what_escapes_flask_is_answered_by_the_last_resort(app, client, admin):
    """An exception Flask does not handle (in a teardown): the WSGI layer answers, JSON or the plain dashboard page."""
    fail_at(app, "teardown_request", "/healthz", "/dashboard/sites/")  # after Flask built its answer
    assert login(client, admin.email).status_code == 302
    assert_json_500(client.get("/healthz"))
    r = client.get("/dashboard/sites/news/queues/pending", headers={"Accept-Language": "ar"})
    assert_styled_500(r)
    assert 'lang="ar" dir="rtl"' in r.get_data(as_text=True)
    assert "حدث خطأ من جهتنا." in r.get_data(as_text=True)
