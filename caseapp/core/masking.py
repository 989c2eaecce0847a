"""Display masks for identity numbers (no dependencies: used by importers, logs and templates)."""

from __future__ import annotations


def mask_digits(text: str) -> str:
    """``3571********0001`` for 16 characters; other lengths keep only the last four."""
    if len(text) == 16:
        return f"{text[:4]}{'*' * 8}{text[-4:]}"
    return "*" * max(len(text) - 4, 0) + text[-4:]
