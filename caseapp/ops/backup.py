"""``flask backup create|verify|restore``: the database, the uploaded files and a manifest.

A backup is one directory, ``sinergi-<UTC time>/``, readable only by its owner:

- ``database.dump``: ``pg_dump --format=custom`` (PostgreSQL), or ``database.sqlite3``: a
  consistent copy made with SQLite's online backup API (embedded mode);
- ``attachments.tar.gz``: every file under ``UPLOAD_DIR``;
- ``manifest.json``: when, which schema revision, row counts, a fingerprint of the encryption key
  (not the key) and the SHA-256 of each file.

The keys are NOT in the backup (NIK/KK are stored encrypted): keep ``ENCRYPTION_KEY`` and
``BLIND_INDEX_KEY`` somewhere else, safely; a restore needs them. See docs/deploy.md, "Backups".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
import tarfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import inspect, make_url, text

from caseapp.core.uploads import upload_dir
from caseapp.extensions import db

backup_cli = AppGroup("backup", help="Back up and restore the database and the uploaded files.")

MANIFEST = "manifest.json"
ATTACHMENTS = "attachments.tar.gz"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
FORMAT = 1
COUNTED = ("cases", "audit_events", "attachments", "households", "users")


class BackupError(click.ClickException):
    """A backup or restore that cannot go on; the message says what to do."""


@dataclass
class Database:
    dialect: str
    url: str

    @classmethod
    def current(cls) -> Database:
        url = db.engine.url
        return cls(url.get_backend_name(), url.render_as_string(hide_password=False))

    def libpq_env(self) -> dict[str, str]:
        """Connection settings for pg_dump/pg_restore in the environment: the password never
        appears in a process list."""
        url = make_url(self.url)
        env = {**os.environ, "PGDATABASE": url.database or ""}
        for name, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password)):
            if value:
                env[name] = str(value)
        options = dict(url.query)  # the URL's ?sslmode=… options (not a model query)
        for option, name in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
            if options.get(option):
                env[name] = str(options[option])
        return env

    def sqlite_path(self) -> Path:
        path = make_url(self.url).database
        if not path or path == ":memory:":
            raise BackupError("The database is in memory; there is nothing on disk to back up.")
        return Path(path)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client).")
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def key_fingerprints() -> list[str]:
    """Short hashes of the configured encryption keys (first one encrypts): lets a restore tell
    that the keys in its environment can read the backup, without storing the keys."""
    keys = [k.strip() for k in (current_app.config.get("ENCRYPTION_KEY") or "").split(",") if k.strip()]
    return [hashlib.sha256(b"sinergi-backup-key-check:" + key.encode()).hexdigest()[:16] for key in keys]


def row_counts() -> dict[str, int]:
    return {table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608  # nosec B608
            for table in COUNTED}


def schema_revision() -> str | None:
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


def _archive_uploads(target: Path) -> int:
    source = upload_dir()
    count = 0
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(source.iterdir()):
            if path.is_file() and not path.name.endswith(".part"):
                archive.add(path, arcname=path.name, recursive=False)
                count += 1
    return count


def create_backup(output: Path) -> Path:
    database = Database.current()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output.mkdir(parents=True, exist_ok=True)
    final = output / f"sinergi-{stamp}"
    work = output / f"sinergi-{stamp}.partial"
    if final.exists() or work.exists():
        raise BackupError(f"{final} already exists; wait a second and run it again.")
    work.mkdir(mode=0o700)
    try:
        # Counts and revision first: the dump, taken after, holds at least these rows.
        counts, revision = row_counts(), schema_revision()
        db.session.rollback()
        if database.dialect == "postgresql":
            dump = work / PG_DUMP
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump)],
                 database.libpq_env())
        elif database.dialect == "sqlite":
            dump = work / SQLITE_COPY
            _sqlite_copy(database.sqlite_path(), dump)  # consistent even while the app writes
        else:
            raise BackupError(f"Backups of {database.dialect} databases are not supported.")
        files_archived = _archive_uploads(work / ATTACHMENTS)
        for path in work.iterdir():
            path.chmod(0o600)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": database.dialect,
            "schema_revision": revision,
            "counts": counts,
            "attachment_files": files_archived,
            "key_fingerprint": (key_fingerprints() or [None])[0],
            "files": {path.name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
                      for path in sorted(work.iterdir())},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        (work / MANIFEST).chmod(0o600)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final


def verify_backup(path: Path) -> dict:
    """Read the manifest and check every file's size and SHA-256; raise BackupError on a mismatch."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} has no {MANIFEST}: not a Sinergi backup (or an unfinished one).")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r}.")
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            raise BackupError(f"{name} is missing from {path}.")
        if file.stat().st_size != expected["bytes"] or sha256_of(file) != expected["sha256"]:
            raise BackupError(f"{name} does not match its checksum in {MANIFEST}: the backup is damaged.")
    return manifest


def _database_is_empty() -> bool:
    db.session.rollback()
    return not inspect(db.engine).get_table_names()


def _restore_database(path: Path, manifest: dict, clean: bool) -> None:
    database = Database.current()
    if manifest["dialect"] != database.dialect:
        raise BackupError(f"This backup is of a {manifest['dialect']} database; DATABASE_URL points to "
                          f"{database.dialect}.")
    if not clean and not _database_is_empty():
        raise BackupError("The target database already has tables. Restore into a new, empty database "
                          "(createdb), or pass --clean to replace its contents.")
    db.session.remove()
    db.engine.dispose()
    if database.dialect == "postgresql":
        args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if clean:
            args += ["--clean", "--if-exists"]
        _run([*args, "--dbname", database.libpq_env()["PGDATABASE"], str(path / PG_DUMP)], database.libpq_env())
    else:
        target = database.sqlite_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(path / SQLITE_COPY, target)


def _restore_files(path: Path) -> int:
    target = upload_dir()
    with tarfile.open(path / ATTACHMENTS, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and "/" not in m.name and m.name not in ("", "..")]
        archive.extractall(target, members=members, filter="data")
    return len(members)


def _check_restored(manifest: dict) -> list[str]:
    """Compare the restored counts with the manifest and every attachment's bytes with its SHA-256."""
    problems = []
    counts = row_counts()
    for table, expected in manifest["counts"].items():
        if counts.get(table, 0) < expected:
            problems.append(f"{table}: {counts.get(table, 0)} rows, the backup counted {expected}")
    rows = db.session.execute(text("SELECT id, storage_name, sha256 FROM attachments")).all()
    base = upload_dir()
    for row in rows:
        file = base / row.storage_name
        if not file.is_file():
            problems.append(f"attachment {row.id}: file missing")
        elif sha256_of(file) != row.sha256:
            problems.append(f"attachment {row.id}: file differs from its recorded SHA-256")
    db.session.rollback()
    return problems


@backup_cli.command("create")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write into (default: BACKUP_DIR, else instance/backups).")
def create_command(output: Path | None):
    """Back up the database, the uploaded files and a manifest with checksums."""
    output = output or Path(current_app.config.get("BACKUP_DIR") or Path(current_app.instance_path) / "backups")
    path = create_backup(output)
    manifest = json.loads((path / MANIFEST).read_text())
    click.echo(f"Backup written: {path}")
    click.echo("  " + ", ".join(f"{table}={count}" for table, count in manifest["counts"].items())
               + f", files={manifest['attachment_files']}, revision={manifest['schema_revision']}")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_command(path: Path):
    """Check a backup's files against its manifest."""
    manifest = verify_backup(path)
    click.echo(f"Backup intact: {len(manifest['files'])} files match {MANIFEST} "
               f"({manifest['dialect']}, revision {manifest['schema_revision']}, {manifest['created_at']}).")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--clean", is_flag=True, help="Replace the contents of a database that already has tables.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: Path, clean: bool, yes: bool):
    """Restore a backup made by `flask backup create` into the configured database and UPLOAD_DIR."""
    manifest = verify_backup(path)
    fingerprints = key_fingerprints()
    if manifest.get("key_fingerprint") and manifest["key_fingerprint"] not in fingerprints:
        raise BackupError("ENCRYPTION_KEY does not include the key this backup was made with: NIK/KK would be "
                          "unreadable. Set the keys of the backed-up installation, then run the restore again.")
    if not yes:
        click.confirm(f"Restore {path.name} ({manifest['created_at']}) into {Database.current().dialect} "
                      f"database and {upload_dir()}?", abort=True)
    _restore_database(path, manifest, clean)
    files = _restore_files(path)
    problems = _check_restored(manifest)
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"Restored {path.name}: " + ", ".join(f"{t}={c}" for t, c in manifest["counts"].items())
               + f", files={files}. Next: flask --app wsgi db upgrade (if this version is newer), then "
               "flask --app wsgi audit verify.")
