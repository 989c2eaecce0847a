"""The bulk loader (issue #8): same audit hash as the application writes; on PostgreSQL, a real
bulk load and a replication whose audit chain verifies and whose numbers are real ciphertext."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from caseapp.core.audit import GENESIS, chain_hash
from caseapp.demo.bulk.load import _CaseBuilder

ROOT = Path(__file__).resolve().parents[2]


def test_bulk_audit_rows_hash_like_the_application():
    builder = _CaseBuilder.__new__(_CaseBuilder)
    builder.ids, builder.last_hash = {"audit_events": 1}, GENESIS
    out = {"audit_events": []}
    when = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    before = {"stage": "referral", "status": "new", "owner_id": None, "version": 1, "round": 1}
    after = {"stage": "verification", "status": "assigned", "owner_id": 7, "version": 2, "round": 1}
    builder._audit(out, when, 3, "accept_referral", "case", 11, 11, before, after, "Catatan \"kutip\"\tTab")
    builder._audit(out, when, None, "complete_interventions", "case", 11, 11, after, after)
    first = chain_hash(GENESIS, {"occurred_at": when, "actor_id": 3, "action": "accept_referral",
                                 "object_type": "case", "object_id": 11, "case_id": 11, "before": before,
                                 "after": after, "comment": "Catatan \"kutip\"\tTab"})
    second = chain_hash(first, {"occurred_at": when, "actor_id": None, "action": "complete_interventions",
                                "object_type": "case", "object_id": 11, "case_id": 11, "before": after,
                                "after": after, "comment": None})
    assert out["audit_events"][0].rstrip("\n").split("\t")[-1] == first
    assert out["audit_events"][1].rstrip("\n").split("\t")[-2:] == [first, second]


@pytest.mark.postgres
@pytest.mark.integration
def test_bulk_load_and_replicate_on_postgresql(tmp_path):
    server = os.environ["TEST_POSTGRES_URL"]
    name = f"sinergi_bulk_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(make_url(server).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "SINERGI_ENV": "development", "SINERGI_INSTANCE": str(tmp_path)}

    def flask(*args):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    try:
        flask("db", "upgrade")
        assert "households=400, cases=400" in flask("demo", "load", "--households", "400", "--bulk")
        assert "households=0, cases=0" in flask("demo", "load", "--households", "400", "--bulk")  # idempotent
        assert "Audit trail intact" in flask("audit", "verify")
        flask("demo", "replicate", "--copies", "1")
        assert "Audit trail intact" in flask("audit", "verify")
        with psycopg.connect(url) as conn:
            stages = dict(conn.execute("SELECT stage, count(*) FROM cases GROUP BY stage").fetchall())
            assert set(stages) == {"referral", "verification", "intervention", "evaluation", "closed"}
            assert sum(stages.values()) == 800
            numbers = conn.execute("SELECT count(*), count(DISTINCT nik_hash), count(nik_ciphertext) "
                                   "FROM persons").fetchone()
            assert numbers[0] == numbers[1] == numbers[2] > 800
            # persons.kelurahan_code (0005d) is its household's, after the bulk load and the replication.
            assert conn.execute("SELECT count(*) FROM persons p JOIN households h ON h.id = p.household_id "
                                "WHERE p.kelurahan_code IS DISTINCT FROM h.kelurahan_code").fetchone()[0] == 0
            per_case = conn.execute("SELECT count(*)::float / (SELECT count(*) FROM cases) FROM audit_events "
                                    "WHERE case_id IS NOT NULL").fetchone()[0]
            assert 3 <= per_case <= 9
            differ = conn.execute(
                "SELECT count(*) FROM steps s JOIN cases c ON c.id = s.case_id WHERE s.case_owner_id IS DISTINCT FROM "
                "c.owner_id OR s.case_stage <> c.stage OR s.case_kelurahan_code <> c.kelurahan_code "
                "OR s.case_kecamatan_code <> c.kecamatan_code").fetchone()[0]
            assert differ == 0  # the steps' copies of their case's scope (work lists, issue #8)
        # The app decrypts a replicated NIK and finds its household by the blind index.
        check = ("from caseapp import create_app; from caseapp.extensions import db; "
                 "from caseapp.households.models import Person; from caseapp.core.crypto import decrypt; "
                 "from caseapp.households import operations as ops\n"
                 "app = create_app()\n"
                 "with app.app_context():\n"
                 "    p = db.session.query(Person).order_by(Person.id.desc()).first()\n"
                 "    nik = decrypt(p.nik_ciphertext, 'nik')\n"
                 "    assert nik[2:4] == '72', nik[:4]\n"
                 "    assert ops.find_by_number(db.session, nik).id == p.household_id\n"
                 "    print('ok')\n")
        result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                                capture_output=True, text=True, timeout=300)
        assert result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
