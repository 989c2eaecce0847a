"""Agencies, the section table, the programme catalogue and SLA settings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from caseapp.agencies.models import Agency, Programme
from caseapp.cases import operations as case_ops
from caseapp.cases.models import Case, Step
from caseapp.core.models import utcnow
from caseapp.extensions import db
from caseapp.households.models import Section
from caseapp.households.policy import SECTIONS_BY_AGENCY_KIND, visible_sections
from tests.admin.conftest import events, post, user
from tests.factories import CaseFactory, InterventionFactory, PersonFactory
from tests.helpers import csrf_token

AGENCY = {"code": "DISNAKER", "name": "Dinas Tenaga Kerja", "kind": "economy", "kelurahan_code": ""}
PROGRAMME = {"code": "PADAT_KARYA", "name": "Padat karya", "agency": "DKUMTK", "strategy": "raise_income",
             "target": "person", "budget_tag": "indirect", "sla_days": "45", "milestones": "seleksi\nkerja\nbayar",
             "note": ""}


def test_create_agency_and_refusals(app, admin_client):
    bad = post(admin_client, "/admin/agencies/new", {**AGENCY, "code": "x", "kind": "kelurahan"},
               form_page="/admin/agencies/new")
    assert bad.status_code == 422
    assert "Kode 2–32 karakter" in bad.text and "Meja kelurahan harus memilih kelurahannya." in bad.text
    ok = post(admin_client, "/admin/agencies/new", AGENCY, form_page="/admin/agencies/new")
    assert ok.status_code == 302
    assert "DISNAKER" in admin_client.get("/admin/agencies").text
    with app.app_context():
        assert events("create_agency")[-1].after["code"] == "DISNAKER"
    duplicate = post(admin_client, "/admin/agencies/new", AGENCY, form_page="/admin/agencies/new")
    assert duplicate.status_code == 422 and "sudah dipakai dinas lain" in duplicate.text


def test_deactivating_an_agency_that_still_has_users_is_refused(app, admin_client):
    with app.app_context():
        dinkes = db.session.scalar(select(Agency).where(Agency.code == "DINKES"))
        dinkes_id = dinkes.id
    post(admin_client, f"/admin/agencies/{dinkes_id}/active", {"active": "0"})
    page = admin_client.get(f"/admin/agencies/{dinkes_id}")
    assert "masih memegang pekerjaan" in page.text
    with app.app_context():
        assert db.session.get(Agency, dinkes_id).active


def test_edit_agency_audited(app, admin_client):
    with app.app_context():
        desk = db.session.scalar(select(Agency).where(Agency.code == "KEL-011001"))
        values = {"code": desk.code, "name": "Meja Kelurahan Bandar Lor", "kind": "kelurahan",
                  "kelurahan_code": desk.kelurahan_code}
        desk_id = desk.id
    assert post(admin_client, f"/admin/agencies/{desk_id}", values, form_page=f"/admin/agencies/{desk_id}") \
        .status_code == 302
    with app.app_context():
        event = events("update_agency")[-1]
        assert event.after == {"name": "Meja Kelurahan Bandar Lor"} and event.before["name"] != event.after["name"]


def test_section_table_is_persisted_and_read_by_the_policy(app, admin_client):
    with app.app_context():
        assert Section.HEALTH in visible_sections(user("dokter@sinergi.test"))
    table = {kind.value: sorted(s.value for s in sections) for kind, sections in SECTIONS_BY_AGENCY_KIND.items()}
    table["health"] = ["general", "disability"]
    page = admin_client.get("/admin/agencies/sections")
    assert 'name="health" value="health"' in page.text
    data = [(kind, section) for kind, sections in table.items() for section in sections]
    response = admin_client.post("/admin/agencies/sections",
                                 data=MultiDict([*data, ("csrf_token", csrf_token(page.text))]))
    assert response.status_code == 302
    with app.app_context():
        sections = visible_sections(user("dokter@sinergi.test"))
        assert Section.HEALTH not in sections and Section.DISABILITY in sections
        event = events("update_agency_sections")[-1]
        assert event.before["health"] == ["general", "health", "disability"]
        assert event.after == {"health": ["general", "disability"]}  # only the row that changed
    refused = admin_client.post("/admin/agencies/sections", data=MultiDict([("social", "health"),
                                                                           ("csrf_token", csrf_token(page.text))]))
    assert refused.status_code == 422 and "bagian umum tidak boleh dicabut" in refused.text


def test_programme_crud_and_code_frozen_once_used(app, admin_client):
    bad = post(admin_client, "/admin/programmes/new", {**PROGRAMME, "sla_days": "0", "milestones": "Bad Code!"},
               form_page="/admin/programmes/new")
    assert bad.status_code == 422
    assert "bilangan bulat 1 sampai 1095" in bad.text and "Kode tonggak" in bad.text
    assert post(admin_client, "/admin/programmes/new", PROGRAMME, form_page="/admin/programmes/new").status_code == 302
    with app.app_context():
        programme = db.session.scalar(select(Programme).where(Programme.code == "PADAT_KARYA"))
        assert programme.milestones == ["seleksi", "kerja", "bayar"] and programme.budget_tag == "indirect"
        programme_id, agency_id = programme.id, programme.agency_id
    listing = admin_client.get("/admin/programmes")
    assert "seleksi → kerja → bayar" in listing.text
    # Unused: the code may still change.
    renamed = post(admin_client, f"/admin/programmes/{programme_id}", {**PROGRAMME, "code": "PADAT_KARYA2"},
                   form_page=f"/admin/programmes/{programme_id}")
    assert renamed.status_code == 302
    with app.app_context():
        InterventionFactory(programme_id=programme_id, agency_id=agency_id, case=CaseFactory())
        db.session.commit()
    frozen = post(admin_client, f"/admin/programmes/{programme_id}", {**PROGRAMME, "code": "OTHER"},
                  form_page=f"/admin/programmes/{programme_id}")
    assert frozen.status_code == 422 and "kodenya PADAT_KARYA2 tidak dapat diubah" in frozen.text
    # Other fields still change, audited with before and after.
    assert post(admin_client, f"/admin/programmes/{programme_id}",
                {**PROGRAMME, "code": "PADAT_KARYA2", "sla_days": "60"},
                form_page=f"/admin/programmes/{programme_id}").status_code == 302
    with app.app_context():
        event = events("update_programme")[-1]
        assert event.before == {"sla_days": 45} and event.after == {"sla_days": 60}
    assert post(admin_client, f"/admin/programmes/{programme_id}/active", {"active": "0"}).status_code == 302
    with app.app_context():
        assert not db.session.get(Programme, programme_id).active


def test_sla_settings_apply_to_new_steps(app, admin_client):
    page = admin_client.get("/admin/sla")
    assert "berlaku untuk langkah dan intervensi baru" in page.text
    bad = post(admin_client, "/admin/sla", {"key": "triage", "days": "3", "remind_days_before": "5",
                                            "escalate_days_after": "1"}, form_page="/admin/sla")
    assert bad.status_code == 422 and "Pengingat harus lebih pendek" in bad.text
    assert post(admin_client, "/admin/sla", {"key": "triage", "days": "10", "remind_days_before": "4",
                                             "escalate_days_after": "2"}, form_page="/admin/sla").status_code == 302
    assert post(admin_client, "/admin/sla", {"key": "RTLH", "days": "200", "remind_days_before": "10",
                                             "escalate_days_after": "7"}, form_page="/admin/sla").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Programme.sla_days).where(Programme.code == "RTLH")) == 200
        event = events("update_sla_setting")[0]
        assert event.before == {"key": "triage", "days": 3, "remind_days_before": 2, "escalate_days_after": 3}
        assert event.after == {"key": "triage", "days": 10, "remind_days_before": 4, "escalate_days_after": 2}
        household = PersonFactory().household
        case = case_ops.create_referral(db.session, actor=user("worker@sinergi.test"), household=household,
                                        source="OUTREACH", reason="baru")
        assert abs(case.due_at - (utcnow() + timedelta(days=10))) < timedelta(minutes=1)
        assert db.session.scalar(select(Step).where(Step.case_id == case.id)) is None or isinstance(case, Case)
