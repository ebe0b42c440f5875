"""Operator commands: `flask sites create|list`, `flask moderators create|alerts` and `flask demo`."""
from __future__ import annotations

import re
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from comment_service import demo, services
from comment_service.converters import SLUG_PATTERN
from comment_service.models import Site
from comment_service.moderation.alerts import DIGEST, DIGEST_MINUTES, EACH, NONE
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import ModerationMode
from comment_service.moderation.urls import UrlRefused, normalise_origin
from comment_service.services import moderators as moderator_accounts
from comment_service.services import notices, site_admin
from comment_service.services.sites import find_site, issue_api_key, revoke_api_keys, site_for_key
from comment_service.services.sites import list_sites as all_sites

SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")

sites = AppGroup("sites", help="Manage the sites that embed Majlis.")


def _check_origin(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    """Each origin as the settings API stores it (moderation/urls.py), or a usage error."""
    out = []
    for value in values:
        try:
            out.append(normalise_origin(value))
        except UrlRefused:
            raise click.BadParameter(f"{value!r} is not an origin like https://news.example") from None
    return out


@sites.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name of the site.")
@click.option("--origin", "origins", multiple=True, callback=_check_origin, help="Allowed origin (repeatable).")
@click.option("--mode", type=click.Choice([m.value for m in ModerationMode]), default="pre", show_default=True)
def create_site(slug: str, name: str, origins: list[str], mode: str) -> None:
    """Register a site that may embed the widget."""
    if not SLUG_RE.match(slug):
        raise click.BadParameter("use 1-64 lowercase letters, digits and dashes", param_hint="SLUG")
    if find_site(slug) is not None:
        raise click.ClickException(f"site {slug!r} already exists")
    site = services.create_site(slug, name, origins, ModerationMode(mode))
    key = issue_api_key(site)
    click.echo(f"created site {site.slug} ({site.moderation_mode.value}-moderated)")
    click.echo(f"API key (shown once, store it now): {key}")


def _site_or_fail(slug: str) -> Site:
    site = find_site(slug)
    if site is None:
        raise click.ClickException(f"no site {slug!r}")
    return site


@sites.command("rotate-key")
@click.argument("slug")
@click.option("--revoke-old", is_flag=True, help="Also revoke every earlier key of the site.")
def rotate_key(slug: str, revoke_old: bool) -> None:
    """Issue a new API key for a site (old keys stay valid unless --revoke-old)."""
    site = _site_or_fail(slug)
    key = issue_api_key(site)
    click.echo(f"API key (shown once, store it now): {key}")
    if revoke_old:
        click.echo(f"revoked {revoke_api_keys(site, keep=key)} older key(s)")


@sites.command("revoke-key")
@click.argument("slug")
@click.argument("prefix")
def revoke_key(slug: str, prefix: str) -> None:
    """Revoke a site's key by its first 12 characters (as `sites keys` lists them)."""
    count = revoke_api_keys(_site_or_fail(slug), prefix=prefix)
    if not count:
        raise click.ClickException(f"no active key of {slug!r} starts with {prefix!r}")
    click.echo(f"revoked {count} key(s)")


@sites.command("keys")
@click.argument("slug")
def list_keys(slug: str) -> None:
    """List a site's keys by prefix, with when they were made and revoked."""
    site = _site_or_fail(slug)
    for row in site_admin.api_keys(site):
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.prefix}…\tcreated {row.created_at:%Y-%m-%d %H:%M}\t{state}")


@sites.command("list")
def list_sites() -> None:
    """List every site with its mode and origins."""
    for site in all_sites():
        origins = " ".join(site.allowed_origins) or "-"
        click.echo(f"{site.slug}\t{site.moderation_mode.value}\t{site.name}\t{origins}")


moderators = AppGroup("moderators", help="Manage the people who sign in to the dashboard.")


@moderators.command("create")
@click.argument("email")
@click.option("--site", "slugs", multiple=True, required=True, help="Site the moderator works on (repeatable).")
@click.option("--role", type=click.Choice([r.value for r in ModeratorRole]), default=ModeratorRole.MODERATOR.value,
              show_default=True)
@click.option("--name", default=None, help="Display name (default: the email's local part).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once instead of prompting.")
def create_moderator(email: str, slugs: tuple[str, ...], role: str, name: str | None, generate: bool) -> None:
    """Create a dashboard account (or add sites to an existing one) with a role on each site."""
    sites_ = [_site_or_fail(slug) for slug in slugs]
    if "@" not in email or len(email) > 320:
        raise click.BadParameter("give an email address", param_hint="EMAIL")
    moderator = moderator_accounts.find_moderator(email)
    password = None
    if moderator is None:
        if generate:
            password = moderator_accounts.generate_password()
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            moderator = moderator_accounts.create_moderator(email, password, name)
        except ValueError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"created moderator {moderator.email}")
    for site in sites_:
        moderator_accounts.grant(moderator, site, ModeratorRole(role))
        click.echo(f"{moderator.email} is {role} of {site.slug}")
    if generate and password:
        click.echo(f"password (shown once, store it now): {password}")


@moderators.command("alerts")
@click.argument("email")
@click.argument("site")
@click.option("--each", "mode", flag_value=EACH, help="An email for each held or reported comment (the default).")
@click.option("--digest", "minutes", type=click.IntRange(*DIGEST_MINUTES), metavar="MINUTES",
              help=f"A digest of what waits, every MINUTES minutes ({DIGEST_MINUTES[0]} to {DIGEST_MINUTES[1]}).")
@click.option("--none", "mode", flag_value=NONE, help="No email about this site (no time-limit alerts either).")
def set_alerts(email: str, site: str, mode: str | None, minutes: int | None) -> None:
    """Choose which emails a moderator gets about one site: --each, --digest MINUTES or --none."""
    if (mode is None) == (minutes is None):
        raise click.UsageError("choose one of --each, --digest MINUTES and --none")
    site_ = _site_or_fail(site)
    moderator = moderator_accounts.find_moderator(email)
    if moderator is None:
        raise click.ClickException(f"no moderator {email!r}")
    membership = next((m for m in moderator.memberships if m.site_id == site_.id), None)
    if membership is None:
        raise click.ClickException(f"{moderator.email} does not work on {site_.slug} (grant a role with "
                                   f"`flask moderators create {moderator.email} --site {site_.slug}`)")
    try:
        notices.set_alerts(membership, DIGEST if minutes is not None else mode, minutes)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    what = {EACH: "an email for each held or reported comment", NONE: "no email",
            DIGEST: f"a digest every {minutes} minutes"}[membership.alerts]
    click.echo(f"{moderator.email} gets {what} about {site_.slug}")


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port the demo pages are served on.")
@with_appcontext  # `flask demo` has one anyway (FlaskGroup); app.cli.invoke (tests) does not
def seed_demo(port: int) -> None:
    """Create (idempotently) the demo site and the thread of the Arabic seed article."""
    site, created, seeded = demo.seed_site(port)
    if created:
        click.echo("created site demo")
    if seeded:
        click.echo(f"created thread {demo.DEMO_THREAD} with 2 comments")
    # Development convenience only: the demo site's key in a file, so the README's curl session works.
    key_file = Path(current_app.config["MAJLIS_DEMO_KEY_FILE"])
    saved = key_file.read_text().strip() if key_file.exists() else ""
    if not saved or site_for_key(saved) is None or site_for_key(saved).id != site.id:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(issue_api_key(site) + "\n")
        key_file.chmod(0o600)
    origins = " ".join(site.allowed_origins)
    click.echo(f"demo ready: site {demo.DEMO_SLUG}, thread {demo.DEMO_THREAD}, origins {origins}")
    click.echo(f"demo API key in {key_file}")
    email, password = _demo_moderator(site)
    click.echo(f"dashboard: http://127.0.0.1:{port}/dashboard/  sign in as {email} / {password}")
    current_app.logger.debug("demo seeded")


def _demo_moderator(site: Site) -> tuple[str, str]:
    """The demo site's admin account; its password is generated once and kept in a local file."""
    path = Path(current_app.config["MAJLIS_DEMO_MODERATOR_FILE"])
    saved = path.read_text().strip() if path.exists() else ""
    moderator = moderator_accounts.find_moderator(demo.DEMO_MODERATOR)
    if moderator is None or not saved or moderator_accounts.authenticate(demo.DEMO_MODERATOR, saved) is None:
        saved = moderator_accounts.generate_password()
        if moderator is None:
            moderator = moderator_accounts.create_moderator(demo.DEMO_MODERATOR, saved, "Demo moderator")
            click.echo(f"created demo moderator {demo.DEMO_MODERATOR}")
        else:
            moderator_accounts.set_password(moderator, saved)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(saved + "\n")
        path.chmod(0o600)
    moderator_accounts.grant(moderator, site, ModeratorRole.ADMIN)
    return demo.DEMO_MODERATOR, saved


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    app.cli.add_command(sites)
    app.cli.add_command(moderators)
    app.cli.add_command(seed_demo)
