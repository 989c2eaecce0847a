"""Exponential backoff with jitter: grows, is capped, and never collapses to zero."""

from __future__ import annotations

import random

import pytest

from caseapp.notifications.delivery import backoff_seconds


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3600), (20, 3600)])
def test_each_delay_lies_between_half_and_all_of_its_ceiling(attempt, ceiling):
    rng = random.Random(attempt)
    for _ in range(200):
        delay = backoff_seconds(attempt, base=30, cap=3600, rng=rng)
        assert ceiling / 2 <= delay <= ceiling


def test_delays_grow_exponentially_until_the_cap():
    lowest = [backoff_seconds(n, 30, 3600, rng=random.Random(0)) for n in range(1, 10)]
    floors = [min(3600, 30 * 2 ** (n - 1)) / 2 for n in range(1, 10)]
    assert all(delay >= floor for delay, floor in zip(lowest, floors, strict=True))
    assert floors[:5] == [15, 30, 60, 120, 240]
    assert max(lowest) <= 3600


def test_jitter_spreads_rows_that_failed_together():
    delays = {round(backoff_seconds(3, 30, 3600, rng=random.Random(seed)), 3) for seed in range(50)}
    assert len(delays) > 40
