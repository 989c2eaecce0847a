"""Operations: health and readiness probes, Prometheus metrics, ``flask doctor``, ``flask backup``
(issue #9)."""

from __future__ import annotations

from flask import Flask

from caseapp.ops.backup import backup_cli
from caseapp.ops.doctor import doctor_command
from caseapp.ops.metrics import init_metrics
from caseapp.ops.views import bp


def init_ops(app: Flask) -> None:
    """Register the blueprint, the metrics hooks and ``flask doctor`` (settings in config.py)."""
    app.register_blueprint(bp)
    init_metrics(app)
    app.cli.add_command(doctor_command)
    app.cli.add_command(backup_cli)
