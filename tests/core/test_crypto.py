"""Field encryption and blind index for NIK/KK: authenticated, purpose-bound, rotatable."""

from __future__ import annotations

import pytest

from caseapp.core.crypto import DecryptionError, KeyConfigError, Keyring, generate_key

NIK = "3571014508900001"


@pytest.fixture
def keyring():
    return Keyring.from_config(generate_key(), generate_key())


def test_round_trip_and_fresh_nonce(keyring):
    a, b = keyring.encrypt(NIK, "nik"), keyring.encrypt(NIK, "nik")
    assert a != b  # same plaintext, different ciphertexts: nothing to compare across rows
    assert NIK.encode() not in a
    assert keyring.decrypt(a, "nik") == keyring.decrypt(b, "nik") == NIK


def test_ciphertext_is_bound_to_its_purpose(keyring):
    token = keyring.encrypt(NIK, "nik")
    with pytest.raises(DecryptionError):
        keyring.decrypt(token, "kk")


def test_tampering_is_detected(keyring):
    token = bytearray(keyring.encrypt(NIK, "nik"))
    token[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        keyring.decrypt(bytes(token), "nik")


def test_rotation_old_key_still_decrypts_new_key_encrypts():
    old, new, blind = generate_key(), generate_key(), generate_key()
    before = Keyring.from_config(old, blind)
    token = before.encrypt(NIK, "nik")
    after = Keyring.from_config(f"{new},{old}", blind)
    assert after.decrypt(token, "nik") == NIK
    assert after.needs_rotation(token)
    fresh = after.encrypt(NIK, "nik")
    assert not after.needs_rotation(fresh)
    with pytest.raises(DecryptionError, match="not configured"):
        Keyring.from_config(new, blind).decrypt(token, "nik")


def test_blind_index_is_deterministic_keyed_and_purpose_specific(keyring):
    assert keyring.blind_index(NIK, "nik") == keyring.blind_index(NIK, "nik")
    assert keyring.blind_index(NIK, "nik") != keyring.blind_index(NIK, "kk")
    other = Keyring.from_config(generate_key(), generate_key())
    assert other.blind_index(NIK, "nik") != keyring.blind_index(NIK, "nik")
    assert NIK not in keyring.blind_index(NIK, "nik")


@pytest.mark.parametrize(
    ("encryption", "blind", "message"),
    [
        (None, generate_key(), "required"),
        ("not base64 !!", generate_key(), "base64"),
        ("c2hvcnQ=", generate_key(), "32 bytes"),
    ],
)
def test_bad_keys_are_refused(encryption, blind, message):
    with pytest.raises(KeyConfigError, match=message):
        Keyring.from_config(encryption, blind)


def test_blind_index_key_must_differ_from_encryption_key():
    key = generate_key()
    with pytest.raises(KeyConfigError, match="differ"):
        Keyring.from_config(key, key)
