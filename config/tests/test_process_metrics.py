"""Metrics counted inside real processes (a Celery worker, the processor) reach a scrape: on
the process's own port (a container per process) and through the web's /metrics (one host,
a shared directory); the backlog gauges follow a consumer that stops and comes back.

One worker runs every kind of job whose metric the operator watches (retention, sends, the
assistant and its breaker, billing alerts, reactivation, the agenda's jobs, campaigns):
one process started once, since each start costs seconds of the suite."""

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


def _value(text: str, name: str, /, **labels: str) -> float | None:
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
    log = metrics_dir.parent / f"{port}.log"  # its stderr, for a failing test to show
    with log.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, *argv],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    child.log = log
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(url, TOKEN)[0] == 200:
                return child
        except OSError:
            pass
        assert child.poll() is None, _tail(child)
        time.sleep(0.2)
    _stop(child)
    pytest.fail(f"{argv} never served its metrics")


def _tail(child: subprocess.Popen) -> str:
    return child.log.read_text(errors="replace")[-3000:]


def _stop(child: subprocess.Popen) -> None:
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


@pytest.fixture
def worker(tmp_path, transactional_db, fake_graph, fake_gemini):
    """A real `celery worker` on a queue of its own, talking to the fake Graph and Gemini
    APIs; its breaker opens at the first failed model call."""
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
        WHATSAPP_GRAPH_API_URL=fake_graph.url,
        GEMINI_API_KEY="test-gemini-key",
        GEMINI_BASE_URL=fake_gemini.url,
        GEMINI_TIMEOUT_SECONDS="2",
        GEMINI_RETRY_ATTEMPTS="1",
        GEMINI_BREAKER_FAILURES="1",
        GEMINI_BREAKER_OPEN_SECONDS="300",
    )
    # The port opens at worker_init, before the pool: wait for worker_ready (its heartbeat
    # for this queue), so a loaded machine's slow start is not taken for a lost job.
    from config import heartbeat

    ready = _poll(lambda: heartbeat.last_beat(heartbeat.queue_key(queue)), bool, timeout=90)
    assert ready, _tail(child)
    yield f"http://127.0.0.1:{port}/metrics", queue, metrics_dir, child
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


def _wait_for(scrape, name: str, want: float, /, **labels: str) -> float | None:
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        seen = _value(scrape(), name, **labels)
        if seen == want:
            return seen
        time.sleep(0.3)
    return seen


def _queued_here(monkeypatch) -> None:
    """This process only stores: the tasks its commits would publish are dropped, and the
    test hands each job to the worker's own queue."""
    from campaigns import tasks as campaign_tasks
    from chatbots.outbox import tasks as outbox_tasks

    for task in (outbox_tasks.send_outbound, campaign_tasks.bulk_campaign_run):
        monkeypatch.setattr(task, "delay", lambda *a, **k: None)
        monkeypatch.setattr(task, "apply_async", lambda *a, **k: None)


def _reply_queued(bot, phone: str, body: str) -> int:
    from django.db import transaction

    from chatbots.models import Conversation
    from chatbots.outbox import queue
    from chatbots.wire import Text
    from tests.factories import ClienteFactory

    conversation = Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=bot.tenant, telefone=phone),
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )
    with transaction.atomic():
        queue.queue_replies(conversation=conversation, messages=[Text(body=body)])
    return conversation.pk


def _customer_asks(bot, phone: str, text: str) -> int:
    from tests.factories import ClienteFactory

    conversation = ConversationFactory(
        chatbot=bot, cliente=ClienteFactory(tenant=bot.tenant, telefone=phone)
    )
    return Message.objects.create(
        tenant=bot.tenant, conversation=conversation, direction=Message.Direction.IN, text=text
    ).pk


def test_every_worker_side_metric_reaches_its_scrape_port_and_the_webs_metrics(
    worker, client, monkeypatch, settings, fake_graph, fake_gemini
):
    from agenda.models import Agendamento
    from billing import metering
    from billing.models import Plan
    from billing.services import subscription_start
    from campaigns import services as campaigns
    from compliance.models import ReactivationSend
    from tests.factories import (
        AgendamentoFactory,
        ChatbotFactory,
        ClienteFactory,
        MessageTemplateFactory,
        ServicoFactory,
        TenantFactory,
    )

    url, queue, metrics_dir, child = worker
    _queued_here(monkeypatch)

    def job(name: str, *args) -> None:
        app.send_task(name, args=list(args), queue=queue)

    def seen(metric: str, want: float, /, **labels: str) -> float | None:
        value = _wait_for(lambda: _get(url, TOKEN)[1], metric, want, **labels)
        if value != want:  # what the worker said, to tell a slow machine from a bug
            print(f"{metric}: {value}; the worker's log:\n{_tail(child)}")
        return value

    def at_least(metric: str, want: float, /, **labels: str) -> float:
        return _poll(
            lambda: _value(_get(url, TOKEN)[1], metric, **labels) or 0.0,
            lambda value: value >= want,
            timeout=60,
        )

    # Retention: the daily job blanks the texts of old messages.
    _old_messages(4)
    job("compliance.tasks.retention_run")
    assert seen("compliance_retention_rows_total", 4, kind="message_text") == 4
    assert _get(url)[0] == 401  # no token, no metrics
    assert _get(url.replace("/metrics", "/other"), TOKEN)[0] == 404

    tenant = TenantFactory()
    bot = ChatbotFactory(tenant=tenant, messaging_limit_tier="TIER_1K")

    # Outbound: one reply accepted by Meta, one refused for good (131026: the number cannot
    # receive it; https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
    job("chatbots.tasks.send_outbound", _reply_queued(bot, "5511900000701", "Seu pedido saiu"))
    assert seen("chatbot_outbound_sent_total", 1, provider="meta") == 1
    fake_graph.fail_next(code=131026)
    job("chatbots.tasks.send_outbound", _reply_queued(bot, "5511900000702", "Chega em 30 min"))
    assert seen("chatbot_outbound_failed_total", 1, code="131026") == 1

    # The assistant: a model call answered, then one failing, which opens the breaker.
    fake_gemini.answer_with(answer="Aos domingos abrimos das 8h às 12h.")
    job("chatbots.tasks.answer_llm", _customer_asks(bot, "5511900000703", "abrem domingo?"))
    # (the guard's screening of the text may be a model call of its own)
    assert at_least("chatbot_ai_calls_total", 1, outcome="ok") >= 1
    assert at_least("chatbot_ai_tokens_total", 1, kind="output") >= 1
    fake_gemini.fail_next(status=503, times=2)
    job("chatbots.tasks.answer_llm", _customer_asks(bot, "5511900000704", "e no feriado?"))
    assert seen("chatbot_ai_breaker_state", 2, name="gemini") == 2  # open

    # The agenda's periodic jobs: one customer missed, one is asked how it went, one is
    # reminded a day ahead.
    servico = ServicoFactory(tenant=tenant)
    now = timezone.now()
    AgendamentoFactory(servico=servico, inicio=now - timedelta(hours=3))
    AgendamentoFactory(
        servico=servico, inicio=now - timedelta(hours=4), status=Agendamento.Status.CONCLUIDO
    )
    AgendamentoFactory(servico=servico, inicio=now + timedelta(hours=12))
    job("agenda.tasks.bulk_mark_no_shows")
    job("agenda.tasks.bulk_send_followups")
    job("agenda.tasks.bulk_send_reminders")
    assert seen("agenda_no_shows_total", 1) == 1
    assert seen("agenda_surveys_total", 1) == 1
    assert seen("agenda_reminders_total", 1, kind="24h") == 1

    # A campaign's batch, run by the worker: another shop, two customers.
    shop = ChatbotFactory(messaging_limit_tier="TIER_1K")
    ClienteFactory(tenant=shop.tenant, telefone="5511970000001")
    ClienteFactory(tenant=shop.tenant, telefone="5511970000002")
    promo = MessageTemplateFactory(chatbot=shop, name="promo", param_count=0, category="MARKETING")
    campaign = campaigns.campaign_create(
        tenant=shop.tenant, chatbot=shop, name="Maio", variants=[{"template": promo, "params": []}]
    )
    campaigns.campaign_start(campaign=campaign)
    job("campaigns.tasks.bulk_campaign_run", campaign.pk)
    assert seen("campaign_messages_total", 2, status="sent") == 2

    # Reactivation: a scheduled send the bot has no template for is refused, and counted.
    pending = ReactivationSend.objects.create(
        tenant=tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=tenant, telefone="5511900000705"),
        window=timezone.localdate(),
    )
    job("compliance.tasks.reactivation_send", pending.pk)
    assert seen("compliance_reactivation_total", 1, outcome="refused") == 1

    # Billing: another tenant's plan allows 10 messages a month and 8 were used.
    limited = TenantFactory()
    plan = Plan.objects.create(name="Dez", max_messages_per_month=10, max_chatbots=2, max_staff=5)
    sub = subscription_start(tenant=limited, plan=plan)
    start = timezone.now() - timedelta(days=1)  # today well inside the period
    type(sub).objects.filter(pk=sub.pk).update(
        current_period_start=start, current_period_end=start + timedelta(days=30)
    )
    metering.record(tenant_id=limited.pk, messages_in=8)
    job("billing.tasks.flush_usage")
    assert seen("billing_alerts_total", 1, kind="messages", threshold="80") == 1

    # One host: the web shares the directory and adds the worker's values to its own.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    settings.METRICS_TOKEN = TOKEN
    web = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert _value(web, "compliance_retention_rows_total", kind="message_text") == 4
    assert _value(web, "chatbot_outbound_failed_total", code="131026") == 1
    assert _value(web, "agenda_no_shows_total") == 1
    assert _value(web, "chatbot_ai_breaker_state", name="gemini") == 2


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

        # Meta refuses the reply after accepting it (131047: the 24-hour window had closed;
        # https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes): the
        # processor applies the status, counted by status and by error code.
        reply = Message.objects.filter(direction=Message.Direction.OUT).first()
        Message.objects.filter(pk=reply.pk).update(
            status=Message.Status.SENT, provider_message_id="wamid.reply.0"
        )
        refused = {
            "id": "wamid.reply.0",
            "status": "failed",
            "timestamp": str(int(time.time())),
            "recipient_id": "5511987650000",
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        }
        answer = meta.post(client, meta.envelope(meta.messages_change(statuses=[refused])))
        assert answer.status_code == 200
        scrape = lambda: _get(url, TOKEN)[1]  # noqa: E731
        assert _wait_for(scrape, "chatbot_outbound_status_total", 1, status="failed") == 1
        assert _wait_for(scrape, "chatbot_outbound_failed_total", 1, code="131047") == 1
        reply.refresh_from_db()
        assert (reply.status, reply.error_code) == ("failed", "131047")
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


def test_a_real_beat_serves_its_port_and_its_heartbeat_reaches_the_webs_metrics(
    tmp_path, transactional_db, client, settings
):
    """Beat counts nothing of its own; what the operator watches is that it lives
    (ProcessSilent alerts on ops_heartbeat_age_seconds{process="beat"})."""
    from django.core.cache import cache

    from config import heartbeat

    cache.delete(heartbeat.BEAT_KEY)
    settings.METRICS_TOKEN = TOKEN
    port = _free_port()
    beat = _spawn(
        ["-m", "celery", "-A", "config", "beat", "--pidfile="], tmp_path / "prometheus", port
    )
    try:
        assert _get(f"http://127.0.0.1:{port}/metrics")[0] == 401  # no token, no metrics

        def age() -> float:
            text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
            return _value(text, "ops_heartbeat_age_seconds", process="beat")

        assert _poll(age, lambda seen: seen < 60, timeout=30) < 60
    finally:
        _stop(beat)
