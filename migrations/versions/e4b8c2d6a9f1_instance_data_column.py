"""A request's business data stored by each save, so reads never deserialize its workflow

Revision ID: e4b8c2d6a9f1
Revises: d9a3e5f1c7b2
Create Date: 2026-12-03 13:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4b8c2d6a9f1'
down_revision = 'd9a3e5f1c7b2'
branch_labels = None
depends_on = None


def upgrade():
    # plain ALTER TABLE: a batch copy of process_instance would break the foreign keys onto it
    op.add_column('process_instance', sa.Column('data_json', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('process_instance', 'data_json')
