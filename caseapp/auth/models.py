"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.agencies.models import Agency
from caseapp.core.models import Base, TimestampMixin, str_enum, utcnow
from caseapp.core.types import Ciphertext


class Role(StrEnum):
    SOCIAL_WORKER = "social_worker"
    SUPERVISOR = "supervisor"
    AGENCY_OFFICER = "agency_officer"
    VIEWER = "viewer"
    ADMIN = "admin"


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, 24), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    # Scope: a supervisor's kecamatan (None = city-wide), a social worker's kelurahan.
    kecamatan_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    kelurahan_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="id")
    active: Mapped[bool] = mapped_column(default=True)

    # Bumped on logout, password change and deactivation: every cookie and token carrying the
    # old value stops working (SECURITY.md 7.4.1).
    session_version: Mapped[int] = mapped_column(default=1)
    totp_secret: Mapped[bytes | None] = mapped_column(Ciphertext)
    # Last accepted TOTP time step: a code is accepted once only.
    totp_last_step: Mapped[int | None]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    agency: Mapped[Agency | None] = relationship(lazy="joined")

    def get_id(self) -> str:
        """Flask-Login's 'alternative token': the id with the session version."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class TokenPurpose(StrEnum):
    INVITE = "invite"   # a new user sets their first password
    RESET = "reset"     # an admin reset the password; the user sets a new one


class UserToken(Base):
    """A one-time, expiring link for a user to set a password; only its SHA-256 is stored."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose, 16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
