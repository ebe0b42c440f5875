"""`flask moderators create` and the demo moderator of `flask demo`."""
from __future__ import annotations

import re
from pathlib import Path

from comment_service.models import ModeratorRole
from comment_service.services import moderators
from tests.conftest import new_site
from tests.dashboard.conftest import login


def test_create_with_a_generated_password_printed_once(ctx, runner, client, site):
    r = runner.invoke(args=["moderators", "create", "Nour@Example.org", "--site", "news", "--role", "admin", "--generate"])
    assert r.exit_code == 0, r.output
    password = re.search(r"password \(shown once, store it now\): (\S+)", r.output).group(1)
    m = ctx(moderators.find_moderator, "nour@example.org")
    assert m.password_hash.startswith("scrypt:") and password not in m.password_hash
    assert ctx(moderators.site_for_moderator, m, "news")[1] is ModeratorRole.ADMIN
    assert login(client, "nour@example.org", password).status_code == 302


def test_create_prompts_for_the_password(ctx, runner, site):
    r = runner.invoke(args=["moderators", "create", "sami@example.org", "--site", "news"],
                      input="a long enough pass\na long enough pass\n")
    assert r.exit_code == 0, r.output
    assert "password" not in r.output.split("Repeat for confirmation:")[-1].lower()
    assert ctx(moderators.authenticate, "sami@example.org", "a long enough pass") is not None


def test_create_refuses_short_passwords_and_unknown_sites(runner, site):
    r = runner.invoke(args=["moderators", "create", "x@example.org", "--site", "news"], input="short\nshort\n")
    assert r.exit_code != 0 and "at least 10" in r.output
    r = runner.invoke(args=["moderators", "create", "x@example.org", "--site", "nope", "--generate"])
    assert r.exit_code != 0 and "no site 'nope'" in r.output


def test_create_again_adds_a_site(ctx, runner, site, app):
    from comment_service.moderation.status import ModerationMode

    new_site("gazette", "G", [], ModerationMode.PRE)
    runner.invoke(args=["moderators", "create", "amal@example.org", "--site", "news", "--generate"])
    r = runner.invoke(args=["moderators", "create", "amal@example.org", "--site", "gazette", "--role", "admin"])
    assert r.exit_code == 0 and "created" not in r.output
    assert [s.slug for s, _ in ctx(moderators.sites_of, ctx(moderators.find_moderator, "amal@example.org"))] == ["gazette", "news"]


def test_demo_creates_one_moderator_and_prints_working_credentials(app, runner, client):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    email, password = re.search(r"sign in as (\S+) / (\S+)", first.output).groups()
    again = runner.invoke(args=["demo"])
    assert re.search(r"sign in as (\S+) / (\S+)", again.output).groups() == (email, password)  # idempotent
    assert "created demo moderator" not in again.output
    assert Path(app.config["MAJLIS_DEMO_MODERATOR_FILE"]).stat().st_mode & 0o077 == 0
    assert login(client, email, password).status_code == 302
    assert client.get("/dashboard/").headers["Location"] == "/dashboard/sites/demo/queues/pending"
    Path(app.config["MAJLIS_DEMO_MODERATOR_FILE"]).unlink()  # lost file: a new password, the same account
    third = runner.invoke(args=["demo"])
    assert re.search(r"sign in as (\S+) / (\S+)", third.output).group(2) != password
