"""The import pages: upload checks (size, type, magic bytes), the job and its progress, the error report."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from caseapp.extensions import db
from caseapp.households.models import Household, ImportJob, ImportStatus
from tests.helpers import csrf_token, login
from tests.households.dtsen import col, rows_for, write_csv, write_xlsx


@pytest.fixture(autouse=True)
def embedded_jobs(app, monkeypatch):
    """Jobs run in-process after the upload's commit (embedded mode), also in a run that has Redis:
    these tests follow the page, not a broker. The Celery task itself is tested below."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def _upload(client, name: str, data: bytes, **flags):
    """POST the form as a browser does; the body is built here (the test client would spool a big one to a
    temporary file it never closes)."""
    token = csrf_token(client.get("/households/imports").get_data(as_text=True))
    boundary = "----sinergi-test-boundary"
    parts = [("csrf_token", token), *((k, "y") for k, v in flags.items() if v)]
    body = io.BytesIO()
    for key, value in parts:
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n".encode())
    body.write(data)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return client.post("/households/imports", data=body.getvalue(),
                       content_type=f"multipart/form-data; boundary={boundary}")


def _households(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Household))


def test_upload_runs_the_job_and_shows_the_counts(client, app, tmp_path):
    login(client, "supervisor@sinergi.test")
    rows = rows_for(6)
    data = write_csv(tmp_path / "dtsen.csv", rows, delimiter=";", bom=True).read_bytes()
    response = _upload(client, "dtsen.csv", data)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Selesai" in text and "Tersimpan ke register" in text
    assert "hx-trigger" not in text   # finished: the page stops polling
    assert _households(app) == len({r[0] for r in rows})
    with app.app_context():
        job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
        assert job.status == ImportStatus.DONE and job.processed_rows == len(rows)
        assert job.summary["households_new"] == _households(app)


def test_errors_import_nothing_and_the_report_is_downloadable(client, app, tmp_path):
    login(client, "admin@sinergi.test")
    rows = rows_for(3)
    rows[2][col("DESIL")] = "11"
    response = _upload(client, "salah.xlsx", write_xlsx(tmp_path / "s.xlsx", rows).read_bytes())
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tidak ada yang disimpan" in page and _households(app) == 0
    report = client.get(response.headers["Location"] + "/errors.csv").get_data(as_text=True)
    assert report.lstrip("\ufeff").splitlines()[0] == "baris;kolom;nilai;pesan"
    assert "4;DESIL;11;Desil harus angka 1 sampai 10." in report


def test_skip_invalid_from_the_form(client, app, tmp_path):
    login(client, "admin@sinergi.test")
    rows = rows_for(3)
    rows[0][col("KODE_KELURAHAN")] = "99.99.99.9999"
    response = _upload(client, "dtsen.csv", write_csv(tmp_path / "d.csv", rows).read_bytes(), skip_invalid=True)
    client.get(response.headers["Location"])
    assert _households(app) == 2


def test_dry_run_from_the_form_writes_nothing(client, app, tmp_path):
    login(client, "admin@sinergi.test")
    response = _upload(client, "dtsen.csv", write_csv(tmp_path / "d.csv", rows_for(2)).read_bytes(), dry_run=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Uji coba" in page and _households(app) == 0


def test_a_file_that_is_not_a_spreadsheet_is_refused_at_upload(client, app):
    login(client, "admin@sinergi.test")
    response = _upload(client, "data.csv", b"%PDF-1.7\n1 0 obj\n")
    assert response.status_code == 422 and "bukan spreadsheet" in response.get_data(as_text=True)
    response = _upload(client, "data.xlsx", b"NO_KK;NIK\n1;2\n")
    assert response.status_code == 422 and "tidak sesuai dengan jenisnya" in response.get_data(as_text=True)
    response = _upload(client, "foto.png", b"\x89PNG\r\n\x1a\n")
    assert response.status_code == 422 and "CSV atau XLSX" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_a_50_mb_file_is_refused_with_a_clear_message(client, app):
    login(client, "admin@sinergi.test")
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit < 50 * 1024 * 1024   # the configured request limit is what refuses it
    big = b"NO_KK;KODE_KELURAHAN;NIK;NAMA;JENIS_KELAMIN;TANGGAL_LAHIR;HUBUNGAN_KK\n" + b"x" * (50 * 1024 * 1024)
    response = _upload(client, "besar.csv", big)
    assert response.status_code == 413 and "Berkas terlalu besar" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_upload_limit_of_the_import_itself(client, app):
    login(client, "admin@sinergi.test")
    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    try:
        response = _upload(client, "dtsen.csv", b"NO_KK;NIK\n" + b"1;2\n" * 300_000)
    finally:
        app.config.pop("IMPORT_MAX_BYTES")
    assert response.status_code == 422 and "paling besar 1 MB" in response.get_data(as_text=True)


def test_progress_fragment_polls_while_running(client, app):
    login(client, "admin@sinergi.test")
    with app.app_context():
        from caseapp.auth.models import User

        admin = db.session.scalar(select(User).where(User.email == "admin@sinergi.test"))
        job = ImportJob(created_by_id=admin.id, filename="x.csv", status=ImportStatus.RUNNING, processed_rows=1200,
                        total_rows=4000, error_count=3)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    fragment = client.get(f"/households/imports/{job_id}/progress").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in fragment and 'value="1200"' in fragment and 'max="4000"' in fragment
    assert "1,200 dari 4,000 baris diproses, 3 galat" in fragment and "<script" not in fragment


def test_the_celery_task_runs_a_queued_job_once(ctx, app, tmp_path):
    from caseapp.auth.models import User
    from caseapp.households.imports.jobs import start_import
    from workers.imports import run_import as task

    admin = db.session.scalar(select(User).where(User.email == "admin@sinergi.test"))
    data = write_csv(tmp_path / "d.csv", rows_for(2)).read_bytes()
    job = start_import(db.session, actor=admin, filename="dtsen.csv", data=data)
    db.session.info.pop("sinergi_pending_jobs", None)   # run it here, not after commit
    db.session.commit()
    assert task.run(job.id) == "done"
    assert task.run(job.id) == "done"   # a redelivered message finds it done and changes nothing
    assert db.session.scalar(select(func.count()).select_from(Household)) == 2
