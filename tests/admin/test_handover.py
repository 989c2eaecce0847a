"""Caseload handover: one action moves a worker's cases (all or filtered), one audit event per case."""

from __future__ import annotations

import time

from sqlalchemy import func, insert, select

from caseapp.auth.models import User
from caseapp.cases.models import Case, CaseStatus, HandoverJob, HandoverStatus, Stage, Step, StepStatus
from caseapp.cases.operations.handover import BATCH_SIZE, hand_over_batch, request_handover, run_handover
from caseapp.cases.operations.scope_sync import tally, tally_key
from caseapp.cases.queries import my_steps
from caseapp.core.audit import AuditEvent, verify_chain
from caseapp.extensions import db
from caseapp.households.models import Household
from tests.admin.conftest import post, user
from tests.factories import CaseFactory, UserFactory
from tests.helpers import login

KELURAHAN = "35.71.01.1001"


def _bulk_cases(owner_id: int, n: int, prefix: str) -> list[int]:
    """*n* open cases of *owner_id* in fresh households, inserted set-based (the factories take minutes)."""
    db.session.execute(insert(Household), [{"kelurahan_code": KELURAHAN, "address": f"{prefix}-{i}", "desil": 1}
                                           for i in range(n)])
    household_ids = db.session.scalars(select(Household.id).where(Household.address.like(f"{prefix}-%"))
                                       .order_by(Household.id)).all()
    db.session.execute(insert(Case), [
        {"number": f"{prefix}-{i:06d}", "household_id": hid, "stage": Stage.VERIFICATION,
         "status": CaseStatus.ASSIGNED, "owner_id": owner_id, "kelurahan_code": KELURAHAN,
         "kecamatan_code": "35.71.01"} for i, hid in enumerate(household_ids)])
    tally(db.session, [(None, tally_key(KELURAHAN, "35.71.01", owner_id, Stage.VERIFICATION), len(household_ids))])
    return db.session.scalars(select(Case.id).where(Case.number.like(f"{prefix}-%"))).all()


def test_supervisor_hands_over_a_filtered_caseload(app, client):
    with app.app_context():
        worker = user("worker@sinergi.test")
        worker2 = UserFactory(role="social_worker", kecamatan_code="35.71.01", full_name="Penerima Mojoroto")
        moving = CaseFactory(owner_id=worker.id, stage=Stage.VERIFICATION)
        staying = CaseFactory(owner_id=worker.id, stage=Stage.EVALUATION, status=CaseStatus.ASSIGNED)
        closed = CaseFactory(owner_id=worker.id, stage=Stage.CLOSED, status=CaseStatus.CLOSED)
        db.session.add(Step(case_id=moving.id, stage=Stage.VERIFICATION, kind="verification",
                            assignee_id=worker.id, status=StepStatus.OPEN))
        db.session.commit()
        ids = {"from": worker.id, "to": worker2.id, "moving": moving.id, "staying": staying.id, "closed": closed.id}
    login(client, "supervisor@sinergi.test")
    page = client.get(f"/admin/handover/?from_user_id={ids['from']}")
    assert page.status_code == 200
    same = post(client, "/admin/handover/", {"from_user_id": ids["from"], "to_user_id": ids["from"]},
                form_page="/admin/handover/")
    assert same.status_code == 422 and "Penerima harus pekerja sosial lain." in same.text
    response = post(client, "/admin/handover/", {"from_user_id": ids["from"], "to_user_id": ids["to"],
                                                 "stage": "verification", "comment": "cuti"},
                    form_page="/admin/handover/")
    assert response.status_code == 302
    if app.config.get("REDIS_URL"):
        # With a broker the job waits for a Celery worker (none runs here): run what the task runs.
        with app.app_context():
            job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
            assert "0 dari 1 kasus" in client.get(response.headers["Location"]).text
            run_handover(db.session, job_id, commit=db.session.commit)
    job_page = client.get(response.headers["Location"])
    assert "1 dari 1 kasus dipindahkan." in job_page.text and 'data-handover-status="done"' in job_page.text
    with app.app_context():
        assert db.session.get(Case, ids["moving"]).owner_id == ids["to"]
        assert db.session.get(Case, ids["staying"]).owner_id == ids["from"]
        assert db.session.get(Case, ids["closed"]).owner_id == ids["from"]
        step = db.session.scalar(select(Step).where(Step.case_id == ids["moving"]))
        assert step.assignee_id == ids["to"]
        assert step.case_owner_id == ids["to"]  # the step's copy of its case's owner (work lists)
        receiver = db.session.get(User, ids["to"])
        assert [item.step.id for item in my_steps(receiver)] == [step.id]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.case_id == ids["moving"]))
        assert event.action == "reassign" and event.comment == "cuti"
        assert event.before["owner_id"] == ids["from"] and event.after["owner_id"] == ids["to"]
    # Nothing left to move: refused with a message, no job.
    again = post(client, "/admin/handover/", {"from_user_id": ids["from"], "to_user_id": ids["to"],
                                              "stage": "verification"}, form_page="/admin/handover/")
    assert again.status_code == 422 and "Tidak ada kasus terbuka" in again.text


def test_receiver_outside_the_cases_kecamatan_is_refused(ctx):
    worker = user("worker@sinergi.test")
    elsewhere = UserFactory(role="social_worker", kecamatan_code="35.71.02")
    CaseFactory(owner_id=worker.id)
    try:
        request_handover(ctx, user("supervisor@sinergi.test"), from_user_id=worker.id, to_user_id=elsewhere.id)
    except Exception as exc:
        assert "di luar kecamatan tugas penerima" in str(exc.fields["to_user_id"])
    else:
        raise AssertionError("handover to a worker of another kecamatan was accepted")


def test_handover_of_5000_cases_shows_progress_and_audits_each_case_once(ctx):
    worker = user("worker@sinergi.test")
    worker2 = UserFactory(role="social_worker", kecamatan_code="35.71.01")
    case_ids = _bulk_cases(worker.id, 5000, "HO5K")
    assert len(case_ids) == 5000
    job = request_handover(ctx, user("supervisor@sinergi.test"), from_user_id=worker.id, to_user_id=worker2.id,
                           comment="mutasi")
    assert job.total >= 5000 and job.status == HandoverStatus.QUEUED
    started = time.perf_counter()
    progress = []
    while hand_over_batch(ctx, job):
        ctx.commit()
        progress.append(ctx.get(HandoverJob, job.id).moved)
    ctx.commit()
    elapsed = time.perf_counter() - started
    print(f"handover of {job.moved} cases: {elapsed:.2f}s in {len(progress)} batches")
    assert progress[:5] == [BATCH_SIZE * n for n in range(1, 6)]  # progress visible after every batch
    assert job.status == HandoverStatus.DONE and job.moved == job.total
    assert ctx.scalar(select(func.count()).select_from(Case).where(Case.id.in_(case_ids),
                                                                   Case.owner_id == worker2.id)) == 5000
    per_case = ctx.execute(select(AuditEvent.case_id, func.count()).where(
        AuditEvent.case_id.in_(case_ids), AuditEvent.action == "reassign").group_by(AuditEvent.case_id)).all()
    assert len(per_case) == 5000 and {n for _, n in per_case} == {1}
    assert verify_chain(ctx).ok
    assert elapsed < 60
