"""API tokens with scopes, an expiry, revocation and when they were last used

Revision ID: c4e8b2a6d1f7
Revises: a7d3f1c2b9e4
Create Date: 2026-12-02 14:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e8b2a6d1f7'
down_revision = 'a7d3f1c2b9e4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token') as batch:
        batch.add_column(sa.Column('scopes', sa.String(length=40), nullable=False,
                                   server_default='read,write'))
        batch.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_token') as batch:
        for column in ('last_used_at', 'revoked_at', 'expires_at', 'scopes'):
            batch.drop_column(column)
