"""SQL building blocks the indicators share: day differences and percentiles on both dialects.

Percentile definition (used everywhere): linear interpolation between closest ranks, PostgreSQL's
``percentile_cont``. For n sorted values x1..xn and a fraction p, take h = 1 + p·(n − 1); the result is
x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋+1 − x⌊h⌋). Days 2, 4, 10 → median 4, 90th percentile 8.8.
PostgreSQL computes it with ``percentile_cont``; SQLite (no such function) with ROW_NUMBER/COUNT
windows and the same formula, so both answer the same and no value goes through Python.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, Select, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.selectable import Subquery

LOCAL_OFFSET_HOURS = 7  # WIB has no daylight saving: UTC+7 all year


class days_between(FunctionElement):
    """Fractional days from a timestamp to a later one."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_pg(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0 AS DOUBLE PRECISION)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


class days_to_date(FunctionElement):
    """Whole days from a timestamp's date in Kediri (WIB) to a later date (e.g. queued → delivered on)."""

    type = Float()
    name = "days_to_date"
    inherit_cache = True


@compiles(days_to_date)
def _days_to_date_pg(element, compiler, **kw):
    start, day = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST({day} - CAST(({start} AT TIME ZONE 'Asia/Jakarta') AS DATE) AS DOUBLE PRECISION)"


@compiles(days_to_date, "sqlite")
def _days_to_date_sqlite(element, compiler, **kw):
    start, day = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(julianday({day}) - julianday(date({start}, '+{LOCAL_OFFSET_HOURS} hours')))"


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def percentiles(session: Session, source: Subquery, keys: list[str], value: str,
                fractions: tuple[float, ...]) -> Select:
    """``SELECT keys…, n, p0, p1, …`` over *source*, one row per group (see the module docstring)."""
    key_cols = [source.c[k] for k in keys]
    values = source.c[value]
    if dialect_name(session) == "postgresql":
        columns = [func.percentile_cont(p).within_group(values).label(f"p{i}") for i, p in enumerate(fractions)]
        return select(*key_cols, func.count().label("n"), *columns).group_by(*key_cols)
    partition = key_cols or None
    ranked = select(
        *key_cols,
        values.label("v"),
        func.row_number().over(partition_by=partition, order_by=values).label("rn"),
        func.count().over(partition_by=partition).label("cnt"),
    ).subquery("ranked")
    columns = []
    for i, p in enumerate(fractions):
        h = literal(1.0, Float) + literal(p, Float) * (ranked.c.cnt - 1)
        low = cast(h, Integer)  # h ≥ 1, so truncation is the floor
        frac = h - low
        columns.append(func.sum(case(
            (ranked.c.rn == low, ranked.c.v * (literal(1.0, Float) - frac)),
            (ranked.c.rn == low + 1, ranked.c.v * frac),
            else_=literal(0.0, Float),
        )).label(f"p{i}"))
    ranked_keys = [ranked.c[k] for k in keys]
    return select(*ranked_keys, func.count().label("n"), *columns).group_by(*ranked_keys)
