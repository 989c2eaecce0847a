"""Who is asking, and may they: session loading, API tokens, timeouts and the route guard.

Every request passes :func:`enforce_route_permission`: the route's declared permission (see
:mod:`caseapp.auth.permissions`) is checked against the role table; a route without a declaration
is refused. Object-level scope is *not* decided here but in each domain's ``queries.py``.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user, logout_user

from caseapp.auth.models import User
from caseapp.auth.operations import user_for_api_token
from caseapp.auth.permissions import PUBLIC, declared_permission, has_permission
from caseapp.core.audit import AccessKind, record_access
from caseapp.core.http import render_error
from caseapp.core.models import utcnow
from caseapp.extensions import db, login_manager


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load from the session cookie: ``id:session_version``; a stale version is a dead session."""
    if _is_api_request():
        return None  # the API takes bearer tokens only, so it needs no CSRF protection
    try:
        uid, version = (int(part) for part in user_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_api_token(db.session, token.strip())


def _session_expired() -> bool:
    """Idle (30 min) and absolute (12 h) timeouts for cookie sessions (SECURITY.md 7.3)."""
    now = utcnow().timestamp()
    login_at = session.get("login_at")
    last_seen = session.get("last_seen")
    if login_at is None or last_seen is None:
        return True
    idle = current_app.config["SESSION_IDLE_TIMEOUT"].total_seconds()
    absolute = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    return now - last_seen > idle or now - login_at > absolute


def start_session(user_id: int) -> None:
    now = utcnow().timestamp()
    session["login_at"] = now
    session["last_seen"] = now
    session.permanent = True


def log_denied(permission: str | None) -> None:
    record_access(
        db.session,
        user_id=current_user.id if current_user.is_authenticated else None,
        kind=AccessKind.DENIED,
        detail={"endpoint": request.endpoint, "method": request.method, "permission": permission},
    )
    db.session.commit()


def enforce_route_permission():
    """Central guard run before every view (deny by default)."""
    if request.endpoint is None:
        return None  # 404 / 405 from routing; the error handler answers
    if request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    permission = declared_permission(view)
    if permission == PUBLIC:
        return None
    if permission is None:
        current_app.logger.error("route %s declares no permission; refused", request.endpoint)
        return render_error(403)
    if not _is_api_request() and current_user.is_authenticated:
        if _session_expired():
            logout_user()
            session.clear()
            return redirect(url_for("auth.login", next=request.full_path, expired=1))
        session["last_seen"] = utcnow().timestamp()
    if not current_user.is_authenticated:
        if _is_api_request():
            return render_error(401, code="unauthorized")
        return redirect(url_for("auth.login", next=request.full_path))
    if not has_permission(current_user.role, permission):
        log_denied(str(permission))
        if _is_api_request():
            return render_error(403)
        abort(403)
    return None


def init_access(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    # A login page message is shown by the view itself; Flask-Login's default flash is English only.
    login_manager.login_message = None
    app.before_request(enforce_route_permission)
