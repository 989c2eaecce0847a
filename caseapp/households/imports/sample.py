"""Synthetic DTSEN-style rows (valid by construction) for the sample file, the tests and the benchmark."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

from caseapp.households.identity import build_kk, build_nik
from caseapp.households.imports.columns import COLUMNS

HEADER = [COLUMNS[name][0] for name in COLUMNS]
_FIRST = ("Siti", "Budi", "Sri", "Agus", "Dewi", "Joko", "Rina", "Eko", "Wahyu", "Nur", "Ahmad", "Yuli", "Bambang",
          "Tri", "Indah", "Hadi", "Lestari", "Rudi", "Ani", "Slamet")
_LAST = ("Rahayu", "Santoso", "Wulandari", "Prasetyo", "Lestari", "Susanto", "Handayani", "Saputra", "Wijaya",
         "Hidayat", "Kusuma", "Purnomo", "Setiawan", "Utami", "Nugroho")
_BIRTH_BASE = date(1945, 1, 1)
_KK_BASE = date(2010, 1, 1)


def household_rows(index: int, kelurahan: Sequence[str], *, release: str = "DTSEN-2025-Q2", rng: random.Random,
                   desil: int | None = None, offset: int = 0, members: int | None = None) -> list[list[str]]:
    """The rows of household *index* (2-6 members, head first). Unique NIK/KK for distinct indexes."""
    code = kelurahan[index % len(kelurahan)]
    kecamatan = code.split(".")[2]
    j = index + offset
    kk = build_kk(35, 71, kecamatan, _KK_BASE + timedelta(days=j % 4000), j // 4000 + 1)
    count = members or rng.choice((2, 3, 4, 4, 5, 6))
    rows = []
    family = rng.choice(_LAST)
    for m in range(count):
        p = j * 8 + m
        born = _BIRTH_BASE + timedelta(days=p % 25000)
        sex = "P" if (m == 1 or rng.random() < 0.5) else "L"
        nik = build_nik(35, 71, kecamatan, born, sex, p // 25000 + 1)
        relation = "1" if m == 0 else ("2" if m == 1 else "3")
        rows.append([
            kk, code, f"Jl. {family} No. {index % 200 + 1}", str(index % 15 + 1), str(index % 9 + 1),
            str(desil or (index % 10 + 1)), release, nik, f"{rng.choice(_FIRST)} {family}", sex,
            born.strftime("%d-%m-%Y"), relation, "2" if m < 2 else "1", "", "3" if m < 2 else "2",
            "1" if m == 0 else "4", "1" if m == 0 else "", "1500000" if m == 0 else "", "", "2", "",
        ])
    return rows


def generate(path: Path | str, households: int, kelurahan: Sequence[str], *, seed: int = 7,
             release: str = "DTSEN-2025-Q2", delimiter: str = ",", offset: int = 0) -> int:
    """Write a CSV of *households* households; returns the number of person rows."""
    rng = random.Random(seed)
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(HEADER)
        for index in range(households):
            rows = household_rows(index, kelurahan, release=release, rng=rng, offset=offset)
            writer.writerows(rows)
            count += len(rows)
    return count


def iter_rows(households: int, kelurahan: Sequence[str], seed: int = 7, **kwargs) -> Iterator[list[str]]:
    rng = random.Random(seed)
    for index in range(households):
        yield from household_rows(index, kelurahan, rng=rng, **kwargs)
