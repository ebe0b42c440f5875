"""idempotent submissions; a session version on moderators

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00

A comment posted with an Idempotency-Key records the key's digest beside the comment it stored,
so a retry (after a timeout or an error the client could not read) answers the same comment
instead of storing it twice. Signing out bumps the moderator's session version, which ends
every copy of the session cookie.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('idempotent_submission',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('key_hmac', sa.String(length=64), nullable=False),
    sa.Column('request_hmac', sa.String(length=64), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_idempotent_submission_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_idempotent_submission_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_id', 'key_hmac', name=op.f('pk_idempotent_submission'))
    )
    with op.batch_alter_table('idempotent_submission', schema=None) as batch_op:
        batch_op.create_index('ix_idempotent_submission_created_at', ['created_at'], unique=False)
    op.add_column('moderator', sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('moderator', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('idempotent_submission', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotent_submission_created_at')
    op.drop_table('idempotent_submission')
