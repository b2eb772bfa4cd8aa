"""/metrics answers Prometheus (a bearer token or an allowed address), nobody else."""

from __future__ import annotations

import pytest

TOKEN = "t" * 40


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    settings.EMBEDDED = False
    return settings


def scrape(client, **extra):
    return client.get("/metrics", **extra)


def test_production_refuses_everyone_until_a_token_or_an_address_is_set(client, metrics_settings):
    response = scrape(client)  # from 127.0.0.1, like every request through a local proxy

    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.content.decode()


def test_the_bearer_token_lets_prometheus_in(client, metrics_settings):
    metrics_settings.METRICS_TOKEN = TOKEN

    good = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    wrong = scrape(client, HTTP_AUTHORIZATION="Bearer " + "x" * 40)
    missing = scrape(client)
    basic = scrape(client, HTTP_AUTHORIZATION=f"Basic {TOKEN}")

    assert good.status_code == 200
    assert "django_http_requests_before_middlewares_total" in good.content.decode()
    assert [wrong.status_code, missing.status_code, basic.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert "django_http" not in wrong.content.decode()


def test_an_allowed_address_scrapes_directly_without_a_token(client, metrics_settings):
    metrics_settings.METRICS_ALLOWED_IPS = ["10.0.0.0/24", "2001:db8::7"]

    inside = scrape(client, REMOTE_ADDR="10.0.0.5")
    ipv6 = scrape(client, REMOTE_ADDR="2001:db8::7")
    outside = scrape(client, REMOTE_ADDR="203.0.113.9")

    assert [inside.status_code, ipv6.status_code, outside.status_code] == [200, 200, 403]


def test_a_request_through_a_proxy_is_never_let_in_by_its_address(client, metrics_settings):
    # Behind nginx or Render's router the socket's address is the proxy's own.
    metrics_settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]

    proxied = scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    forwarded = scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_FORWARDED="for=203.0.113.9")
    direct = scrape(client, REMOTE_ADDR="127.0.0.1")

    assert [proxied.status_code, forwarded.status_code, direct.status_code] == [403, 403, 200]


def test_a_proxied_scrape_with_the_token_is_let_in(client, metrics_settings):
    metrics_settings.METRICS_TOKEN = TOKEN
    metrics_settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]

    response = scrape(
        client, HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )

    assert response.status_code == 200


def test_the_embedded_mode_answers_this_machine_only_by_default(client, metrics_settings):
    metrics_settings.EMBEDDED = True

    local = scrape(client, REMOTE_ADDR="127.0.0.1")
    lan = scrape(client, REMOTE_ADDR="192.168.0.20")

    assert [local.status_code, lan.status_code] == [200, 403]


def _sample(text: str, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_a_scrape_shows_the_backlog_of_the_reply_path(client, metrics_settings, db):
    """What an operator looks at when replies are late: how many messages wait in each
    queue and how old the oldest is, read from the database whichever process stopped."""
    from datetime import timedelta

    from django.utils import timezone

    from chatbots.models import InboundEvent, Message
    from tests.factories import ConversationFactory, InboundEventFactory

    metrics_settings.METRICS_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    empty = scrape(client, **auth).content.decode()
    assert _sample(empty, "chatbot_backlog_messages", queue="inbound_pending") == 0

    old = InboundEventFactory(state=InboundEvent.State.PENDING)
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    InboundEventFactory(state=InboundEvent.State.PENDING)
    InboundEventFactory(state=InboundEvent.State.DONE)
    conversation = ConversationFactory()
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        status=Message.Status.QUEUED,
        text="Seu pedido saiu",
    )

    text = scrape(client, **auth).content.decode()
    assert _sample(text, "chatbot_backlog_messages", queue="inbound_pending") == 2
    assert _sample(text, "chatbot_backlog_oldest_seconds", queue="inbound_pending") >= 180
    assert _sample(text, "chatbot_backlog_messages", queue="outbound_queued") == 1
    assert _sample(text, "chatbot_backlog_messages", queue="outbound_sending") == 0


def test_failed_messages_waiting_for_a_person_show_until_someone_retries_them(
    client, metrics_settings, db
):
    """Failed inbound events wait for "Processar novamente", failed replies of the last day
    for "Reenviar": the scrape shows how many and how old, and they leave once retried."""
    from datetime import timedelta

    from django.utils import timezone

    from chatbots import inbound
    from chatbots.models import InboundEvent, Message
    from chatbots.outbox import sending
    from tests.factories import ConversationFactory, InboundEventFactory

    metrics_settings.METRICS_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    now = timezone.now()
    broken = InboundEventFactory(state=InboundEvent.State.FAILED)
    InboundEvent.objects.filter(pk=broken.pk).update(received_at=now - timedelta(minutes=10))
    InboundEventFactory(state=InboundEvent.State.DONE)
    conversation = ConversationFactory()

    def reply(code: str, failed_at) -> Message:
        return Message.objects.create(
            tenant=conversation.tenant,
            conversation=conversation,
            direction=Message.Direction.OUT,
            status=Message.Status.FAILED,
            text="Seu pedido saiu",
            error_code=code,
            failed_at=failed_at,
        )

    failed = reply("131047", now - timedelta(minutes=5))
    reply("131026", now - timedelta(days=3))  # history, not work
    reply("simulation", now)  # the owner's simulator: nothing was ever sent

    text = scrape(client, **auth).content.decode()
    assert _sample(text, "chatbot_backlog_messages", queue="inbound_failed") == 1
    assert _sample(text, "chatbot_backlog_oldest_seconds", queue="inbound_failed") >= 600
    assert _sample(text, "chatbot_backlog_messages", queue="outbound_failed") == 1
    assert 300 <= _sample(text, "chatbot_backlog_oldest_seconds", queue="outbound_failed") < 3600

    inbound.requeue(event_ids=[broken.pk])
    sending.retry_failed(message_ids=[failed.pk])

    text = scrape(client, **auth).content.decode()
    assert _sample(text, "chatbot_backlog_messages", queue="inbound_failed") == 0
    assert _sample(text, "chatbot_backlog_oldest_seconds", queue="inbound_failed") == 0
    assert _sample(text, "chatbot_backlog_messages", queue="outbound_failed") == 0
    assert _sample(text, "chatbot_backlog_messages", queue="outbound_queued") == 1


def test_a_failing_health_check_is_counted_by_component(client, db, settings):
    before = _sample_registry("healthz_check_failures_total", component="worker")
    settings.HEALTHZ_CHECK_WORKERS = True
    client.get("/healthz")  # no worker heartbeat in tests
    assert _sample_registry("healthz_check_failures_total", component="worker") == before + 1
    assert _sample_registry("healthz_check_failures_total", component="database") == 0


def test_a_scrape_shows_which_health_check_fails_though_nobody_called_healthz(
    client, metrics_settings, db
):
    """Render and compose probe /healthz/live only: the scrape runs /healthz's checks."""
    metrics_settings.METRICS_TOKEN = TOKEN
    metrics_settings.HEALTHZ_CHECK_WORKERS = True
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

    text = scrape(client, **auth).content.decode()  # no worker has ever beaten in tests

    assert _sample(text, "healthz_component_failing", component="worker") == 1
    assert _sample(text, "healthz_component_failing", component="beat") == 1
    assert _sample(text, "healthz_component_failing", component="database") == 0
    assert _sample(text, "healthz_component_failing", component="cache") == 0
    again = scrape(client, **auth).content.decode()
    worker_failures = _sample(again, "healthz_check_failures_total", component="worker")
    assert worker_failures is not None and worker_failures >= 2


def _sample_registry(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_silent_worker_shows_in_the_heartbeat_age(client, metrics_settings, db):
    import time

    from django.core.cache import cache

    from config import heartbeat

    metrics_settings.METRICS_TOKEN = TOKEN
    cache.set(heartbeat.WORKER_KEY, time.time() - 600, timeout=3600)
    heartbeat.beat(heartbeat.BEAT_KEY)

    text = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    assert 600 <= _sample(text, "ops_heartbeat_age_seconds", process="worker") < 700
    assert _sample(text, "ops_heartbeat_age_seconds", process="beat") < 60
