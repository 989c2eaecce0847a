"""Helpers to build DTSEN-style files for the import tests."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from caseapp.households.imports.sample import HEADER, household_rows

KELURAHAN = ["35.71.01.1001", "35.71.01.1002", "35.71.02.1001"]


def rows_for(households: int, *, offset: int = 0, release: str = "DTSEN-2025-Q2", desil: int | None = None,
             seed: int = 3) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for index in range(households):
        out.extend(household_rows(index, KELURAHAN, rng=rng, offset=offset, release=release, desil=desil))
    return out


def write_csv(path: Path, rows: list[list], *, delimiter: str = ",", bom: bool = False,
              header: list[str] | None = None) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode())
    return path


def write_xlsx(path: Path, rows: list[list], header: list[str] | None = None) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def col(name: str) -> int:
    return HEADER.index(name)
