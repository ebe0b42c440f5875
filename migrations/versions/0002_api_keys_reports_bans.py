"""api keys, reports, bans, reported-queue index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:16:43.452746

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('ban',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value_hmac', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_ban_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ban'))
    )
    with op.batch_alter_table('ban', schema=None) as batch_op:
        batch_op.create_index('ix_ban_lookup', ['site_id', 'kind', 'value_hmac'], unique=False)

    op.create_table('site_api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_api_key_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_site_api_key_key_hash'))
    )
    with op.batch_alter_table('site_api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_api_key_site_id'), ['site_id'], unique=False)

    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_report_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_report_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report')),
    sa.UniqueConstraint('comment_id', 'fingerprint', name='uq_report_comment_fingerprint')
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_site_reported', ['site_id', 'id'], unique=False, postgresql_where=sa.text('open_reports > 0'), sqlite_where=sa.text('open_reports > 0'))




def downgrade():

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_site_reported', postgresql_where=sa.text('open_reports > 0'), sqlite_where=sa.text('open_reports > 0'))

    op.drop_table('report')
    with op.batch_alter_table('site_api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_api_key_site_id'))

    op.drop_table('site_api_key')
    with op.batch_alter_table('ban', schema=None) as batch_op:
        batch_op.drop_index('ix_ban_lookup')

    op.drop_table('ban')

