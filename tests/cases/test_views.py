"""The case screens: returns, rejections, closing, cancelling, stale versions, scope, sections, URLs, queries."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Case, Intervention, Step
from caseapp.core.audit import AuditEvent
from caseapp.extensions import db
from tests.cases.test_journey_html import Browser, family, find_form, forms_in
from tests.cases.test_journey_html import fresh_login_limits as fresh_login_limits  # autouse fixture
from tests.helpers import counting, csrf_token

HEAD_NIK = "3571011705800001"
STALE_MESSAGE = "Kasus ini baru saja diubah orang lain — muat ulang"


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _act(case, action, actor, **data):
    ops.transition_case(db.session, case, action, actor, version=case.version, **data)


def make_case(app, state: str, *, chronic: bool = False, nik: str | None = None,
              plan=({"program": "RTLH"}, {"program": "DOKTER_KELUARGA", "note": "kontrol hipertensi"})) -> int:
    """A case of a fresh household in *state*, driven through the operations (not the screens)."""
    with app.app_context():
        worker, supervisor = _user("worker@sinergi.test"), _user("supervisor@sinergi.test")
        head = family("Paimin Sugiarto", members=2, chronic_illness=chronic, **({"nik": nik} if nik else {}))
        case = ops.create_referral(db.session, actor=worker, household=head.household, source="OUTREACH",
                                   reason="Rumah rusak")
        steps = ["accept", "verify", "approve_v", "plan", "approve_p", "deliver", "evaluate"]
        target = {"referral": 0, "verification": 1, "verification_submitted": 2, "planning": 3,
                  "plan_submitted": 4, "active": 5, "evaluation": 6, "evaluation_submitted": 7}[state]
        for step in steps[:target]:
            if step == "accept":
                _act(case, "accept_referral", supervisor, assignee_id=worker.id)
            elif step == "verify":
                _act(case, "submit_verification", worker, findings="Atap bocor")
            elif step == "approve_v":
                _act(case, "approve_verification", supervisor)
            elif step == "plan":
                _act(case, "submit_plan", worker, interventions=[dict(item) for item in plan])
            elif step == "approve_p":
                _act(case, "approve_plan", supervisor)
            elif step == "deliver":
                for iv in db.session.scalars(select(Intervention).where(Intervention.case_id == case.id)):
                    ops.act_on_intervention(db.session, iv, "cancel", supervisor, version=iv.version, reason="uji")
                db.session.refresh(case)
            elif step == "evaluate":
                _act(case, "submit_evaluation", worker, outcome="graduated")
        db.session.commit()
        return case.id


def state_of(app, case_id: int) -> tuple[str, str]:
    with app.app_context():
        case = db.session.get(Case, case_id)
        return str(case.stage), str(case.status)


def audit_count(app, case_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case_id))


@pytest.fixture
def supervisor(app, session):
    return Browser(app, "supervisor@sinergi.test")


@pytest.fixture
def worker(app, session):
    return Browser(app, "worker@sinergi.test")


# --- returns, rejections, closing and reopening ---------------------------------------------

@pytest.mark.parametrize(("state", "action", "back_to"), [
    ("verification_submitted", "return_verification", ("verification", "assigned")),
    ("plan_submitted", "return_plan", ("intervention", "planning")),
    ("evaluation_submitted", "return_evaluation", ("evaluation", "assigned")),
])
def test_a_return_needs_a_comment_and_then_goes_back(app, supervisor, worker, state, action, back_to):
    case_id = make_case(app, state)
    before = state_of(app, case_id)
    response = supervisor.act(case_id, action, expect=422, comment="")
    assert "Wajib diisi." in response.text
    assert 'aria-invalid="true"' in response.text          # the message sits on the field
    assert state_of(app, case_id) == before

    supervisor.act(case_id, action, comment="Foto rumah belum ada")
    assert state_of(app, case_id) == back_to
    page = worker.get(f"/cases/{case_id}").text
    assert "Dikembalikan oleh Sri Wahyuni" in page and "Foto rumah belum ada" in page


def test_reject_a_referral_with_a_reason(app, supervisor):
    case_id = make_case(app, "referral")
    response = supervisor.act(case_id, "reject_referral", expect=422, reason="bosan")
    assert "Pilih salah satu" in response.text
    supervisor.act(case_id, "reject_referral", reason="out_of_area")
    assert state_of(app, case_id) == ("closed", "closed")
    page = supervisor.get(f"/cases/{case_id}").text
    assert "Di luar wilayah Kota Kediri" in page and "Menolak rujukan" in page


def test_close_and_reopen(app, supervisor, worker):
    case_id = make_case(app, "planning")
    supervisor.act(case_id, "close_case", reason="moved", comment="Pindah ke Blitar")
    assert state_of(app, case_id) == ("closed", "closed")
    page = supervisor.get(f"/cases/{case_id}").text
    assert "Pindah domisili" in page and "Buka kembali kasus" in page

    response = supervisor.act(case_id, "reopen_case", expect=422, comment="")
    assert "Wajib diisi." in response.text
    supervisor.act(case_id, "reopen_case", comment="Kembali ke Kediri", assignee_id="")
    assert state_of(app, case_id) == ("verification", "assigned")
    assert "Membuka kembali kasus" in worker.get(f"/cases/{case_id}").text


def test_reassign_to_a_worker_outside_the_kecamatan_is_refused(app, supervisor):
    case_id = make_case(app, "verification")
    with app.app_context():
        other = _user("worker2@sinergi.test").id
    response = supervisor.act(case_id, "reassign", expect=422, assignee_id=str(other))
    assert "Pilih pekerja sosial aktif" in response.text
    page = supervisor.get(f"/cases/{case_id}").text
    assert "Siti Aminah" not in re.search(r'<select[^>]*name="assignee_id".*?</select>', page, re.S).group(0)


# --- interventions ----------------------------------------------------------------------------

def test_cancel_an_intervention_needs_a_reason(app, session):
    case_id = make_case(app, "active")
    dokter = Browser(app, "dokter@sinergi.test")
    page = dokter.get(f"/cases/{case_id}").text
    (iv_id,) = {int(m) for m in re.findall(r"/interventions/(\d+)/actions", page)}
    response = dokter.work(case_id, iv_id, "cancel", expect=422, reason="")
    assert "Tulis alasan pembatalan." in response.text
    dokter.work(case_id, iv_id, "cancel", reason="Keluarga menolak kunjungan")
    with app.app_context():
        iv = db.session.get(Intervention, iv_id)
        assert (str(iv.status), iv.cancel_reason) == ("cancelled", "Keluarga menolak kunjungan")
    assert "Dibatalkan" in dokter.get(f"/cases/{case_id}").text


def test_the_queue_shows_only_my_agency_and_claims_with_the_version(app, session):
    case_id = make_case(app, "active")
    rumah = Browser(app, "rumah@sinergi.test")
    queue = rumah.get("/interventions/queue").text
    assert "Rehabilitasi Rumah Tidak Layak Huni" in queue and "Dokter Keluarga" not in queue
    claim = find_form(queue, "claim", "/interventions/")
    rumah.post(claim["url"], claim["fields"])
    again = rumah.post(claim["url"], claim["fields"], expect=409)     # the same form twice: stale
    assert "Intervensi ini baru saja diubah orang lain" in again.text
    assert "Sedang dikerjakan" in rumah.get("/interventions/queue").text or case_id


# --- stale versions ---------------------------------------------------------------------------

def test_a_stale_version_shows_the_reload_message_and_changes_nothing(app, supervisor):
    case_id = make_case(app, "verification_submitted")
    page = supervisor.get(f"/cases/{case_id}").text
    approve = find_form(page, "approve_verification")
    ret = find_form(page, "return_verification")
    supervisor.post(approve["url"], approve["fields"])              # someone (here: us) acts first
    state, events = state_of(app, case_id), audit_count(app, case_id)
    response = supervisor.post(ret["url"], {**ret["fields"], "comment": "Kurang foto"}, expect=409)
    assert STALE_MESSAGE in response.text
    assert state_of(app, case_id) == state == ("intervention", "planning")
    assert audit_count(app, case_id) == events


# --- scope, permissions and sections ----------------------------------------------------------

def test_out_of_scope_is_404_for_pages_and_actions(app, session):
    case_id = make_case(app, "active")
    worker2 = Browser(app, "worker2@sinergi.test")
    worker2.get(f"/cases/{case_id}", expect=404)
    page = worker2.get("/cases/").text
    assert "Paimin Sugiarto" not in page
    token = csrf_token(page)
    worker2.post(f"/cases/{case_id}/actions", {"csrf_token": token, "action": "close_case", "version": "1",
                                               "reason": "moved"}, expect=404)
    with app.app_context():
        iv_id = db.session.scalar(select(Intervention.id).where(Intervention.case_id == case_id))
    worker2.post(f"/interventions/{iv_id}/actions", {"csrf_token": token, "action": "claim", "version": "1"},
                 expect=404)


def test_an_action_the_role_may_not_take_is_403(app, session):
    case_id = make_case(app, "verification_submitted")
    rumah = Browser(app, "rumah@sinergi.test")
    make_case(app, "active")   # rumah's scope needs a case with a DPKP intervention; this one has none
    worker = Browser(app, "worker@sinergi.test")
    page = worker.get(f"/cases/{case_id}").text
    assert 'value="approve_verification"' not in page          # no button for it ...
    with app.app_context():
        version = db.session.get(Case, case_id).version
    worker.post(f"/cases/{case_id}/actions", {"csrf_token": csrf_token(page), "action": "approve_verification",
                                              "version": str(version)}, expect=403)   # ... and a forged post fails
    assert state_of(app, case_id) == ("verification", "submitted")
    rumah.get(f"/cases/{case_id}", expect=404)


@pytest.mark.parametrize("path", ["/cases/", "/cases/my-work", "/cases/approvals", "/interventions/queue",
                                  "/cases/new"])
def test_viewer_is_refused_every_case_screen(app, session, path):
    Browser(app, "viewer@sinergi.test").get(path, expect=403)


def test_screens_per_role(app, session):
    make_case(app, "verification")
    Browser(app, "worker@sinergi.test").get("/cases/approvals", expect=403)
    Browser(app, "dokter@sinergi.test").get("/cases/my-work", expect=403)
    supervisor = Browser(app, "supervisor@sinergi.test")   # supervisors work from Persetujuan, not Tugas Saya
    supervisor.get("/cases/my-work", expect=403)
    supervisor.get("/cases/approvals")
    admin = Browser(app, "admin@sinergi.test")
    for path in ("/cases/", "/cases/my-work", "/cases/approvals", "/interventions/queue"):
        admin.get(path)


def test_housing_officer_sees_no_health_fields_and_health_team_no_finance(app, session):
    case_id = make_case(app, "active", chronic=True)
    worker = Browser(app, "worker@sinergi.test").get(f"/cases/{case_id}").text
    assert "Penyakit kronis" in worker and "Penghasilan per bulan" in worker and "kontrol hipertensi" in worker

    housing = Browser(app, "rumah@sinergi.test").get(f"/cases/{case_id}").text
    assert "Paimin Sugiarto" in housing and "Rehabilitasi Rumah Tidak Layak Huni" in housing
    for word in ("Penyakit kronis", "kronis", "Hamil", "hipertensi", "Dokter Keluarga", "Penghasilan"):
        assert word not in housing, word

    health = Browser(app, "dokter@sinergi.test").get(f"/cases/{case_id}").text
    assert "Penyakit kronis" in health and "kontrol hipertensi" in health
    for word in ("Penghasilan", "Rp 750.000", "Rehabilitasi Rumah", "Kondisi rumah"):
        assert word not in health, word


# --- URLs never carry a NIK -------------------------------------------------------------------

def test_exact_identity_search_is_posted_and_never_in_a_url(app, worker):
    case_id = make_case(app, "verification", nik=HEAD_NIK)
    page = worker.get("/cases/").text
    form = find_form_by_url(page, "/cases/search")
    response = worker.post(form["url"], {**form["fields"], "number": "3571 0117 0580 0001"}, expect=200)
    assert f"/cases/{case_id}" in response.text and HEAD_NIK not in response.text
    for url in re.findall(r'(?:href|action)="([^"]*)"', response.text):
        assert not re.search(r"\d{16}", url), url

    redirect = worker.client.get(f"/cases/?q={HEAD_NIK}&stage=verification")   # typed into the name box
    assert redirect.status_code == 303
    assert HEAD_NIK not in redirect.headers["Location"] and "stage=verification" in redirect.headers["Location"]

    missing = worker.post(form["url"], {**form["fields"], "number": "123"}, expect=422)
    assert "16 angka" in missing.text


def find_form_by_url(page: str, url_part: str) -> dict:
    return next(form for form in forms_in(page) if url_part in form["url"])


# --- lists --------------------------------------------------------------------------------------

def test_caseload_filters_stay_in_the_url_with_counts_per_stage(app, worker):
    make_case(app, "verification")
    planning = make_case(app, "planning")
    page = worker.get("/cases/?stage=intervention&sort=name&dir=desc&per_page=25").text
    assert f"/cases/{planning}" in page and "Menyusun rencana intervensi" in page
    assert re.search(r'Verifikasi <span class="count">\d+</span>', page)
    assert "stage=intervention" in re.search(r'href="([^"]*sort=number[^"]*)"', page.replace("&amp;", "&")).group(1)
    empty = worker.get("/cases/?stage=intervention&q=tidak-ada-nama-ini").text
    assert "Tidak ada kasus yang cocok dengan filter ini." in empty


def test_my_work_and_approvals_lists(app, session):
    verification = make_case(app, "verification")
    submitted = make_case(app, "plan_submitted")
    worker = Browser(app, "worker@sinergi.test")
    page = worker.get("/cases/my-work").text
    assert f"/cases/{verification}#tindakan" in page and "Menunggu keputusan penyelia" in page
    with app.app_context():   # as if the supervisor had submitted this plan: they cannot decide it
        step = db.session.scalar(select(Step).where(Step.case_id == submitted, Step.kind == "approval",
                                                    Step.status == "open"))
        step.submitted_by_id = _user("supervisor@sinergi.test").id
        db.session.commit()
    supervisor = Browser(app, "supervisor@sinergi.test")
    assert f"/cases/{submitted}#" not in supervisor.get("/cases/approvals").text
    detail = supervisor.get(f"/cases/{submitted}").text
    assert "Anda yang mengirim langkah ini" in detail and 'value="approve_plan"' not in detail


def test_referral_form_conflict_links_the_open_case(app, worker):
    case_id = make_case(app, "verification")
    with app.app_context():
        household_id = db.session.get(Case, case_id).household_id
    page = worker.get(f"/cases/new?household_id={household_id}").text
    assert "sudah punya kasus terbuka" in page and f"/cases/{case_id}" in page
    response = worker.post(f"/cases/new?household_id={household_id}",
                           {"csrf_token": csrf_token(page), "source": "OUTREACH", "reason": "lagi"}, expect=409)
    assert f"/cases/{case_id}" in response.text


def test_plan_errors_come_back_on_the_plan(app, worker):
    case_id = make_case(app, "planning")
    response = worker.act(case_id, "submit_plan", expect=422, **{f"rows-{n}-program": "" for n in range(5)})
    assert "Wajib diisi." in response.text
    response = worker.act(case_id, "submit_plan", expect=422, **{"rows-0-program": "PELATIHAN_KERJA",
                                                                 "rows-0-person_id": ""})
    assert "perorangan" in response.text
    assert re.search(r'<option selected value="PELATIHAN_KERJA">', response.text)   # what was typed is kept
    assert state_of(app, case_id) == ("intervention", "planning")


def test_caseload_query_count_does_not_grow_with_page_size(app, supervisor):
    with app.app_context():
        worker = _user("worker@sinergi.test")
        for n in range(60):
            household = family(f"Warga {n}").household
            ops.create_referral(db.session, actor=worker, household=household, source="OUTREACH", reason="x")
        db.session.commit()
    counts = {}
    for per_page in (5, 50):
        with counting(app) as statements:
            page = supervisor.get(f"/cases/?per_page={per_page}").text
        assert page.count('class="cell-number"') == per_page
        counts[per_page] = len(statements)
    print("statements per caseload request:", counts)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 12, counts
