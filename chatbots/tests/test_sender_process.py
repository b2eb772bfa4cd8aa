"""The sender as it runs in production: `python manage.py run_sender` started from the
environment (as the Procfile does), nudged by a commit, stopped by SIGTERM; its thread pool
with several customers at once; the Celery task as the fallback when no sender listens;
the embedded mode (SQLite) with one sender."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import queue, tasks, wake
from chatbots.outbox.sender import Sender
from chatbots.wire import Text
from config import heartbeat
from tests.factories import ClienteFactory

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def bot(tenant, fake_graph):
    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id="106540352242922",
        access_token="EAAG-tk",
    )


def open_conversation(bot, phone):
    return Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=bot.tenant, telefone=phone),
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )


def reply(conversation, *bodies):
    """Queue a turn's replies in a committed transaction, as the engine does."""
    with transaction.atomic():
        return queue.queue_replies(
            conversation=conversation, messages=[Text(body=body) for body in bodies]
        )


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def no_celery_sends(monkeypatch):
    """Record (instead of publishing) every send task the outbox would publish."""
    published = []
    monkeypatch.setattr(tasks.send_outbound, "delay", lambda *a, **k: published.append(a))
    monkeypatch.setattr(tasks.send_outbound, "apply_async", lambda *a, **k: published.append(a))
    return published


@pytest.mark.django_db(transaction=True)
def test_a_pool_of_threads_sends_many_customers_at_once_each_in_order(bot, fake_graph):
    phones = [f"55119000003{n:02d}" for n in range(12)]
    conversations = [open_conversation(bot, phone) for phone in phones]
    for n in range(4):
        for conversation in conversations:
            queue.queue_replies(conversation=conversation, messages=[Text(body=f"parte {n}")])
    fake_graph.delay_next(0.05, times=8)  # slow answers, so the threads overlap

    sender = Sender(batch=48, threads=6)
    try:
        assert sender.run_once() == 48
    finally:
        sender.close()

    for phone in phones:
        got = [r.json["text"]["body"] for r in fake_graph.sends if r.json["to"] == f"+{phone}"]
        assert got == ["parte 0", "parte 1", "parte 2", "parte 3"]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    # Several connections at once (one per thread), each reused for many sends.
    connections = {r.connection for r in fake_graph.sends}
    assert 1 < len(connections) <= 6


@pytest.mark.django_db(transaction=True)
def test_without_a_sender_listening_the_celery_task_sends(bot, no_celery_sends):
    conversation = open_conversation(bot, "5511900000401")

    reply(conversation, "olá")

    assert no_celery_sends == [(conversation.pk,)]


@pytest.mark.django_db(transaction=True)
def test_with_a_sender_listening_a_commit_only_nudges_it(bot, no_celery_sends):
    conversation = open_conversation(bot, "5511900000402")
    listener = wake.client().pubsub(ignore_subscribe_messages=True)
    listener.subscribe(wake.names().channel)
    listener.get_message(timeout=2)  # the subscription is in place
    try:
        with transaction.atomic():
            queue.queue_replies(conversation=conversation, messages=[Text(body="olá")])
            queue.queue_mark_read(
                chatbot=bot, external_id="wamid.CLIENTE1", conversation=conversation
            )
        deadline, nudged = time.monotonic() + 5, None
        while nudged is None and time.monotonic() < deadline:
            nudged = listener.get_message(timeout=0.5)  # None for the subscription itself
    finally:
        listener.close()

    assert no_celery_sends == []
    assert nudged is not None
    pending = wake.client().lrange(wake.names().receipts, 0, -1)
    assert [wake.parse_receipt(raw) for raw in pending] == [(bot.pk, "wamid.CLIENTE1")]
    wake.client().delete(wake.names().receipts)


METRICS_TOKEN = "s" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict:
    """A process's own metrics port, as Prometheus reads it: {(name, labels): value}."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_run_sender_from_the_procfile_sends_what_a_commit_queues_and_stops_on_sigterm(
    bot, fake_graph, no_celery_sends, tmp_path
):
    conversation = open_conversation(bot, "5511900000501")
    metrics_port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "WHATSAPP_GRAPH_API_URL": fake_graph.url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Its own metrics, as in a container of its own (config/process_metrics.py).
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "METRICS_PORT": str(metrics_port),
        "METRICS_BIND_HOST": "127.0.0.1",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sender", "--poll", "5"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Subscribed once it beat: from then on a commit reaches it at once.
        assert wait_for(lambda: wake.client().pubsub_numsub(wake.names().channel)[0][1] > 0), (
            process.stderr.read() if process.poll() is not None else "no subscription"
        )
        rows = reply(conversation, "seu pedido saiu", "chega em 30 minutos")

        # Well before its 5-second poll: the nudge woke it.
        assert wait_for(lambda: len(fake_graph.sends) == 2, seconds=4)
        assert wait_for(
            lambda: (
                set(
                    Message.objects.filter(pk__in=[r.pk for r in rows]).values_list(
                        "status", flat=True
                    )
                )
                == {"sent"}
            )
        )
        assert [r.json["text"]["body"] for r in fake_graph.sends] == [
            "seu pedido saiu",
            "chega em 30 minutos",
        ]
        assert no_celery_sends == []
        assert heartbeat.last_beat(heartbeat.SENDER_KEY) is not None
        # What the sender counted reaches a scrape of its own port.
        scraped = _scrape(metrics_port)
        assert scraped[("chatbot_outbound_sent_total", (("provider", "meta"),))] == 2
        assert scraped[("chatbot_consumer_batch_size_count", (("process", "sender"),))] >= 1

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


EMBEDDED_SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from datetime import timedelta
    from django.utils import timezone
    from billing.models import Tenant
    from chatbots.models import Chatbot, Conversation, Message
    from chatbots.outbox import queue
    from chatbots.wire import Text
    from clientes.models import Cliente

    tenant = Tenant.objects.create(slug="padaria", name="Padaria")
    bot = Chatbot.objects.create(tenant=tenant, name="Padaria", provider="stub")
    for phone in ("5511900000601", "5511900000602"):
        cliente = Cliente.objects.create(tenant=tenant, nome="Cliente", telefone=phone)
        conversation = Conversation.objects.create(
            tenant=tenant, chatbot=bot, cliente=cliente,
            last_customer_message_at=timezone.now() - timedelta(minutes=1),
        )
        queue.queue_replies(
            conversation=conversation, messages=[Text(body="um"), Text(body="dois")]
        )
    print(Message.objects.filter(status="queued").count())
    """
)


def test_the_embedded_mode_sends_with_one_sender_on_sqlite(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / ".env"),
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(BASE_DIR),
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]

    def run(*args):
        return subprocess.run(
            args, env=env, cwd=BASE_DIR, check=True, capture_output=True, text=True, timeout=300
        ).stdout

    run(*manage, "migrate", "-v", "0")
    assert run(sys.executable, "-c", EMBEDDED_SCRIPT).strip() == "4"
    out = run(*manage, "run_sender", "--once", "--threads", "2")
    assert "4" in out
    count = run(
        sys.executable,
        "-c",
        "import django; django.setup(); from chatbots.models import Message; "
        "print(sorted(Message.objects.values_list('text', 'status')))",
    )
    assert count.strip() == str(
        sorted([("dois", "sent"), ("dois", "sent"), ("um", "sent"), ("um", "sent")])
    )
