"""``/healthz`` (process alive), ``/readyz`` (dependencies ready) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from caseapp.auth.permissions import public
from caseapp.ops import checks
from caseapp.ops.metrics import EXTENSION

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@public
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    ok, results = checks.readiness()
    body = {"status": "ok" if ok else "fail", "checks": results}
    if not ok:
        body["failed"] = sorted(name for name, check in results.items() if not check["ok"])
    return jsonify(body), 200 if ok else 503


@bp.get("/metrics")
@public  # guarded by METRICS_TOKEN below, not by a user session
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("unauthorized\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = current_app.extensions[EXTENSION]["registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
