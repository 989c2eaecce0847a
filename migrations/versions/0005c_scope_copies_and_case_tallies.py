"""steps carry their case's scope columns, and case tallies per (kelurahan, owner, stage): lists at scale

Revision ID: 0005c
Revises: 0004d

My work, the triage list and the approval queue choose 200 open steps in due order within the
user's scope. The scope lives on cases, so the planner had to check each step's case before it
could stop; at a million cases that was a walk of tens of thousands of steps. With the case's scope
columns copied onto its steps (kept equal by ``cases.operations.scope_sync``) each arm of a scope is
one partial index on open steps, read in due order, stopping at the page size.

The caseload's stage tabs and page count grouped every case in scope (a city-wide supervisor: all
of them); ``case_tallies`` holds the count per (kelurahan, owner, stage), kept by the same operations.
"""
from alembic import op
import sqlalchemy as sa

revision = "0005c"
down_revision = "0004d"
branch_labels = None
depends_on = None

COLUMNS = ("case_owner_id", "case_stage", "case_kelurahan_code", "case_kecamatan_code")
OPEN = sa.text("status = 'open'")


def upgrade():
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("case_owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("case_stage", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("case_kelurahan_code", sa.String(length=13), nullable=True))
        batch.add_column(sa.Column("case_kecamatan_code", sa.String(length=13), nullable=True))
    # Backfill from the cases: one join on PostgreSQL, the correlated form on SQLite.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE steps SET " + ", ".join(f"{column} = cases.{column[5:]}" for column in COLUMNS)
                   + " FROM cases WHERE cases.id = steps.case_id")
    else:
        op.execute("UPDATE steps SET " + ", ".join(
            f"{column} = (SELECT cases.{column[5:]} FROM cases WHERE cases.id = steps.case_id)" for column in COLUMNS))
    op.create_table(
        "case_tallies",
        sa.Column("kelurahan_code", sa.String(length=13), nullable=False),
        sa.Column("owner_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("kecamatan_code", sa.String(length=13), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kelurahan_code", "owner_id", "stage", name=op.f("pk_case_tallies")),
    )
    op.create_index(op.f("ix_case_tallies_kecamatan_code"), "case_tallies", ["kecamatan_code"])
    op.execute("INSERT INTO case_tallies (kelurahan_code, owner_id, stage, kecamatan_code, n) "
               "SELECT kelurahan_code, coalesce(owner_id, 0), stage, kecamatan_code, count(*) FROM cases "
               "GROUP BY kelurahan_code, coalesce(owner_id, 0), stage, kecamatan_code")
    op.create_index("ix_steps_open_assignee", "steps", ["assignee_id", "due_at", "id"], postgresql_where=OPEN,
                    sqlite_where=OPEN,
                    postgresql_include=["case_owner_id", "case_stage", "case_kelurahan_code", "case_kecamatan_code"])
    for name, column, include in (("ix_steps_open_owner", "case_owner_id", []),
                                  ("ix_steps_open_kelurahan", "case_kelurahan_code", ["case_stage"]),
                                  ("ix_steps_open_kecamatan", "case_kecamatan_code", ["case_stage", "submitted_by_id"])):
        op.create_index(name, "steps", [column, "kind", "due_at", "id"], postgresql_where=OPEN, sqlite_where=OPEN,
                        postgresql_include=include)
    op.create_index("ix_cases_owner_status_due", "cases", ["owner_id", "status", "due_at", "id"])


def downgrade():
    op.drop_index(op.f("ix_case_tallies_kecamatan_code"), table_name="case_tallies")
    op.drop_table("case_tallies")
    op.drop_index("ix_cases_owner_status_due", table_name="cases")
    for name in ("ix_steps_open_kecamatan", "ix_steps_open_kelurahan", "ix_steps_open_owner", "ix_steps_open_assignee"):
        op.drop_index(name, table_name="steps")
    with op.batch_alter_table("steps") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
