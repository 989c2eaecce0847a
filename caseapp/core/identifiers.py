"""Encrypted identity numbers: one ciphertext, one blind index, one masked form per number.

A model that holds a NIK or KK uses :func:`identity_columns` to declare the three columns and
:func:`seal_number` to fill them, so every table stores them the same way from the first migration.
"""

from __future__ import annotations

from dataclasses import dataclass

from caseapp.core import crypto
from caseapp.core.masking import mask_digits


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
