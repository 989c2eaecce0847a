"""Gunicorn settings for Sinergi: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (the systemd unit reads /etc/sinergi/sinergi.env).
Gunicorn's own messages are written in the app's log format (LOG_FORMAT); the app writes one line
per request itself, so gunicorn's access log stays off.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Longer than the slowest legitimate request (a report export); nginx's proxy_read_timeout matches.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then (a slow leak never grows without bound); jitter avoids all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# The X-Forwarded-* headers are handled by the app (ProxyFix, TRUSTED_PROXY_HOPS), not by gunicorn.
forwarded_allow_ips = "127.0.0.1"
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "sinergi"

_json = (os.environ.get("LOG_FORMAT") or ("json" if os.environ.get("SINERGI_ENV") == "production" else "text"))
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "sinergi": {"()": "caseapp.core.logging.JsonFormatter" if _json.lower() == "json"
                    else "caseapp.core.logging.TextFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "sinergi", "stream": "ext://sys.stderr"},
    },
    "root": {"level": loglevel.upper(), "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}
