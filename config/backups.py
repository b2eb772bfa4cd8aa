"""Backups: one archive with the database, the media files and a manifest to check a restore.

`backup_create(directory)` writes `backup-<UTC time>.tar` (mode 0600) holding:

* `database.dump` (PostgreSQL, `pg_dump --format=custom`: consistent, taken while the
  product runs: https://www.postgresql.org/docs/15/app-pgdump.html) or `database.sqlite3`
  (the embedded mode, through SQLite's online backup API, which copies a consistent
  snapshot while other processes write: https://www.sqlite.org/backup.html);
* `media/`: the stored files when they are on the local disk (the embedded mode, a VPS);
  files in an S3-compatible bucket stay in the bucket (its versioning or replication keeps
  them), and only their names are listed in the manifest;
* `manifest.json`: when, which engine, the applied migrations and the row count of every
  table, so `backup_restore` can prove the restore complete.

`backup_restore(archive, database=...)` loads it into an EMPTY database (PostgreSQL: given
by URL, e.g. a new one; SQLite: a file path that does not exist yet) and compares every
table's row count with the manifest. Restoring over live data is refused: restore into a
new database and point DATABASE_URL at it, so a wrong archive never destroys the good one.

Never in an archive: secrets. SECRET_KEY and FIELD_ENCRYPTION_KEYS live in the environment
(.env); without the same FIELD_ENCRYPTION_KEYS the encrypted fields of a restored database
(tokens, API secrets) cannot be read, so keep them apart from the backups, safely.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_DUMP = "database.sqlite3"
MEDIA_DIR = "media"
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


@dataclass(frozen=True)
class Restored:
    tables: int
    rows: int
    media_files: int


# --- Database connections ------------------------------------------------------------------


def _pg_env(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """libpq options for pg_dump/pg_restore; the password goes in the environment, never on
    a command line that `ps` shows (https://www.postgresql.org/docs/15/libpq-envars.html)."""
    env = {**os.environ}
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    return args + ["--dbname", str(settings_dict["NAME"])], env


def pg_settings_from_url(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BackupError(f"not a PostgreSQL URL: {parsed.scheme}://…")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": parsed.port or "",
    }


def _pg_connect(settings_dict: dict[str, Any]):
    import psycopg

    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        autocommit=True,
    )


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")


# --- Row counts -------------------------------------------------------------------------------


def _pg_counts(settings_dict: dict[str, Any]) -> dict[str, int]:
    with _pg_connect(settings_dict) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }


def _sqlite_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }
    finally:
        conn.close()


def _migrations(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in rows:
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


# --- Media ------------------------------------------------------------------------------------


def _local_media_root() -> Path | None:
    """The folder of the default storage when it is the local disk, else None (a bucket)."""
    from django.conf import settings
    from django.core.files.storage import FileSystemStorage, storages

    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return None
    # No MEDIA_ROOT means the storage's folder is the working directory: nothing stored.
    return Path(storage.location) if settings.MEDIA_ROOT else Path()


def _bucket_names() -> list[str]:
    from django.core.files.storage import default_storage

    names: list[str] = []

    def walk(prefix: str) -> None:
        dirs, files = default_storage.listdir(prefix)
        names.extend(f"{prefix}{f}" for f in files)
        for d in dirs:
            walk(f"{prefix}{d}/")

    walk("")
    return names


# --- Backup -----------------------------------------------------------------------------------


def backup_create(directory: Path, *, database: str = "default") -> Path:
    """Write one archive into `directory` and return its path."""
    from django.conf import settings
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    settings_dict = settings.DATABASES[database]
    engine = settings_dict["ENGINE"]
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = directory / f"backup-{stamp}.tar"
    recorder = MigrationRecorder(connections[database])
    # No migration table: tables made straight from the models (QUICK test runs).
    migrations = _migrations(recorder.applied_migrations()) if recorder.has_table() else {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        if "postgresql" in engine:
            dump = tmp_dir / PG_DUMP
            args, env = _pg_env(settings_dict)
            # --no-owner/--no-privileges: the archive restores under whatever role the
            # target database gives (Render's, a VPS's), not the source's role names.
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                  "--file", str(dump), *args], env)  # fmt: skip
            counts = _pg_counts(settings_dict)
            kind = "postgresql"
        elif "sqlite3" in engine:
            dump = tmp_dir / SQLITE_DUMP
            source = sqlite3.connect(str(settings_dict["NAME"]))
            copy = sqlite3.connect(str(dump))
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
            counts = _sqlite_counts(dump)
            kind = "sqlite"
        else:
            raise BackupError(f"no backup for the database engine {engine}")
        media_root = _local_media_root()
        media_files = (
            sorted(p for p in media_root.rglob("*") if p.is_file())
            if media_root and media_root != Path() and media_root.is_dir()
            else []
        )
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "engine": kind,
            "migrations": migrations,
            "tables": counts,
            "media": (
                {
                    "storage": "local",
                    "files": len(media_files),
                    "names": [str(p.relative_to(media_root)) for p in media_files],
                }
                if media_root
                else {"storage": "bucket", "names": _bucket_names()}
            ),
        }
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            tar.add(dump, arcname=dump.name)
            for path in media_files:
                tar.add(path, arcname=f"{MEDIA_DIR}/{path.relative_to(media_root)}")
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return target


# --- Restore ----------------------------------------------------------------------------------


def manifest_read(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return json.load(member)
    except (tarfile.TarError, KeyError, ValueError, OSError) as exc:
        raise BackupError(f"{archive} is not a backup of this product: {exc}") from exc


def backup_restore(
    archive: Path, *, database_url: str = "", sqlite_path: Path | None = None,
    media_root: Path | None = None,
) -> Restored:  # fmt: skip
    """Load `archive` into an empty database and check every table's row count."""
    manifest = manifest_read(archive)
    expected: dict[str, int] = manifest["tables"]
    if media_root is not None and media_root.is_dir():
        if any(p.is_file() for p in media_root.rglob("*")):
            raise BackupError(f"{media_root} has files: restore the media into a new folder")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        tmp_dir = Path(tmp)
        if manifest["engine"] == "postgresql":
            if not database_url:
                raise BackupError("a PostgreSQL backup needs --database-url (an empty database)")
            target = pg_settings_from_url(database_url)
            if _pg_counts(target):
                raise BackupError(
                    f"the database {target['NAME']} is not empty: restore into a new one"
                )
            tar.extract(PG_DUMP, tmp_dir, filter="data")
            args, env = _pg_env(target)
            _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                  *args, str(tmp_dir / PG_DUMP)], env)  # fmt: skip
            counts = _pg_counts(target)
        elif manifest["engine"] == "sqlite":
            if sqlite_path is None:
                raise BackupError("an embedded-mode backup needs --sqlite-path (a new file)")
            if sqlite_path.exists():
                raise BackupError(f"{sqlite_path} exists: restore into a new file")
            tar.extract(SQLITE_DUMP, tmp_dir, filter="data")
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            source = sqlite3.connect(str(tmp_dir / SQLITE_DUMP))
            copy = sqlite3.connect(str(sqlite_path))
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
            os.chmod(sqlite_path, 0o600)
            counts = _sqlite_counts(sqlite_path)
        else:
            raise BackupError(f"unknown engine in the manifest: {manifest['engine']}")
        media = [m for m in tar.getmembers() if m.name.startswith(f"{MEDIA_DIR}/") and m.isfile()]
        if media and media_root is not None:
            for member in media:
                member.name = member.name[len(MEDIA_DIR) + 1 :]
                tar.extract(member, media_root, filter="data")
            listed = set(manifest["media"].get("names", []))
            missing = sorted(n for n in listed if not (media_root / n).is_file())
            if missing:
                raise BackupError(f"media files listed but not restored: {missing[:20]}")
    differ = {t: (n, counts.get(t)) for t, n in expected.items() if counts.get(t) != n}
    if differ:
        raise BackupError(f"restored row counts differ from the backup: {differ}")
    return Restored(
        tables=len(expected),
        rows=sum(expected.values()),
        media_files=len(media) if media_root is not None else 0,
    )
