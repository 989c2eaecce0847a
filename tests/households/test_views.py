"""The household pages through HTTP: scope, NIK/KK search by POST, registration, reveal, sections."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from caseapp.agencies.models import Agency, Programme
from caseapp.auth.models import User
from caseapp.core import crypto
from caseapp.core.audit import AccessKind, AccessLog
from caseapp.households import operations as ops
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Household
from tests.factories import CaseFactory, InterventionFactory
from tests.helpers import csrf_token, login

_serial = iter(range(5001, 9000))


@dataclass
class Registered:
    id: int
    kk: str
    head_nik: str
    spouse_nik: str
    head_name: str


def _numbers(kecamatan: str) -> tuple[str, str, str]:
    return (build_kk("35", "71", kecamatan, date(2019, 8, 1), next(_serial)),
            build_nik("35", "71", kecamatan, date(1975, 4, 9), "L", next(_serial)),
            build_nik("35", "71", kecamatan, date(1979, 12, 30), "P", next(_serial)))


def register(session, email: str, kelurahan: str, head_name: str) -> Registered:
    """Create a household through the operation (call inside an app context)."""
    actor = session.scalar(select(User).where(User.email == email))
    kk, head_nik, spouse_nik = _numbers(kelurahan.split(".")[2])
    household = ops.create_household(session, actor=actor, data={
        "kk_number": kk, "kelurahan_code": kelurahan, "rw": 2, "rt": 7, "address": "Jl. Dhoho 12",
        "desil": 1, "desil_release": "DTSEN-2025-Q2",
        "members": [
            {"nik": head_nik, "name": head_name, "sex": "L", "birth_date": date(1975, 4, 9), "relation": "head",
             "work_status": "bekerja", "monthly_income": 900000},
            {"nik": spouse_nik, "name": f"Istri {head_name}", "sex": "P", "birth_date": date(1979, 12, 30),
             "relation": "spouse", "chronic_illness": True, "pregnant": False, "disability_types": ["fisik"]},
        ],
    })
    session.commit()
    return Registered(household.id, kk, head_nik, spouse_nik, head_name)


@pytest.fixture
def world(app, session):
    """One household in worker's kelurahan (Bandar Lor), one in worker2's (Semampir)."""
    with app.app_context():
        mine = register(session, "worker@sinergi.test", "35.71.01.1001", "Slamet Mojoroto")
        theirs = register(session, "worker2@sinergi.test", "35.71.02.1001", "Sugeng Kota")
    return {"mine": mine, "theirs": theirs}


def no_number_in_urls(responses, *numbers):
    """Neither the requested URLs nor any redirect target carry an identity number."""
    for response in responses:
        urls = [response.request.url, response.headers.get("Location", "")]
        urls += [r.request.url for r in getattr(response, "history", [])]
        urls += [r.headers.get("Location", "") for r in getattr(response, "history", [])]
        for url in urls:
            for number in numbers:
                assert number not in url, url


def test_list_shows_only_households_in_scope(client, world):
    login(client, "worker@sinergi.test")
    page = client.get("/households/")
    assert page.status_code == 200
    assert "Slamet Mojoroto" in page.text and "Sugeng Kota" not in page.text
    assert world["mine"].kk[:4] + "********" + world["mine"].kk[-4:] in page.text
    assert world["mine"].kk not in page.text

    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    login(client, "worker2@sinergi.test")
    page = client.get("/households/")
    assert "Sugeng Kota" in page.text and "Slamet Mojoroto" not in page.text


def test_list_filters_by_name_desil_and_kelurahan(client, world):
    login(client, "supervisor@sinergi.test")
    assert "Sugeng Kota" in client.get("/households/").text
    filtered = client.get("/households/?q=slamet")
    assert "Slamet Mojoroto" in filtered.text and "Sugeng Kota" not in filtered.text
    by_place = client.get("/households/?kelurahan=35.71.02.1001")
    assert "Sugeng Kota" in by_place.text and "Slamet Mojoroto" not in by_place.text
    assert "Belum ada" not in client.get("/households/?desil=1").text
    empty = client.get("/households/?desil=9")
    assert "Tidak ada rumah tangga yang cocok" in empty.text


def test_a_number_typed_into_the_name_filter_is_not_searched_or_echoed(client, world):
    login(client, "worker@sinergi.test")
    number = world["mine"].head_nik
    answer = client.get(f"/households/?q={number}&desil=1")
    assert answer.status_code == 303
    assert number not in answer.headers["Location"] and "desil=1" in answer.headers["Location"]
    page = client.get(answer.headers["Location"])
    assert "pakai kotak" in page.text and number not in page.text


def test_post_search_by_nik_or_kk_redirects_without_the_number_in_any_url(client, world):
    login(client, "worker@sinergi.test")
    mine = world["mine"]
    responses = []
    for number in (mine.spouse_nik, mine.kk):
        page = client.get("/households/")
        answer = client.post("/households/search", data={"number": number, "csrf_token": csrf_token(page.text)})
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith(f"/households/{mine.id}")
        responses += [page, answer]
    followed = client.post("/households/search", data={"number": mine.head_nik, "csrf_token": csrf_token(page.text)},
                           follow_redirects=True)
    assert followed.status_code == 200 and "Slamet Mojoroto" in followed.text
    no_number_in_urls([*responses, followed], mine.kk, mine.head_nik, mine.spouse_nik)


def test_search_outside_scope_says_so_without_details_and_not_found_offers_registration(client, world):
    login(client, "worker@sinergi.test")
    token = csrf_token(client.get("/households/").text)
    theirs = world["theirs"]
    outside = client.post("/households/search", data={"number": theirs.head_nik, "csrf_token": token})
    assert outside.status_code == 200
    assert "di luar wilayah Anda" in outside.text
    assert "Sugeng" not in outside.text and f"/households/{theirs.id}" not in outside.text

    unknown = build_nik("35", "71", "01", date(1990, 1, 1), "L", 7777)
    missing = client.post("/households/search", data={"number": unknown, "csrf_token": token})
    assert "belum terdaftar" in missing.text
    assert 'name="prefill-kind" value="kk"' in missing.text
    prefilled = client.post("/households/new", data={
        "prefill-number": unknown, "prefill-kind": "nik", "prefill-csrf_token": token})
    assert prefilled.status_code == 200
    assert f'value="{unknown}"' in prefilled.text and 'id="members-0-nik"' in prefilled.text
    bad = client.post("/households/search", data={"number": "123", "csrf_token": token})
    assert bad.status_code == 422 and "16 angka" in bad.text


def _form(kk: str, head_nik: str, **extra) -> dict:
    data = {
        "kk_number": kk, "kelurahan_code": "35.71.01.1001", "rw": "4", "rt": "11",
        "address": "Jl. Semeru Gg. 3 No. 8",
        "members-0-nik": head_nik, "members-0-name": "Paimin", "members-0-sex": "L",
        "members-0-birth_date": "1975-04-09", "members-0-work_status": "bekerja",
        "members-1-nik": "", "members-1-name": "Tukiyem", "members-1-sex": "P",
        "members-1-birth_date": "1972-07-21", "members-1-relation": "spouse", "members-1-chronic_illness": "ya",
        "members-2-name": "", "members-2-relation": "",
        "submit": "Daftarkan rumah tangga",
    }
    data.update(extra)
    return data


def test_register_through_the_form_then_a_duplicate_shows_the_existing_household(app, session, client):
    login(client, "worker@sinergi.test")
    kk, head_nik, _ = _numbers("01")
    page = client.get("/households/new")
    assert page.status_code == 200 and "Daftarkan rumah tangga" in page.text
    created = client.post("/households/new", data={**_form(kk, head_nik), "csrf_token": csrf_token(page.text)})
    assert created.status_code == 302, created.text
    match = re.search(r"/households/(\d+)$", created.headers["Location"])
    assert match
    household_id = int(match.group(1))
    detail = client.get(created.headers["Location"])
    assert "Paimin" in detail.text and "Tukiyem" in detail.text and "terdaftar" in detail.text
    with app.app_context():
        household = session.get(Household, household_id)
        assert crypto.decrypt(household.kk_ciphertext, "kk") == kk
        assert [m.name for m in household.members] == ["Paimin", "Tukiyem"]
        assert household.members[1].chronic_illness is True

    page = client.get("/households/new")
    again = client.post("/households/new", data={**_form(kk, ""), "csrf_token": csrf_token(page.text)})
    assert again.status_code == 409
    assert "sudah terdaftar" in again.text
    assert f'href="/households/{household_id}"' in again.text
    checked = client.post("/households/new", data={
        **_form(kk, head_nik), "check": "Periksa KK dan NIK", "csrf_token": csrf_token(page.text)})
    checked_text = checked.text
    assert checked.status_code == 200 and checked_text.count(f'href="/households/{household_id}"') == 2
    no_number_in_urls([created, again, checked], kk, head_nik)
    with app.app_context():
        assert session.scalar(select(func.count(Household.id))) == 1


def test_warnings_are_shown_in_the_response_and_never_stored_in_the_cookie(client):
    login(client, "worker@sinergi.test")
    kk, head_nik, _ = _numbers("01")
    page = client.get("/households/new")
    # The NIK says male and born 1975-04-09; the form says female, born 1975-04-10: warnings, not errors.
    data = {**_form(kk, head_nik), "members-0-sex": "P", "members-0-birth_date": "1975-04-10",
            "csrf_token": csrf_token(page.text)}
    answer = client.post("/households/new", data=data)
    assert answer.status_code == 201
    assert "Tersimpan, dengan peringatan" in answer.text and "NIK Paimin" in answer.text
    assert "09-04-1975" in answer.text
    cookie = answer.headers.get("Set-Cookie", "")
    assert "1975" not in cookie and "Paimin" not in cookie
    match = re.search(r'/households/(\d+)/reveal', answer.text)
    assert match
    again = client.get(f"/households/{match.group(1)}")
    assert "Tersimpan, dengan peringatan" not in again.text and "09-04-1975" not in again.text


def test_form_errors_appear_next_to_their_fields_all_at_once(client):
    login(client, "worker@sinergi.test")
    page = client.get("/households/new")
    bad = _form("3571011501200000", "12345", rw="0", **{"members-1-birth_date": "2999-01-01"})
    answer = client.post("/households/new", data={**bad, "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 422
    html = answer.text
    for field_id in ("kk_number", "rw", "members-0-nik", "members-1-birth_date"):
        assert f'id="{field_id}-error"' in html, field_id
    assert "0000" in html and "16 angka" in html and "masa depan" in html


def test_detail_is_404_out_of_scope(client, world):
    login(client, "worker@sinergi.test")
    assert client.get(f"/households/{world['mine'].id}").status_code == 200
    assert client.get(f"/households/{world['theirs'].id}").status_code == 404
    assert client.get("/households/999999").status_code == 404
    token = csrf_token(client.get("/households/").text)
    assert client.post(f"/households/{world['theirs'].id}/reveal",
                       data={"person_id": "", "csrf_token": token}).status_code == 404


def test_reveal_shows_the_full_nik_once_and_logs_it(app, session, client, world):
    login(client, "worker@sinergi.test")
    mine = world["mine"]
    page = client.get(f"/households/{mine.id}")
    assert mine.spouse_nik not in page.text and "Tampilkan NIK" in page.text
    with app.app_context():
        spouse_id = session.scalar(select(Household).where(Household.id == mine.id)).members[1].id
    shown = client.post(f"/households/{mine.id}/reveal",
                        data={"person_id": str(spouse_id), "csrf_token": csrf_token(page.text)})
    assert shown.status_code == 200
    assert mine.spouse_nik in shown.text and mine.head_nik not in shown.text
    assert "no-store" in shown.headers["Cache-Control"]
    kk_shown = client.post(f"/households/{mine.id}/reveal", data={"person_id": "", "csrf_token": csrf_token(page.text)})
    assert mine.kk in kk_shown.text
    assert mine.spouse_nik not in client.get(f"/households/{mine.id}").text  # once only
    no_number_in_urls([shown, kk_shown], mine.spouse_nik, mine.kk)
    with app.app_context():
        logs = session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.REVEAL)
                               .order_by(AccessLog.id)).all()
        assert [(log.object_type, log.object_id) for log in logs] == [("person", spouse_id), ("household", mine.id)]
        assert all(mine.spouse_nik not in str(log.detail) for log in logs)


def _serve_with_dpkp(app, session, household_id: int) -> None:
    with app.app_context():
        dpkp = session.scalar(select(Agency).where(Agency.code == "DPKP"))
        rtlh = session.scalar(select(Programme).where(Programme.code == "RTLH"))
        case = CaseFactory(household=session.get(Household, household_id))
        InterventionFactory(case=case, programme_id=rtlh.id, agency_id=dpkp.id)
        session.commit()


def test_housing_officer_sees_the_household_of_their_case_without_health_or_income(app, session, client, world):
    _serve_with_dpkp(app, session, world["mine"].id)
    login(client, "rumah@sinergi.test")
    page = client.get(f"/households/{world['mine'].id}")
    assert page.status_code == 200
    html = page.text
    assert "Slamet Mojoroto" in html and "Istri Slamet Mojoroto" in html
    for hidden in ("Penyakit kronis", "Hamil", "Disabilitas", "Fisik", "Penghasilan", "900.000"):
        assert hidden not in html, hidden
    assert "Tampilkan NIK" not in html and "Ubah alamat" not in html
    assert client.get(f"/households/{world['theirs'].id}").status_code == 404
    listing = client.get("/households/")
    assert "Slamet Mojoroto" in listing.text and "Sugeng Kota" not in listing.text
    token = csrf_token(html)
    assert client.post(f"/households/{world['mine'].id}/reveal",
                       data={"person_id": "", "csrf_token": token}).status_code == 403


def test_social_worker_sees_every_section_and_the_read_is_logged(app, session, client, world):
    login(client, "worker@sinergi.test")
    html = client.get(f"/households/{world['mine'].id}").text
    assert "Penyakit kronis" in html and "Rp900.000" in html
    with app.app_context():
        log = session.scalars(select(AccessLog).where(AccessLog.kind == AccessKind.READ_SENSITIVE)).one()
        assert log.object_id == world["mine"].id and "health" in log.detail["sections"]


def test_edit_address_with_version_and_stale_version(app, session, client, world):
    login(client, "worker@sinergi.test")
    mine = world["mine"]
    page = client.get(f"/households/{mine.id}")
    token = csrf_token(page.text)
    form = {"address": "Jl. Kilisuci 3", "rw": "2", "rt": "8", "latitude": "", "longitude": "", "version": "1",
            "csrf_token": token}
    saved = client.post(f"/households/{mine.id}/address", data=form)
    assert saved.status_code == 302
    assert "Jl. Kilisuci 3" in client.get(f"/households/{mine.id}").text
    stale = client.post(f"/households/{mine.id}/address", data={**form, "address": "Jl. Lain 1"})
    assert stale.status_code == 409
    assert "diubah orang lain" in stale.text and 'value="Jl. Lain 1"' in stale.text
    invalid = client.post(f"/households/{mine.id}/address", data={**form, "rt": "abc", "version": "2"})
    assert invalid.status_code == 422 and 'id="rt-error"' in invalid.text


def test_change_kk_and_add_member_through_the_page(app, session, client, world):
    login(client, "worker@sinergi.test")
    mine = world["mine"]
    token = csrf_token(client.get(f"/households/{mine.id}").text)
    new_kk = build_kk("35", "71", "01", date(2024, 2, 2), next(_serial))
    changed = client.post(f"/households/{mine.id}/kk", data={"kk_number": new_kk, "reason": "split", "version": "1",
                                                             "csrf_token": token})
    assert changed.status_code == 302
    page = client.get(f"/households/{mine.id}")
    assert "Pecah KK" in page.text and new_kk[-4:] in page.text and mine.kk[-4:] in page.text

    form_page = client.get(f"/households/{mine.id}/members/new")
    assert form_page.status_code == 200
    added = client.post(f"/households/{mine.id}/members/new", data={
        "name": "Bayu", "sex": "L", "birth_date": "2016-09-09", "relation": "child", "nik": "",
        "school_participation": "sekolah", "version": "2", "csrf_token": csrf_token(form_page.text)})
    assert added.status_code == 302, added.text
    assert "Bayu" in client.get(f"/households/{mine.id}").text


def test_registration_pages_are_refused_to_agency_officers_and_viewers(client):
    login(client, "rumah@sinergi.test")
    assert client.get("/households/new").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/households/").text)})
    login(client, "viewer@sinergi.test")
    assert client.get("/households/").status_code == 403
