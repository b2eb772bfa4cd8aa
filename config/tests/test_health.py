"""/healthz names what is down; /healthz/live only says the process answers."""

from __future__ import annotations

import socket
import time

import pytest
from django.core.cache import cache

from config import heartbeat
from config.celery import app


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


CONSUMERS = (heartbeat.PROCESSOR_KEY, heartbeat.SENDER_KEY)


@pytest.fixture
def heartbeats():
    heartbeat.beat(heartbeat.WORKER_KEY)
    heartbeat.beat(heartbeat.BEAT_KEY)
    for key in CONSUMERS:
        heartbeat.beat(key)


def test_it_reports_every_component_when_all_are_up(client, db, heartbeats):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {
        "database",
        "cache",
        "broker",
        "worker",
        "beat",
        "processor",
        "sender",
    }
    for entry in body["components"].values():
        assert entry["status"] == "ok"
        assert isinstance(entry["latency_ms"], float)
    assert body["components"]["cache"]["backend"] == "redis"
    assert body["components"]["database"]["backend"] == "postgresql"
    assert "failing" not in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_can_leave_workers_out(client, db, settings):
    settings.HEALTHZ_CHECK_WORKERS = False
    response = client.get("/healthz")
    assert response.status_code == 200
    assert set(response.json()["components"]) == {"database", "cache", "broker"}


def test_it_answers_503_naming_redis_when_redis_is_down(
    client, db, settings, monkeypatch, closed_port
):
    down = f"redis://127.0.0.1:{closed_port}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": down,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    # The Celery app read its broker URL from settings at start-up.
    monkeypatch.setattr(app.conf, "broker_url", down)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 1.5  # no back-off sleep: probes time out at a few s
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert "cache (redis)" in body["failing"]
    assert "broker (redis)" in body["failing"]
    assert body["components"]["database"]["status"] == "ok"
    assert "Connection" in body["components"]["cache"]["error"]


def test_it_answers_503_naming_the_worker_when_its_heartbeat_is_stale(client, db, settings):
    settings.HEALTHZ_WORKER_MAX_AGE = 120
    cache.set(heartbeat.WORKER_KEY, time.time() - 600, timeout=3600)
    heartbeat.beat(heartbeat.BEAT_KEY)
    for key in CONSUMERS:
        heartbeat.beat(key)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker (celery)"]
    assert "600s ago" in body["components"]["worker"]["error"]


def test_it_names_the_queue_whose_workers_died_while_another_worker_still_beats(
    client, db, settings
):
    """The Procfile runs three Celery workers: the send worker killed, the others alive."""
    settings.HEALTHZ_WORKER_MAX_AGE = 120
    heartbeat.beat(heartbeat.WORKER_KEY)
    heartbeat.beat(heartbeat.BEAT_KEY)
    for key in CONSUMERS:
        heartbeat.beat(key)
    heartbeat.beat(heartbeat.queue_key("replies"))
    cache.set(heartbeat.queue_key("outbound"), time.time() - 300, timeout=3600)
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["worker (celery)"]
        assert "'outbound'" in body["components"]["worker"]["error"]

        heartbeat.beat(heartbeat.queue_key("outbound"))  # started again
        assert client.get("/healthz").status_code == 200
    finally:
        cache.delete_many([heartbeat.queue_key("replies"), heartbeat.queue_key("outbound")])


def test_it_answers_503_when_no_worker_ever_beat(client, db):
    heartbeat.beat(heartbeat.BEAT_KEY)
    for key in CONSUMERS:
        heartbeat.beat(key)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker (celery)"]


def test_it_answers_503_naming_the_processor_when_it_stopped(client, db, settings):
    """The processor answers the customers: a stopped one is named like a stopped worker."""
    settings.HEALTHZ_WORKER_MAX_AGE = 120
    heartbeat.beat(heartbeat.WORKER_KEY)
    heartbeat.beat(heartbeat.BEAT_KEY)
    heartbeat.beat(heartbeat.SENDER_KEY)
    cache.set(heartbeat.PROCESSOR_KEY, time.time() - 300, timeout=3600)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["processor (manage.py run_processor)"]
    assert "300s ago" in body["components"]["processor"]["error"]
    cache.delete(heartbeat.SENDER_KEY)
    assert client.get("/healthz").json()["failing"] == [
        "processor (manage.py run_processor)",
        "sender (manage.py run_sender)",
    ]


def test_liveness_answers_even_when_everything_else_is_down(client, settings, closed_port):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_needs_no_login_and_skips_the_https_redirect(client, db, settings, heartbeats):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz", r"^metrics$"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/api/clientes/").status_code == 301  # everything else goes to https


def test_liveness_answers_a_platform_probe_with_an_internal_host_name(client, settings):
    settings.ALLOWED_HOSTS = ["chatbot.example.com"]
    assert client.get("/healthz/live", HTTP_HOST="10.0.3.7:8000").status_code == 200
    # ...while every other page still refuses a host that is not ours
    assert client.get("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 400
