"""server-side web sessions, and sign-in lock-out after wrong passwords

Revision ID: 5e2b7c9d1a30
Revises: 3c1d9e0a7b42
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e2b7c9d1a30'
down_revision = '3c1d9e0a7b42'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('user_account', sa.Column('failed_sign_ins', sa.Integer(), nullable=False,
                                            server_default='0'))
    op.add_column('user_account', sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.create_table('user_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_user_session_user_id'), 'user_session', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_user_session_user_id'), table_name='user_session')
    op.drop_table('user_session')
    op.drop_column('user_account', 'locked_until')
    op.drop_column('user_account', 'failed_sign_ins')
