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
