"""A reader submits a comment: validated, sanitised, moderated, stored with its first audit row
(the thread read and the counts are services/reading.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import Ban, Comment, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import FieldError, Forbidden, Invalid
from comment_service.moderation.rules import Decision, Submission, evaluate
from comment_service.moderation.sanitize import count_links, sanitize_body
from comment_service.moderation.status import Status, is_visible, submitted
from comment_service.services import changes, idempotency
from comment_service.services.bans import ban_pairs
from comment_service.services.idempotency import KeyedRequest
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
from comment_service.services.reading import public_comment
from comment_service.services.sites import site_policy, site_settings


@dataclass(frozen=True)
class ThreadFacts:
    """What a submission needs of its thread: which one it is, and whether it is closed."""

    id: int
    closed: bool
    created_at: datetime


_THREAD = Thread.__table__


def _thread_for(site: Site, key: str, title: str | None, url: str | None, found: AuthorFacts) -> ThreadFacts:
    """The thread for key (author_facts found it, or not), created on its first comment (safe
    against two first comments at once); a missing title or URL is filled in from this one."""
    if found.thread is None:
        try:
            with db.session.begin_nested():
                thread = Thread(site_id=site.id, key=key, title=title, url=url)
                db.session.add(thread)
            return ThreadFacts(thread.id, bool(thread.closed), thread.created_at)
        except IntegrityError:  # another first comment created it: read it as it is
            row = db.session.execute(
                sa.select(_THREAD.c.id, _THREAD.c.closed, _THREAD.c.created_at, _THREAD.c.title, _THREAD.c.url)
                .where(_THREAD.c.site_id == site.id, _THREAD.c.key == key)
            ).one()
            thread_row: tuple[Any, ...] = tuple(row)
    else:
        thread_row = found.thread
    thread_id, closed, created_at, stored_title, stored_url = thread_row
    fill = {name: value for name, stored, value in (("title", stored_title, title), ("url", stored_url, url))
            if stored is None and value}
    if fill:  # rare: the first comments came without them
        db.session.execute(sa.update(_THREAD).where(_THREAD.c.id == thread_id).values(**fill))
    return ThreadFacts(thread_id, bool(closed), created_at)


DUPLICATE_WINDOW = timedelta(days=1)


def banned() -> Forbidden:
    """The refusal of an author a ban covers (a submission or an edit)."""
    return Forbidden("author_banned", "You cannot comment on this site.")


def closed() -> Forbidden:
    """The refusal of a new text in a closed thread (a submission or an edit)."""
    return Forbidden("thread_closed", "This thread is closed to new comments.")


@dataclass(frozen=True)
class AuthorFacts:
    """What one statement tells a submission or an edit about its author and its parent."""

    banned: bool
    author_has_approved_comment: bool
    duplicate_of_recent: bool
    parent_thread_id: int | None = None
    parent_status: Status | None = None
    # The submission's thread (id, closed, created_at, title, url) when asked for and it exists.
    thread: tuple[Any, ...] | None = None


def _author_facts_statement(with_parent: bool, with_exclude: bool, with_thread: bool) -> sa.Select[Any]:
    """The one statement of author_facts, with bound parameters only (built once per shape)."""
    C = Comment.__table__.c
    site_id, digest = sa.bindparam("p_site", type_=sa.Integer), sa.bindparam("p_digest", type_=sa.String)
    now = sa.bindparam("p_now", type_=Ban.__table__.c.expires_at.type)
    banned = sa.select(Ban.id).where(
        Ban.site_id == site_id, sa.tuple_(Ban.kind, Ban.value_hmac).in_(sa.bindparam("p_bans", expanding=True)),
        sa.or_(Ban.expires_at.is_(None), Ban.expires_at > now),
    ).limit(1).scalar_subquery()
    approved = sa.exists().where(C.site_id == site_id, C.email_hmac == digest, C.status == Status.APPROVED)
    duplicate = sa.exists().where(
        C.site_id == site_id, C.email_hmac == digest,
        C.created_at > sa.bindparam("p_since", type_=C.created_at.type),
        C.body_source == sa.bindparam("p_body", type_=sa.Text), C.status != Status.DELETED,
        *([C.id != sa.bindparam("p_exclude", type_=sa.Integer)] if with_exclude else []),
    )
    columns: list[sa.ColumnElement[Any]] = [banned.label("banned"), approved.label("approved"),
                                            duplicate.label("duplicate")]
    if with_parent:
        parent = Comment.__table__.alias("parent")
        for name in ("thread_id", "status"):
            columns.append(sa.select(parent.c[name]).where(parent.c.id == sa.bindparam("p_parent", type_=sa.Integer))
                           .scalar_subquery().label(name))
    if not with_thread:
        return sa.select(*columns)
    # The thread by its key, joined to a one-row FROM so that a thread not yet created still gives a row.
    T = Thread.__table__
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    return sa.select(*columns, T.c.id.label("t_id"), T.c.closed.label("t_closed"),
                     T.c.created_at.label("t_created_at"), T.c.title.label("t_title"), T.c.url.label("t_url")
                     ).select_from(one.outerjoin(T, sa.and_(T.c.site_id == site_id,
                                                             T.c.key == sa.bindparam("p_thread", type_=sa.String))))


_AUTHOR_FACTS = {(p, e, t): _author_facts_statement(p, e, t) for p in (False, True) for e in (False, True)
                 for t in (False, True)}


def author_facts(site: Site, digest: str | None, body: str, now: datetime, *, bans: list[tuple[str, str]],
                 parent_id: int | None = None, exclude_id: int | None = None,
                 thread_key: str | None = None) -> AuthorFacts:
    """In one statement: whether a ban covers the author (`bans`: the (kind, digest) pairs, see
    bans.ban_pairs), whether they have an approved comment here, whether they posted this text in the
    last day, the thread and status of the comment they reply to, and the thread with `thread_key`."""
    stmt = _AUTHOR_FACTS[parent_id is not None, exclude_id is not None, thread_key is not None]
    # An author without a digest has no history: the comparisons with NULL find nothing, and the
    # answers below say no whatever they find.
    row = db.session.execute(stmt, {
        "p_site": site.id, "p_digest": digest, "p_now": now, "p_bans": bans, "p_since": now - DUPLICATE_WINDOW,
        "p_body": body, "p_exclude": exclude_id, "p_parent": parent_id, "p_thread": thread_key,
    }).one()
    return AuthorFacts(
        banned=row.banned is not None,
        author_has_approved_comment=bool(row.approved) and digest is not None,
        duplicate_of_recent=bool(row.duplicate) and digest is not None,
        parent_thread_id=row.thread_id if parent_id is not None else None,
        parent_status=Status(row.status) if parent_id is not None and row.status is not None else None,
        thread=(row.t_id, row.t_closed, row.t_created_at, row.t_title, row.t_url)
        if thread_key is not None and row.t_id is not None else None,
    )


def thread_is_closed(settings: dict[str, Any], thread: Thread | ThreadFacts, now: datetime) -> bool:
    """Closed by hand, or older than the site's auto-close age (`settings`: sites.site_settings)."""
    days = settings["auto_close_days"]
    return thread.closed or (days is not None and thread.created_at < now - timedelta(days=days))


def editable_until(settings: dict[str, Any], created_at: datetime) -> datetime:
    """When the author's edit window for a comment closes (`settings`: sites.site_settings)."""
    return created_at + timedelta(minutes=settings["edit_window_minutes"])


def moderate(settings: dict[str, Any], site: Site, body: str, body_html: str, facts: AuthorFacts,
             honeypot: bool = False) -> Decision:
    """The rules' decision on a new or edited text."""
    return evaluate(site_policy(site, settings), Submission(
        body=body, link_count=count_links(body_html), honeypot_filled=honeypot,
        author_has_approved_comment=facts.author_has_approved_comment, duplicate_of_recent=facts.duplicate_of_recent,
    ))


def audit_reason(decision: Decision, default: AuditReason | None = None) -> AuditReason | None:
    """What the audit log records for the rules' decision: its strongest reason, else `default`."""
    code = decision.reason_code
    return AuditReason.of(code) if code is not None else default


@dataclass(frozen=True)
class Submitted:
    """A stored submission as its author is answered (CommentCreatedSchema): the comment as readers
    see it, the author's edit token and the end of the edit window."""

    comment: dict[str, Any]
    edit_token: str
    editable_until: datetime


def submit_comment(
    site: Site, data: dict[str, Any], client_ip: str | None, keyed: KeyedRequest | None = None
) -> Submitted:
    """Store a reader's comment after validation, sanitising and moderation, committed with its first
    audit row; nothing after the commit reads the database.

    With an Idempotency-Key (`keyed`), the key is recorded in the same transaction and the edit
    token is the one derived for it; idempotency.AlreadyRecorded when another request with the
    key stored its comment first (this one then stores nothing).
    """
    now = utcnow()
    settings = site_settings(site)
    email = data["author_email"]
    digest, ip_digest = email_hmac(email), ip_hmac(client_ip)
    facts = author_facts(site, digest, data["body"], now, bans=ban_pairs(email, digest, ip_digest),
                         parent_id=data["parent_id"], thread_key=data["thread"])
    if facts.banned:
        raise banned()  # nothing is stored, and the thread is not even created
    thread = _thread_for(site, data["thread"], data["thread_title"], data["thread_url"], facts)
    if thread_is_closed(settings, thread, now):
        raise closed()
    if data["parent_id"] is not None and (
        facts.parent_thread_id != thread.id or facts.parent_status is None or not is_visible(facts.parent_status)
    ):
        raise Invalid("validation_failed", "Some fields need attention.",
                      {"parent_id": [FieldError("invalid_parent", "The comment you reply to is not in this thread.")]})

    body_html = sanitize_body(data["body"])
    decision = moderate(settings, site, data["body"], body_html, facts, honeypot=bool(data.get("company")))
    token = keyed.token if keyed is not None else privacy.new_token()
    comment = Comment(
        site_id=site.id,
        thread_id=thread.id,
        parent_id=data["parent_id"],
        author_name=data["author_name"],
        author_email=email,
        email_hmac=digest,
        author_url=data["author_url"],
        avatar=avatar_for(site, email),
        body_source=data["body"],
        body_html=body_html,
        ip_hmac=ip_digest,
        edit_token_hash=privacy.token_digest(token),
        created_at=now,
    )
    record = (lambda cid: idempotency.record(site, keyed, cid, now)) if keyed is not None else None
    changes.create(comment, changes.Change(
        Actor.RULE, transition=submitted(decision.status), reason=audit_reason(decision),
        hold_reasons=[r.as_dict() for r in decision.reasons],
    ), then=record)
    commit_keeping_state()
    return Submitted(public_comment(comment, data["thread"]), token, editable_until(settings, now))


def thread_exists(site: Site, key: str) -> bool:
    """Whether the site has a thread with this key (it is created by its first comment)."""
    return db.session.scalar(sa.select(Thread.id).where(Thread.site_id == site.id, Thread.key == key)) is not None


def replayed(site: Site, keyed: KeyedRequest) -> Submitted | None:
    """The submission an earlier request with this Idempotency-Key stored, answered as it was
    (idempotency.replay: Invalid for another request under the key, Conflict once deleted)."""
    found = idempotency.replay(site, keyed)
    if found is None:
        return None
    comment, key = found
    return Submitted(public_comment(comment, key), keyed.token, editable_until(site_settings(site), comment.created_at))
