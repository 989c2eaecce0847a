"""Counts that stop at a cap: at a million cases a list's "how many" must not read every match.

Figures the application cannot keep as running tallies (they depend on the clock, a status or a name)
are counted up to ``COUNT_CAP`` + 1 rows; :func:`capped` turns the result into what a page shows
("1000+" when the count stopped).
"""

from __future__ import annotations

from sqlalchemy import CompoundSelect, Select, func, select
from sqlalchemy.orm import Session

COUNT_CAP = 1000


def count_up_to(session: Session, stmt: Select | CompoundSelect) -> int:
    """Rows of *stmt*, counted up to ``COUNT_CAP`` + 1 (more than the cap: there are more)."""
    return session.scalar(select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery())) or 0


def capped(n: int) -> int | str:
    """*n* as a page shows it: the number, or "1000+" when the count stopped at the cap."""
    return f"{COUNT_CAP}+" if n > COUNT_CAP else n
