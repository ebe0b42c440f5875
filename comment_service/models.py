"""Tables of the domain model (DESIGN.md section 2). No commits here: services own transactions."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from comment_service.extensions import db
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import VISIBLE, ModerationMode, Status

VISIBLE_VALUES = tuple(s.value for s in Status if s in VISIBLE)  # ("published", "approved")


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Store UTC, always hand back aware datetimes (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _enum(cls: type, name: str, length: int = 16, constraint: bool = True) -> sa.Enum:
    """A portable enum column: a VARCHAR, with a named CHECK constraint unless `constraint` is False
    (the audit log's columns, plain VARCHARs since their first migration)."""
    return sa.Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        create_constraint=constraint,
        name=name,
    )


class Site(db.Model):
    """A tenant: one news site with its origins and moderation settings."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    moderation_mode: Mapped[ModerationMode] = mapped_column(
        _enum(ModerationMode, "moderation_mode"), default=ModerationMode.PRE
    )
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The event types someone outside wants to hear about (the union of the site's enabled
    # webhooks' events; services/webhooks.py keeps it): a change writes an outbox row only for
    # these, so a site without webhooks pays nothing per comment.
    outbox_events: Mapped[list[str] | None] = mapped_column(sa.JSON)
    # Since when the oldest pending comment has been older than the sla_minutes setting: set when
    # the moderators are alerted (once per breach), cleared when the queue is back within it.
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    threads: Mapped[list[Thread]] = relationship(back_populates="site")


class Thread(db.Model):
    """The comments under one article, keyed by the site's own article id or path."""

    __tablename__ = "thread"
    __table_args__ = (sa.UniqueConstraint("site_id", "key", name="uq_thread_site_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    title: Mapped[str | None] = mapped_column(sa.String(300))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    closed: Mapped[bool] = mapped_column(default=False)
    # Visible comments, and a counter bumped on every visible change: the read cache's key.
    comment_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="threads")


class Comment(db.Model):
    """One comment; the only table that holds an author's email."""

    __tablename__ = "comment"
    __table_args__ = (
        # The public read: visible comments of one thread in id order (one index range scan).
        sa.Index(
            "ix_comment_thread_visible",
            "thread_id",
            "id",
            postgresql_where=sa.text("status IN ('published', 'approved')"),
            sqlite_where=sa.text("status IN ('published', 'approved')"),
        ),
        # Moderation queues: a site's comments in one status, oldest first.
        sa.Index("ix_comment_site_status_id", "site_id", "status", "id"),
        # Bans, trust, privacy requests and the queue's author history look authors up by email
        # HMAC within a site; with the status in the index, the history is an index-only count.
        sa.Index("ix_comment_site_email_status", "site_id", "email_hmac", "status"),
        # The unmoderated queue (pending or published) in id order, without walking the whole table.
        sa.Index(
            "ix_comment_site_unmoderated",
            "site_id",
            "id",
            postgresql_where=sa.text("status IN ('pending', 'published')"),
            sqlite_where=sa.text("status IN ('pending', 'published')"),
        ),
        sa.Index("ix_comment_parent", "parent_id"),
        # The reported queue: a site's comments with open reports.
        sa.Index(
            "ix_comment_site_reported",
            "site_id",
            "id",
            postgresql_where=sa.text("open_reports > 0"),
            sqlite_where=sa.text("open_reports > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(sa.ForeignKey("thread.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comment.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(sa.String(100))
    author_email: Mapped[str | None] = mapped_column(sa.String(320))
    email_hmac: Mapped[str | None] = mapped_column(sa.String(64))
    author_url: Mapped[str | None] = mapped_column(sa.String(500))
    avatar: Mapped[str] = mapped_column(sa.String(32))
    body_source: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    revision: Mapped[int] = mapped_column(default=1)
    hold_reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    spam_score: Mapped[float | None] = mapped_column(sa.Float)
    ip_hmac: Mapped[str | None] = mapped_column(sa.String(64))
    edit_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    open_reports: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    thread: Mapped[Thread] = relationship()


class Claim(db.Model):
    """A moderator's lease on a comment they are deciding: soft state, kept beside the comment.

    Claiming a batch writes these narrow rows, not the wide comment rows with their six indexes
    (a 50-item claim wrote ~74 KB of WAL that way, ~13 KB this way; bench/README.md). An expired
    claim is the same as none; the next claim overwrites it, a decision or a release deletes it.
    """

    __tablename__ = "claim"
    # A claim looks for a site's live claims in comment order (and a site's deletion finds them).
    __table_args__ = (sa.Index("ix_claim_site_comment", "site_id", "comment_id"),)

    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    claimed_by: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModerationAction(db.Model):
    """Append-only log of every change to a comment's status or revision, one row per change: the
    durable record of the domain event services/changes.py records (its id is the event's id).
    Audit, queue metrics and training read it."""

    __tablename__ = "moderation_action"
    __table_args__ = (sa.Index("ix_action_comment", "comment_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"))
    revision: Mapped[int]
    actor_type: Mapped[Actor] = mapped_column(_enum(Actor, "actor_type", constraint=False))
    actor_id: Mapped[str | None] = mapped_column(sa.String(100))
    from_status: Mapped[Status | None] = mapped_column(_enum(Status, "from_status"))
    to_status: Mapped[Status] = mapped_column(_enum(Status, "to_status"))
    reason_code: Mapped[AuditReason | None] = mapped_column(_enum(AuditReason, "reason_code", 64, constraint=False))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteApiKey(db.Model):
    """A site's API key, stored as a SHA-256 digest; the prefix lets operators tell keys apart."""

    __tablename__ = "site_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Report(db.Model):
    """A reader's report of a comment; one per reader fingerprint and comment."""

    __tablename__ = "report"
    __table_args__ = (sa.UniqueConstraint("comment_id", "fingerprint", name="uq_report_comment_fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    resolved: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ban(db.Model):
    """A site's ban of an email, an email domain or an IP prefix, by keyed hash, maybe expiring."""

    __tablename__ = "ban"
    __table_args__ = (sa.Index("ix_ban_lookup", "site_id", "kind", "value_hmac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # email, domain, ip
    value_hmac: Mapped[str] = mapped_column(sa.String(64))
    # What a moderator sees in the ban list: a domain or IP prefix as given, an email masked.
    label: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def expired(self) -> bool:
        """The ban has ended (it stays listed, flagged)."""
        return self.expires_at is not None and self.expires_at <= utcnow()


class Moderator(db.Model):
    """A person who signs in to the dashboard; their email is a login name, never shown to readers."""

    __tablename__ = "moderator"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # stored case-folded
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(100))
    language: Mapped[str | None] = mapped_column(sa.String(8))  # None: follow the browser
    # Bumped by signing out (and by anything else that must end every session): a session
    # carries the version it started with and is refused once they differ.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[ModeratorSite]] = relationship(back_populates="moderator", cascade="all, delete-orphan")


class ModeratorSite(db.Model):
    """A moderator's role on one site; no row, no access (the site's pages are 404 to them)."""

    __tablename__ = "moderator_site"

    moderator_id: Mapped[int] = mapped_column(sa.ForeignKey("moderator.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[ModeratorRole] = mapped_column(_enum(ModeratorRole, "role"), default=ModeratorRole.MODERATOR)
    # How the moderator hears of this site's held and reported comments (moderation/notices.py):
    # `each` (an email per comment, the default), `digest` (one every digest_minutes) or `none`.
    alerts: Mapped[str] = mapped_column(sa.String(16), default="each", server_default="each")
    digest_minutes: Mapped[int | None]
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    moderator: Mapped[Moderator] = relationship(back_populates="memberships")
    site: Mapped[Site] = relationship()


class IdempotentSubmission(db.Model):
    """A comment submission made with an Idempotency-Key: a retry with the same key answers the
    same comment instead of storing another. Only keyed digests of the key and of the request are
    kept; rows older than the replay window (24 h) may be purged."""

    __tablename__ = "idempotent_submission"
    __table_args__ = (sa.Index("ix_idempotent_submission_created_at", "created_at"),)

    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    key_hmac: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    request_hmac: Mapped[str] = mapped_column(sa.String(64))
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(db.Model):
    """An event someone outside wants (Site.outbox_events), written in the transaction of the change
    it is about and handed to the job queue after the commit (services/outbox.py). A row not yet
    dispatched is found again by the worker's sweep: nothing committed is lost, nothing rolled back
    is sent. Its id is the event's id in every message about it."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        sa.Index("ix_outbox_event_undispatched", "id", postgresql_where=sa.text("dispatched_at IS NULL"),
                 sqlite_where=sa.text("dispatched_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"))
    # The audit row of the change (its actor and reason), or the report, that the event is about.
    action_id: Mapped[int | None] = mapped_column(sa.ForeignKey("moderation_action.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"))
    types: Mapped[list[str]] = mapped_column(sa.JSON)
    status: Mapped[Status] = mapped_column(_enum(Status, "outbox_status", constraint=False))
    revision: Mapped[int]  # the comment's revision once the change was made
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Webhook(db.Model):
    """A site's webhook endpoint. Its signing secret is never stored: it is derived from the
    service's SECRET_KEY and a random salt (services/webhooks.py), so a copy of the database
    cannot sign messages. After a rotation the previous salt signs too, until `previous_until`."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    description: Mapped[str | None] = mapped_column(sa.String(200))
    secret_salt: Mapped[str] = mapped_column(sa.String(64))
    previous_salt: Mapped[str | None] = mapped_column(sa.String(64))
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One message to one endpoint and every attempt at it: pending (with its next try), delivered
    or failed. A worker claims an attempt with a guarded UPDATE and a lease, so a task run twice
    (a replay, two workers) sends once; an attempt whose worker died is retried when its lease ends."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "message_id", name="uq_webhook_delivery_webhook_message"),
        sa.Index("ix_webhook_delivery_log", "webhook_id", "id"),  # an endpoint's log, newest first
        sa.Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'"),
                 sqlite_where=sa.text("status = 'pending'")),
        # The failures /metrics counts at every scrape (few, however long the log).
        sa.Index("ix_webhook_delivery_failed", "id", postgresql_where=sa.text("status = 'failed'"),
                 sqlite_where=sa.text("status = 'failed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_event.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(sa.String(64))  # webhook-id: the same on every attempt
    type: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(db.Model):
    """One email to one person about one thing (a held comment, a breach of the queue's time
    limit, a digest), and every attempt at sending it (services/attempts.py). It names who by id
    (a moderator), never by address: the address is read when the message is sent. `dedupe_key`
    makes an event's notice to a person one row however often the event is dispatched."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.Index("ix_notification_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'"),
                 sqlite_where=sa.text("status = 'pending'")),
        sa.Index("ix_notification_failed", "id", postgresql_where=sa.text("status = 'failed'"),
                 sqlite_where=sa.text("status = 'failed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))  # held, reported, sla, digest
    moderator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("moderator.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comment.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_event.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedActionLink(db.Model):
    """An email's action link that has been used (its token's digest): a link works once."""

    __tablename__ = "used_action_link"

    token_digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
