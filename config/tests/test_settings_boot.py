"""Settings in both modes, booted in a fresh process with a controlled environment."""

from __future__ import annotations

import json
import os
import secrets
import stat
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
        umask=0o022,  # the usual default: files come out world-readable unless made private
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
    assert probe["cache"] == "config.cache.RedisCache"  # Django's, one client per pool
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


# The modes of the embedded mode's files while the database is open (WAL: -wal and -shm
# exist) and the cache has been written to.
FILES_PROBE = """
import json, os, stat, django
django.setup()
from django.conf import settings
from django.core.cache import cache
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (x int)")
    cursor.execute("INSERT INTO t VALUES (1)")
cache.set("k", "v")
data = settings.DATA_DIR
paths = {
    "env": os.environ["DJANGO_ENV_FILE"],
    "db": data / "db.sqlite3",
    "wal": data / "db.sqlite3-wal",
    "shm": data / "db.sqlite3-shm",
    "data": data,
    "broker": data / "broker",
    "queue": data / "broker" / "queue",
    "cache": data / "cache",
}
print(json.dumps({k: oct(stat.S_IMODE(os.stat(v).st_mode)) for k, v in paths.items()}))
"""
PRIVATE = {
    "env": "0o600",
    "db": "0o600",
    "wal": "0o600",
    "shm": "0o600",
    "data": "0o700",
    "broker": "0o700",
    "queue": "0o700",
    "cache": "0o700",
}


def test_the_embedded_files_are_owner_only_from_the_first_start(tmp_path):
    result = boot(tmp_path, "-c", FILES_PROBE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == PRIVATE


def test_files_left_readable_by_an_older_version_are_made_private_at_start(tmp_path):
    assert boot(tmp_path, "-c", "import django; django.setup()").returncode == 0
    data = tmp_path / "data"
    for path in (tmp_path / "none.env", data / "db.sqlite3"):
        path.chmod(0o644)
    for path in (data / "broker", data / "broker" / "queue"):
        path.chmod(0o755)
    (data / "cache").mkdir(mode=0o755)

    result = boot(tmp_path, "-c", FILES_PROBE)

    assert result.returncode == 0, result.stderr
    modes = json.loads(result.stdout)
    del modes["data"]  # an existing DATA_DIR is left as it is (it may be a shared folder)
    assert modes == {k: v for k, v in PRIVATE.items() if k != "data"}


def test_a_dev_null_env_file_is_written_to_and_left_alone(tmp_path):
    # The image build (Dockerfile) points DJANGO_ENV_FILE at /dev/null.
    before = stat.S_IMODE(os.stat("/dev/null").st_mode)
    result = boot(tmp_path, "-c", "import django; django.setup()", DJANGO_ENV_FILE="/dev/null")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat("/dev/null").st_mode) == before


BIND_PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({"bind": settings.BIND_HOST, "debug": settings.DEBUG,
                  "hosts": settings.ALLOWED_HOSTS, "origins": settings.CSRF_TRUSTED_ORIGINS}))
"""


def test_the_embedded_mode_binds_loopback_with_debug_and_only_local_host_names(tmp_path):
    result = boot(tmp_path, "-c", BIND_PROBE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "bind": "127.0.0.1",
        "debug": True,
        "hosts": ["localhost", "127.0.0.1", "[::1]"],
        "origins": [],
    }


def test_a_public_bind_turns_debug_off_by_default_and_accepts_replits_host_names(tmp_path):
    result = boot(
        tmp_path,
        "-c",
        BIND_PROBE,
        BIND_HOST="0.0.0.0",
        REPLIT_DEV_DOMAIN="abc-00-xyz.picard.replit.dev",
        REPLIT_DOMAINS="loja.replit.app,loja.com.br",
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert (probe["bind"], probe["debug"]) == ("0.0.0.0", False)
    assert {"abc-00-xyz.picard.replit.dev", "loja.replit.app", "loja.com.br"} <= set(probe["hosts"])
    assert "https://loja.com.br" in probe["origins"]
    assert "*" not in probe["hosts"]


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "True", "BIND_HOST": "0.0.0.0"},  # embedded
        {"DEBUG": "True", "BIND_HOST": "192.168.0.10"},
        {"DEBUG": "True", **production_env()},  # production binds 0.0.0.0 by default
    ],
    ids=["embedded 0.0.0.0", "embedded LAN address", "production default"],
)
def test_debug_on_a_public_bind_is_refused_naming_what_to_set(tmp_path, env):
    result = boot(tmp_path, "-c", "import django; django.setup()", **env)

    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in error
    assert "DEBUG=False" in error and "BIND_HOST=127.0.0.1" in error


def test_debug_on_loopback_boots_in_either_mode(tmp_path):
    for env in ({"DEBUG": "True"}, {"DEBUG": "True", "BIND_HOST": "::1", **production_env()}):
        result = boot(tmp_path, "-c", BIND_PROBE, **env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["debug"] is True


def test_production_with_the_new_settings_passes_the_deploy_checks(tmp_path):
    result = boot(
        tmp_path,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production_env(
            METRICS_TOKEN=secrets.token_urlsafe(32),
            METRICS_ALLOWED_IPS="10.0.0.0/24,::1",
            BIND_HOST="127.0.0.1",
            DEBUG="False",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"METRICS_TOKEN": "curto"}, "METRICS_TOKEN"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/24,intranet"}, "METRICS_ALLOWED_IPS"),
    ],
)
def test_a_weak_metrics_token_or_a_bad_address_stops_the_boot(tmp_path, env, variable):
    result = boot(tmp_path, "-c", "import django; django.setup()", **production_env(**env))
    assert result.returncode != 0
    assert variable in result.stderr.strip().splitlines()[-1]
