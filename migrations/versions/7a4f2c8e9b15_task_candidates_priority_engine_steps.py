"""task candidates (Camunda's candidateUsers/Groups), task priority, failed engine steps as jobs

Revision ID: 7a4f2c8e9b15
Revises: 5e2b7c9d1a30
Create Date: 2026-12-02 13:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7a4f2c8e9b15'
down_revision = '5e2b7c9d1a30'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('human_task', sa.Column('priority', sa.Integer(), nullable=True))
    op.add_column('job', sa.Column('kind', sa.String(length=16), nullable=False,
                                   server_default='operation'))
    op.create_table('task_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('human_task_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_task.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_task_candidate_human_task_id'), 'task_candidate', ['human_task_id'],
                    unique=False)
    op.create_index(op.f('ix_task_candidate_group_key'), 'task_candidate', ['group_key'],
                    unique=False)
    op.create_index(op.f('ix_task_candidate_user_id'), 'task_candidate', ['user_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_task_candidate_user_id'), table_name='task_candidate')
    op.drop_index(op.f('ix_task_candidate_group_key'), table_name='task_candidate')
    op.drop_index(op.f('ix_task_candidate_human_task_id'), table_name='task_candidate')
    op.drop_table('task_candidate')
    with op.batch_alter_table('job') as batch:
        batch.drop_column('kind')
    with op.batch_alter_table('human_task') as batch:
        batch.drop_column('priority')
