"""Sinergi: case management for a city's poverty-reduction team (TKPK)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_login import current_user

from caseapp.admin.views import bp as admin_bp
from caseapp.admin.wiring import init_admin
from caseapp.api.views import init_api
from caseapp.auth.access import init_access
from caseapp.auth.views import bp as auth_bp
from caseapp.cases.attachment_views import bp as attachments_bp
from caseapp.cases.intervention_views import bp as interventions_bp
from caseapp.cases.pdp import init_case_pdp
from caseapp.cases.queries import init_case_queries
from caseapp.cases.views import bp as cases_bp
from caseapp.cli import register_cli
from caseapp.core.audit import init_audit
from caseapp.core.crypto import Keyring
from caseapp.core.database import configure_engine
from caseapp.core.devkeys import ensure_dev_keys
from caseapp.core.http import init_http
from caseapp.core.jobs import init_jobs
from caseapp.core.logging import configure_logging
from caseapp.core.timing import init_server_timing
from caseapp.extensions import babel, csrf, db, init_celery, limiter, login_manager, migrate
from caseapp.home.ui import init_ui
from caseapp.home.views import bp as home_bp
from caseapp.households.imports.wiring import init_imports
from caseapp.households.pdp import bp as pdp_bp
from caseapp.households.views import bp as households_bp
from caseapp.models import Base
from caseapp.notifications.views import bp as notifications_bp
from caseapp.notifications.wiring import init_notifications
from caseapp.ops import init_ops
from caseapp.reports.cli import reports_cli
from caseapp.reports.views import bp as reports_bp
from config import INSTANCE_DIR, Config, load_config

PROJECT_DIR = Path(__file__).resolve().parent.parent
SUPPORTED_LOCALES = ("id", "en")


def select_locale() -> str:
    """The user's saved language, else the one picked this session, else the browser's, else Indonesian."""
    if not has_request_context():
        return "id"
    if current_user and current_user.is_authenticated and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES, default="id")


def create_app(config: Config | str | None = None) -> Flask:
    """Build the Flask app. Nothing happens at import time; everything is wired here."""
    cfg = config if isinstance(config, Config) else load_config(config)
    if cfg.GENERATE_MISSING_KEYS:
        ensure_dev_keys(cfg, INSTANCE_DIR)
    cfg.validate()
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(cfg)
    app.extensions["sinergi_keyring"] = Keyring.from_config(
        app.config["ENCRYPTION_KEY"], app.config["BLIND_INDEX_KEY"]
    )

    configure_logging(app.config)
    assert db.metadata is Base.metadata  # one metadata for the app, Alembic and the tests
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_DIR / "migrations"), render_as_batch=True, compare_type=True)
    with app.app_context():
        configure_engine(db.engine)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    init_celery(app)
    init_jobs()
    init_http(app)
    init_server_timing(app)
    init_audit(app)
    init_access(app)
    init_ui(app)
    init_notifications(app)
    init_case_queries()
    init_case_pdp()
    init_imports(app)

    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(interventions_bp)
    app.register_blueprint(attachments_bp)
    app.register_blueprint(households_bp)
    app.register_blueprint(pdp_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(admin_bp)
    init_admin(app)
    init_api(app)
    init_ops(app)
    register_cli(app)
    app.cli.add_command(reports_cli)
    return app
