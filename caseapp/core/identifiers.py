"""Encrypted identity numbers: one ciphertext, one blind index, one masked form per number.

A model that holds a NIK or KK uses :func:`identity_columns` to declare the three columns and
:func:`seal_number` to fill them, so every table stores them the same way from the first migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caseapp.core import crypto
from caseapp.core.audit import record_audit_event
from caseapp.core.masking import mask_digits
from caseapp.core.models import Base


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    blind_index: str
    masked: str


def seal_number(number: str, purpose: str) -> Sealed:
    """Encrypt *number* for *purpose* (``"nik"``, ``"kk"``) and derive its lookup hash and mask."""
    return Sealed(
        ciphertext=crypto.encrypt(number, purpose),
        blind_index=crypto.blind_index(number, purpose),
        masked=mask_digits(number),
    )


def lookup_hash(number: str, purpose: str) -> str:
    """The blind index to search *number* by (exact match only)."""
    return crypto.blind_index(number, purpose)


# --- Every encrypted column, in one place (key rotation, retention, the UU PDP export) ---------

HEALTH_NOTE_PURPOSE = "health_note"   # persons.health_note
NOTE_PURPOSE = "note"                 # notes.body (case notes may hold health details)


@dataclass(frozen=True)
class EncryptedColumn:
    """A ciphertext column: its table, the purpose bound into it, and the blind index derived from it."""

    table: str
    column: str
    purpose: str
    hash_column: str | None = None


# Named by table so this lowest layer needs no domain model; tests/core/test_key_rotation.py checks
# that every column of type Ciphertext in the metadata is listed here.
ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("persons", "nik_ciphertext", "nik", "nik_hash"),
    EncryptedColumn("households", "kk_ciphertext", "kk", "kk_hash"),
    EncryptedColumn("household_kk_history", "kk_ciphertext", "kk", "kk_hash"),
    EncryptedColumn("persons", "health_note", HEALTH_NOTE_PURPOSE),
    EncryptedColumn("notes", "body", NOTE_PURPOSE),
    EncryptedColumn("users", "totp_secret", "totp"),
)


# --- Key rotation: re-encrypt under the newest key, recompute blind indexes ----------------------


@dataclass
class RotationProgress:
    table: str
    column: str
    checked: int = 0
    reencrypted: int = 0
    rehashed: int = 0


def rotate_column(session: Session, spec: EncryptedColumn, *, batch_size: int = 1000,
                  on_batch: Callable[[RotationProgress], None] | None = None) -> RotationProgress:
    """Re-encrypt *spec*'s ciphertexts not made with the first key, and fix blind indexes that differ.

    Walks the table in id order, one transaction per batch (each with its audit event when it changed
    anything). Resumable: a row already under the newest key with a correct blind index is left as
    it is, so after an interruption the command is simply run again.
    """
    ring = crypto.keyring()
    table = Base.metadata.tables[spec.table]
    pk, cipher = table.c.id, table.c[spec.column]
    hashed = table.c[spec.hash_column] if spec.hash_column else None
    progress = RotationProgress(spec.table, spec.column)
    last_id = 0
    while True:
        columns = [pk, cipher] + ([hashed] if hashed is not None else [])
        rows = session.execute(select(*columns).where(pk > last_id, cipher.is_not(None))
                               .order_by(pk).limit(batch_size)).all()
        if not rows:
            return progress
        reencrypted = rehashed = 0
        for row in rows:
            token = row[1]
            values: dict[str, Any] = {}
            stale = ring.needs_rotation(token)
            plaintext = ring.decrypt(token, spec.purpose) if stale or hashed is not None else None
            if stale:
                values[spec.column] = ring.encrypt(plaintext, spec.purpose)
                reencrypted += 1
            if hashed is not None:
                fresh = ring.blind_index(plaintext, spec.purpose)
                if fresh != row[2]:
                    values[spec.hash_column] = fresh
                    rehashed += 1
            if values:
                session.execute(update(table).where(pk == row[0]).values(**values))
        last_id = rows[-1][0]
        progress.checked += len(rows)
        progress.reencrypted += reencrypted
        progress.rehashed += rehashed
        if reencrypted or rehashed:
            record_audit_event(session, actor_id=None, action="rotate_keys", object_type="key",
                               after={"table": spec.table, "column": spec.column, "reencrypted": reencrypted,
                                      "rehashed": rehashed, "last_id": last_id})
        session.commit()
        if on_batch is not None:
            on_batch(progress)


def rotate_all(session: Session, *, batch_size: int = 1000,
               on_batch: Callable[[RotationProgress], None] | None = None) -> list[RotationProgress]:
    """Run :func:`rotate_column` over every column in :data:`ENCRYPTED_COLUMNS`."""
    return [rotate_column(session, spec, batch_size=batch_size, on_batch=on_batch) for spec in ENCRYPTED_COLUMNS]
