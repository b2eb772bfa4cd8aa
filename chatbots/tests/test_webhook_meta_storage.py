"""The Meta webhook endpoint: what a POST stores, what it acknowledges, and the bodies it refuses."""

from __future__ import annotations

import pytest

from chatbots.models import InboundEvent
from chatbots.tests.webhook_meta_support import (
    PHONE_NUMBER_ID,
    counter,
    envelope,
    messages_change,
    post,
    text_message,
)

# --- POST: storing ----------------------------------------------------------------------------


def test_it_stores_a_text_message_and_queues_it_after_commit(
    client, bot, queued, django_capture_on_commit_callbacks
):
    payload = envelope(messages_change(messages=[text_message("wamid.A1", body="Quero pão")]))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, payload)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    event = InboundEvent.objects.get()
    assert event.tenant_id == bot.tenant_id
    assert event.chatbot == bot
    assert (event.provider, event.external_id, event.kind) == ("meta", "wamid.A1", "message")
    assert event.state == InboundEvent.State.PENDING
    assert event.contact_key == "5511987654321"
    assert event.occurred_at.timestamp() == 1750000000
    assert event.payload["text"] == "Quero pão"
    assert event.payload["profile_name"] == "Maria"
    assert event.raw["message"]["id"] == "wamid.A1"
    assert event.raw["contact"]["wa_id"] == "5511987654321"
    assert queued == [event.pk]


def test_it_normalizes_brazilian_wa_ids_without_the_ninth_digit(client, bot, queued):
    payload = envelope(messages_change(messages=[text_message("wamid.B1", sender="551187654321")]))

    post(client, payload)

    event = InboundEvent.objects.get()
    assert event.contact_key == "5511987654321"
    assert event.payload["from_phone"] == "5511987654321"


def test_it_stores_a_retry_once_and_queues_nothing_for_it(
    client, bot, queued, django_capture_on_commit_callbacks
):
    payload = envelope(messages_change(messages=[text_message("wamid.D1")]))

    with django_capture_on_commit_callbacks(execute=True):
        post(client, payload)
    with django_capture_on_commit_callbacks(execute=True):
        retry = post(client, payload)

    assert retry.status_code == 200
    assert InboundEvent.objects.count() == 1
    assert len(queued) == 1


def test_it_stores_statuses_with_metas_error(client, bot, queued):
    status = {
        "id": "wamid.OUT",
        "status": "failed",
        "timestamp": "1750000003",
        "recipient_id": "5511987654321",
        "errors": [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Recipient is not a WhatsApp user"},
            }
        ],
    }

    post(client, envelope(messages_change(statuses=[status])))

    event = InboundEvent.objects.get()
    assert (event.kind, event.external_id) == ("status", "wamid.OUT:failed")
    assert event.contact_key == "5511987654321"
    assert event.payload["error_code"] == "131026"
    assert event.payload["error_title"] == "Message undeliverable"
    assert event.payload["error_detail"] == "Recipient is not a WhatsApp user"


def test_it_keeps_the_data_stored_when_the_broker_is_down(
    client, bot, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(event_id):
        raise ConnectionError("Error 111 connecting to redis")

    monkeypatch.setattr("chatbots.inbound._dispatch", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, envelope(messages_change(messages=[text_message("wamid.E1")])))

    assert response.status_code == 200
    assert InboundEvent.objects.get().state == InboundEvent.State.PENDING


def test_it_stores_events_of_an_inactive_bot(client, bot, queued):
    # The engine records them without replying; dropping them would lose the history.
    bot.active = False
    bot.save()

    response = post(client, envelope(messages_change(messages=[text_message("wamid.I1")])))

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 1


# --- POST: what is acknowledged and not stored ------------------------------------------------


def test_it_acknowledges_fields_it_does_not_handle_and_counts_them(client, bot, queued):
    before = counter("chatbot_webhook_ignored_total", field="phone_number_quality_update")
    change = {
        "field": "phone_number_quality_update",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "5511900000000",
                "phone_number_id": PHONE_NUMBER_ID,
            },
            "event": "FLAGGED",
            "current_limit": "TIER_1K",
        },
    }

    response = post(client, envelope(change))

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()
    assert (
        counter("chatbot_webhook_ignored_total", field="phone_number_quality_update") == before + 1
    )


def test_it_ignores_other_objects_of_the_same_app(client, bot, queued, settings):
    settings.WHATSAPP_APP_SECRET = ""
    payload = envelope(messages_change(messages=[text_message("wamid.P1")]))
    payload["object"] = "page"

    response = post(client, payload)

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


# --- POST: bodies refused (nothing stored) ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"object": "whatsapp_business_account", "entry": {"id": 1}}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": []}]}]}',
    ],
    ids=[
        "broken",
        "array",
        "string",
        "not-utf8",
        "nesting-bomb",
        "entry-object",
        "changes-string",
        "value-list",
    ],
)
def test_it_refuses_malformed_bodies(client, bot, queued, body):
    response = post(client, body)

    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_body_over_three_megabytes(client, bot, queued):
    payload = envelope(
        messages_change(messages=[text_message("wamid.L1", body="x" * (3 * 1024 * 1024))])
    )

    response = post(client, payload)

    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_body_over_the_configured_limit(client, bot, queued, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 600
    small = envelope(messages_change(messages=[text_message("wamid.L2")]))
    large = envelope(messages_change(messages=[text_message("wamid.L3", body="x" * 600)]))

    assert post(client, small).status_code == 200
    assert post(client, large).status_code == 413
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["wamid.L2"]
