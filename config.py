"""Configuration classes, all read from the environment.

``SINERGI_ENV`` picks the class: ``development`` (default, embedded SQLite, no Redis),
``testing`` or ``production``. Production refuses to start without its secrets
(see :meth:`ProdConfig.validate`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("SINERGI_INSTANCE", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """The configuration is missing something the chosen mode needs."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _database_url(url: str | None) -> str | None:
    # Operators paste URLs such as postgres://…; SQLAlchemy wants the psycopg 3 dialect named.
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def celery_settings(broker_url: str | None) -> dict:
    """Celery settings that make delivery safe (SECURITY.md, Celery and Redis)."""
    return {
        "broker_url": broker_url or "memory://",
        # Results are off by default (task_ignore_result); the few tasks that report one use Redis.
        "result_backend": broker_url,
        "result_expires": 3600,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A task must finish well inside the visibility timeout, or Redis hands it out again.
        "task_time_limit": 300,
        "task_soft_time_limit": 240,
        "broker_transport_options": {
            "visibility_timeout": 3600,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
        },
        "broker_connection_retry_on_startup": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_default_queue": "default",
        "task_routes": {"notifications.*": {"queue": "notifications"}},
        "timezone": "Asia/Jakarta",
        "enable_utc": True,
        # Notifications (issue #4): a stopped or hung Redis must not hold a user's request for long:
        # give up publishing quickly, the outbox relay publishes the rows later.
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                      "interval_max": 0.5},
        "broker_connection_timeout": 3,
        # On a warm shutdown, let the running task finish (its rows are claimed) before giving up.
        "worker_soft_shutdown_timeout": 10,
        **celery_env_overrides(),
    }


class Config:
    ENV_NAME = "base"
    GENERATE_MISSING_KEYS = False
    TESTING = False
    DEBUG = False

    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Sessions (SECURITY.md, sessions): short, server-revocable, never remembered for long.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "sinergi_session"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
    REMEMBER_COOKIE_DURATION = timedelta(hours=12)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    API_TOKEN_LIFETIME = timedelta(hours=12)
    # Changing one's e-mail or second factor needs the password re-entered this recently (ASVS 7.5.1).
    REAUTH_WINDOW = timedelta(minutes=5)

    WTF_CSRF_TIME_LIMIT = 12 * 3600

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    LANGUAGES = ("id", "en")

    # Login throttling (per address through Flask-Limiter; per account in the database).
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "20 per minute"
    ACCOUNT_LOCKOUT_THRESHOLD = 6
    ACCOUNT_LOCKOUT_MINUTES = 30

    # argon2id parameters (argon2-cffi defaults: RFC 9106 low-memory profile).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    MFA_REQUIRED_ROLES = ("admin", "supervisor")

    MAX_CONTENT_LENGTH = 20 * 1024 * 1024   # a request larger than this is answered 413
    MAX_UPLOAD_BYTES = 10 * 1024 * 1024     # one evidence file
    UPLOAD_DIR = None                       # default: instance/uploads (outside static)
    CASE_RETENTION_DAYS = 5 * 365           # closed cases are kept this long, then anonymised
    RETENTION_HOUR = 2                      # the daily anonymisation run starts at 02:30 (Asia/Jakarta)
    RETENTION_BATCH_SIZE = 500              # households per transaction

    API_TITLE = "Sinergi API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    def __init__(self) -> None:
        # Read at instantiation, not import, so a test or a CLI can set the environment first.
        self.SECRET_KEY = _env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = _database_url(_env("DATABASE_URL"))
        self.REDIS_URL = _env("REDIS_URL")
        # NIK/KK at rest: ENCRYPTION_KEY may list several comma-separated keys; the first one
        # encrypts, all of them decrypt (key rotation, docs/security.md).
        self.ENCRYPTION_KEY = _env("ENCRYPTION_KEY")
        self.BLIND_INDEX_KEY = _env("BLIND_INDEX_KEY")
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI") or (
            self.REDIS_URL if self.REDIS_URL else "memory://"
        )
        self.DEMO_PASSWORD = _env("DEMO_PASSWORD", "sinergi-demo-2025")
        self.DEMO_TOTP_SECRET = _env("DEMO_TOTP_SECRET", "JBSWY3DPEHPK3PXPJBSWY3DP")
        self.SMTP_HOST = _env("SMTP_HOST")
        self.SMTP_PORT = int(_env("SMTP_PORT", "25") or 25)
        self.SMTP_USER = _env("SMTP_USER")
        self.SMTP_PASSWORD = _env("SMTP_PASSWORD")
        self.MAIL_FROM = _env("MAIL_FROM", "sinergi@localhost")
        self.SMS_WEBHOOK_URL = _env("SMS_WEBHOOK_URL")
        self.SMS_WEBHOOK_SECRET = _env("SMS_WEBHOOK_SECRET")
        self.PORT = int(_env("PORT", "5000") or 5000)
        # /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (404 when unset).
        self.METRICS_TOKEN = _env("METRICS_TOKEN")
        # /readyz fails when the oldest due outbox row has waited longer than this (seconds).
        self.READYZ_OUTBOX_MAX_AGE = float(_env("READYZ_OUTBOX_MAX_AGE", "600") or 600)
        # Logs (docs/operations.md): "json" (one object per line; the production default) or "text".
        self.LOG_FORMAT = _env("LOG_FORMAT")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (ProxyFix);
        # 1 behind the nginx of deploy/, 0 (trust none) when clients reach the app directly.
        self.TRUSTED_PROXY_HOPS = int(_env("TRUSTED_PROXY_HOPS", "0") or 0)
        # Where `flask backup create` writes its archives (docs/deploy.md, "Backups").
        self.BACKUP_DIR = _env("BACKUP_DIR")
        # Benchmarks only (bench/pages.py): a Server-Timing header with request and SQL time and the
        # SQL statement count. Off unless asked for; ProdConfig never turns it on.
        self.SERVER_TIMING = _env("SINERGI_SERVER_TIMING") == "1"
        notification_settings(self)

    @property
    def CELERY(self) -> dict:
        return celery_settings(self.REDIS_URL)

    def validate(self) -> None:
        """Raise :class:`ConfigError` when the mode cannot run safely."""


class DevConfig(Config):
    """Embedded default: SQLite under instance/, no Redis, keys generated into instance/."""

    ENV_NAME = "development"
    GENERATE_MISSING_KEYS = True

    def __init__(self) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI or f"sqlite:///{INSTANCE_DIR / 'sinergi.db'}"


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    WTF_CSRF_ENABLED = True
    GENERATE_MISSING_KEYS = False

    def __init__(self) -> None:
        super().__init__()
        # Test-only values: the suite builds its own database and must not read a developer's keys.
        self.SECRET_KEY = "test-secret-key-not-for-production-0123456789"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = _database_url(_env("TEST_DATABASE_URL")) or "sqlite://"
        self.REDIS_URL = _env("TEST_REDIS_URL")
        self.ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0wMDA="
        self.BLIND_INDEX_KEY = "dGVzdC1ibGluZC1pbmRleC1rZXktMzItYnl0ZXMtMDA="
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.DEMO_PASSWORD = "sinergi-demo-2025"  # noqa: S105
        self.DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"  # noqa: S105
        self.METRICS_TOKEN = None
        self.READYZ_OUTBOX_MAX_AGE = 600.0
    # Cheap hashing only here: the real parameters would make the suite crawl.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProdConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sinergi_session"
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    REQUIRED = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "ENCRYPTION_KEY", "BLIND_INDEX_KEY")
    ENV_NAMES = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}

    def validate(self) -> None:
        missing = [self.ENV_NAMES.get(name, name) for name in self.REQUIRED if not getattr(self, name)]
        if missing:
            raise ConfigError(
                "Production needs these environment variables: "
                + ", ".join(missing)
                + ". See README.md, 'Production'."
            )
        if len(self.SECRET_KEY or "") < 32:
            raise ConfigError(
                "SECRET_KEY must be at least 32 characters; make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            raise ConfigError("DATABASE_URL must point to PostgreSQL in production.")
        self.SERVER_TIMING = False  # a benchmark aid; never exposed in production


CONFIGS = {"development": DevConfig, "testing": TestConfig, "production": ProdConfig}


def load_config(name: str | None = None) -> Config:
    """Instantiate the configuration named by *name* or ``SINERGI_ENV``."""
    name = name or _env("SINERGI_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"SINERGI_ENV must be one of {', '.join(CONFIGS)}; got {name!r}.") from None


def celery_env_overrides() -> dict:
    """Operators and the crash tests shorten the broker's clocks through the environment.

    ``CELERY_TASK_TIME_LIMIT`` (hard; the soft limit is 80 % of it), ``CELERY_VISIBILITY_TIMEOUT``
    (must stay longer than the time limit) and ``CELERY_RESTORE_INTERVAL`` (seconds between kombu's
    sweeps that give unacknowledged messages of a dead worker back to the queue).
    """
    settings: dict = {}
    time_limit = _env("CELERY_TASK_TIME_LIMIT")
    if time_limit:
        settings["task_time_limit"] = int(time_limit)
        settings["task_soft_time_limit"] = max(1, int(int(time_limit) * 0.8))
    transport = {"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 5}
    visibility = _env("CELERY_VISIBILITY_TIMEOUT")
    if visibility:
        transport["visibility_timeout"] = int(visibility)
    restore = _env("CELERY_RESTORE_INTERVAL")
    if restore:
        transport["unacked_restore_interval"] = int(restore)
        transport["unacked_restore_throttle"] = 1
    if visibility or restore:
        settings["broker_transport_options"] = transport
    return settings


def notification_settings(config: Config) -> None:
    """Notification keys (issue #4), read from the environment; see docs/notifications.md."""
    time_limit = int(_env("CELERY_TASK_TIME_LIMIT", "300") or 300)
    # Absolute links in e-mails and SMS (the web app's public address).
    config.PUBLIC_BASE_URL = (_env("PUBLIC_BASE_URL", f"http://127.0.0.1:{config.PORT}") or "").rstrip("/")
    config.SMTP_STARTTLS = (_env("SMTP_STARTTLS", "") or "").lower() in ("1", "true", "yes")
    config.SMTP_TIMEOUT = float(_env("SMTP_TIMEOUT", "10") or 10)
    config.SMS_WEBHOOK_TIMEOUT = float(_env("SMS_WEBHOOK_TIMEOUT", "10") or 10)
    # Attempts per e-mail/webhook delivery before it is marked failed (shown on /admin/deliveries).
    config.NOTIFY_MAX_ATTEMPTS = int(_env("NOTIFY_MAX_ATTEMPTS", "8") or 8)
    # Exponential backoff with jitter: base * 2**(attempt-1), capped, in seconds.
    config.NOTIFY_BACKOFF_BASE = float(_env("NOTIFY_BACKOFF_BASE", "30") or 30)
    config.NOTIFY_BACKOFF_MAX = float(_env("NOTIFY_BACKOFF_MAX", "3600") or 3600)
    # The relay re-publishes rows still pending this many seconds after they were written.
    config.NOTIFY_RELAY_AFTER = float(_env("NOTIFY_RELAY_AFTER", "60") or 60)
    config.NOTIFY_RELAY_INTERVAL = float(_env("NOTIFY_RELAY_INTERVAL", "30") or 30)
    config.NOTIFY_RELAY_LIMIT = int(_env("NOTIFY_RELAY_LIMIT", "5000") or 5000)
    config.NOTIFY_SLA_SCAN_INTERVAL = float(_env("NOTIFY_SLA_SCAN_INTERVAL", "900") or 900)
    config.NOTIFY_DIGEST_HOUR = int(_env("NOTIFY_DIGEST_HOUR", "7") or 7)
    # Rows per delivery task (in-app rows are marked in one statement; e-mails share one SMTP session).
    config.NOTIFY_BATCH_SIZE = int(_env("NOTIFY_BATCH_SIZE", "100") or 100)
    # A claim older than this is presumed dead (the worker was killed); longer than the task time limit.
    config.NOTIFY_CLAIM_LEASE = float(_env("NOTIFY_CLAIM_LEASE", str(time_limit + 60)) or time_limit + 60)
    # A task message redelivered more often than this is dropped (poison message), with an error logged.
    config.NOTIFY_MAX_REDELIVERIES = int(_env("NOTIFY_MAX_REDELIVERIES", "5") or 5)
    # Embedded mode (no REDIS_URL): run the relay, the SLA scan and the digest in-process after
    # commits that write notifications, at most once per interval (no beat there). Off in tests.
    config.NOTIFY_EMBEDDED_HOUSEKEEPING = (
        (_env("NOTIFY_EMBEDDED_HOUSEKEEPING", "1") or "1").lower() in ("1", "true", "yes") and not config.TESTING
    )
