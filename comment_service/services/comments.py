"""Reader-facing use cases: submit a comment, read a thread, count comments."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, load_only

from comment_service.database import commit_keeping_state
from comment_service.extensions import db
from comment_service.models import VISIBLE_VALUES, Ban, Comment, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.errors import FieldError, Forbidden, Invalid, NotFound
from comment_service.moderation.rules import Decision, Submission, evaluate
from comment_service.moderation.sanitize import count_links, sanitize_body
from comment_service.moderation.status import Status, is_visible, submitted
from comment_service.read_cache import read_cache
from comment_service.schemas import comment_page_schema
from comment_service.services import changes, idempotency
from comment_service.services.bans import ban_pairs
from comment_service.services.idempotency import KeyedRequest
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
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


def public_comment(comment: Comment, thread_key: str) -> dict[str, Any]:
    """A comment as readers may see it (no email, no IP, no reasons), ready for CommentSchema."""
    return {
        "id": comment.id,
        "thread": thread_key,
        "parent_id": comment.parent_id,
        "author": {"name": comment.author_name, "url": comment.author_url, "avatar": comment.avatar},
        "body_html": comment.body_html,
        # Rejected and spam comments look "awaiting moderation" to their author: a spammer learns
        # nothing about the word lists or the honeypot.
        "status": comment.status.value if comment.status in PUBLIC_STATUSES else Status.PENDING.value,
        "created_at": comment.created_at,
    }


@dataclass(frozen=True)
class ThreadPage:
    """A serialised page of a thread and the validator that names it."""

    etag: str
    body: bytes | None  # None when the client's ETag matched and nothing was cached to send
    origins: list[str]

    def matches(self, if_none_match: str | None) -> bool:
        """True when the client already holds this page (If-None-Match). The comparison is weak, as
        RFC 9110 says for If-None-Match: W/"x" matches "x" (a compressing proxy, nginx's gzip among
        them, weakens the ETag it passes on, and the browser sends that one back)."""
        if not if_none_match:
            return False
        return self.etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}


PUBLIC_STATUSES = frozenset({Status.PENDING, Status.PUBLISHED, Status.APPROVED})

_PUBLIC_COLUMNS = load_only(
    Comment.id, Comment.parent_id, Comment.author_name, Comment.author_url, Comment.avatar,
    Comment.body_html, Comment.status, Comment.created_at,
)

# The version probe, built once: the site (404 if absent) and, if it exists, the thread.
_PROBE = (
    sa.select(
        Site.id, Site.allowed_origins, Thread.id, Thread.version, Thread.created_at,
        Thread.title, Thread.url, Thread.closed, Thread.comment_count,
    )
    .select_from(Site)
    .outerjoin(Thread, sa.and_(Thread.site_id == Site.id, Thread.key == sa.bindparam("key")))
    .where(Site.slug == sa.bindparam("slug"))
)


def thread_page(slug: str, key: str, after: int | None, limit: int, if_none_match: str | None) -> ThreadPage:
    """A page of a thread's visible comments, oldest first.

    Three layers keep the hot path cheap: a per-process memo of the page for
    MAJLIS_READ_MEMO_SECONDS (cleared by every write this process makes), then one indexed probe
    of the thread's version, then the serialised page cached under the version's ETag.
    """
    cache = read_cache()
    memo_key = (slug, key, after, limit)
    page = cache.recent(memo_key)
    if page is not None:
        return page
    # A plain Core execution: the ORM adds nothing to a column probe but cost on every read.
    row = db.session.connection().execute(_PROBE, {"slug": slug, "key": key}).first()
    if row is None:
        raise NotFound("site_not_found", "No site with this id.")
    site_id, origins, thread_id, version, created, title, url, closed, count = row
    stamp = f"{site_id}/{key}/{thread_id}/{created.timestamp() if created else 0}/{version}/{after}/{limit}"
    etag = '"' + hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest() + '"'
    body = cache.get(etag)
    if body is None:
        if ThreadPage(etag, None, origins).matches(if_none_match):
            return ThreadPage(etag, None, origins)
        comments: list[Comment] = []
        if thread_id is not None:
            stmt = (
                sa.select(Comment)
                .options(_PUBLIC_COLUMNS)
                .where(Comment.thread_id == thread_id, Comment.status.in_([Status(v) for v in VISIBLE_VALUES]))
                .order_by(Comment.id)
                .limit(limit + 1)
            )
            if after is not None:
                stmt = stmt.where(Comment.id > after)
            comments = list(db.session.scalars(stmt))
        more = len(comments) > limit
        comments = comments[:limit]
        entries = [public_comment(c, key) for c in comments]
        # Replies whose parent is not on this page: the parent may be hidden (a tombstone keeps the
        # thread's shape) or on an earlier page. Only then is there a second query.
        missing = {c.parent_id for c in comments if c.parent_id is not None} - {c.id for c in comments}
        if missing:
            entries = sorted(entries + _tombstones(thread_id, missing, key), key=lambda e: e["id"])
        data = {
            "thread": {"key": key, "title": title, "url": url, "closed": bool(closed), "comment_count": count or 0},
            "comments": entries,
            "next_cursor": str(comments[-1].id) if more else None,
        }
        body = current_app.json.dumps(comment_page_schema.dump(data), separators=(",", ":")).encode()
        cache.put(etag, body)
    page = ThreadPage(etag, body, origins)
    cache.remember(memo_key, page)
    return page


def _tombstones(thread_id: int, parent_ids: set[int], thread_key: str) -> list[dict[str, Any]]:
    """Placeholders for the hidden parents of listed replies, and for their hidden ancestors (one query).

    A tombstone says only that a comment was there: its id, place in the thread and time.
    """
    hidden = [s for s in Status if s.value not in VISIBLE_VALUES]
    found = (
        sa.select(Comment.id, Comment.parent_id, Comment.created_at)
        .where(Comment.thread_id == thread_id, Comment.id.in_(parent_ids), Comment.status.in_(hidden))
        .cte("tombstone", recursive=True)
    )
    ancestor = aliased(Comment)
    found = found.union(
        sa.select(ancestor.id, ancestor.parent_id, ancestor.created_at)
        .join(found, ancestor.id == found.c.parent_id)
        .where(ancestor.thread_id == thread_id, ancestor.status.in_(hidden))
    )
    return [
        {"id": cid, "thread": thread_key, "parent_id": parent_id, "author": None, "body_html": "",
         "status": Status.DELETED.value, "created_at": created_at}
        for cid, parent_id, created_at in db.session.execute(sa.select(found))
    ]


# The counts of a page's threads and the site's origins, in one statement built once (a site
# with none of the threads gives one row of NULLs; no site, no row). The origins come as their
# JSON text, parsed once here: as a JSON column the driver would parse them again on every row.
_COUNTS = (
    sa.select(Site.id, sa.cast(Site.allowed_origins, sa.Text), Thread.key, Thread.comment_count)
    .select_from(Site)
    .outerjoin(Thread, sa.and_(Thread.site_id == Site.id, Thread.key.in_(sa.bindparam("p_keys", expanding=True))))
    .where(Site.slug == sa.bindparam("p_slug", type_=sa.String))
)


def site_counts(slug: str, keys: list[str]) -> tuple[list[str], dict[str, int]]:
    """The site's allowed origins and its visible comments per thread key (unknown keys count 0);
    NotFound when there is no such site."""
    rows = db.session.connection().execute(_COUNTS, {"p_slug": slug, "p_keys": keys}).all()
    if not rows:
        raise NotFound("site_not_found", "No site with this id.")
    found = {key: count for _, _, key, count in rows if key is not None}
    origins = rows[0][1]
    return (json.loads(origins) if origins else []), {k: found.get(k, 0) for k in keys}

