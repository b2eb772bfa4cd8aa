"""Settings in both modes, booted in a fresh process with a controlled environment."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]

# What the child prints: the settings that decide the mode, read back after django.setup().
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
from config.celery import app
out = {
    "mode": settings.MODE,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "options": {k: str(v) for k, v in settings.DATABASES["default"].get("OPTIONS", {}).items()},
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": app.conf.broker_url,
    "secret_key": settings.SECRET_KEY,
    "keys": settings.FIELD_ENCRYPTION_KEYS,
}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        out["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(out))
"""


def boot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run python (args) with only the variables given, and no .env of the developer."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / "none.env"),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        # Never connected to: booting and `check` do not open a connection.
        "DATABASE_URL": "postgres://app@127.0.0.1:1/app",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize(
    "missing, variable",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),  # REDIS_URL alone is production too
    ],
)
def test_production_refuses_to_boot_without_a_required_variable(tmp_path, missing, variable):
    result = boot(tmp_path, "-c", "import django; django.setup()", **production_env(**missing))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.strip().splitlines()[-1]


def test_production_uses_postgresql_and_redis(tmp_path):
    env = production_env()
    result = boot(tmp_path, "-c", PROBE, **env)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["mode"] == "production"
    assert probe["engine"] == "django.db.backends.postgresql"
    assert probe["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert probe["broker"] == env["REDIS_URL"]
    assert probe["secret_key"] == env["SECRET_KEY"]
    assert not (tmp_path / "none.env").exists()  # production never writes secrets to disk


def test_production_passes_the_deploy_checks(tmp_path):
    result = boot(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **production_env()
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_embedded_mode_boots_with_nothing_set_and_keeps_its_generated_secrets(tmp_path):
    first = boot(tmp_path, "-c", PROBE)
    assert first.returncode == 0, first.stderr
    probe = json.loads(first.stdout)
    assert probe["mode"] == "embedded"
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["journal_mode"] == "wal"
    assert probe["options"]["transaction_mode"] == "IMMEDIATE"
    assert probe["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert probe["broker"] == "filesystem://"
    assert (tmp_path / "data" / "db.sqlite3").exists()
    Fernet(probe["keys"][0].encode())  # a usable key, not a placeholder

    env_file = (tmp_path / "none.env").read_text()
    assert env_file.count("SECRET_KEY=") == 1
    assert env_file.count("FIELD_ENCRYPTION_KEYS=") == 1

    second = json.loads(boot(tmp_path, "-c", PROBE).stdout)
    assert second["secret_key"] == probe["secret_key"]
    assert second["keys"] == probe["keys"]
    assert (tmp_path / "none.env").read_text() == env_file
