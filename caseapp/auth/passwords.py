"""Password hashing (argon2id) and the password policy (SECURITY.md, authentication)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 128
# Words a Kediri user is tempted to build a password from (context-specific words, ASVS 6.2.4).
CONTEXT_WORDS = (
    "sinergi", "kediri", "dinsos", "dinkes", "dpkp", "dispendik", "dkumtk", "dispendukcapil",
    "bappeda", "tkpk", "kelurahan", "kecamatan", "mojoroto", "pesantren", "jawatimur", "password",
)


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Spend comparable time so a missing account is not told apart by timing.
        hasher().hash(password)
        return False
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("caseapp.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, email: str | None = None, name: str | None = None) -> list[str]:
    """Reasons *password* is refused, in the user's language; empty when it is acceptable."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(str(_l("Kata sandi minimal %(n)d karakter.", n=MIN_LENGTH)))
    if len(password) > MAX_LENGTH:
        problems.append(str(_l("Kata sandi paling banyak %(n)d karakter.", n=MAX_LENGTH)))
    lowered = password.lower()
    compact = "".join(ch for ch in lowered if ch.isalnum())
    if lowered in common_passwords() or compact in common_passwords():
        problems.append(str(_l("Kata sandi ini terlalu umum dan mudah ditebak. Pilih kalimat yang hanya Anda ingat.")))
    context = list(CONTEXT_WORDS)
    if email:
        context.append(email.split("@")[0].lower())
    if name:
        context.extend(part.lower() for part in name.split() if len(part) >= 4)
    stripped = compact
    for word in context:
        stripped = stripped.replace(word, "")
    if len(stripped) < 6 and not problems:
        problems.append(str(_l("Kata sandi tidak boleh hanya berisi nama, e-mail, atau nama instansi/kota.")))
    return problems
