"""Reading a DTSEN-style file as a stream of rows: CSV (any of , ; tab, with or without BOM) or XLSX.

Nothing is loaded whole: CSV goes through ``csv.reader`` over a buffered text stream, XLSX through
openpyxl in read-only mode. What the file *is* is decided by its first bytes, not its name.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from caseapp.households.imports.columns import COLUMNS, FIELD_ORDER, REQUIRED, field_of

ZIP_MAGIC = b"PK\x03\x04"
# Things people upload instead of a spreadsheet; refused with a clear word rather than parsed as text.
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\xd0\xcf\x11\xe0", b"\x1f\x8b", b"Rar!", b"7z\xbc")
csv.field_size_limit(1_000_000)


class FileProblem(ValueError):
    """The file as a whole cannot be read (not a spreadsheet, empty, missing columns)."""


@dataclass
class Opened:
    kind: str                                  # "csv" or "xlsx"
    headers: dict[str, str]                    # field → header as written in the file
    index: tuple[int | None, ...]              # FIELD_ORDER → column position
    ignored: list[str]                         # headers we do not know
    rows: Iterator[tuple[int, list]]           # (row number as a spreadsheet shows it, cells)
    size: int
    estimated_rows: int | None

    def position(self) -> int:
        """Bytes read so far (approximately); the whole size once the file is read and closed."""
        if not self._position:
            return 0
        try:
            return self._position()
        except ValueError:
            return self.size

    _position: object = None


def sniff_kind(head: bytes) -> str:
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise FileProblem("Berkas kosong: tidak ada judul kolom maupun baris data.")
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head[:4096]:
        raise FileProblem("Berkas ini bukan spreadsheet. Unggah CSV atau XLSX (Excel) dengan judul kolom "
                          "seperti di templat.")
    return "csv"


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:   # not just a character cut at the end of the sample
            return "cp1252"
    return "utf-8"


def _map_headers(raw_headers: list) -> tuple[dict[str, str], tuple[int | None, ...], list[str]]:
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored = []
    for i, header in enumerate(raw_headers):
        text = str(header).strip() if header is not None else ""
        if not text:
            continue
        name = field_of(text)
        if name is None or name in positions:
            ignored.append(text)
            continue
        positions[name] = i
        headers[name] = text
    missing = [COLUMNS[name][0] for name in REQUIRED if name not in positions]
    if missing:
        raise FileProblem("Kolom wajib tidak ditemukan: " + ", ".join(missing) + ". Periksa judul kolom di baris "
                          "pertama (lihat templat di panduan impor).")
    return headers, tuple(positions.get(name) for name in FIELD_ORDER), ignored


def open_rows(path: Path | str) -> Opened:
    """Open *path* and read its header; raises FileProblem when it is not a usable household list."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(65536)
    if size == 0:
        raise FileProblem("Berkas kosong: tidak ada judul kolom maupun baris data.")
    kind = sniff_kind(head)
    return _open_xlsx(path, size) if kind == "xlsx" else _open_csv(path, size, head)


def _open_csv(path: Path, size: int, head: bytes) -> Opened:
    encoding = _encoding(head)
    binary = path.open("rb")
    text = io.TextIOWrapper(binary, encoding=encoding, newline="", errors="replace")
    first_line = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[0] if head else ""
    delimiter = max((";", ",", "\t", "|"), key=first_line.count)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        raw_headers = next(reader)
    except StopIteration:
        binary.close()
        raise FileProblem("Berkas kosong: tidak ada judul kolom maupun baris data.") from None
    try:
        headers, index, ignored = _map_headers(raw_headers)
    except FileProblem:
        binary.close()
        raise

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for row in reader:
                if row and (row[0].strip() or any(cell.strip() for cell in row)):
                    yield reader.line_num, row
        finally:
            binary.close()

    opened = Opened("csv", headers, index, ignored, rows(), size,
                    estimated_rows=max(size // max(len(first_line) + 1, 60) // 2, 1))
    opened._position = binary.tell
    return opened


def _open_xlsx(path: Path, size: int) -> Opened:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise FileProblem("Berkas ZIP ini bukan buku kerja Excel (XLSX) yang bisa dibaca. Simpan ulang sebagai "
                          "XLSX atau CSV.") from None
    sheet = workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    number = 0
    raw_headers = None
    for cells in iterator:
        number += 1
        if cells and any(c is not None and str(c).strip() for c in cells):
            raw_headers = list(cells)
            break
    if raw_headers is None:
        workbook.close()
        raise FileProblem("Berkas kosong: tidak ada judul kolom maupun baris data.")
    try:
        headers, index, ignored = _map_headers(raw_headers)
    except FileProblem:
        workbook.close()
        raise
    state = {"row": number}
    start = number

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for offset, cells in enumerate(iterator, start=start + 1):
                state["row"] = offset
                if cells and any(c is not None and str(c).strip() for c in cells):
                    yield offset, list(cells)
        finally:
            workbook.close()

    estimated = (sheet.max_row - start) if sheet.max_row else None
    opened = Opened("xlsx", headers, index, ignored, rows(), size, estimated_rows=estimated)
    total = max(sheet.max_row or 1, 1)
    opened._position = lambda: int(size * min(state["row"] / total, 1.0))
    return opened
