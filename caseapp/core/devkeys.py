"""Development convenience: generate missing secrets once into ``instance/`` (never in production)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from caseapp.core.crypto import generate_key

KEYS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(48),
    "ENCRYPTION_KEY": generate_key,
    "BLIND_INDEX_KEY": generate_key,
}


def ensure_dev_keys(cfg, instance_dir: Path) -> None:
    """Fill unset keys of *cfg* from ``instance/dev-keys.json``, creating it (mode 600) if needed."""
    missing = [name for name in KEYS if not getattr(cfg, name, None)]
    if not missing:
        return
    path = instance_dir / "dev-keys.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in missing:
        if name not in stored:
            stored[name] = KEYS[name]()
            changed = True
        setattr(cfg, name, stored[name])
    if changed:
        instance_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
