"""moderator accounts and their roles per site

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('moderator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderator')),
    sa.UniqueConstraint('email', name=op.f('uq_moderator_email'))
    )
    op.create_table('moderator_site',
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('moderator', 'admin', name='role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_moderator_site_moderator_id_moderator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_moderator_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('moderator_id', 'site_id', name=op.f('pk_moderator_site'))
    )
    with op.batch_alter_table('moderator_site', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderator_site_site_id'), ['site_id'], unique=False)


def downgrade():
    with op.batch_alter_table('moderator_site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderator_site_site_id'))

    op.drop_table('moderator_site')
    op.drop_table('moderator')
