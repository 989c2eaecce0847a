"""Cells bound for CSV/XLSX files a spreadsheet will open (CSV/formula injection, CWE-1236)."""

from __future__ import annotations

# Text starting with one of these is run as a formula by Excel/LibreOffice when the file is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """*value*, with a leading apostrophe when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
