"""Backups: what `make backup` takes comes back whole with `make restore`, in both modes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chatbots.models import Message
from config import backups
from tests.factories import ConversationFactory, ProdutoFactory, TenantFactory

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_database(transactional_db):
    """A new, empty database on the test server; dropped afterwards."""
    source = settings.DATABASES["default"]
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = {**source, "NAME": "postgres"}
    with backups._pg_connect(admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    user = source.get("USER", "")
    password = source.get("PASSWORD", "")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    yield f"postgres://{auth}{source['HOST']}:{source['PORT']}/{name}"
    with backups._pg_connect(admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _populated():
    tenant = TenantFactory(slug="pizzaria", name="Pizzaria Forno")
    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    for n in range(3):
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            direction=Message.Direction.IN,
            type="text",
            text=f"quero a pizza {n}",
            provider_message_id=f"wamid.{n}",
        )
    ProdutoFactory(tenant=tenant, nome="Calabresa")
    return tenant


def test_a_postgresql_backup_restores_into_an_empty_database_with_every_row(
    tmp_path, empty_database
):
    tenant = _populated()

    call_command("backup", dir=str(tmp_path))
    (archive,) = tmp_path.glob("backup-*.tar")
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # the whole database is in it
    call_command("restore", str(archive), database_url=empty_database)

    restored = backups.pg_settings_from_url(empty_database)
    source_counts = backups._pg_counts(settings.DATABASES["default"])
    assert backups._pg_counts(restored) == source_counts
    assert source_counts["chatbots_message"] == 3
    with backups._pg_connect(restored) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM chatbots_message ORDER BY text")]
        name = conn.execute("SELECT name FROM billing_tenant WHERE id = %s", [tenant.pk]).fetchone()
    assert texts == ["quero a pizza 0", "quero a pizza 1", "quero a pizza 2"]
    assert name == ("Pizzaria Forno",)


def test_restoring_over_a_database_with_data_is_refused(tmp_path, transactional_db):
    _populated()
    call_command("backup", dir=str(tmp_path))
    (archive,) = tmp_path.glob("backup-*.tar")
    source = settings.DATABASES["default"]
    auth = source.get("USER", "")
    url = f"postgres://{auth}@{source['HOST']}:{source['PORT']}/{source['NAME']}"
    if source.get("PASSWORD"):
        url = url.replace(f"{auth}@", f"{auth}:{source['PASSWORD']}@")

    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive), database_url=url)

    assert Message.objects.count() == 3  # nothing was touched


def test_a_file_that_is_not_a_backup_is_refused_with_the_reason(tmp_path, db):
    bogus = tmp_path / "backup-bogus.tar"
    bogus.write_bytes(b"not a tar archive")
    with pytest.raises(CommandError, match="not a backup of this product"):
        call_command("restore", str(bogus), database_url="postgres://x@127.0.0.1:1/x")


def test_the_password_never_reaches_a_command_line():
    args, env = backups._pg_env(
        {"NAME": "app", "USER": "app", "PASSWORD": "s3gr3d0", "HOST": "db", "PORT": 5432}
    )
    assert "s3gr3d0" not in " ".join(args)
    assert env["PGPASSWORD"] == "s3gr3d0"


def _embedded_env(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / "none.env"),
        "DATA_DIR": str(data_dir),
    }


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_an_embedded_backup_restores_the_demo_into_a_new_data_folder(tmp_path):
    """The embedded mode's SQLite file is copied with SQLite's online backup and the
    restored file has every row."""
    data = tmp_path / "data"
    env = _embedded_env(tmp_path, data)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "seed_demo")

    out = _manage(env, "backup", "--dir", str(tmp_path / "backups"))
    (archive,) = (tmp_path / "backups").glob("backup-*.tar")
    assert "media: local" in out
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "database.sqlite3" in names

    new = tmp_path / "restored"
    out = _manage(
        env,
        "restore",
        str(archive),
        "--sqlite-path",
        str(new / "db.sqlite3"),
        "--media-root",
        str(new / "media"),
    )
    assert "counts checked" in out

    def count(path: Path, table: str) -> int:
        conn = sqlite3.connect(path)
        try:
            return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        finally:
            conn.close()

    produtos = count(data / "db.sqlite3", "pedidos_produto")
    assert produtos > 0 and count(new / "db.sqlite3", "pedidos_produto") == produtos
    assert os.stat(new / "db.sqlite3").st_mode & 0o077 == 0


def test_local_media_files_are_listed_and_come_back_in_a_new_folder(
    tmp_path, empty_database, settings
):
    media = tmp_path / "files"
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media},
        },
    }
    (media / "padaria" / "2026").mkdir(parents=True)
    (media / "padaria" / "2026" / "foto.jpg").write_bytes(b"\xff\xd8 a photo")
    (media / "padaria" / "audio.ogg").write_bytes(b"OggS a voice note")
    _populated()

    call_command("backup", dir=str(tmp_path / "backups"))
    (archive,) = (tmp_path / "backups").glob("backup-*.tar")
    listed = backups.manifest_read(archive)["media"]
    assert listed["storage"] == "local"
    assert sorted(listed["names"]) == ["padaria/2026/foto.jpg", "padaria/audio.ogg"]

    used = tmp_path / "used"
    used.mkdir()
    (used / "other.jpg").write_bytes(b"x")
    with pytest.raises(CommandError, match="has files"):
        call_command("restore", str(archive), database_url=empty_database, media_root=str(used))

    new = tmp_path / "restored-files"
    call_command("restore", str(archive), database_url=empty_database, media_root=str(new))

    assert (new / "padaria" / "2026" / "foto.jpg").read_bytes() == b"\xff\xd8 a photo"
    assert (new / "padaria" / "audio.ogg").read_bytes() == b"OggS a voice note"
