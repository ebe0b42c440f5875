"""Idempotent submissions: a retry of `POST .../comments` with the same Idempotency-Key answers the
comment the first attempt stored, and stores nothing new.

A client that lost the answer (a timeout, a dropped connection, an error it could not read)
sends the same request with the same key again. Within REPLAY_WINDOW it gets the original 201:
the same comment (as it is now) and the same edit token. Nothing secret is stored: the table
holds keyed digests of the key and of the request, and the edit token is derived from them
under the service secret, so only a client that knows the key and sends the same request gets
it. The same key with another request is refused (422 `idempotency_key_reused`); a submission
deleted since is 409 `submission_withdrawn`. After the window a key is new again: recording it
replaces its expired row in the same statement. Other expired rows are purged a batch at a time
by the keyed submissions themselves, at most once per MAJLIS_IDEMPOTENCY_PURGE_SECONDS a process.

A keyed submission costs one statement more than an unkeyed one: the record itself (one INSERT
... ON CONFLICT). The rate limiter's question (`site_and_recorded`) reads the site with it, and the
view reuses both answers: the site is not read again, and a key with no record needs no replay
lookup.
"""
from __future__ import annotations

import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app

from comment_service.database import conflict_insert, dialect
from comment_service.extensions import db
from comment_service.models import Comment, IdempotentSubmission, Site, Thread, utcnow
from comment_service.moderation import privacy
from comment_service.moderation.errors import Conflict, Invalid
from comment_service.moderation.status import Status

HEADER = "Idempotency-Key"
KEY_MAX = 200
REPLAY_WINDOW = timedelta(hours=24)
PURGE_BATCH = 1000  # rows a purge deletes at most (one purge a minute a process by default)
# 1-200 printable ASCII characters (space to tilde), at least one of them not a space.
KEY_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
_KEY_RE = re.compile(KEY_PATTERN)


class AlreadyRecorded(Exception):
    """Another request with this key stored its comment first; this attempt was rolled back."""


@dataclass(frozen=True)
class KeyedRequest:
    """A keyed submission: the digests that find it again and the edit token it is given."""

    key_hmac: str
    request_hmac: str
    token: str


@lru_cache(maxsize=8)
def _keys(secret: str) -> tuple[bytes, bytes, bytes]:
    return (privacy.derive_key(secret, "idempotency-key"), privacy.derive_key(secret, "idempotency-request"),
            privacy.derive_key(secret, "idempotency-edit-token"))


def valid_key(value: str) -> bool:
    """An Idempotency-Key is 1-200 printable ASCII characters, not only spaces."""
    return len(value) <= KEY_MAX and _KEY_RE.match(value) is not None


def key_digest(key: str) -> str:
    return privacy.keyed_digest(_keys(current_app.config["SECRET_KEY"])[0], key)


def keyed_request(site: Site, key: str | None, document: Any) -> KeyedRequest | None:
    """The digests and edit token of a request with this header value (None without one; the API
    refuses a malformed one first, see valid_key).

    The request digest covers the JSON document as parsed (key order and spacing aside).
    """
    if key is None:
        return None
    key_key, request_key, token_key = _keys(current_app.config["SECRET_KEY"])
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key_hmac = privacy.keyed_digest(key_key, key)
    request_hmac = privacy.keyed_digest(request_key, canonical)
    token = privacy.derived_token(token_key, f"{site.id}|{key_hmac}|{request_hmac}")
    return KeyedRequest(key_hmac, request_hmac, token)


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - REPLAY_WINDOW


# The two statements of a keyed submission, built once (SQLAlchemy then neither builds nor keys
# them again per request: built per request, the two cost ~0.45 ms of CPU a post).
_TABLE = IdempotentSubmission.__table__
_CUTOFF = sa.bindparam("p_cutoff", type_=_TABLE.c.created_at.type)
_SITE = Site.__table__
_SITE_AND_RECORDED = sa.select(Site, sa.exists().where(
    _TABLE.c.site_id == _SITE.c.id, _TABLE.c.key_hmac == sa.bindparam("p_key"), _TABLE.c.created_at >= _CUTOFF,
).label("recorded")).where(_SITE.c.slug == sa.bindparam("p_slug", type_=sa.String))


@cache
def _record_statement(dialect: str) -> sa.Executable:
    """INSERT ... ON CONFLICT: a key's expired row gives way to its new one; a live row does not
    (built once per dialect, as queues._claim_statement is)."""
    insert = conflict_insert(_TABLE, dialect)
    return insert.on_conflict_do_update(
        index_elements=[_TABLE.c.site_id, _TABLE.c.key_hmac],
        set_={k: insert.excluded[k] for k in ("request_hmac", "comment_id", "created_at")},
        where=_TABLE.c.created_at < _CUTOFF,  # only an expired row gives way
    ).returning(_TABLE.c.comment_id)


def site_and_recorded(slug: str | None, key: str | None) -> tuple[Site | None, bool]:
    """The site with this slug (None if there is none, or nothing was asked), and whether a live
    submission was stored there with this key (so a request with it can store nothing new). One
    statement, cheap enough for the rate limiter to ask before the view runs; the view then uses
    the site it found instead of reading it again."""
    if not slug or key is None or not valid_key(key):
        return None, False
    row = db.session.execute(_SITE_AND_RECORDED, {
        "p_slug": slug, "p_key": key_digest(key), "p_cutoff": _cutoff()}).first()
    return (None, False) if row is None else (row[0], bool(row[1]))


def replay(site: Site, c: KeyedRequest) -> tuple[Comment, str] | None:
    """The comment an earlier request with this key stored and its thread's key, if it is within the
    window (one statement); Invalid when that request was another one, Conflict when its comment has
    been deleted since."""
    row = db.session.execute(
        sa.select(IdempotentSubmission.request_hmac, Comment, Thread.key)
        .join(Comment, Comment.id == IdempotentSubmission.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(
            IdempotentSubmission.site_id == site.id, IdempotentSubmission.key_hmac == c.key_hmac,
            IdempotentSubmission.created_at >= _cutoff(),
        )
    ).first()
    if row is None:
        return None
    request_hmac, comment, thread_key = row
    if not hmac.compare_digest(request_hmac, c.request_hmac):
        raise Invalid("idempotency_key_reused",
                      f"This {HEADER} was used for another submission; send a new key for a new one.")
    if comment.status is Status.DELETED:
        raise Conflict("submission_withdrawn", "This submission was stored and has been deleted since.")
    return comment, thread_key


def record(site: Site, c: KeyedRequest, comment_id: int, now: datetime) -> None:
    """Note, in the submission's transaction, that this key stored this comment (one statement:
    an INSERT that takes the place of this key's own expired row, if any).

    When another request with the key got there first (a live row exists: on PostgreSQL the
    INSERT waits for that request to commit), everything this attempt did is rolled back and
    AlreadyRecorded says to answer with that request's comment instead.
    """
    cutoff = _cutoff(now)
    _purge_now_and_then(cutoff)
    values = {"site_id": site.id, "key_hmac": c.key_hmac, "request_hmac": c.request_hmac,
              "comment_id": comment_id, "created_at": now, "p_cutoff": cutoff}
    stored = db.session.execute(_record_statement(dialect()), values).scalar()
    if stored is None:
        db.session.rollback()
        raise AlreadyRecorded


def _purge_now_and_then(cutoff: datetime) -> None:
    """Delete a batch of expired rows, skipping rows another transaction is purging (no waiting, no
    deadlock); at most once per MAJLIS_IDEMPOTENCY_PURGE_SECONDS in this process (0: every time)."""
    every = current_app.config["MAJLIS_IDEMPOTENCY_PURGE_SECONDS"]
    state = current_app.extensions.setdefault("majlis.idempotency_purge", {"at": None})
    clock = time.monotonic()
    if every and state["at"] is not None and clock - state["at"] < every:
        return
    state["at"] = clock
    expired = (
        sa.select(IdempotentSubmission.site_id, IdempotentSubmission.key_hmac)
        .where(IdempotentSubmission.created_at < cutoff)
        .limit(PURGE_BATCH)
    )
    if dialect() == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    db.session.execute(
        sa.delete(IdempotentSubmission)
        .where(sa.tuple_(IdempotentSubmission.site_id, IdempotentSubmission.key_hmac).in_(expired))
        .execution_options(synchronize_session=False)
    )
