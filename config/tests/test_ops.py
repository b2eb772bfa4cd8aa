"""Operations: the web server's config, the image build step and the documented variables."""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production-mode variables that are never connected to, and no developer .env."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / "none.env"),
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgres://app@127.0.0.1:1/app",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECURE_SSL_REDIRECT": "False",
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_admin_login_page_renders_for_a_visitor(client, db):
    response = client.get("/admin/login/")

    assert response.status_code == 200


def test_env_example_documents_every_variable_the_settings_read():
    tree = ast.parse((BASE_DIR / "config" / "settings.py").read_text())
    readers = {"env", "_require", "_embedded_secret", "os.environ.get"}
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value.isupper()
        and (ast.unparse(node.func) in readers or ast.unparse(node.func).startswith("env."))
    }
    documented = set(
        re.findall(r"^# ([A-Z][A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.M)
    )

    assert read, "the settings read no variable: the parser above is broken"
    assert read - documented == set()


def test_the_image_build_collects_static_files_without_secrets(tmp_path):
    # The Dockerfile's RUN line: no secret given, none written anywhere.
    env = _clean_env(
        tmp_path,
        DJANGO_ENV_FILE="/dev/null",
        STATIC_ROOT=str(tmp_path / "static"),
        DEBUG="False",
    )
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
        env.pop(name)

    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    assert any(p.startswith("drf_spectacular_sidecar/swagger-ui-dist/") for p in manifest["paths"])
    assert not (tmp_path / "none.env").exists()


def test_gunicorn_adds_up_every_workers_metrics_and_logs_json_with_the_request_id(tmp_path):
    port = _free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    # A previous run's file: adding it up would corrupt (here: break) /metrics.
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from a previous run")
    token = secrets.token_urlsafe(32)
    env = _clean_env(
        tmp_path,
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        METRICS_TOKEN=token,
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/healthz/live")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        # Separate connections, so both workers get a share.
        for _ in range(30):
            _get(f"{base}/healthz/live")
        _get(f"{base}/api/clientes/5511987654321/", **{"X-Request-ID": "ops-test-1"})

        unauthenticated, _ = _get(f"{base}/metrics")
        status, metrics = _get(f"{base}/metrics", Authorization=f"Bearer {token}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert (unauthenticated, status) == (401, 200)
    served = re.search(
        r"^django_http_requests_before_middlewares_total (\S+)$",
        metrics,
        re.M,
    )
    assert served is not None
    assert float(served.group(1)) >= 31  # every request, whichever worker served it
    assert not (metrics_dir / "counter_99999.db").exists()
    access = [
        json.loads(line)
        for line in log_path.read_text().splitlines()
        if line.startswith("{") and '"gunicorn.access"' in line
    ]
    traced = [line for line in access if line.get("request_id") == "ops-test-1"]
    assert len(traced) == 1
    assert "5511987654321" not in traced[0]["path"]
    assert traced[0]["path"].endswith("4321/")


class _Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def exception(self, message: str, *args) -> None:
        self.errors.append(message % args if args else message)


class _Worker:
    def __init__(self) -> None:
        self.log = _Log()


def _gunicorn_hook(name: str):
    import runpy
    from unittest import mock

    # The file sets a default PROMETHEUS_MULTIPROC_DIR for its process: not for this one,
    # whose /metrics would then look for that directory.
    with mock.patch.dict(os.environ):
        return runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))[name]


def test_a_gunicorn_worker_loads_the_urlconf_before_its_first_request(settings):
    from django.urls import clear_url_caches, get_resolver

    settings.ROOT_URLCONF = "config.urls"
    clear_url_caches()
    assert "url_patterns" not in get_resolver().__dict__  # Django loads it lazily

    worker = _Worker()
    _gunicorn_hook("post_worker_init")(worker)

    assert "url_patterns" in get_resolver().__dict__
    assert worker.log.errors == []


def test_a_broken_urlconf_is_logged_and_left_to_the_requests(settings):
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = "config.no_such_urls"
    clear_url_caches()
    worker = _Worker()

    _gunicorn_hook("post_worker_init")(worker)  # does not raise: no boot loop

    assert worker.log.errors == ["could not load the URLconf before the first request"]


def test_gunicorn_binds_loopback_unless_a_platform_or_bind_host_says_otherwise(
    monkeypatch, tmp_path
):
    import runpy

    # Kept apart from the test process (the file sets a default for it).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("BIND_HOST", "DATABASE_URL", "REDIS_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)

    def bind(**env: str) -> list[str]:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            return runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))["bind"]

    assert bind() == ["127.0.0.1:8000"]  # the embedded mode: this machine only
    assert bind(DATABASE_URL="postgres://x/y") == ["0.0.0.0:8000"]  # Render, containers
    assert bind(REDIS_URL="redis://x", BIND_HOST="127.0.0.1", PORT="9000") == ["127.0.0.1:9000"]


def test_the_shipped_nginx_logs_paths_without_query_strings():
    conf = (BASE_DIR / "deploy" / "nginx" / "chatbot.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    formats = dict(re.findall(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", code))
    access_logs = re.findall(r"access_log\s+([^;]+);", code)

    assert set(formats) == {"chatbot_noquery"}
    line = formats["chatbot_noquery"]
    assert "$uri" in line
    # The request line, the raw URI, the arguments and the Referer all carry query strings.
    for variable in ("$request", "$request_uri", "$args", "$query_string", "$http_referer"):
        assert not re.search(re.escape(variable) + r"(?![A-Za-z0-9_])", line), variable
    # Both servers log with it: none falls back to nginx's default ("$request").
    assert code.count("server {") == len(access_logs) == 2
    assert all(log.split()[-1] == "chatbot_noquery" for log in access_logs)
