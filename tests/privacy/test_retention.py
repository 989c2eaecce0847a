"""Anonymisation after the retention period: set-based, audited, idempotent, reports keep their figures."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from sqlalchemy import func, select

from caseapp.cases import operations as ops
from caseapp.cases.models import Attachment, Case, Intervention, Note, Step
from caseapp.cases.operations import retention
from caseapp.core import crypto
from caseapp.core.audit import AuditEvent, verify_chain
from caseapp.core.identifiers import NOTE_PURPOSE
from caseapp.core.models import utcnow
from caseapp.core.uploads import stored_path
from caseapp.households.models import Household, HouseholdKK, HouseholdStatus, Person
from tests.factories import HouseholdFactory, PersonFactory
from tests.privacy.world import HEALTH_NOTE, full_case
from workers import retention as retention_task
from workers.schedule import beat_schedule


def _expire(ctx, case: Case, days_ago: int = 1) -> None:
    case.retention_until = utcnow().date() - timedelta(days=days_ago)
    ctx.flush()


def test_closing_a_case_sets_retention_from_the_config(ctx, app):
    built = full_case(close=True)
    expected = utcnow().date() + timedelta(days=app.config["CASE_RETENTION_DAYS"])
    assert built.case.retention_until == expected


def test_expired_household_is_anonymised_and_the_figures_stay(ctx):
    built = full_case(close=True)
    _expire(ctx, built.case)
    storage = ctx.scalar(select(Attachment.storage_name).where(Attachment.case_id == built.case.id))
    assert stored_path(storage).exists()
    before = {"stage": built.case.stage, "opened": built.case.opened_at, "closed": built.case.closed_at,
              "programme": built.intervention.programme_id, "kelurahan": built.household.kelurahan_code,
              "desil": built.household.desil, "rw": built.household.rw, "status": built.intervention.status}
    case_id, household_id, head_id = built.case.id, built.household.id, built.head.id

    totals = retention_task.anonymise_expired.run()
    assert totals == {"households": 1, "persons": 2, "cases": 1, "attachments": 1, "batches": 1}

    household = ctx.get(Household, household_id)
    assert household.status == HouseholdStatus.ANONYMISED
    assert (household.kk_ciphertext, household.kk_hash, household.kk_masked) == (None, None, None)
    assert (household.address, household.latitude, household.longitude) == (None, None, None)
    kk_rows = select(func.count()).select_from(HouseholdKK).where(HouseholdKK.household_id == household_id)
    assert ctx.scalar(kk_rows) == 0
    for person in ctx.scalars(select(Person).where(Person.household_id == household_id)):
        assert person.name == "Anonim"
        assert (person.nik_ciphertext, person.nik_hash, person.nik_masked) == (None, None, None)
        assert person.health_note is None and person.birth_date is None
    case = ctx.get(Case, case_id)
    assert case.referral_reason == "[dihapus]"
    assert all(s.data == {"anonymised": True} for s in ctx.scalars(select(Step).where(Step.case_id == case_id)))
    intervention = ctx.scalar(select(Intervention).where(Intervention.case_id == case_id))
    assert [crypto.decrypt(n.body, NOTE_PURPOSE) for n in ctx.scalars(select(Note).where(Note.case_id == case_id))] \
        == ["[dihapus]"]
    assert ctx.scalar(select(func.count()).select_from(Attachment).where(Attachment.case_id == case_id)) == 0
    assert not stored_path(storage).exists()
    # What the reports count is untouched.
    after = {"stage": case.stage, "opened": case.opened_at, "closed": case.closed_at,
             "programme": intervention.programme_id, "kelurahan": household.kelurahan_code,
             "desil": household.desil, "rw": household.rw, "status": intervention.status}
    assert after == before
    # Nothing personal is left anywhere in the household's rows.
    text = repr([(p.name, p.nik_masked) for p in household.members]) + repr(household.address)
    assert "Slamet" not in text and HEALTH_NOTE not in text
    assert ctx.get(Person, head_id).chronic_illness is True   # the aggregate flag stays

    event = ctx.scalar(select(AuditEvent).where(AuditEvent.action == "anonymise_households"))
    assert event.after["household_ids"] == [household_id] and event.actor_id is None
    assert verify_chain(ctx).ok


def test_a_second_run_changes_nothing(ctx):
    built = full_case(close=True)
    _expire(ctx, built.case)
    assert retention_task.anonymise_expired.run()["households"] == 1
    events = ctx.scalar(select(func.count()).select_from(AuditEvent))
    assert retention_task.anonymise_expired.run() == {"households": 0, "persons": 0, "cases": 0,
                                                      "attachments": 0, "batches": 0}
    assert ctx.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert verify_chain(ctx).ok


def test_households_not_yet_due_are_left_alone(ctx):
    open_case = full_case()                                  # still open
    not_due = full_case(close=True)                          # closed, retention in the future
    due_today = full_case(close=True)
    _expire(ctx, due_today.case, days_ago=0)                 # retention_until == today: kept until tomorrow
    register_only = PersonFactory(household=HouseholdFactory()).household   # no case at all
    mixed = full_case(close=True)                            # one expired case, one open case
    _expire(ctx, mixed.case)
    ops.create_referral(ctx, actor=mixed.users["worker"], household=mixed.household, source="OUTREACH",
                        reason="rujukan baru")
    ctx.flush()
    assert retention.anonymise_batch(ctx).households == []
    for household in (open_case.household, not_due.household, due_today.household, register_only, mixed.household):
        ctx.refresh(household)
        assert household.status == HouseholdStatus.ACTIVE and household.kk_hash is not None


def test_batches_are_bounded_and_all_expired_households_are_done(ctx):
    built = [full_case(close=True) for _ in range(3)]
    for item in built:
        _expire(ctx, item.case)
    totals = retention_task.anonymise_expired.run(batch_size=2)
    assert totals["households"] == 3 and totals["batches"] == 2
    assert ctx.scalar(select(func.count()).select_from(AuditEvent)
                      .where(AuditEvent.action == "anonymise_households")) == 2
    assert verify_chain(ctx).ok


def test_the_beat_runs_retention_daily(app):
    entry = beat_schedule(app.config)["cases.anonymise_expired"]
    assert entry["task"] == "cases.anonymise_expired"
    assert isinstance(entry["schedule"], crontab) and entry["schedule"].hour == {app.config["RETENTION_HOUR"]}


def test_pages_of_an_anonymised_household_still_open(app, session, client):
    from caseapp.extensions import db
    from tests.helpers import login

    with app.app_context():
        built = full_case(close=True)
        _expire(db.session, built.case)
        db.session.commit()
        retention_task.anonymise_expired.run()
        case_id, household_id = built.case.id, built.household.id
    login(client, "supervisor@sinergi.test")
    for path in (f"/cases/{case_id}", f"/households/{household_id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "Slamet" not in page.text
