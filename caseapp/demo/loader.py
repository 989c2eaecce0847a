"""Load demo data. Idempotent: a second run with the same N changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.operations import load_reference_data
from caseapp.auth import operations as auth_ops
from caseapp.auth.models import Role, User
from caseapp.demo.cases import load_demo_cases
from caseapp.demo.households import load_demo_households

# DESIGN.md §6: stable names other tests rely on.
DEMO_USERS = (
    {"email": "admin@sinergi.test", "full_name": "Admin Sinergi", "role": Role.ADMIN},
    {"email": "supervisor@sinergi.test", "full_name": "Sri Wahyuni", "role": Role.SUPERVISOR, "agency_code": "DINSOS"},
    {"email": "worker@sinergi.test", "full_name": "Budi Santoso", "role": Role.SOCIAL_WORKER, "agency_code": "DINSOS",
     "kelurahan_code": "35.71.01.1001", "kecamatan_code": "35.71.01"},
    {"email": "worker2@sinergi.test", "full_name": "Siti Aminah", "role": Role.SOCIAL_WORKER, "agency_code": "DINSOS",
     "kelurahan_code": "35.71.02.1001", "kecamatan_code": "35.71.02"},
    {"email": "dokter@sinergi.test", "full_name": "dr. Rina Kusuma", "role": Role.AGENCY_OFFICER,
     "agency_code": "DINKES"},
    {"email": "rumah@sinergi.test", "full_name": "Agus Prasetyo", "role": Role.AGENCY_OFFICER, "agency_code": "DPKP"},
    # Beyond DESIGN.md §6: officers of the other agencies, so every programme has someone to deliver it.
    {"email": "bansos@sinergi.test", "full_name": "Wahyu Hidayat", "role": Role.AGENCY_OFFICER,
     "agency_code": "DINSOS"},
    {"email": "sekolah@sinergi.test", "full_name": "Dewi Lestari", "role": Role.AGENCY_OFFICER,
     "agency_code": "DISPENDIK"},
    {"email": "kerja@sinergi.test", "full_name": "Eko Saputro", "role": Role.AGENCY_OFFICER, "agency_code": "DKUMTK"},
    {"email": "capil@sinergi.test", "full_name": "Nur Aini", "role": Role.AGENCY_OFFICER,
     "agency_code": "DISPENDUKCAPIL"},
    {"email": "viewer@sinergi.test", "full_name": "Tim TKPK", "role": Role.VIEWER, "agency_code": "BAPPEDA"},
)


def load_demo_users(session: Session) -> int:
    """Create the demo users that are missing; MFA roles get the DEMO_TOTP_SECRET."""
    password = current_app.config["DEMO_PASSWORD"]
    existing = set(session.scalars(select(User.email)))
    added = 0
    for spec in DEMO_USERS:
        if spec["email"] in existing:
            continue
        user = auth_ops.create_user(session, password=password, enforce_policy=False, **spec)
        if user.role in current_app.config["MFA_REQUIRED_ROLES"]:
            auth_ops.set_totp_secret(session, user, current_app.config["DEMO_TOTP_SECRET"])
        added += 1
    return added


def load_demo(session: Session, *, households: int = 300, progress: Callable[[str], object] = print,
              bulk: bool = False, case_share: float = 1.0) -> dict[str, int]:
    """Reference data, demo users and *households* synthetic households; commits in batches.

    *bulk* (PostgreSQL, load tests): households and a case for *case_share* of them written with COPY
    (:mod:`caseapp.demo.bulk`) instead of walking each case through the workflow operations.
    """
    if bulk:
        from caseapp.demo.bulk import load_bulk

        return load_bulk(session, households, case_share=case_share, progress=progress)
    summary = load_reference_data(session)
    summary["users"] = load_demo_users(session)
    session.commit()
    summary["households"] = load_demo_households(session, households, progress=progress)
    summary["cases"] = load_demo_cases(session, progress=progress)
    return summary
