"""The links in a moderator's email: Approve, Reject, Spam on a held comment, and one-click
unsubscribe from a site's alerts.

Cusdis approves comments on a GET link, so a mail scanner that follows links approves spam. Here
a link never changes anything on GET: it opens a confirmation page whose button POSTs (dashboard
views). Its token is signed with SECRET_KEY (itsdangerous), names the comment, the revision the
email showed, the action and the moderator, and expires after 24 hours; it works once (the
digest of a used token is kept two days; notices' sweep forgets older ones). Using one is a
moderator's decision like the dashboard's (the same guarded change, a reject's reason, the same
audit row, actor `mod:<id>`, note "email link"), so a comment that
changed since the email answers the dashboard's 409 explanation, and a moderator who has left the
site can no longer decide on it. An unsubscribe link (RFC 8058 one-click) is signed the same way,
does not expire, and sets the moderator's alerts for the site to `none`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from comment_service.extensions import db
from comment_service.models import ModeratorSite, Site, UsedActionLink
from comment_service.moderation.audit import AuditReason
from comment_service.moderation.errors import DomainError, FieldError, Forbidden, Invalid
from comment_service.moderation.privacy import token_digest
from comment_service.moderation.status import Action
from comment_service.services import moderation, notices
from comment_service.services.moderators import actor_id
from comment_service.services.queues import ModeratorItem

LIFETIME = timedelta(hours=24)
ACTIONS = (Action.APPROVE, Action.REJECT, Action.SPAM)
NOTE = "email link"


class LinkRefused(Forbidden):
    """The link cannot be used: `invalid` (tampered, or not ours), `expired`, `used`, or
    `not_moderator` (no longer on the site). Nothing was changed."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"majlis.{purpose}.v1")


@dataclass(frozen=True)
class ActionLink:
    """What a decision link says: who may do what to which revision of which comment."""

    moderator_id: int
    site_id: int
    comment_id: int
    revision: int
    action: Action


def decision_token(moderator_id: int, site_id: int, comment_id: int, revision: int, action: Action) -> str:
    """The token of an Approve / Reject / Spam link."""
    return _serializer("action-link").dumps([moderator_id, site_id, comment_id, revision, action.value])


def read_decision(token: str) -> ActionLink:
    """What a link's token says, if it is ours and less than 24 hours old (LinkRefused otherwise)."""
    try:
        moderator_id, site_id, comment_id, revision, action = _serializer("action-link").loads(
            token, max_age=int(LIFETIME.total_seconds()))
        link = ActionLink(int(moderator_id), int(site_id), int(comment_id), int(revision), Action(action))
    except SignatureExpired:
        raise LinkRefused("link_expired", "This link has expired: links in an email work for 24 hours. "
                                          "Decide on the comment in the dashboard.") from None
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("link_invalid", "This link is not valid. Open the dashboard instead.") from None
    if link.action not in ACTIONS:
        raise LinkRefused("link_invalid", "This link is not valid. Open the dashboard instead.")
    if is_used(token):
        raise LinkRefused("link_used", "This link has been used already; each link works once.")
    return link


def peek(token: str, purpose: str = "action-link") -> list[int] | None:
    """Whose a genuine token is, however old or used (signature checked, age not): only for a refusal
    page to speak its moderator's language and point at the right place, never to act on."""
    try:
        payload = _serializer(purpose).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, list) or not all(type(v) is int for v in payload[:3]):
        return None
    return payload


def is_used(token: str) -> bool:
    return db.session.get(UsedActionLink, token_digest(token)) is not None


def membership(link_moderator: int, site_id: int) -> ModeratorSite:
    """The moderator's role on the site, or LinkRefused: a moderator who left cannot decide."""
    member = db.session.get(ModeratorSite, (link_moderator, site_id))
    if member is None:
        raise LinkRefused("not_moderator", "You no longer moderate this site.")
    return member


def use_decision(token: str, reason: AuditReason | None = None) -> tuple[ActionLink, ModeratorItem]:
    """Make the link's decision (committed), once; a reject needs its `reason`, as in the dashboard.
    LinkRefused, Invalid (no reason to reject), or the decision's Conflict / NotFound (a comment
    that changed since the email): then nothing is changed, the session is rolled back and the
    link stays unused."""
    try:
        link = read_decision(token)
        if link.action is Action.REJECT and reason is None:
            raise Invalid("validation_failed", "Say why you reject it.",
                          {"reason": [FieldError("required", "Say why you reject it.")]})
        member = membership(link.moderator_id, link.site_id)
        site = db.session.get(Site, link.site_id)
        db.session.add(UsedActionLink(token_digest=token_digest(token)))
        try:
            db.session.flush()
        except IntegrityError:  # used a moment ago, by another click
            raise LinkRefused("link_used", "This link has been used already; each link works once.") from None
        item = moderation.decide(site, link.comment_id,
                                 moderation.Decision(link.action, link.revision, reason=reason, note=NOTE),
                                 actor_id(member.moderator))
    except DomainError:
        db.session.rollback()
        raise
    return link, item


def unsubscribe_token(moderator_id: int, site_id: int) -> str:
    """The token of a moderator's one-click unsubscribe from a site's alerts."""
    return _serializer("unsubscribe").dumps([moderator_id, site_id])


def read_unsubscribe(token: str) -> ModeratorSite:
    """The membership an unsubscribe token names (LinkRefused if it is not ours or they left)."""
    try:
        moderator_id, site_id = _serializer("unsubscribe").loads(token)
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("link_invalid", "This link is not valid. Open the dashboard instead.") from None
    return membership(int(moderator_id), int(site_id))


def unsubscribe(token: str) -> ModeratorSite:
    """Turn the moderator's alerts for the site off (committed); safe to repeat."""
    member = read_unsubscribe(token)
    notices.set_alerts(member, notices.NONE)
    return member
