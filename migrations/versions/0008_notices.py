"""moderators' notices: alerts per site, the notices and their attempts, used action links, SLA breaches

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:45:00

Every moderator hears of each held or reported comment by default (moderator_site.alerts = each),
so a site that has moderators now wants those events from its outbox: their types are added to
site.outbox_events here, as services/outbox.keep_site_events would.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


ALERTING = ("comment.held", "comment.hidden_by_reports", "report.created")


def upgrade():
    op.create_table('used_action_link',
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_digest', name=op.f('pk_used_action_link'))
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_notification_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id'], name=op.f('fk_notification_event_id_outbox_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_notification_moderator_id_moderator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_notification_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notification_dedupe_key'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_due', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_notification_failed', ['id'], unique=False, postgresql_where=sa.text("status = 'failed'"), sqlite_where=sa.text("status = 'failed'"))
        batch_op.create_index(batch_op.f('ix_notification_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('moderator_site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerts', sa.String(length=16), server_default='each', nullable=False))
        batch_op.add_column(sa.Column('digest_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('digest_sent_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_breached_at', sa.DateTime(timezone=True), nullable=True))

    site = sa.table('site', sa.column('id', sa.Integer), sa.column('outbox_events', sa.JSON))
    members = sa.table('moderator_site', sa.column('site_id', sa.Integer))
    bind = op.get_bind()
    rows = bind.execute(sa.select(site.c.id, site.c.outbox_events)
                        .where(site.c.id.in_(sa.select(members.c.site_id)))).all()
    for site_id, wanted in rows:
        events = sorted(set(wanted or ()) | set(ALERTING))
        bind.execute(sa.update(site).where(site.c.id == site_id).values(outbox_events=events))



def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('sla_breached_at')

    with op.batch_alter_table('moderator_site', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('digest_minutes')
        batch_op.drop_column('alerts')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_site_id'))
        batch_op.drop_index('ix_notification_failed', postgresql_where=sa.text("status = 'failed'"), sqlite_where=sa.text("status = 'failed'"))
        batch_op.drop_index('ix_notification_due', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.drop_table('notification')
    op.drop_table('used_action_link')
