"""Writes for users and authentication. Operations flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from caseapp.agencies.models import Agency
from caseapp.auth import passwords
from caseapp.auth.models import ApiToken, Role, User
from caseapp.core import crypto
from caseapp.core.audit import AccessKind, record_access, record_audit_event
from caseapp.core.errors import ValidationFailed
from caseapp.core.models import utcnow

TOTP_PURPOSE = "totp"


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    TOTP_REQUIRED = "totp_required"
    TOTP_ENROLMENT_REQUIRED = "totp_enrolment_required"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def mfa_required(user: User) -> bool:
    """Admins and supervisors must use a second factor; others may opt in."""
    return user.role in current_app.config["MFA_REQUIRED_ROLES"] or user.has_totp


def create_user(
    session: Session,
    *,
    email: str,
    full_name: str,
    role: Role | str,
    password: str | None = None,
    agency_code: str | None = None,
    kecamatan_code: str | None = None,
    kelurahan_code: str | None = None,
    phone: str | None = None,
    locale: str = "id",
    actor: User | None = None,
    enforce_policy: bool = True,
) -> User:
    """Create a user. Raises :class:`ValidationFailed` naming each bad field; changes nothing then."""
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors.setdefault("email", []).append(_("Alamat e-mail tidak valid."))
    elif session.scalar(select(User.id).where(User.email == email)) is not None:
        errors.setdefault("email", []).append(_("E-mail ini sudah dipakai pengguna lain."))
    try:
        role = Role(role)
    except ValueError:
        errors.setdefault("role", []).append(_("Peran harus salah satu dari: %(roles)s.", roles=", ".join(Role)))
        role = None
    agency = None
    if agency_code:
        agency = session.scalar(select(Agency).where(Agency.code == agency_code))
        if agency is None:
            errors.setdefault("agency", []).append(_("Dinas dengan kode %(code)s tidak ada.", code=agency_code))
    if role == Role.AGENCY_OFFICER and agency is None and "agency" not in errors:
        errors.setdefault("agency", []).append(_("Petugas dinas harus punya dinas (--agency KODE)."))
    if password is not None and enforce_policy:
        problems = passwords.password_problems(password, email=email, name=full_name)
        if problems:
            errors["password"] = problems
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=email,
        full_name=full_name.strip() or email,
        role=role,
        agency_id=agency.id if agency else None,
        kecamatan_code=kecamatan_code,
        kelurahan_code=kelurahan_code,
        phone=phone,
        locale=locale,
        password_hash=passwords.hash_password(password) if password else None,
        password_changed_at=utcnow() if password else None,
    )
    session.add(user)
    session.flush()
    record_audit_event(
        session,
        actor_id=actor.id if actor else None,
        action="create_user",
        object_type="user",
        object_id=user.id,
        after={"email": user.email, "role": str(user.role), "agency": agency_code},
    )
    return user


def _record_failure(session: Session, user: User | None, email: str, reason: str) -> None:
    if user is not None:
        # Conditional UPDATE so concurrent failures from several processes all count.
        session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        )
        session.refresh(user, ["failed_logins"])
        if user.failed_logins >= current_app.config["ACCOUNT_LOCKOUT_THRESHOLD"]:
            user.locked_until = utcnow() + timedelta(minutes=current_app.config["ACCOUNT_LOCKOUT_MINUTES"])
    record_access(
        session,
        user_id=user.id if user else None,
        kind=AccessKind.LOGIN_FAILED,
        object_type="user",
        object_id=user.id if user else None,
        # The e-mail is kept to spot attacks on one account; the password never is.
        detail={"email": email[:254], "reason": reason},
    )


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def check_password_login(session: Session, email: str, password: str) -> LoginResult:
    """First factor. Counts failures per account and locks it for a while after too many."""
    email = normalise_email(email)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is not None and is_locked(user):
        # Even the right password is refused while locked (ASVS 6.3.1).
        _record_failure(session, None, email, "locked")
        return LoginResult(LoginOutcome.LOCKED, user)
    if user is None or not user.active or not passwords.verify_password(user.password_hash, password):
        _record_failure(session, user, email, "bad_credentials")
        return LoginResult(LoginOutcome.BAD_CREDENTIALS, None)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if mfa_required(user):
        outcome = LoginOutcome.TOTP_REQUIRED if user.has_totp else LoginOutcome.TOTP_ENROLMENT_REQUIRED
        return LoginResult(outcome, user)
    return LoginResult(LoginOutcome.OK, user)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=6, interval=30)


def verify_totp(session: Session, user: User, code: str) -> bool:
    """Check a TOTP code; each time step is accepted once only (replay refused)."""
    if not user.totp_secret:
        return False
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        _record_failure(session, user, user.email, "totp_invalid")
        return False
    totp = _totp(crypto.decrypt(user.totp_secret, TOTP_PURPOSE))
    now = utcnow()
    step_now = int(now.timestamp()) // 30
    for step in (step_now, step_now - 1, step_now + 1):
        if secrets.compare_digest(totp.at(step * 30), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                _record_failure(session, user, user.email, "totp_replayed")
                return False
            user.totp_last_step = step
            return True
    _record_failure(session, user, user.email, "totp_invalid")
    return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.email, issuer_name="Sinergi")


def set_totp_secret(session: Session, user: User, secret: str, *, actor: User | None = None) -> None:
    """Enrol *user* with a TOTP secret (stored encrypted)."""
    user.totp_secret = crypto.encrypt(secret, TOTP_PURPOSE)
    user.totp_last_step = None
    record_audit_event(
        session, actor_id=(actor or user).id, action="enrol_totp", object_type="user", object_id=user.id
    )


def confirm_totp_enrolment(session: Session, user: User, secret: str, code: str) -> bool:
    """Enrol only when the code proves the authenticator app holds *secret*."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if not _totp(secret).verify(code, valid_window=1):
        return False
    set_totp_secret(session, user, secret)
    user.totp_last_step = int(utcnow().timestamp()) // 30
    return True


def complete_login(session: Session, user: User) -> None:
    """Record a successful login and reset the failure counter."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    record_access(session, user_id=user.id, kind=AccessKind.LOGIN, object_type="user", object_id=user.id)


def end_all_sessions(session: Session, user: User, *, reason: str, actor: User | None = None) -> None:
    """Invalidate every cookie and API token of *user* (logout, deactivation, password change)."""
    session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    session.refresh(user, ["session_version"])
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    record_access(
        session,
        user_id=(actor or user).id,
        kind=AccessKind.LOGOUT,
        object_type="user",
        object_id=user.id,
        detail={"reason": reason},
    )


def change_password(session: Session, user: User, new_password: str) -> None:
    problems = passwords.password_problems(new_password, email=user.email, name=user.full_name)
    if problems:
        raise ValidationFailed({"password": problems})
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    end_all_sessions(session, user, reason="password_changed")
    record_audit_event(session, actor_id=user.id, action="change_password", object_type="user", object_id=user.id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, user: User) -> str:
    """Create a bearer token; only its hash is stored, the token is shown once."""
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            session_version=user.session_version,
            expires_at=utcnow() + current_app.config["API_TOKEN_LIFETIME"],
        )
    )
    session.flush()
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    """The active user holding *token*, or None when it is unknown, expired, revoked or stale."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = row.user
    if not user.active or user.session_version != row.session_version:
        return None
    return user


# --- Sensitive re-authentication (SECURITY.md 7.5.1): e-mail and second-factor changes ---------


def confirm_identity(session: Session, user: User, password: str, code: str | None) -> bool:
    """Check the password, and the TOTP code when *user* has one, before a sensitive change.

    A failure counts towards the account lockout like a failed login (it is a password guess).
    """
    if is_locked(user):
        return False
    if not passwords.verify_password(user.password_hash, password):
        _record_failure(session, user, user.email, "reauth_password")
        return False
    if user.has_totp and not verify_totp(session, user, code or ""):
        return False
    record_access(session, user_id=user.id, kind=AccessKind.LOGIN, object_type="user", object_id=user.id,
                  detail={"reauth": True})
    return True


def change_own_email(session: Session, user: User, new_email: str) -> None:
    """Change *user*'s e-mail (the caller has checked a fresh re-authentication)."""
    email = normalise_email(new_email)
    errors: list[str] = []
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 254:
        errors.append(_("Alamat e-mail tidak valid. Tulis seperti nama@contoh.go.id."))
    elif email == user.email:
        errors.append(_("Ini sudah alamat e-mail Anda sekarang."))
    elif session.scalar(select(User.id).where(User.email == email)) is not None:
        errors.append(_("E-mail ini sudah dipakai pengguna lain."))
    if errors:
        raise ValidationFailed({"email": errors})
    before = user.email
    user.email = email
    record_audit_event(session, actor_id=user.id, action="change_email", object_type="user", object_id=user.id,
                       before={"email": before}, after={"email": email})


def replace_own_totp(session: Session, user: User, secret: str, code: str) -> bool:
    """Enrol or replace *user*'s second factor once *code* proves the app holds *secret*."""
    had_totp = user.has_totp
    if not confirm_totp_enrolment(session, user, secret, code):
        return False
    if had_totp:
        record_audit_event(session, actor_id=user.id, action="replace_totp", object_type="user",
                           object_id=user.id)
    return True
