"""Writes for reference data. The seed files in ``data/`` are Kota Kediri's (copied from shared/data)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseapp.agencies.models import (
    Agency,
    AgencyKind,
    BudgetTag,
    Programme,
    ProgrammeTarget,
    ReferralSource,
    Region,
    RegionLevel,
    Strategy,
)

# Defaults the city can edit later (admin screens): SLA days per programme and ordered milestones.
PROGRAMME_DEFAULTS = {
    "RTLH": {"sla_days": 180, "milestones": ["survey", "decree", "transfer", "works_50", "works_100", "handover"]},
    "ADMINDUK": {"sla_days": 14},
    "JKN_PBI": {"sla_days": 14},
    "DOKTER_KELUARGA": {"sla_days": 14},
    "ATM_BERAS": {"sla_days": 7},
    "PELATIHAN_KERJA": {"sla_days": 90},
    "MODAL_UMKM": {"sla_days": 60},
    "SEKOLAH_RAKYAT": {"sla_days": 60},
    "BEASISWA": {"sla_days": 60},
}


def _rows(name: str) -> Iterator[dict[str, str]]:
    text = resources.files("caseapp.agencies").joinpath("data", name).read_text(encoding="utf-8")
    yield from csv.DictReader(text.splitlines())


def load_regions(session: Session) -> int:
    """Upsert the closed list of regions; returns how many were added."""
    existing = set(session.scalars(select(Region.code)))
    added = 0
    for row in _rows("wilayah_kota_kediri.csv"):
        if row["code"] in existing:
            continue
        session.add(
            Region(code=row["code"], name=row["name"], level=RegionLevel(row["level"]),
                   parent_code=row["parent_code"] or None)
        )
        session.flush()  # parents first: the file lists them before their children
        added += 1
    return added


def kelurahan_desk_code(kelurahan_code: str) -> str:
    """``35.71.01.1001`` → ``KEL-011001``."""
    _, _, kecamatan, kelurahan = kelurahan_code.split(".")
    return f"KEL-{kecamatan}{kelurahan}"


def load_agencies(session: Session) -> int:
    """City agencies from the seed file plus one desk per kelurahan.

    Desk codes are ``KEL-`` + kecamatan (2 digits) + kelurahan (4 digits), e.g. ``KEL-011001`` for
    Bandar Lor: the last four digits alone repeat across kecamatan.
    """
    existing = set(session.scalars(select(Agency.code)))
    added = 0
    for row in _rows("agencies.csv"):
        if row["code"] not in existing:
            session.add(Agency(code=row["code"], name=row["name"], kind=AgencyKind(row["kind"])))
            added += 1
    kelurahan = session.scalars(select(Region).where(Region.level == RegionLevel.KELURAHAN).order_by(Region.code))
    for region in kelurahan:
        code = kelurahan_desk_code(region.code)
        if code not in existing:
            session.add(Agency(code=code, name=f"Kelurahan {region.name}", kind=AgencyKind.KELURAHAN,
                               kelurahan_code=region.code))
            added += 1
    session.flush()
    return added


def load_programmes(session: Session) -> int:
    agencies = {a.code: a.id for a in session.scalars(select(Agency))}
    existing = set(session.scalars(select(Programme.code)))
    added = 0
    for row in _rows("programs.csv"):
        if row["code"] in existing:
            continue
        defaults = PROGRAMME_DEFAULTS.get(row["code"], {})
        session.add(
            Programme(
                code=row["code"],
                name=row["name"],
                agency_id=agencies[row["agency"]],
                strategy=Strategy(row["strategy"]),
                target=ProgrammeTarget(row["target"]),
                budget_tag=BudgetTag.DIRECT,
                sla_days=defaults.get("sla_days", 30),
                milestones=defaults.get("milestones", []),
                note=row["note"],
            )
        )
        added += 1
    session.flush()
    return added


def load_referral_sources(session: Session) -> int:
    existing = set(session.scalars(select(ReferralSource.code)))
    added = 0
    for row in _rows("referral_sources.csv"):
        if row["code"] not in existing:
            session.add(ReferralSource(code=row["code"], name=row["name"]))
            added += 1
    session.flush()
    return added


def load_reference_data(session: Session) -> dict[str, int]:
    """Regions, agencies, programmes and referral sources; idempotent."""
    return {
        "regions": load_regions(session),
        "agencies": load_agencies(session),
        "programmes": load_programmes(session),
        "referral_sources": load_referral_sources(session),
    }
