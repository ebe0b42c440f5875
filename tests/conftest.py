"""Fixtures: an app per test on SQLite (in memory) or on TEST_DATABASE_URL (PostgreSQL), emptied after.

Every request a test makes runs in an app context of its own, as in production: `g` and the
database session are the request's, opened and closed with it. A test that works with the
database or calls a service directly does so inside `with ctx:` (a short context of its own);
fixtures hand back ids, plain values and objects loaded before their context closed (detached:
their columns read as loaded, nothing is loaded lazily). A request made inside `with ctx:` would
share that context, so the test client refuses it.
"""
from __future__ import annotations

import functools
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.ctx import AppContext
from flask.testing import FlaskClient

from comment_service import create_app, services
from comment_service.extensions import db, limiter
from comment_service.moderation.status import ModerationMode

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
ORIGIN = "https://news.example"
T = TypeVar("T")


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database this run uses, so CI output shows both back ends ran."""
    if TEST_DATABASE_URL:
        return f"majlis database: PostgreSQL ({sa.make_url(TEST_DATABASE_URL).render_as_string(hide_password=True)})"
    return "majlis database: SQLite (in memory)"


def pytest_sessionstart(session: pytest.Session) -> None:
    """On PostgreSQL, start from the models' schema: each test creates the tables it lacks and
    empties them after (TRUNCATE), so a database kept from a run of older code (CI's, a
    developer's) would keep its tables without today's columns. Dropping ours once first makes
    every run create them as the models are now."""
    if not TEST_DATABASE_URL:
        return
    engine = sa.create_engine(TEST_DATABASE_URL)
    try:
        with engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    finally:
        engine.dispose()


class Client(FlaskClient):
    """The test client; a request made while the test holds an app context would run in that context
    (its `g`, its session) instead of one of its own, so it is refused."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        assert not has_app_context(), "make requests outside `with ctx:`: a request needs an app context of its own"
        return super().open(*args, **kwargs)


class Ctx:
    """`with ctx:` runs a block in an app context of its own (and so a database session of its own,
    closed at the end); `ctx(fn, *args)` runs one call so. Blocks may nest."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._pushed: list[AppContext] = []

    def __enter__(self) -> Ctx:
        context = self.app.app_context()
        context.push()
        self._pushed.append(context)
        return self

    def __exit__(self, *exc: object) -> None:
        self._pushed.pop().pop()

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self:
            return fn(*args, **kwargs)


_running: list[Ctx] = []  # the running test's (set by `app`), for in_ctx


def in_ctx(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate a test module's helper that works with the database: each call runs in a short app
    context of its own, of the running test's app (or in the context a test pushed itself, if any)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        if has_app_context() and not _running:
            return fn(*args, **kwargs)
        with _running[-1]:
            return fn(*args, **kwargs)

    return run


def detached(obj: T) -> T:
    """An ORM object with every column loaded, out of its session: usable after its context closes."""
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


# A test's own reads and writes, each in a short context of its own (`with ctx:` for several at once).
@in_ctx
def db_get(model: type[T], ident: Any) -> T | None:
    """The row of `model` with this primary key as stored now (detached), or None."""
    obj = db.session.get(model, ident)
    if obj is not None:
        db.session.expunge(obj)
    return obj


@in_ctx
def db_scalar(stmt: Any, params: Any = None) -> Any:
    """The first column of the first row of a statement (an ORM object comes detached)."""
    value = db.session.scalar(stmt, params)
    db.session.expunge_all()
    return value


@in_ctx
def db_scalars(stmt: Any, params: Any = None) -> list[Any]:
    """The first column of every row of a statement (ORM objects come detached)."""
    values = list(db.session.scalars(stmt, params))
    db.session.expunge_all()
    return values


@in_ctx
def db_rows(stmt: Any, params: Any = None) -> list[Any]:
    """Every row of a statement."""
    rows = db.session.execute(stmt, params).all()
    db.session.expunge_all()
    return rows


@in_ctx
def db_run(*stmts: Any) -> None:
    """Run statements that change rows (as another writer would), committed."""
    for stmt in stmts:
        db.session.execute(stmt)
    db.session.commit()


@in_ctx
def db_add(*objs: Any) -> None:
    """Store new rows, committed (the objects come back loaded, detached)."""
    db.session.add_all(objs)
    db.session.commit()
    for obj in objs:
        detached(obj)


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends inside the block (SAVEPOINTs included; BEGIN and
    COMMIT are the driver's, not statements)."""
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@contextmanager
def scratch_database(directory: Any, prefix: str) -> Iterator[str]:
    """The URL of an empty database for processes a test starts: a new SQLite file in `directory`,
    or, with TEST_DATABASE_URL, a new schema `<prefix>_<random>` in that database (its connections
    named by application_name, so they can be found), dropped at the end."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{directory}/{prefix}.db"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(TEST_DATABASE_URL).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Overrides for the app under test; a test may change it before `app` is built."""
    return {}


@contextmanager
def serving(app: Flask) -> Iterator[Flask]:
    """An app set up for a test and emptied after: its schema created, its limits reset, its test
    client the guarded one, and its contexts the ones `ctx` and in_ctx helpers open. The app context
    is pushed only to set it up and to empty it."""
    app.test_client_class = Client
    with app.app_context():
        db.create_all()
        if app.config["RATELIMIT_ENABLED"]:
            limiter.reset()
    _running.append(Ctx(app))
    try:
        yield app
    finally:
        _running.pop()
        with app.app_context():
            db.session.remove()
            if TEST_DATABASE_URL:
                with db.engine.begin() as conn:
                    names = ", ".join(t.name for t in db.metadata.sorted_tables)
                    conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh app with an empty schema (see serving)."""
    with serving(create_app(test_config=app_config)) as app:
        yield app


@pytest.fixture
def ctx(app: Flask) -> Ctx:
    """Short app contexts for a test's own work with the database and the services (see Ctx)."""
    return _running[-1]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    """A CLI runner of the app."""
    return app.test_cli_runner()


@in_ctx
def new_site(slug: str, name: str, origins: list[str], mode: ModerationMode = ModerationMode.POST):
    """Another site (services.create_site), detached."""
    return detached(services.create_site(slug, name, origins, mode))


@pytest.fixture
def site(ctx: Ctx):
    """A post-moderated site that allows https://news.example (detached; a service that changes it
    needs it loaded again inside `with ctx:`, e.g. services.get_site("news"))."""
    with ctx:
        return detached(services.create_site("news", "The News", [ORIGIN], ModerationMode.POST))


@pytest.fixture
def premod_site(ctx: Ctx):
    """A pre-moderated site (detached)."""
    with ctx:
        return detached(services.create_site("careful", "Careful Times", [ORIGIN], ModerationMode.PRE))


def configure(ctx: Ctx, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a site's settings as its admins would (services.sites.update_settings), in a context of its own."""
    from comment_service.services.sites import update_settings as update

    with ctx:
        return update(services.get_site(slug), changes)


_seq = itertools.count(1)


def comment_payload(**overrides: Any) -> dict[str, Any]:
    """A valid submission with fields replaced (`...` removes one); each body is new, never a duplicate."""
    data: dict[str, Any] = {
        "thread": "article-42",
        "thread_title": "مقال تجريبي",
        "author_name": "Layla",
        "author_email": "layla@example.org",
        "body": f"A thoughtful comment ({next(_seq)}).",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def post(client: FlaskClient, slug: str = "news", **overrides: Any):
    """POST a comment (JSON) to a site."""
    return client.post(f"/api/v1/sites/{slug}/comments", json=comment_payload(**overrides))


@pytest.fixture
def key(ctx: Ctx, site) -> str:
    """An API key of the "news" site."""
    from comment_service.services.sites import issue_api_key

    with ctx:
        return issue_api_key(site)


def auth(key: str, moderator: str | None = None) -> dict[str, str]:
    """Headers of an API call with this key (as this moderator)."""
    headers = {"Authorization": f"Bearer {key}"}
    if moderator:
        headers["X-Majlis-Moderator"] = moderator
    return headers
