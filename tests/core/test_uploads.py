"""Evidence uploads: allowlisted, checked by content, cleaned of EXIF, served only as attachments."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Attachment, Intervention
from caseapp.core.errors import ValidationFailed
from caseapp.core.uploads import check_and_store, stored_path
from caseapp.extensions import db
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import csrf_token, login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (7.0, 49.0, 12.0)}  # GPSInfo: where the family lives
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_pdf_is_stored_under_a_random_name(ctx):
    stored = check_and_store("../../etc/Surat Keputusan.pdf", PDF)
    assert stored.original_name == "Surat Keputusan.pdf"
    assert stored.storage_name.endswith(".pdf") and "Surat" not in stored.storage_name
    assert stored_path(stored.storage_name).read_bytes() == PDF


def test_photos_lose_their_exif_gps(ctx):
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get(0x8825)
    stored = check_and_store("rumah.jpg", original)
    with Image.open(stored_path(stored.storage_name)) as cleaned:
        assert not cleaned.getexif()
        assert cleaned.size == (40, 30)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("laporan.exe", b"MZ\x90\x00", "Jenis berkas tidak diterima"),
        ("laporan.pdf", b"<html><script>alert(1)</script>", "tidak sesuai"),
        ("foto.png", PDF, "tidak sesuai"),
        ("kosong.pdf", b"", "kosong"),
        ("besar.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "terlalu besar"),
        ("rusak.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "rusak"),
    ],
    ids=["executable", "html-as-pdf", "pdf-as-png", "empty", "too-large", "broken-image"],
)
def test_bad_files_are_refused_with_the_reason(ctx, name, data, message):
    with pytest.raises(ValidationFailed) as err:
        check_and_store(name, data)
    assert message in err.value.fields["file"][0]


@pytest.fixture
def delivered_case(app, session):
    """An active case with an RTLH intervention for the housing team."""
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        household = PersonFactory(household=HouseholdFactory()).household
        case = ops.create_referral(db.session, actor=users["worker"], household=household, source="OUTREACH",
                                   reason="x")
        for action, actor, data in [
            ("accept_referral", "supervisor", {"assignee_id": users["worker"].id}),
            ("submit_verification", "worker", {"findings": "f"}), ("approve_verification", "supervisor", {}),
            ("submit_plan", "worker", {"interventions": [{"program": "RTLH"}]}), ("approve_plan", "supervisor", {}),
        ]:
            ops.transition_case(db.session, case, action, users[actor], version=case.version, **data)
        iv = db.session.scalar(select(Intervention).where(Intervention.case_id == case.id))
        db.session.commit()
        return {"case": case.id, "intervention": iv.id}


def test_housing_officer_uploads_evidence_and_downloads_it_as_an_attachment(app, client, delivered_case):
    login(client, "rumah@sinergi.test")
    page = client.get("/")
    response = client.post(f"/attachments/interventions/{delivered_case['intervention']}",
                           data={"file": (io.BytesIO(PDF), "berita-acara.pdf"), "csrf_token": csrf_token(page.text)},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        attachment = db.session.scalar(select(Attachment).where(Attachment.case_id == delivered_case["case"]))
        assert attachment.original_name == "berita-acara.pdf"
        attachment_id = attachment.id
    download = client.get(f"/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    other = app.test_client()
    login(other, "worker2@sinergi.test")
    assert other.get(f"/attachments/{attachment_id}").status_code == 404
