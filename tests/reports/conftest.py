"""A small reported world for the HTTP tests: 2025 cases in all three kecamatan, with names and
addresses that would be dangerous in a spreadsheet and easy to spot in a page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from caseapp.cases.models import Stage
from caseapp.extensions import db
from tests.reports.builders import BANDAR_LOR, BANGSAL, SEMAMPIR, at, case, delivered, household, step

MOJOROTO_NAME = "Siti Rahasia Mojoroto"
KOTA_NAME = "+SUM(1) Budi Kota"
PESANTREN_NAME = "@cmd Pesantren"
EVIL_ADDRESS = '=HYPERLINK("http://contoh.invalid","klik")'


@dataclass
class World:
    mojoroto_cases: int
    kota_cases: int


@pytest.fixture
def reported(app, session) -> World:
    with app.app_context():
        named = household(BANDAR_LOR, name=MOJOROTO_NAME, address=EVIL_ADDRESS, incomes=(100_000,))
        first = case(named, opened=at(2025, 2, 1))
        step(first, "triage", Stage.REFERRAL, opened=at(2025, 2, 1), done=at(2025, 2, 2))
        step(first, "verification", Stage.VERIFICATION, opened=at(2025, 2, 2), done=at(2025, 2, 6))
        delivered(first, "RTLH", date(2025, 2, 20), 20_000_000)
        for n in range(6):
            other = case(household(BANDAR_LOR, incomes=(300_000, 0)), opened=at(2025, 3, 1 + n))
            step(other, "triage", Stage.REFERRAL, opened=at(2025, 3, 1 + n), done=at(2025, 3, 3 + n))
            step(other, "verification", Stage.VERIFICATION, opened=at(2025, 3, 3 + n), done=at(2025, 3, 10 + n))
            delivered(other, "DOKTER_KELUARGA", date(2025, 3, 20 + n))
        kota = case(household(SEMAMPIR, name=KOTA_NAME), opened=at(2025, 2, 10))
        step(kota, "triage", Stage.REFERRAL, opened=at(2025, 2, 10), done=at(2025, 2, 11))
        delivered(kota, "JKN_PBI", date(2025, 3, 1), 500_000)
        household(BANGSAL, name=PESANTREN_NAME)
        db.session.commit()
    return World(mojoroto_cases=7, kota_cases=1)
