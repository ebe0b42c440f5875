"""Moderators' emails, the dashboard's side: the pages an email's links open, and the account page
where a moderator chooses, per site, which emails they get (dashboard/mail.py draws the emails).

- /dashboard/act/<token>: an Approve / Reject / Spam link. GET never changes anything: it shows the
  comment as the email did, the action and who acts, and a button that POSTs to the same address;
  the POST makes the decision (services.action_links.use_decision: once, as the token's moderator,
  an audit row like the dashboard's). A refused link is a page saying why, with nothing changed:
  403 tampered or not ours, or the moderator left the site; 410 expired; 409 used, or the comment
  changed since the email (the dashboard's own 409 explanation), or another moderator has it open.
- /dashboard/alerts/off/<token>: unsubscribe from a site's emails. GET asks, POST does it, and so
  does an RFC 8058 one-click POST (`List-Unsubscribe=One-Click`) a mail provider sends on its own.
- /dashboard/account/alerts (signed in): each site's choice, `each`, `digest` every N minutes, or
  `none` (services.notices.set_alerts).

The two token pages need no session (the token is the credential) and cannot carry a CSRF token:
dashboard/__init__.py exempts TOKEN_ENDPOINTS from its check. They speak the token's moderator's
language: their saved one, else the site's `language` setting, else the browser's.
"""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from comment_service.dashboard import i18n
from comment_service.dashboard.auth import login_required
from comment_service.dashboard.blueprint import bp, t
from comment_service.dashboard.forms import alerts_errors, alerts_from_form
from comment_service.dashboard.present import present, rich
from comment_service.database import safe_rollback
from comment_service.models import ModeratorSite, Site
from comment_service.moderation.alerts import ALERT_MODES, DIGEST, DIGEST_MINUTES, NONE
from comment_service.moderation.audit import AuditReason
from comment_service.moderation.errors import Conflict, DomainError, Invalid, NotFound
from comment_service.moderation.status import Queue, RejectReason
from comment_service.services import action_links, moderators, notices, queues
from comment_service.services.action_links import LinkRefused
from comment_service.services.sites import site_settings

# The endpoints whose token is their credential: no sign-in, no CSRF token (see dashboard/__init__.py).
TOKEN_ENDPOINTS = frozenset({"dashboard.act", "dashboard.alerts_off"})
REFUSED = {"link_invalid": 403, "not_moderator": 403, "link_expired": 410, "link_used": 409}
DIGEST_DEFAULT = 60  # minutes the form offers before a digest was chosen
REJECT_REASONS = frozenset(r.value for r in RejectReason)


# --- whose link is it -------------------------------------------------------------------------------

def _payload(token: str, purpose: str) -> list[Any] | None:
    """What a genuine token of this purpose says, however old or used (action_links.peek): only to
    speak its moderator's language and point at the right dashboard page on a refusal."""
    return action_links.peek(token, purpose)


def _named(token: str, purpose: str) -> tuple[int, int] | None:
    """The moderator and site a genuine token names."""
    payload = _payload(token, purpose)
    return (payload[0], payload[1]) if payload and len(payload) >= 2 else None


def _comment_of(token: str) -> int | None:
    """The comment a genuine decision link names."""
    payload = _payload(token, "action-link")
    return payload[2] if payload and len(payload) >= 3 else None


def _member(named: tuple[int, int] | None) -> ModeratorSite | None:
    """The token's moderator's role on its site, if they still have one; the page speaks their language."""
    if named is None:
        return None
    moderator_id, site_id = named
    try:
        member = action_links.membership(moderator_id, site_id)
    except LinkRefused:
        member = None
    moderator = member.moderator if member else moderators.get_moderator(moderator_id)
    site_language = site_settings(member.site)["language"] if member else None
    g.lang = i18n.pick_language(moderator.language if moderator else None, site_language, request.accept_languages)
    return member


def _message(err: DomainError) -> str:
    key = f"error_{err.code}"
    return t(key) if key in i18n.catalog(i18n.DEFAULT) else err.message


def _refused(status: int, code: str, message: str, site: Site | None, comment_id: int | None = None) -> Any:
    """A link that cannot be used: why, that nothing changed, and where to go instead."""
    safe_rollback()  # nothing of a refused use stays (the used-link row above all)
    page = render_template("dashboard/link_refused.html", status=status, code=code, message=message,
                           link_site=site, comment_id=comment_id, pending=Queue.PENDING.value, token_page=True)
    return page, status


def _refusal(err: DomainError, member: ModeratorSite | None, comment_id: int | None = None) -> Any:
    """A service's refusal as a page: 403, 410 or 409 for the link (REFUSED), 409 for a comment that
    changed or that another moderator has open, 404 for one that is gone (no link to it, then)."""
    if isinstance(err, LinkRefused):
        status = REFUSED.get(err.code, 403)
    elif isinstance(err, NotFound):
        status, comment_id = 404, None
    else:
        status = 409
    return _refused(status, err.code, _message(err), member.site if member else None, comment_id)


# --- an Approve / Reject / Spam link ------------------------------------------------------------------

@bp.route("/act/<token>", methods=["GET", "POST"])
def act(token: str) -> ResponseReturnValue:
    """GET: confirm (nothing changes); POST: the decision, once."""
    member = _member(_named(token, "action-link"))
    if request.method == "POST":
        chosen = request.form.get("reason") or None
        reason = AuditReason(chosen) if chosen in REJECT_REASONS else None
        try:
            link, item = action_links.use_decision(token, reason)
        except Invalid:  # a reject without its reason: ask again (nothing changed)
            return _confirm(token, member, error=t("error_reason_required"))
        except (LinkRefused, Conflict, NotFound) as err:  # nothing changed; a link refused stays unused
            return _refusal(err, member, _comment_of(token))
        return render_template("dashboard/act_done.html", link_site=member.site if member else None, item=item,
                               action=link.action.value, rich=rich, token_page=True)
    return _confirm(token, member)


def _confirm(token: str, member: ModeratorSite | None, error: str | None = None) -> ResponseReturnValue:
    """The confirmation page (GET, or a reject sent without its reason: 422); nothing changes here."""
    try:
        link = action_links.read_decision(token)
        member = action_links.membership(link.moderator_id, link.site_id)
        item = queues.moderator_item(member.site, link.comment_id)
    except (LinkRefused, NotFound) as err:
        return _refusal(err, member, _comment_of(token))
    if item.revision != link.revision:  # what the email showed is not what the comment is now
        return _refused(409, "stale_revision", t("error_stale_revision"), member.site, item.id)
    page = render_template("dashboard/act.html", link_site=member.site, item=present(item), action=link.action.value,
                           who=member.moderator, rich=rich, token_page=True, reject_reasons=list(RejectReason),
                           error=error)
    return (page, 422) if error else page


# --- unsubscribe ------------------------------------------------------------------------------------

@bp.route("/alerts/off/<token>", methods=["GET", "POST"])
def alerts_off(token: str) -> ResponseReturnValue:
    """GET: ask; POST (the page's button, or a mail provider's one-click): no more emails from the site."""
    member = _member(_named(token, "unsubscribe"))
    try:
        member = action_links.unsubscribe(token) if request.method == "POST" else action_links.read_unsubscribe(token)
    except LinkRefused as err:
        return _refusal(err, member)
    template = "dashboard/alerts_off_done.html" if request.method == "POST" else "dashboard/alerts_off.html"
    return render_template(template, link_site=member.site, who=member.moderator, already=member.alerts == NONE,
                           rich=rich, token_page=True)


# --- the account page ---------------------------------------------------------------------------------

@bp.route("/account/alerts", methods=["GET", "POST"])
@login_required
def account_alerts() -> ResponseReturnValue:
    """Each site's emails: one for each held or reported comment, a digest, or none; one form per site."""
    rows = _rows()
    if request.method == "GET":
        return _account_page(rows, None, {})
    slug = request.form.get("site", "")
    row = next((r for r in rows if r["site"].slug == slug), None)
    if row is None:
        raise NotFound("site_not_found", "No site with this id.")
    try:
        data = alerts_from_form(request.form)
        notices.set_alerts(row["member"], data["alerts"], data["digest_minutes"])
    except ValidationError as err:
        return _account_page(rows, slug, alerts_errors(err.messages)), 422
    except ValueError as err:  # the service's own check (the form's is the same)
        return _account_page(rows, slug, {"alerts": [{"code": "invalid", "message": str(err)}]}), 422
    flash(t("alerts_saved", site=row["site"].name), "ok")
    return redirect(url_for("dashboard.account_alerts") + f"#alerts-{slug}")


def _rows() -> list[dict[str, Any]]:
    """The moderator's sites (by name) with their role and membership (its alerts)."""
    members = {m.site_id: m for m in g.moderator.memberships}
    return [{"site": site, "role": role, "member": members[site.id]}
            for site, role in moderators.sites_of(g.moderator) if site.id in members]


def _error_words(errors: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Each field's errors in the moderator's words: the message of its code for this field (both
    languages have one for the digest's minutes), else as dashboard/_fields.html does: in English the
    validator's own message, in Arabic the message of its code."""
    known = i18n.catalog(i18n.DEFAULT)
    out: dict[str, list[str]] = {}
    for name, errs in errors.items():
        for e in errs:
            specific, general = f"code_{name}_{e['code']}", f"code_{e['code']}"
            if specific in known:
                text = t(specific, min=DIGEST_MINUTES[0], max=DIGEST_MINUTES[1])
            elif g.lang == "en":
                text = e["message"]
            elif general in known:
                text = t(general)
            else:
                text = e["message"]
            out.setdefault(name, []).append(text)
    return out


def _account_page(rows: list[dict[str, Any]], posted: str | None, errors: dict) -> str:
    for row in rows:
        member = row["member"]
        if row["site"].slug == posted:
            row["alerts"] = request.form.get("alerts", "")
            row["minutes"] = request.form.get("digest_minutes", "")
        else:
            row["alerts"] = member.alerts
            row["minutes"] = str(member.digest_minutes or DIGEST_DEFAULT)
    return render_template("dashboard/account_alerts.html", rows=rows, posted=posted, errors=_error_words(errors),
                           modes=ALERT_MODES, digest=DIGEST, minutes=DIGEST_MINUTES, pending=Queue.PENDING.value)
