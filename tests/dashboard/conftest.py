"""Dashboard fixtures: moderators of the "news" site, a signed-in client, CSRF tokens from pages."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from comment_service import services
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import ModerationMode
from comment_service.services import moderators
from tests.conftest import ORIGIN, configure, detached, in_ctx, post

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str = "/dashboard/login") -> str:
    """The CSRF token a page of the dashboard hands this client."""
    r = client.get(path)
    found = TOKEN.search(r.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({r.status_code})"
    return found.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD, **environ: Any):
    """Sign in through the form, as a browser would."""
    token = csrf(client)
    return client.post("/dashboard/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ)


@in_ctx
def make_moderator(email: str, site, role: ModeratorRole = ModeratorRole.MODERATOR, name: str | None = None):
    """A moderator with a role on a site (detached)."""
    m = moderators.find_moderator(email) or moderators.create_moderator(email, PASSWORD, name)
    if site is not None:
        moderators.grant(m, site, role)
    return detached(m)


@pytest.fixture
def admin(site):
    """Amal, admin of "news"."""
    return make_moderator("amal@example.org", site, ModeratorRole.ADMIN, "Amal")


@pytest.fixture
def mod(site):
    """Bilal, moderator (not admin) of "news"."""
    return make_moderator("bilal@example.org", site, ModeratorRole.MODERATOR, "Bilal")


@pytest.fixture
def other_site(ctx):
    """A second tenant, "gazette", with a held comment of its own."""
    with ctx:
        return detached(services.create_site("gazette", "The Gazette", [ORIGIN], ModerationMode.PRE))


@pytest.fixture
def signed_in(client, admin) -> FlaskClient:
    """The test client, signed in as the admin."""
    r = login(client, admin.email)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


@pytest.fixture
def held(ctx, client, site) -> list[int]:
    """Five pending comments on "news" (pre-moderated, with a suspect word list); their ids."""
    configure(ctx, "news", {"mode": "pre", "suspect_words": ["كلب*", "casino"]})
    return [post(client, body=f"held {i}").get_json()["comment"]["id"] for i in range(5)]


def decide(client: FlaskClient, cid: int, action: str, revision: int = 1, json: bool = False, **extra: Any):
    """Post a decision form from the queue page (its CSRF token), as the page's form or its script does."""
    token = csrf(client, "/dashboard/sites/news/queues/pending")
    data = {"action": action, "revision": str(revision), "csrf_token": token,
            "next": "/dashboard/sites/news/queues/pending", **extra}
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/dashboard/sites/news/comments/{cid}/decision", data=data, headers=headers)
