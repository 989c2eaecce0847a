"""Report periods: quarters and date ranges in Kediri time (WIB), turned into UTC bounds for SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from caseapp.core.models import utcnow

JAKARTA = ZoneInfo("Asia/Jakarta")  # a report day runs from midnight to midnight in Kediri
QUARTER_RE = re.compile(r"^(\d{4})\s*-?\s*[Qq]([1-4])$")
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def today() -> date:
    return utcnow().astimezone(JAKARTA).date()


def day_start_utc(day: date) -> datetime:
    """Midnight WIB at the start of *day*, in UTC."""
    return datetime.combine(day, time.min, tzinfo=JAKARTA).astimezone(UTC)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q3`` (also ``2026-Q3``, ``2026q3``)."""
        match = QUARTER_RE.match(text.strip())
        if not match:
            raise ValueError(f"not a quarter: {text!r}; write it like 2026Q3")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    @property
    def end(self) -> date:
        """Last day of the quarter."""
        following = date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)
        return following - timedelta(days=1)

    @property
    def year_start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def roman(self) -> str:
        return ROMAN[self.number]

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def has_ended(self, on: date | None = None) -> bool:
        return (on or today()) > self.end


def recent_quarters(first: date | None, count_min: int = 4) -> list[Quarter]:
    """Quarters from the current one back to the one holding *first* (at least *count_min*), newest first."""
    current = Quarter.containing(today())
    quarters = [current]
    stop = Quarter.containing(first) if first else None
    while len(quarters) < count_min or (stop is not None and (quarters[-1].year, quarters[-1].number)
                                       > (stop.year, stop.number)):
        quarters.append(quarters[-1].previous())
        if len(quarters) > 80:  # twenty years is plenty for a list on one page
            break
    return quarters
