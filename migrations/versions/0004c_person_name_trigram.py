"""person name trigram index (typo-tolerant name search on PostgreSQL)

Revision ID: 0004c
Revises: 0003

On PostgreSQL: the pg_trgm extension and a GIN trigram index on persons.name, which serves both the
``%`` similarity operator and ILIKE '%…%'. SQLite has no trigrams: the same index name is a plain
index there, so the models describe one schema for both.
"""
from alembic import op


revision = '0004c'
down_revision = '0004a'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX IF NOT EXISTS ix_persons_name_trgm ON persons USING gin (name gin_trgm_ops)")
    else:
        op.create_index("ix_persons_name_trgm", "persons", ["name"])


def downgrade():
    op.drop_index("ix_persons_name_trgm", table_name="persons")
