"""Field encryption for NIK, KK and other specific personal data.

AES-256-GCM (authenticated) with the column's purpose as associated data, so a ciphertext copied
into another column does not decrypt. Blind index: HMAC-SHA256 under a *separate* key, for exact
lookup and uniqueness without decrypting. Keys come from the environment as URL-safe base64 of
32 bytes; ``ENCRYPTION_KEY`` may hold several comma-separated keys: the first encrypts, every one
decrypts, which is how keys are rotated (docs/security.md).

Token layout: ``b"\\x01" + key_id(4) + nonce(12) + ciphertext+tag``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

FORMAT_VERSION = b"\x01"


class KeyConfigError(ValueError):
    """A key in the configuration is missing or malformed."""


class DecryptionError(ValueError):
    """A ciphertext failed authentication or was made with an unknown key."""


def decode_key(text: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not valid base64") from None
    if len(raw) != 32:
        raise KeyConfigError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


def generate_key() -> str:
    """A fresh key in the format the configuration expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"sinergi-key-id" + key).digest()[:4]


@dataclass(frozen=True)
class Keyring:
    encryption_keys: tuple[bytes, ...]
    blind_index_key: bytes

    @classmethod
    def from_config(cls, encryption_key: str | None, blind_index_key: str | None) -> Keyring:
        if not encryption_key or not blind_index_key:
            raise KeyConfigError("ENCRYPTION_KEY and BLIND_INDEX_KEY are required")
        keys = tuple(
            decode_key(part, "ENCRYPTION_KEY") for part in encryption_key.split(",") if part.strip()
        )
        blind = decode_key(blind_index_key, "BLIND_INDEX_KEY")
        if blind in keys:
            raise KeyConfigError("BLIND_INDEX_KEY must differ from every ENCRYPTION_KEY")
        return cls(keys, blind)

    def encrypt(self, plaintext: str, purpose: str) -> bytes:
        key = self.encryption_keys[0]
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), purpose.encode())
        return FORMAT_VERSION + _key_id(key) + nonce + sealed

    def decrypt(self, token: bytes, purpose: str) -> str:
        if not token or token[:1] != FORMAT_VERSION:
            raise DecryptionError("unknown ciphertext format")
        kid, nonce, sealed = token[1:5], token[5:17], token[17:]
        for key in self.encryption_keys:
            if hmac.compare_digest(_key_id(key), kid):
                try:
                    return AESGCM(key).decrypt(nonce, sealed, purpose.encode()).decode()
                except InvalidTag:
                    raise DecryptionError("ciphertext failed authentication") from None
        raise DecryptionError("ciphertext was made with a key that is not configured")

    def needs_rotation(self, token: bytes) -> bool:
        """True when *token* was not made with the current (first) key."""
        return token[1:5] != _key_id(self.encryption_keys[0])

    def blind_index(self, value: str, purpose: str) -> str:
        mac = hmac.new(self.blind_index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()


def keyring() -> Keyring:
    """The keyring of the current Flask app (built once in ``create_app``)."""
    return current_app.extensions["sinergi_keyring"]


def encrypt(plaintext: str, purpose: str) -> bytes:
    return keyring().encrypt(plaintext, purpose)


def decrypt(token: bytes, purpose: str) -> str:
    return keyring().decrypt(token, purpose)


def blind_index(value: str, purpose: str) -> str:
    return keyring().blind_index(value, purpose)
