"""A comment's history, a site's recent decisions, banning an author, settings and API keys."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from comment_service import schemas
from comment_service.dashboard.auth import safe_next, site_access
from comment_service.dashboard.blueprint import bp, t
from comment_service.dashboard.forms import BAN_DAYS, ban_from_form, settings_errors, settings_from_form, whole_number
from comment_service.dashboard.present import Card
from comment_service.dashboard.views_queue import items_for_page
from comment_service.errors import field_errors
from comment_service.models import Site
from comment_service.moderation.errors import Conflict
from comment_service.moderation.status import Queue, RejectReason, applicable
from comment_service.services import ban_admin, moderation, moderators, queues, site_admin, sites
from comment_service.services.moderators import actor_id

LOG_PAGE = 50


def _comment_view(site: Site, comment_id: int) -> Card:
    return items_for_page(site, [queues.moderator_item(site, comment_id)])[0]  # 404 for another site's comment


def _actor_names(actors: set[str]) -> dict[str, str]:
    names = moderators.display_names(actors)
    return {a: names.get(a, a or "") for a in actors}


@bp.get("/sites/<slug:site>/comments/<int:comment_id>")
@site_access()
def comment(site: Site, comment_id: int) -> ResponseReturnValue:
    """One comment: what the queue shows, every report, and its whole audit log."""
    item = _comment_view(site, comment_id)
    log = moderation.history(site, comment_id)
    return render_template(
        "dashboard/comment.html", site=site, item=item, history=log,
        names=_actor_names({e.actor_id for e in log if e.actor_id}),
        actions=applicable(item.status), reject_reasons=list(RejectReason),
    )


@bp.get("/sites/<slug:site>/log")
@site_access()
def decisions_log(site: Site) -> ResponseReturnValue:
    """The site's recent human decisions, newest first."""
    before = whole_number(request.args.get("before"))
    entries, more = site_admin.recent_decisions(site, before if isinstance(before, int) else None, LOG_PAGE)
    return render_template("dashboard/log.html", site=site, entries=entries, more=more,
                           names=_actor_names({e["actor"] for e in entries if e["actor"]}))


@bp.route("/sites/<slug:site>/comments/<int:comment_id>/ban", methods=["GET", "POST"])
@site_access()
def ban(site: Site, comment_id: int) -> ResponseReturnValue:
    """Ban a comment's author by email (or email domain), rejecting what they posted if asked."""
    item = _comment_view(site, comment_id)
    back = safe_next(request.values.get("next"), url_for("dashboard.queue", site=site.slug, queue=Queue.PENDING.value))
    email = item.author.email
    errors: dict = {}
    if request.method == "POST" and email:
        try:
            data = ban_from_form(request.form, email)
        except ValidationError as err:
            errors = field_errors(err.messages)
        else:
            try:
                _, rejected = ban_admin.create_ban(
                    site, data["kind"], data["value"], reason=data["reason"], expires_at=None,
                    expires_in_days=data["expires_in_days"], reject_existing=data["reject_existing"],
                    actor=actor_id(g.moderator),
                )
            except Conflict as err:
                errors = {"_request": [{"code": err.code, "message": t(f"error_{err.code}")
                                        if err.code == "already_banned" else err.message}]}
            else:
                flash(t("done_ban", count=rejected), "ok")
                return redirect(back)
    status = 422 if errors else 200
    return render_template("dashboard/ban.html", site=site, item=item, next=back, errors=errors, days=BAN_DAYS,
                           form=request.form), status


@bp.route("/sites/<slug:site>/settings", methods=["GET", "POST"])
@site_access(admin=True)
def settings(site: Site) -> ResponseReturnValue:
    """A site's moderation settings (admins only); every invalid field says what is wrong with it."""
    if request.method == "POST":
        values = settings_from_form(request.form)
        try:
            changes = schemas.settings_schema.load(values)
        except ValidationError as err:
            return _settings_page(site, values, settings_errors(err.messages)), 422
        sites.update_settings(site, changes)
        flash(t("settings_saved"), "ok")
        return redirect(url_for("dashboard.settings", site=site.slug))
    return _settings_page(site, sites.site_settings(site), {})


def _settings_page(site: Site, values: dict, errors: dict, new_key: str | None = None) -> str:
    return render_template("dashboard/settings.html", site=site, values=values, errors=errors,
                           keys=site_admin.api_keys(site), new_key=new_key)


@bp.post("/sites/<slug:site>/settings/keys")
@site_access(admin=True)
def keys(site: Site) -> ResponseReturnValue:
    """Issue a new API key (shown once, on this page only) and maybe revoke the others; or revoke one."""
    if request.form.get("op") == "revoke":
        count = sites.revoke_api_keys(site, prefix=request.form.get("prefix", "")[:12] or "-")
        flash(t("keys_revoked", count=count), "ok" if count else "error")
        return redirect(url_for("dashboard.settings", site=site.slug))
    key = sites.issue_api_key(site)
    if request.form.get("revoke_old") == "on":
        sites.revoke_api_keys(site, keep=key)
    return _settings_page(site, sites.site_settings(site), {}, new_key=key)
