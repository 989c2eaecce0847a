"""scale: pre-computed dashboard figures and indexes for lists at a million cases (issue #8)

Revision ID: 0004d
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from caseapp.core.types import UtcDateTime

revision = "0004d"
down_revision = '0004c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_figures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", UtcDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dashboard_figures")),
    )
    # Approval queue and triage list: open steps of one kind, soonest due first.
    op.create_index("ix_steps_kind_status_due", "steps", ["kind", "status", "due_at"])
    # Caseload sorted by due date within a stage (deep pages walk this index only).
    op.create_index("ix_cases_stage_due_id", "cases", ["stage", "due_at", "id"])
    # Head of household lookups (lists join the head by household and relation).
    op.create_index("ix_persons_household_relation", "persons", ["household_id", "relation"])


def downgrade():
    op.drop_index("ix_persons_household_relation", table_name="persons")
    op.drop_index("ix_cases_stage_due_id", table_name="cases")
    op.drop_index("ix_steps_kind_status_due", table_name="steps")
    op.drop_table("dashboard_figures")
