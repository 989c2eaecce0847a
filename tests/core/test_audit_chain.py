"""The audit trail is append-only and tamper-evident: `flask audit verify` finds a changed or removed row."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from caseapp.core.audit import AccessKind, AuditEvent, record_access, record_audit_event, verify_chain


def write_events(session, n=3):
    for i in range(n):
        record_audit_event(session, actor_id=None, action=f"test_{i}", object_type="test", object_id=i,
                           before={"n": i}, after={"n": i + 1}, comment="ok")
    session.flush()


def test_a_fresh_chain_verifies(ctx):
    write_events(ctx)
    report = verify_chain(ctx)
    assert report.ok and report.checked >= 3


def _bypass_triggers(session):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))  # as a rogue DBA would


def test_an_edited_row_is_found(ctx):
    write_events(ctx)
    victim = ctx.scalars(select(AuditEvent.id).where(AuditEvent.action == "test_1")).one()
    _bypass_triggers(ctx)
    ctx.execute(text("UPDATE audit_events SET comment = 'changed' WHERE id = :id"), {"id": victim})
    ctx.expire_all()
    report = verify_chain(ctx)
    assert report.first_bad_id == victim and "content changed" in report.problem


def test_a_removed_row_is_found(ctx):
    write_events(ctx)
    victim = ctx.scalars(select(AuditEvent.id).where(AuditEvent.action == "test_1")).one()
    _bypass_triggers(ctx)
    ctx.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim})
    ctx.expire_all()
    report = verify_chain(ctx)
    assert not report.ok and report.first_bad_id > victim and "removed" in report.problem


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["UPDATE audit_events SET comment = 'x'", "DELETE FROM audit_events",
                                       "UPDATE access_logs SET detail = NULL", "TRUNCATE audit_events CASCADE"])
def test_the_database_refuses_to_change_audit_rows(ctx, statement):
    write_events(ctx, 1)
    record_access(ctx, user_id=None, kind=AccessKind.LOGIN_FAILED, detail={"reason": "test"})
    ctx.flush()
    ctx.execute(text("SAVEPOINT before_tamper"))
    with pytest.raises(DBAPIError, match="append-only"):
        ctx.execute(text(statement))
    ctx.execute(text("ROLLBACK TO SAVEPOINT before_tamper"))


def test_cli_verify_reports_intact_and_broken(app, ctx):
    write_events(ctx)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact" in result.output
    _bypass_triggers(ctx)
    ctx.execute(text("UPDATE audit_events SET after = NULL WHERE action = 'test_2'"))
    ctx.expire_all()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN" in result.output
