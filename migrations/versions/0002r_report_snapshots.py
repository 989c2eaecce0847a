"""report snapshots and the dated extreme-poverty line

Revision ID: 0002r
Revises: 0002a
Create Date: 2026-11-28 14:53:00.655113

Two new tables, nothing else changed: safe while the previous version serves.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002r'
down_revision = '0002a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('poverty_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('rupiah_per_capita_month', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_poverty_lines_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poverty_lines')),
    sa.UniqueConstraint('valid_from', name=op.f('uq_poverty_lines_valid_from'))
    )
    op.create_table('report_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['taken_by_id'], ['users.id'], name=op.f('fk_report_snapshots_taken_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_snapshots')),
    sa.UniqueConstraint('year', 'quarter', name='uq_report_snapshots_year_quarter')
    )


def downgrade():
    op.drop_table('report_snapshots')
    op.drop_table('poverty_lines')
