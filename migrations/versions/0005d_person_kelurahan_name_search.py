"""persons.kelurahan_code and one name-search index that carries the area (issues #5, #8)

Revision ID: 0005d
Revises: 0005c

A copy of the household's kelurahan on every person, so that a name search can apply the user's area
*inside* the index: on PostgreSQL a multicolumn GIN index ``(kelurahan_code, name gin_trgm_ops)``
(``btree_gin`` for the text column) answers "name like q in kelurahan K" by intersecting posting
lists, where the name alone matches ~1% of the city and the area ~2%, but both together a handful.
A multicolumn GIN index serves any subset of its columns, so it replaces ``ix_persons_name_trgm``
(0004c) for the city-wide search too. SQLite: a plain index on the same columns.

Two b-tree indexes let the case arm of a worker's scope be read from indexes alone:
``cases (owner_id, household_id)`` and ``households (kelurahan_code, id)``.

The column is kept equal to ``households.kelurahan_code`` by every write path (ORM events in
``households.models``; the set-based import merge and demo loaders set it themselves).
"""
from alembic import op
import sqlalchemy as sa


revision = "0005d"
down_revision = "0005c"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    # The old trigram index goes first: the backfill below rewrites every person row, and would
    # otherwise update it for each one (at 3.8 M persons that was most of the migration's time).
    op.drop_index("ix_persons_name_trgm", table_name="persons")
    op.add_column("persons", sa.Column("kelurahan_code", sa.String(length=13), nullable=True))
    if postgres:
        op.execute("UPDATE persons SET kelurahan_code = h.kelurahan_code FROM households h "
                   "WHERE h.id = persons.household_id")
        op.execute("ALTER TABLE persons ALTER COLUMN kelurahan_code SET NOT NULL")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute("CREATE INDEX ix_persons_kelurahan_name_trgm ON persons "
                   "USING gin (kelurahan_code, name gin_trgm_ops)")
    else:
        op.execute("UPDATE persons SET kelurahan_code = (SELECT h.kelurahan_code FROM households h "
                   "WHERE h.id = persons.household_id)")
        with op.batch_alter_table("persons") as batch_op:
            batch_op.alter_column("kelurahan_code", existing_type=sa.String(length=13), nullable=False)
        op.create_index("ix_persons_kelurahan_name_trgm", "persons", ["kelurahan_code", "name"])
    # The case arm of a worker's scope, read from indexes alone: their cases' households, and the
    # households of their kelurahan (to leave out, as the area arm has them).
    op.create_index("ix_cases_owner_household", "cases", ["owner_id", "household_id"])
    op.create_index("ix_households_kelurahan_id", "households", ["kelurahan_code", "id"])


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_households_kelurahan_id", table_name="households")
    op.drop_index("ix_cases_owner_household", table_name="cases")
    op.drop_index("ix_persons_kelurahan_name_trgm", table_name="persons")
    with op.batch_alter_table("persons") as batch_op:
        batch_op.drop_column("kelurahan_code")
    if postgres:
        op.execute("CREATE INDEX ix_persons_name_trgm ON persons USING gin (name gin_trgm_ops)")
    else:
        op.create_index("ix_persons_name_trgm", "persons", ["name"])
