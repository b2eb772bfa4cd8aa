"""Metrics counted inside real processes (a Celery worker, the processor) reach a scrape: on
the process's own port (a container per process) and through the web's /metrics (one host,
a shared directory); the backlog gauges follow a consumer that stops and comes back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from chatbots.models import Message
from config import process_metrics
from config.celery import app
from tests.factories import ConversationFactory

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "w" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def _get(url: str, token: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db.get("USER", "")
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _spawn(argv: list[str], metrics_dir: Path, port: int, **extra: str) -> subprocess.Popen:
    """A real process of the product, in production mode against the test database, with
    its own metrics directory and port; returns once that port serves."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_PORT": str(port),
        "METRICS_BIND_HOST": "127.0.0.1",
        "METRICS_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    child = subprocess.Popen(
        [sys.executable, *argv],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(url, TOKEN)[0] == 200:
                return child
        except OSError:
            pass
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        time.sleep(0.2)
    _stop(child)
    pytest.fail(f"{argv} never served its metrics")


def _stop(child: subprocess.Popen) -> None:
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    child.stderr.close()


@pytest.fixture
def worker(tmp_path, transactional_db):
    """A real `celery worker` on a queue of its own."""
    metrics_dir = tmp_path / "prometheus"
    port = _free_port()
    queue = f"bulk-test-{os.getpid()}"
    child = _spawn(
        [
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            queue,
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"metrics-test-{os.getpid()}@%h",
        ],  # fmt: skip
        metrics_dir,
        port,
    )
    yield f"http://127.0.0.1:{port}/metrics", queue, metrics_dir
    _stop(child)


def _old_messages(n: int) -> None:
    conversation = ConversationFactory()
    rows = Message.objects.bulk_create(
        Message(
            tenant=conversation.tenant,
            conversation=conversation,
            direction=Message.Direction.IN,
            text=f"mensagem antiga {i}",
            provider_message_id=f"wamid.old.{i}",
        )
        for i in range(n)
    )
    Message.objects.filter(pk__in=[m.pk for m in rows]).update(
        created_at=timezone.now() - timedelta(days=settings.RETENTION_MESSAGE_TEXT_DAYS + 5)
    )


def _wait_for(scrape, name: str, want: float, **labels: str) -> float | None:
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        seen = _value(scrape(), name, **labels)
        if seen == want:
            return seen
        time.sleep(0.3)
    return seen


def test_a_workers_counters_reach_its_own_scrape_port_and_the_webs_metrics(
    worker, client, monkeypatch, settings
):
    url, queue, metrics_dir = worker
    _old_messages(4)

    app.send_task("compliance.tasks.retention_run", queue=queue)

    seen = _wait_for(
        lambda: _get(url, TOKEN)[1], "compliance_retention_rows_total", 4, kind="message_text"
    )
    assert seen == 4
    assert _get(url)[0] == 401  # no token, no metrics
    assert _get(url.replace("/metrics", "/other"), TOKEN)[0] == 404

    # One host: the web shares the directory and adds the worker's values to its own.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    settings.METRICS_TOKEN = TOKEN
    web = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert _value(web, "compliance_retention_rows_total", kind="message_text") == 4


def test_a_metrics_port_needs_a_token_or_allowed_addresses(monkeypatch, tmp_path):
    monkeypatch.setenv("METRICS_PORT", str(_free_port()))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.delenv("METRICS_ALLOWED_IPS", raising=False)
    assert process_metrics.serve("worker") is None  # an open port would be refused


def test_files_of_dead_processes_go_and_live_neighbours_stay(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = tmp_path / f"counter_{child.pid}.db"
    alive = tmp_path / f"counter_{os.getppid()}.db"
    own = tmp_path / f"histogram_{os.getpid()}.db"
    for path in (dead, alive, own):
        path.write_bytes(b"x")

    process_metrics.prepare(str(tmp_path))

    assert not dead.exists()
    assert alive.exists() and own.exists()


def _processor(metrics_dir: Path, port: int) -> subprocess.Popen:
    # No burst window (the test reads the answer of each message) and a short poll: the test
    # process never wakes it (its dispatch is switched off below).
    return _spawn(
        ["manage.py", "run_processor", "--poll", "0.2"],
        metrics_dir,
        port,
        CHATBOT_DEBOUNCE_MS="0",
    )


def _backlog(client) -> tuple[float, float]:
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    return (
        _value(text, "chatbot_backlog_messages", queue="inbound_pending"),
        _value(text, "chatbot_backlog_oldest_seconds", queue="inbound_pending"),
    )


def _poll(read, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        seen = read()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_a_real_processor_counts_what_it_processed_and_the_backlog_follows_it_stopping(
    tmp_path, transactional_db, client, monkeypatch, settings
):
    from chatbots.models import InboundEvent
    from chatbots.tests import webhook_meta_support as meta
    from tests.factories import ChatbotFactory, TenantFactory

    tenant = TenantFactory()
    ChatbotFactory(
        tenant=tenant, flow="menu", phone_number_id=meta.PHONE_NUMBER_ID, app_secret=meta.SECRET
    )
    # The webhook stores; only the real processor processes (no eager drain in this process).
    monkeypatch.setattr("chatbots.inbound._dispatch", lambda *args, **kwargs: None)
    metrics_dir = tmp_path / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))  # one host: shared
    settings.METRICS_TOKEN = TOKEN

    def customer_writes(n: int, first: int) -> None:
        for i in range(first, first + n):
            message = meta.text_message(f"wamid.proc.{i}", sender=f"55119876500{i:02d}")
            answer = meta.post(client, meta.envelope(meta.messages_change(messages=[message])))
            assert answer.status_code == 200
            assert InboundEvent.objects.filter(external_id=f"wamid.proc.{i}").exists()

    port = _free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    processor = _processor(metrics_dir, port)
    try:
        customer_writes(1, 0)
        ok = _wait_for(
            lambda: _get(url, TOKEN)[1], "chatbot_messages_processed_total", 1, outcome="ok"
        )
        assert ok == 1
        # The batch's size is observed when the batch ends, a moment after the engine counted
        # the message: wait for it rather than catch the scrape in between.
        batches = _wait_for(
            lambda: _get(url, TOKEN)[1], "chatbot_consumer_batch_size_count", 1, process="processor"
        )
        assert batches == 1
        assert Message.objects.filter(direction=Message.Direction.OUT).exists()  # answered
        # One host: the web's /metrics adds the processor's counters to its own.
        web = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        assert _value(web, "chatbot_messages_processed_total", outcome="ok") == 1
        assert _backlog(client) == (0, 0)
    finally:
        _stop(processor)

    # The consumer is down: what customers write piles up, and gets older.
    customer_writes(3, 1)
    pending, age = _backlog(client)
    assert pending == 3 and age > 0
    assert _poll(lambda: _backlog(client)[1], lambda later: later > age) > age

    processor = _processor(metrics_dir, port)
    try:
        assert _poll(lambda: _backlog(client), lambda seen: seen == (0, 0)) == (0, 0)
        assert (
            _wait_for(
                lambda: _get(url, TOKEN)[1], "chatbot_messages_processed_total", 3, outcome="ok"
            )
            == 3
        )
    finally:
        _stop(processor)
