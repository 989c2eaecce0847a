"""Small-count suppression for aggregate readers (viewers): no household can be singled out.

The rule (also in ``docs/reports.md``):

1. Primary: a count of households, cases, steps or interventions from 1 to 4 is not shown ("< 5").
   Zero is shown. A count that is not printed but follows from two printed ones (e.g. households
   *not* reached = target − reached) is checked too; if it is 1–4, a printed one is hidden instead.
2. Complementary: wherever printed cells add up to a printed total (rows to a subtotal, a subtotal to
   the city, reached + not reached = target, stage counts to all cases), a hidden cell must not be
   recoverable by subtraction. If exactly one cell of such a sum is hidden, the smallest other
   non-zero part (else the total) is hidden too ("*"), repeated until no sum has a lone hidden cell.
3. Derived values follow their counts: a share, a median or a 90th percentile is hidden ("–") when a
   count it is computed from is hidden; a Rupiah amount is hidden when its count of interventions is.

This protects against subtraction within each published sum; it is not a full linear-programming
audit across every table, and comparing two differently filtered views can still narrow a cell.
Supervisors and admins may see personal data in their scope and get unsuppressed figures.
"""

from __future__ import annotations

from collections.abc import Hashable

THRESHOLD = 5
PRIMARY = "lt5"          # shown as "< 5"
COMPLEMENTARY = "hidden"  # shown as "*"

Key = Hashable


class Disclosure:
    """Cells (printed or implied), the sums that tie them, and :meth:`solve` for the hidden set."""

    def __init__(self, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self.values: dict[Key, int] = {}
        self.implied: set[Key] = set()
        self.sums: list[tuple[Key, tuple[Key, ...]]] = []

    def cell(self, key: Key, value: int | None, *, implied: bool = False) -> None:
        if value is None:
            return
        self.values[key] = int(value)
        if implied:
            self.implied.add(key)

    def add_sum(self, total: Key, parts: list[Key] | tuple[Key, ...]) -> None:
        members = (total, *parts)
        if all(m in self.values for m in members) and parts:
            self.sums.append((total, tuple(parts)))

    def small(self, key: Key) -> bool:
        return 0 < self.values[key] < self.threshold

    def solve(self) -> dict[Key, str]:
        """Printed cells to hide, with the reason (:data:`PRIMARY` or :data:`COMPLEMENTARY`)."""
        hidden: dict[Key, str] = {k: PRIMARY for k in self.values if k not in self.implied and self.small(k)}
        # Cells that must stay unrecoverable: every hidden one, and implied ones that are small.
        protected = set(hidden) | {k for k in self.implied if self.small(k)}
        unknown = lambda key: key in hidden or key in self.implied  # noqa: E731
        changed = True
        while changed:
            changed = False
            for total, parts in self.sums:
                members = (total, *parts)
                lone = [m for m in members if unknown(m)]
                if len(lone) != 1 or lone[0] not in protected:
                    continue
                choice = self._complement(total, parts, unknown)
                if choice is None:
                    continue
                hidden[choice] = COMPLEMENTARY
                protected.add(choice)
                changed = True
        return hidden

    def _complement(self, total: Key, parts: tuple[Key, ...], unknown) -> Key | None:
        open_parts = [p for p in parts if not unknown(p)]
        nonzero = [p for p in open_parts if self.values[p] > 0]
        for pool in (nonzero, open_parts):
            if pool:
                return min(pool, key=lambda p: (self.values[p], str(p)))
        return None if unknown(total) else total
