"""Writes for users and authentication. Operations flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pyotp
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from caseapp.agencies.models import Agency, Region, RegionLevel
from caseapp.agencies.operations import references_to
from caseapp.auth import passwords
from caseapp.auth.models import ApiToken, Role, TokenPurpose, User, UserToken
from caseapp.core import crypto
from caseapp.core.audit import AccessKind, record_access, record_audit_event
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.models import Base, utcnow

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


# --- administration (issue #10): users, invitations, resets ------------------------------------

LOCALES = ("id", "en")
PHONE_RE = re.compile(r"\+?[0-9][0-9 -]{6,19}")


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user account (never a hash or a secret)."""
    return {"email": user.email, "full_name": user.full_name, "role": str(user.role),
            "agency_id": user.agency_id, "kecamatan_code": user.kecamatan_code,
            "kelurahan_code": user.kelurahan_code, "phone": user.phone, "locale": user.locale,
            "active": user.active, "has_totp": user.has_totp}


def _scope_problems(session: Session, role: Role | None, kecamatan: str | None,
                    kelurahan: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    kec = session.get(Region, kecamatan) if kecamatan else None
    kel = session.get(Region, kelurahan) if kelurahan else None
    if kecamatan and (kec is None or kec.level != RegionLevel.KECAMATAN):
        errors["kecamatan_code"] = [_("Kecamatan %(code)s tidak ada; pilih dari daftar.", code=kecamatan[:13])]
    if kelurahan and (kel is None or kel.level != RegionLevel.KELURAHAN):
        errors["kelurahan_code"] = [_("Kelurahan %(code)s tidak ada; pilih dari daftar.", code=kelurahan[:13])]
    elif kel is not None and kec is not None and kel.parent_code != kec.code:
        errors["kelurahan_code"] = [_("Kelurahan ini tidak berada di kecamatan yang dipilih.")]
    if role == Role.SOCIAL_WORKER and not (kecamatan or kelurahan) and not errors:
        errors["kecamatan_code"] = [_("Pekerja sosial harus punya wilayah tugas: pilih kecamatan atau kelurahan.")]
    return errors


def _check_profile(session: Session, data: dict[str, Any], user: User | None) -> dict[str, Any]:
    """Validate the editable fields of an account; raises ValidationFailed naming every bad field."""
    errors: dict[str, list[str]] = {}
    email = normalise_email(str(data.get("email") or ""))
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 254:
        errors["email"] = [_("Alamat e-mail tidak valid.")]
    elif session.scalar(select(User.id).where(func.lower(User.email) == email,
                                              User.id != (user.id if user else -1))) is not None:
        errors["email"] = [_("E-mail ini sudah dipakai pengguna lain.")]
    full_name = str(data.get("full_name") or "").strip()
    if not full_name:
        errors["full_name"] = [_("Nama lengkap wajib diisi.")]
    try:
        role: Role | None = Role(data.get("role"))
    except ValueError:
        errors["role"] = [_("Peran harus salah satu dari: %(roles)s.", roles=", ".join(Role))]
        role = None
    agency_code = str(data.get("agency") or "").strip() or None
    agency = session.scalar(select(Agency).where(Agency.code == agency_code)) if agency_code else None
    if agency_code and agency is None:
        errors["agency"] = [_("Dinas dengan kode %(code)s tidak ada.", code=agency_code[:32])]
    elif agency is not None and not agency.active and (user is None or user.agency_id != agency.id):
        errors["agency"] = [_("Dinas %(code)s tidak aktif; pilih dinas yang aktif.", code=agency.code)]
    if role == Role.AGENCY_OFFICER and agency is None and "agency" not in errors:
        errors["agency"] = [_("Petugas dinas harus punya dinas: pilih dinasnya.")]
    kecamatan = str(data.get("kecamatan_code") or "").strip() or None
    kelurahan = str(data.get("kelurahan_code") or "").strip() or None
    if kelurahan and not kecamatan:
        kecamatan = kelurahan.rsplit(".", 1)[0]
    errors.update(_scope_problems(session, role, kecamatan, kelurahan))
    phone = str(data.get("phone") or "").strip() or None
    if phone and not PHONE_RE.fullmatch(phone):
        errors["phone"] = [_("Nomor telepon: angka saja, boleh diawali +, 7–20 digit (mis. +6281234567890).")]
    locale = str(data.get("locale") or "id")
    if locale not in LOCALES:
        errors["locale"] = [_("Bahasa harus id atau en.")]
    if errors:
        raise ValidationFailed(errors)
    return {"email": email, "full_name": full_name[:200], "role": role, "agency_id": agency.id if agency else None,
            "kecamatan_code": kecamatan, "kelurahan_code": kelurahan, "phone": phone, "locale": locale}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _refuse_open_work(field: str, open_work: dict[str, int] | None, message: str) -> None:
    blocking = {k: v for k, v in (open_work or {}).items() if v}
    if blocking:
        detail = ", ".join(f"{name}: {count}" for name, count in sorted(blocking.items()))
        raise ValidationFailed({field: [message + " (" + detail + ")"]})


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)
                          .where(User.role == Role.ADMIN, User.active.is_(True))) or 0


def invite_user(session: Session, actor: User, **data: Any) -> tuple[User, str]:
    """Create an account without a password and a one-time invitation link token (shown once).

    The new user opens the link, sets their own password, and (admins, supervisors) enrols a
    second factor at first login. Returns (user, raw token); only the token's hash is stored.
    """
    values = _check_profile(session, data, None)
    user = User(**values, active=True, password_hash=None)
    session.add(user)
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="create_user", object_type="user", object_id=user.id,
                       after=user_snapshot(user))
    token = issue_user_token(session, user, TokenPurpose.INVITE, actor=actor)
    return user, token


def update_user(session: Session, actor: User, user: User, *, open_work: dict[str, int] | None = None,
                **data: Any) -> User:
    """Edit an account's profile, role, agency and scope.

    *open_work* is what the user still holds (the admin view counts it in the cases domain): a role or
    scope change that would leave it with nobody allowed to act on it is refused.
    """
    values = _check_profile(session, data, user)
    before = user_snapshot(user)
    if values["role"] != user.role:
        if user.role == Role.ADMIN and user.active and _active_admins(session) <= 1:
            raise ValidationFailed({"role": [_("Ini admin aktif terakhir; angkat admin lain dulu.")]})
        _refuse_open_work("role", open_work, _("Pengguna ini masih memegang pekerjaan; serah-terimakan dulu "
                                               "kasusnya sebelum mengganti peran."))
    elif (values["agency_id"] != user.agency_id or values["kecamatan_code"] != user.kecamatan_code
          or values["kelurahan_code"] != user.kelurahan_code):
        _refuse_open_work("kecamatan_code" if values["agency_id"] == user.agency_id else "agency", open_work,
                          _("Pengguna ini masih memegang pekerjaan di wilayah atau dinas lamanya; "
                            "serah-terimakan dulu kasusnya."))
    for key, value in values.items():
        setattr(user, key, value)
    session.flush()
    old, new = _changes(before, user_snapshot(user))
    if new:
        record_audit_event(session, actor_id=actor.id, action="update_user", object_type="user", object_id=user.id,
                           before=old, after=new)
    if "role" in new or "active" in new:
        end_all_sessions(session, user, reason="role_changed", actor=actor)
    return user


def set_user_active(session: Session, actor: User, user: User, active: bool, *,
                    open_work: dict[str, int] | None = None) -> User:
    """Deactivate (ending every session and token) or reactivate an account; never deleted.

    Deactivation is refused while the user still holds open work (hand the caseload over first),
    for one's own account, and for the last active admin.
    """
    if user.active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise ValidationFailed({"active": [_("Anda tidak dapat menonaktifkan akun Anda sendiri.")]})
        if user.role == Role.ADMIN and _active_admins(session) <= 1:
            raise ValidationFailed({"active": [_("Ini admin aktif terakhir; angkat admin lain dulu.")]})
        _refuse_open_work("active", open_work, _("Pengguna ini masih memegang kasus atau intervensi terbuka; "
                                                 "serah-terimakan dulu lewat Serah terima kasus."))
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="activate_user" if active else "deactivate_user",
                       object_type="user", object_id=user.id, before={"active": not active}, after={"active": active})
    end_all_sessions(session, user, reason="activated" if active else "deactivated", actor=actor)
    return user


def reset_password(session: Session, actor: User, user: User) -> str:
    """Void the password, end every session, and return a one-time reset link token (shown once)."""
    user.password_hash = None
    user.password_changed_at = None
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    end_all_sessions(session, user, reason="password_reset", actor=actor)
    record_audit_event(session, actor_id=actor.id, action="reset_password", object_type="user", object_id=user.id,
                       before={"password": "set"}, after={"password": "reset_link_issued"})
    return issue_user_token(session, user, TokenPurpose.RESET, actor=actor)


def reset_totp(session: Session, actor: User, user: User) -> None:
    """Remove the second factor (lost phone): the user enrols again at the next login."""
    had = user.has_totp
    user.totp_secret = None
    user.totp_last_step = None
    session.flush()
    end_all_sessions(session, user, reason="totp_reset", actor=actor)
    record_audit_event(session, actor_id=actor.id, action="reset_totp", object_type="user", object_id=user.id,
                       before={"has_totp": had}, after={"has_totp": False})


# Tables that belong to the account itself and go with it when it is deleted.
OWN_TABLES = frozenset({"user_tokens", "api_tokens", "notification_preferences"})


def delete_user(session: Session, actor: User, user: User) -> None:
    """Delete an account that nothing names (a mistaken invitation); otherwise refuse.

    Any row that points at the user (cases, steps, interventions, notes, audit events they made,
    access-log rows, notifications, handovers …) keeps them: deactivate instead. Audit events *about*
    the account (creation) hold its id without a foreign key and stay, with this deletion after them.
    """
    if user.id == actor.id:
        raise ValidationFailed({"user": [_("Anda tidak dapat menghapus akun Anda sendiri.")]})
    named = references_to(session, "users", user.id, ignore=OWN_TABLES)
    if named:
        detail = ", ".join(f"{table}: {count}" for table, count in sorted(named.items()))
        raise Conflict(_("Pengguna ini tercatat pada data lain (%(detail)s) dan tidak dapat dihapus; "
                         "nonaktifkan saja.", detail=detail))
    before, before_id = user_snapshot(user), user.id
    for table in OWN_TABLES:
        owned = Base.metadata.tables.get(table)
        if owned is not None and "user_id" in owned.c:
            session.execute(delete(owned).where(owned.c.user_id == user.id))
    session.delete(user)
    session.flush()
    record_audit_event(session, actor_id=actor.id, action="delete_user", object_type="user", object_id=before_id,
                       before=before)


def issue_user_token(session: Session, user: User, purpose: TokenPurpose, *, actor: User | None = None) -> str:
    """A one-time link token for *user* to set a password; earlier unused ones stop working."""
    now = utcnow()
    session.execute(update(UserToken).where(UserToken.user_id == user.id, UserToken.used_at.is_(None))
                    .values(used_at=now))
    lifetime = current_app.config.get("INVITE_TOKEN_LIFETIME" if purpose == TokenPurpose.INVITE
                                      else "RESET_TOKEN_LIFETIME")
    if lifetime is None:
        lifetime = timedelta(days=7) if purpose == TokenPurpose.INVITE else timedelta(hours=24)
    token = secrets.token_urlsafe(32)
    session.add(UserToken(user_id=user.id, purpose=purpose, token_hash=_token_hash(token), created_at=now,
                          created_by_id=actor.id if actor else None, expires_at=now + lifetime))
    session.flush()
    # Who issued a link, for which purpose and until when; never the token.
    record_audit_event(session, actor_id=(actor or user).id, action="issue_user_link", object_type="user",
                       object_id=user.id, after={"purpose": str(purpose),
                                                 "expires_at": (now + lifetime).isoformat(timespec="seconds")})
    return token


def user_token(session: Session, token: str) -> UserToken | None:
    """The unused, unexpired token row for *token* of an active user, or None."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(select(UserToken).where(UserToken.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or not row.user.active:
        return None
    return row


def set_password_with_token(session: Session, token: str, new_password: str) -> User:
    """Redeem a one-time link: set the password, burn the token, end any other session."""
    row = user_token(session, token)
    if row is None:
        raise ValidationFailed({"token": [_("Tautan ini tidak berlaku lagi (sudah dipakai atau kedaluwarsa). "
                                            "Minta tautan baru kepada admin.")]})
    user = row.user
    problems = passwords.password_problems(new_password, email=user.email, name=user.full_name)
    if problems:
        raise ValidationFailed({"password": problems})
    burned = session.execute(update(UserToken).where(UserToken.id == row.id, UserToken.used_at.is_(None))
                             .values(used_at=utcnow()))
    if burned.rowcount != 1:  # the same link submitted twice at once
        raise ValidationFailed({"token": [_("Tautan ini tidak berlaku lagi (sudah dipakai atau kedaluwarsa). "
                                            "Minta tautan baru kepada admin.")]})
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.failed_logins, user.locked_until = 0, None
    end_all_sessions(session, user, reason="password_set")
    record_audit_event(session, actor_id=user.id, action="set_password_" + str(row.purpose), object_type="user",
                       object_id=user.id)
    return user
