"""Roles admins make: a named set of capabilities beside the five built-in roles

Revision ID: d9a3e5f1c7b2
Revises: c4e8b2a6d1f7
Create Date: 2026-12-03 12:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd9a3e5f1c7b2'
down_revision = 'c4e8b2a6d1f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_role',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('key', sa.String(length=20), nullable=False, unique=True),
        sa.Column('name_en', sa.String(length=120), nullable=False),
        sa.Column('name_zh', sa.String(length=120), nullable=False),
        sa.Column('capabilities', sa.String(length=400), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )


def downgrade():
    op.drop_table('user_role')
