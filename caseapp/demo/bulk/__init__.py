"""Set-based demo data for benchmarks: ``load`` (COPY, two processes) and ``replicate`` (K copies)."""

from caseapp.demo.bulk.load import load_bulk
from caseapp.demo.bulk.replicate import replicate

__all__ = ["load_bulk", "replicate"]
