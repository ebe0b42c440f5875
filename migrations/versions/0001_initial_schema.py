"""initial schema: sites, threads, comments, moderation actions

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 11:07:21.492745

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('allowed_origins', sa.JSON(), nullable=False),
    sa.Column('moderation_mode', sa.Enum('pre', 'post', name='moderation_mode', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('slug', name=op.f('uq_site_slug'))
    )
    op.create_table('thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('comment_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_thread_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thread')),
    sa.UniqueConstraint('site_id', 'key', name='uq_thread_site_key')
    )
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('author_email', sa.String(length=320), nullable=True),
    sa.Column('email_hmac', sa.String(length=64), nullable=True),
    sa.Column('author_url', sa.String(length=500), nullable=True),
    sa.Column('avatar', sa.String(length=32), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'published', 'approved', 'rejected', 'spam', 'deleted', name='status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('hold_reasons', sa.JSON(), nullable=False),
    sa.Column('spam_score', sa.Float(), nullable=True),
    sa.Column('ip_hmac', sa.String(length=64), nullable=True),
    sa.Column('edit_token_hash', sa.String(length=64), nullable=True),
    sa.Column('open_reports', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claim_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['comment.id'], name=op.f('fk_comment_parent_id_comment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_comment_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['thread.id'], name=op.f('fk_comment_thread_id_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_parent', ['parent_id'], unique=False)
        batch_op.create_index('ix_comment_site_email', ['site_id', 'email_hmac'], unique=False)
        batch_op.create_index('ix_comment_site_status_id', ['site_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_comment_thread_visible', ['thread_id', 'id'], unique=False, postgresql_where=sa.text("status IN ('published', 'approved')"), sqlite_where=sa.text("status IN ('published', 'approved')"))

    op.create_table('moderation_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=100), nullable=True),
    sa.Column('from_status', sa.Enum('pending', 'published', 'approved', 'rejected', 'spam', 'deleted', name='from_status', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('to_status', sa.Enum('pending', 'published', 'approved', 'rejected', 'spam', 'deleted', name='to_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_moderation_action_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_moderation_action_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_action'))
    )
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.create_index('ix_action_comment', ['comment_id', 'id'], unique=False)




def downgrade():
    
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_comment')

    op.drop_table('moderation_action')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_thread_visible', postgresql_where=sa.text("status IN ('published', 'approved')"), sqlite_where=sa.text("status IN ('published', 'approved')"))
        batch_op.drop_index('ix_comment_site_status_id')
        batch_op.drop_index('ix_comment_site_email')
        batch_op.drop_index('ix_comment_parent')

    op.drop_table('comment')
    op.drop_table('thread')
    op.drop_table('site')

