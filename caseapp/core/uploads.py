"""Uploaded evidence files: checked, cleaned and stored outside ``static`` under generated names.

SECURITY.md (uploads): size limit, extension *and* magic-byte allowlist, a random storage name,
images re-encoded (which drops EXIF, including the GPS position of a home-visit photo), and files
served back only as attachments with ``nosniff``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from caseapp.core.errors import ValidationFailed

# extension → (content type, magic prefix)
ALLOWED: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
}
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
# Decompression bombs: a small file that expands to a huge bitmap is refused.
Image.MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class StoredFile:
    storage_name: str
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str


def upload_dir() -> Path:
    path = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _refuse(message: str, field: str = "file") -> ValidationFailed:
    return ValidationFailed({field: [message]})


def _clean_image(data: bytes, content_type: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format != IMAGE_FORMATS[content_type]:
                raise _refuse(_("Isi berkas tidak sesuai dengan jenisnya."))
            clean = Image.new(image.mode, image.size)
            clean.paste(image)
            out = io.BytesIO()
            clean.save(out, format=IMAGE_FORMATS[content_type], quality=85)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise _refuse(_("Gambar rusak atau tidak bisa dibaca. Foto ulang lalu unggah lagi.")) from None


def check_and_store(filename: str, data: bytes, *, field: str = "file") -> StoredFile:
    """Validate *data* named *filename* and write it under a random name; raises ValidationFailed."""
    limit = current_app.config.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
    original = os.path.basename((filename or "").replace("\\", "/")).strip()[:200] or "berkas"
    extension = original.rsplit(".", 1)[-1].lower() if "." in original else ""
    if extension not in ALLOWED:
        raise _refuse(_("Jenis berkas tidak diterima. Unggah PDF, JPG atau PNG."), field)
    if not data:
        raise _refuse(_("Berkas kosong."), field)
    if len(data) > limit:
        raise _refuse(_("Berkas terlalu besar; paling besar %(mb)d MB.", mb=limit // (1024 * 1024)), field)
    content_type, magic = ALLOWED[extension]
    if not data.startswith(magic):
        raise _refuse(_("Isi berkas tidak sesuai dengan jenisnya."), field)
    if content_type in IMAGE_FORMATS:
        data = _clean_image(data, content_type)
    storage_name = secrets.token_hex(16) + "." + ("jpg" if extension == "jpeg" else extension)
    target = upload_dir() / storage_name
    temporary = target.with_suffix(".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)
    return StoredFile(storage_name, original, content_type, len(data), hashlib.sha256(data).hexdigest())


def stored_path(storage_name: str) -> Path:
    """The path of a stored file; names are generated, but never trust them to stay inside the folder."""
    base = upload_dir().resolve()
    path = (base / storage_name).resolve()
    if path.parent != base:
        raise FileNotFoundError(storage_name)
    return path


def remove_stored(storage_name: str) -> None:
    """Remove a file whose database row was not committed (best effort)."""
    with contextlib.suppress(FileNotFoundError):
        stored_path(storage_name).unlink()
