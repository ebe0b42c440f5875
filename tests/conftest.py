"""Fixtures: an app per test on SQLite (in memory) or on TEST_DATABASE_URL (PostgreSQL), emptied after."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from comment_service import create_app, services
from comment_service.extensions import db, limiter
from comment_service.moderation.status import ModerationMode

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
ORIGIN = "https://news.example"


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database this run uses, so CI output shows both back ends ran."""
    if TEST_DATABASE_URL:
        return f"majlis database: PostgreSQL ({sa.make_url(TEST_DATABASE_URL).render_as_string(hide_password=True)})"
    return "majlis database: SQLite (in memory)"


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Overrides for the app under test; a test may change it before `app` is built."""
    return {}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh app with an empty schema."""
    app = create_app(test_config=app_config)
    with app.app_context():
        db.create_all()
        if app.config["RATELIMIT_ENABLED"]:
            limiter.reset()
        yield app
        db.session.remove()
        if TEST_DATABASE_URL:
            with db.engine.begin() as conn:
                names = ", ".join(t.name for t in db.metadata.sorted_tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    """A CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture
def site(app: Flask):
    """A post-moderated site that allows https://news.example."""
    return services.create_site("news", "The News", [ORIGIN], ModerationMode.POST)


@pytest.fixture
def premod_site(app: Flask):
    """A pre-moderated site."""
    return services.create_site("careful", "Careful Times", [ORIGIN], ModerationMode.PRE)


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
def key(site) -> str:
    """An API key of the "news" site."""
    from comment_service.services.sites import issue_api_key

    return issue_api_key(site)


def auth(key: str, moderator: str | None = None) -> dict[str, str]:
    """Headers of an API call with this key (as this moderator)."""
    headers = {"Authorization": f"Bearer {key}"}
    if moderator:
        headers["X-Majlis-Moderator"] = moderator
    return headers
