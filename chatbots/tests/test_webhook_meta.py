"""The Meta webhook endpoint: verification, authentication, refusals, storage, speed."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from chatbots.models import Chatbot, InboundEvent
from tests.factories import TenantFactory

URL = "/api/chatbots/webhook/"
SECRET = "app-secret-of-the-meta-app"
PHONE_NUMBER_ID = "106540352242922"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, payload, *, secret: str | None = SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    elif secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body, secret)
    return client.post(URL, data=body, content_type="application/json", **headers)


def text_message(
    wamid: str, *, sender: str = "5511987654321", body: str = "Oi", ts: int = 1750000000
):
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }


def envelope(*changes) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "419561257915477", "changes": list(changes)}],
    }


def messages_change(
    phone_number_id: str = PHONE_NUMBER_ID, *, messages=(), statuses=(), contacts=None
) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5511900000000", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = (
            contacts
            if contacts is not None
            else [{"profile": {"name": "Maria"}, "wa_id": m["from"]} for m in messages]
        )
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"field": "messages", "value": value}


@pytest.fixture
def queued(monkeypatch):
    """Record what would be queued for processing (the engine is tested elsewhere)."""
    ids: list[int] = []
    monkeypatch.setattr("chatbots.tasks.process_inbound.delay", ids.append)
    return ids


@pytest.fixture
def bot(tenant):
    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id=PHONE_NUMBER_ID,
        app_secret=SECRET,
        verify_token="token-da-padaria",
    )


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- GET verification --------------------------------------------------------------------------


def test_it_answers_the_challenge_for_a_bots_verify_token(client, bot):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "token-da-padaria",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


def test_it_answers_the_challenge_for_the_global_verify_token(client, db, settings):
    settings.WHATSAPP_VERIFY_TOKEN = "token-global"

    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "token-global", "hub.challenge": "42"}
    )

    assert response.status_code == 200
    assert response.content == b"42"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "token-da-padaria", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "empty-token", "no-token", "nothing"],
)
def test_it_refuses_verification_without_a_matching_token(client, bot, settings, params):
    settings.WHATSAPP_VERIFY_TOKEN = ""

    response = client.get(URL, params)

    assert response.status_code == 403
    assert b"1" not in response.content


def test_it_refuses_the_verify_token_of_an_inactive_bot(client, bot):
    bot.active = False
    bot.save()

    response = client.get(
        URL,
        {"hub.mode": "subscribe", "hub.verify_token": "token-da-padaria", "hub.challenge": "7"},
    )

    assert response.status_code == 403


# --- POST: storing -----------------------------------------------------------------------------


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


def test_it_handles_every_entry_change_message_and_status_of_a_batch(client, bot, queued):
    other = Chatbot.objects.create(
        tenant=TenantFactory(slug="outra"),
        name="Outra",
        provider="meta",
        phone_number_id="999000111",
        app_secret=SECRET,  # two numbers of the same Meta app share its secret
    )
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    messages_change(messages=[text_message("wamid.1"), text_message("wamid.2")]),
                    messages_change(
                        statuses=[
                            {"id": "wamid.OUT", "status": "sent", "timestamp": "1750000001"},
                            {"id": "wamid.OUT", "status": "delivered", "timestamp": "1750000002"},
                        ]
                    ),
                ],
            },
            {
                "id": "WABA2",
                "changes": [messages_change("999000111", messages=[text_message("wamid.3")])],
            },
        ],
    }

    response = post(client, payload)

    assert response.status_code == 200
    stored = dict(InboundEvent.objects.values_list("external_id", "chatbot_id"))
    assert stored == {
        "wamid.1": bot.pk,
        "wamid.2": bot.pk,
        "wamid.OUT:sent": bot.pk,
        "wamid.OUT:delivered": bot.pk,
        "wamid.3": other.pk,
    }
    assert InboundEvent.objects.get(external_id="wamid.3").tenant_id == other.tenant_id


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

    monkeypatch.setattr("chatbots.tasks.process_inbound.delay", broker_down)

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


# --- POST: what is acknowledged and not stored -------------------------------------------------


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


def test_it_acknowledges_account_updates_without_a_global_secret(client, db, settings, queued):
    settings.WHATSAPP_APP_SECRET = ""
    payload = envelope({"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}})

    response = post(client, payload, secret=None)

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


def test_it_checks_account_updates_against_the_global_secret_when_set(client, db, settings, queued):
    settings.WHATSAPP_APP_SECRET = "global-app-secret"
    payload = envelope({"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}})

    forged = post(client, payload, secret="not-the-secret")
    genuine = post(client, payload, secret="global-app-secret")

    assert forged.status_code == 401
    assert genuine.status_code == 200


def test_it_drops_messages_that_name_no_bot_and_keeps_the_rest(client, bot, queued):
    orphan = messages_change(messages=[text_message("wamid.O1")])
    del orphan["value"]["metadata"]
    payload = envelope(messages_change(messages=[text_message("wamid.O2")]), orphan)

    response = post(client, payload)

    assert response.status_code == 200
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["wamid.O2"]


def test_it_ignores_other_objects_of_the_same_app(client, bot, queued, settings):
    settings.WHATSAPP_APP_SECRET = ""
    payload = envelope(messages_change(messages=[text_message("wamid.P1")]))
    payload["object"] = "page"

    response = post(client, payload)

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


# --- POST: refusals store nothing ---------------------------------------------------------------


def test_it_refuses_a_missing_signature(client, bot, queued):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S1")])), secret=None
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "sha1=abc", "garbage", "sha256=", "sha256=ünïcode"],
    ids=["wrong-hex", "wrong-algorithm", "no-prefix", "empty", "non-ascii"],
)
def test_it_refuses_a_wrong_signature(client, bot, queued, signature):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S2")])), signature=signature
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_body_signed_with_another_secret(client, bot, queued):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S3")])), secret="other"
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_uses_the_global_app_secret_for_a_bot_without_one(client, bot, queued, settings):
    bot.app_secret = ""
    bot.save()
    settings.WHATSAPP_APP_SECRET = "global-app-secret"
    payload = envelope(messages_change(messages=[text_message("wamid.G1")]))

    assert post(client, payload, secret=SECRET).status_code == 401
    assert post(client, payload, secret="global-app-secret").status_code == 200
    assert InboundEvent.objects.count() == 1


def test_it_refuses_when_no_secret_is_configured_at_all(client, bot, queued, settings):
    bot.app_secret = ""
    bot.save()
    settings.WHATSAPP_APP_SECRET = ""

    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.N1")])), secret=""
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_batch_naming_bots_with_different_secrets(client, bot, queued):
    # One signature can only match one key, and Meta signs with the app's secret: a batch
    # naming bots of two different apps cannot be genuine for both.
    Chatbot.objects.create(
        tenant=TenantFactory(slug="outra"),
        name="Outra",
        provider="meta",
        phone_number_id="999000111",
        app_secret="secret-of-another-app",
    )
    payload = envelope(
        messages_change(messages=[text_message("wamid.M1")]),
        messages_change("999000111", messages=[text_message("wamid.M2")]),
    )

    for secret in (SECRET, "secret-of-another-app"):
        response = post(client, payload, secret=secret)
        assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_an_unknown_phone_number_id_and_logs_it(client, bot, queued, caplog):
    payload = envelope(
        messages_change(messages=[text_message("wamid.U1")]),
        messages_change("777666555", messages=[text_message("wamid.U2")]),
    )

    with caplog.at_level("WARNING", logger="chatbots.providers.meta"):
        response = post(client, payload)

    assert response.status_code == 404
    assert not InboundEvent.objects.exists()
    assert any(getattr(r, "phone_number_ids", None) == ["777666555"] for r in caplog.records)


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


# --- Speed ----------------------------------------------------------------------------------------


def _batch(size: int, offset: int) -> dict:
    messages = [text_message(f"wamid.Q{offset + i}", sender=f"55119{i:08d}") for i in range(size)]
    statuses = [
        {"id": f"wamid.OUT{offset + i}", "status": "read", "timestamp": "1750000000"}
        for i in range(size)
    ]
    return envelope(messages_change(messages=messages, statuses=statuses))


def test_its_query_count_does_not_grow_with_the_batch(
    client, bot, queued, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as one:
        post(client, _batch(1, 0))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = post(client, _batch(300, 1000))

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 2 + 600
    assert len(one.captured_queries) <= 4  # select the bots, one insert (+ savepoint pair)


def test_a_batch_larger_than_one_insert_is_stored_whole(client, bot, queued):
    payload = _batch(600, 0)  # 1,200 updates: more than Meta's 1,000, more than one INSERT
    payload["entry"].append(copy.deepcopy(payload["entry"][0]))  # Meta's duplicates, same batch

    response = post(client, payload)

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 1200


# --- Bot routes remembered between webhooks -------------------------------------------------------


def test_a_second_webhook_for_the_same_number_does_not_look_the_bot_up_again(client, bot, queued):
    post(client, envelope(messages_change(messages=[text_message("wamid.R1")])))
    with CaptureQueriesContext(connection) as second:
        response = post(client, envelope(messages_change(messages=[text_message("wamid.R2")])))

    assert response.status_code == 200
    assert InboundEvent.objects.filter(chatbot=bot).count() == 2
    statements = [q["sql"] for q in second.captured_queries]
    assert not [sql for sql in statements if "chatbots_chatbot" in sql]
    assert len(statements) == 1  # the INSERT, nothing else


def test_a_rotated_app_secret_is_used_at_once_in_the_process_that_saved_it(client, bot, queued):
    post(client, envelope(messages_change(messages=[text_message("wamid.S1")])))
    bot.app_secret = "the-new-secret"
    bot.save()

    old = post(client, envelope(messages_change(messages=[text_message("wamid.S2")])))
    new = post(
        client,
        envelope(messages_change(messages=[text_message("wamid.S3")])),
        secret="the-new-secret",
    )

    assert (old.status_code, new.status_code) == (401, 200)
    assert list(InboundEvent.objects.values_list("external_id", flat=True).order_by("id")) == [
        "wamid.S1",
        "wamid.S3",
    ]


def test_a_change_made_by_another_process_is_seen_after_the_ttl(
    client, bot, queued, settings, monkeypatch
):
    from chatbots import routing

    clock = [1000.0]
    monkeypatch.setattr(routing.time, "monotonic", lambda: clock[0])
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 5
    post(client, envelope(messages_change(messages=[text_message("wamid.T1")])))
    # Another process rotated the secret: bulk_update sends no signal to this one.
    bot.app_secret = "rotated-elsewhere"
    Chatbot.objects.bulk_update([bot], ["app_secret"])

    clock[0] += 4
    still_old = post(
        client, envelope(messages_change(messages=[text_message("wamid.T2")])), secret=SECRET
    )
    clock[0] += 2
    refused_old = post(
        client, envelope(messages_change(messages=[text_message("wamid.T3")])), secret=SECRET
    )
    accepted_new = post(
        client,
        envelope(messages_change(messages=[text_message("wamid.T4")])),
        secret="rotated-elsewhere",
    )

    assert [still_old.status_code, refused_old.status_code, accepted_new.status_code] == [
        200,
        401,
        200,
    ]


def test_a_bot_created_after_a_refusal_gets_its_webhooks_at_once(client, tenant, queued):
    payload = envelope(messages_change(messages=[text_message("wamid.U1")]))
    assert post(client, payload).status_code == 404  # unknown numbers are not remembered

    Chatbot.objects.create(
        tenant=tenant,
        name="Nova",
        provider="meta",
        phone_number_id=PHONE_NUMBER_ID,
        app_secret=SECRET,
    )

    assert post(client, payload).status_code == 200
    assert InboundEvent.objects.filter(external_id="wamid.U1").count() == 1


def test_a_deleted_bot_is_forgotten_at_once(client, bot, queued):
    payload = envelope(messages_change(messages=[text_message("wamid.V1")]))
    assert post(client, payload).status_code == 200

    bot.delete()

    assert (
        post(client, envelope(messages_change(messages=[text_message("wamid.V2")]))).status_code
        == 404
    )
