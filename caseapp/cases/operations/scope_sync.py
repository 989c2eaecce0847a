"""Data kept in step with each case's scope (owner, stage, kelurahan, kecamatan), for lists at scale.

- ``Step.case_*``: each step's copy of its case's scope columns, so work lists (My work, triage,
  approval queue) choose their page of open steps on ``steps`` alone (:func:`sync_step_scope`).
- ``CaseTally``: cases per (kelurahan, owner, stage), so the caseload's stage tabs and page count add
  up a few rows instead of counting every case in scope (:func:`tally`).

Every write that opens a case or changes its owner or stage keeps both for the cases it touched: the
workflow's entry points (``transitions.create_referral`` and ``transition_case``: a new step gets
:func:`scope_copies`, the case's other steps are updated only when its owner or stage changed), the
caseload handover, and the bulk demo loaders (:func:`rebuild`). Set-based: one statement per kind of
change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caseapp.cases.models import Case, CaseTally, Step

# Step column → the case column it copies.
COPIED = {
    Step.case_owner_id: Case.owner_id,
    Step.case_stage: Case.stage,
    Step.case_kelurahan_code: Case.kelurahan_code,
    Step.case_kecamatan_code: Case.kecamatan_code,
}

# A tally key: (kelurahan_code, kecamatan_code, owner_id or None, stage).
TallyKey = tuple[str, str, int | None, str]


def scope_copies(case: Case) -> dict:
    """The ``Step.case_*`` values of a step opened now on *case* (set when the step is created)."""
    return {step_column.key: getattr(case, case_column.key) for step_column, case_column in COPIED.items()}


def sync_step_scope(session: Session, case_ids: Iterable[int] | Select | None = None) -> None:
    """Copy owner, stage, kelurahan and kecamatan of the cases *case_ids* (a list or a ``SELECT`` of
    ids; ``None``: every case) onto all their steps. Flushes pending ORM changes first."""
    session.flush()
    # UPDATE … FROM cases (PostgreSQL, and SQLite since 3.33): one join, not a lookup per column.
    stmt = (update(Step).where(Step.case_id == Case.id)
            .values({step_column.key: case_column for step_column, case_column in COPIED.items()})
            .execution_options(synchronize_session=False))
    if case_ids is not None:
        ids = case_ids if isinstance(case_ids, Select) else list(case_ids)
        if not isinstance(ids, Select) and not ids:
            return
        stmt = stmt.where(Step.case_id.in_(ids))
    session.execute(stmt)
    # Loaded Step objects must not keep the old copies.
    for obj in session.identity_map.values():
        if isinstance(obj, Step):
            session.expire(obj, [column.key for column in COPIED])


def tally(session: Session, moves: Iterable[tuple[TallyKey | None, TallyKey | None, int]]) -> None:
    """Apply *moves* ``(from_key, to_key, n)`` to the case tallies (``None``: a case opened, or gone).

    Deltas are summed per key and applied in key order, so two transactions moving cases between the
    same keys lock the rows in the same order (no deadlock); each row update takes the row's lock, so
    concurrent moves add up instead of overwriting each other."""
    delta: Counter = Counter()
    for before, after, n in moves:
        if before == after:
            continue
        if before is not None:
            delta[before] -= n
        if after is not None:
            delta[after] += n
    if not any(delta.values()):
        return
    session.flush()
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for (kelurahan, kecamatan, owner_id, stage), n in sorted(delta.items(), key=lambda kv: (kv[0][0], kv[0][2] or 0,
                                                                                            str(kv[0][3]))):
        if n == 0:
            continue
        session.execute(
            upsert(CaseTally)
            .values(kelurahan_code=kelurahan, kecamatan_code=kecamatan, owner_id=owner_id or 0, stage=stage, n=n)
            .on_conflict_do_update(index_elements=["kelurahan_code", "owner_id", "stage"],
                                   set_={"n": CaseTally.n + n})
        )


def tally_key(kelurahan_code: str, kecamatan_code: str, owner_id: int | None, stage) -> TallyKey:
    return (kelurahan_code, kecamatan_code, owner_id, str(stage))


def rebuild(session: Session) -> None:
    """Recompute every step copy and every tally from the cases (bulk loaders; a repair)."""
    sync_step_scope(session)
    rebuild_tallies(session)


def rebuild_tallies(session: Session) -> None:
    """Recount the case tallies from the cases (one ``GROUP BY``)."""
    session.flush()
    session.execute(delete(CaseTally))
    owner = func.coalesce(Case.owner_id, 0)
    session.execute(insert(CaseTally).from_select(
        ["kelurahan_code", "owner_id", "stage", "kecamatan_code", "n"],
        select(Case.kelurahan_code, owner, Case.stage, Case.kecamatan_code, func.count())
        .group_by(Case.kelurahan_code, owner, Case.stage, Case.kecamatan_code),
    ))


def drift(session: Session) -> dict[str, int]:
    """How many steps' copies and case tallies differ from the cases (0 and 0 when all is kept)."""
    steps = session.scalar(select(func.count(Step.id)).join(Case, Case.id == Step.case_id).where(or_(
        *(step_column.is_distinct_from(case_column) for step_column, case_column in COPIED.items())))) or 0
    owner = func.coalesce(Case.owner_id, 0)
    counted = {(k, o, str(st)): n for k, o, st, n in session.execute(
        select(Case.kelurahan_code, owner, Case.stage, func.count()).group_by(Case.kelurahan_code, owner, Case.stage))}
    tallied = {(t.kelurahan_code, t.owner_id, str(t.stage)): t.n for t in session.scalars(select(CaseTally)) if t.n}
    tallies = sum(1 for key in counted.keys() | tallied.keys() if counted.get(key) != tallied.get(key))
    return {"steps": steps, "tallies": tallies}
