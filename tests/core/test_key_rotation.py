"""`flask keys rotate`: everything re-encrypted under the newest key, blind indexes recomputed, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseapp.auth.models import User
from caseapp.cases.models import Note
from caseapp.core import crypto
from caseapp.core.audit import AuditEvent, verify_chain
from caseapp.core.crypto import DecryptionError, Keyring, generate_key
from caseapp.core.identifiers import ENCRYPTED_COLUMNS, HEALTH_NOTE_PURPOSE, NOTE_PURPOSE, lookup_hash
from caseapp.core.types import Ciphertext
from caseapp.households.models import Household, HouseholdKK, Person
from caseapp.models import Base
from tests.privacy.world import HEALTH_NOTE, NOTE_BODY, full_case


def test_every_ciphertext_column_is_listed_for_rotation():
    listed = {(c.table, c.column) for c in ENCRYPTED_COLUMNS}
    found = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns
             if isinstance(c.type, Ciphertext)}
    assert found == listed


@pytest.fixture
def keys(app):
    """Swap the app's keyring for the test (restored afterwards)."""
    original = app.extensions["sinergi_keyring"]

    def use(encryption: str, blind: str) -> None:
        app.extensions["sinergi_keyring"] = Keyring.from_config(encryption, blind)

    yield use
    app.extensions["sinergi_keyring"] = original


def _snapshot(built):
    return {"nik": built.nik, "kk": built.kk, "spouse": crypto.decrypt(built.spouse.nik_ciphertext, "nik")}


def _readable(ctx, built, expected):
    household = ctx.get(Household, built.household.id)
    head = ctx.get(Person, built.head.id)
    assert crypto.decrypt(head.nik_ciphertext, "nik") == expected["nik"]
    assert crypto.decrypt(household.kk_ciphertext, "kk") == expected["kk"]
    assert crypto.decrypt(head.health_note, HEALTH_NOTE_PURPOSE) == HEALTH_NOTE
    note = ctx.scalar(select(Note).where(Note.case_id == built.case.id))
    assert crypto.decrypt(note.body, NOTE_PURPOSE) == NOTE_BODY
    for kk in ctx.scalars(select(HouseholdKK).where(HouseholdKK.household_id == household.id)):
        assert crypto.decrypt(kk.kk_ciphertext, "kk") == expected["kk"]
    # Exact search by number still finds them (blind index under the configured key).
    assert ctx.scalar(select(Person.id).where(Person.nik_hash == lookup_hash(expected["nik"], "nik"))) == head.id
    assert ctx.scalar(select(Household.id).where(Household.kk_hash == lookup_hash(expected["kk"], "kk"))) \
        == household.id


def test_rotate_encryption_key_then_drop_the_old_one(app, ctx, keys):
    old, new, blind = generate_key(), generate_key(), generate_key()
    keys(old, blind)
    built = full_case()
    supervisor = ctx.scalar(select(User).where(User.email == "supervisor@sinergi.test"))
    supervisor.totp_secret = crypto.encrypt("JBSWY3DPEHPK3PXPJBSWY3DP", "totp")
    ctx.commit()
    expected = _snapshot(built)

    # The demo users' TOTP secrets were sealed at start-up with the test configuration's key.
    keys(f"{new},{old},{app.config['ENCRYPTION_KEY']}", blind)
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Done" in result.output

    keys(new, blind)   # the old keys are gone
    ctx.expire_all()
    _readable(ctx, built, expected)
    assert crypto.decrypt(ctx.get(User, supervisor.id).totp_secret, "totp") == "JBSWY3DPEHPK3PXPJBSWY3DP"
    ring = crypto.keyring()
    for spec in ENCRYPTED_COLUMNS:
        table = Base.metadata.tables[spec.table]
        for token in ctx.scalars(select(table.c[spec.column]).where(table.c[spec.column].is_not(None))):
            assert not ring.needs_rotation(token), spec
    events = ctx.scalars(select(AuditEvent).where(AuditEvent.action == "rotate_keys")).all()
    assert events and all(e.after["reencrypted"] > 0 for e in events)
    assert verify_chain(ctx).ok

    # Resumable and idempotent: a second run finds nothing to do and writes no audit event.
    again = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert again.exit_code == 0 and "0 re-encrypted" in again.output
    assert ctx.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "rotate_keys")) \
        == len(events)


def test_rotate_blind_index_key_recomputes_every_hash(app, ctx, keys):
    key, old_blind, new_blind = app.config["ENCRYPTION_KEY"], generate_key(), generate_key()
    keys(key, old_blind)
    built = full_case()
    ctx.commit()
    expected = _snapshot(built)
    keys(key, new_blind)
    # Before the run, exact search misses: every hash was made with the old key.
    assert ctx.scalar(select(Person.id).where(Person.nik_hash == lookup_hash(expected["nik"], "nik"))) is None
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    ctx.expire_all()
    _readable(ctx, built, expected)
    spouse = ctx.get(Person, built.spouse.id)
    assert spouse.nik_hash == lookup_hash(expected["spouse"], "nik")


def test_dropping_a_key_too_early_stops_with_a_clear_message(app, ctx, keys):
    old, new, blind = generate_key(), generate_key(), generate_key()
    keys(old, blind)
    full_case()
    ctx.commit()
    keys(new, blind)   # the old key was removed before re-encrypting
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "Keep every old key" in result.output
    with pytest.raises(DecryptionError):
        crypto.decrypt(ctx.scalar(select(Person.nik_ciphertext).where(Person.nik_ciphertext.is_not(None))
                                  .order_by(Person.id.desc())), "nik")
