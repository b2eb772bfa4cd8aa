"""The Meta webhook endpoint: routing a batch to its bots, the query count, the route cache."""

from __future__ import annotations

import copy

from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatbots.models import Chatbot, InboundEvent
from chatbots.tests.webhook_meta_support import (
    PHONE_NUMBER_ID,
    SECRET,
    envelope,
    messages_change,
    post,
    text_message,
)
from tests.factories import TenantFactory

# --- POST: routing by phone_number_id ---------------------------------------------------------


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


def test_it_drops_messages_that_name_no_bot_and_keeps_the_rest(client, bot, queued):
    orphan = messages_change(messages=[text_message("wamid.O1")])
    del orphan["value"]["metadata"]
    payload = envelope(messages_change(messages=[text_message("wamid.O2")]), orphan)

    response = post(client, payload)

    assert response.status_code == 200
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["wamid.O2"]


def test_it_refuses_an_unknown_phone_number_id_and_logs_it(client, bot, queued, caplog):
    payload = envelope(
        messages_change(messages=[text_message("wamid.U1")]),
        messages_change("777666555", messages=[text_message("wamid.U2")]),
    )

    with caplog.at_level("WARNING", logger="chatbots.providers.meta"):
        response = post(client, payload)

    # The same 401 as a wrong signature: a 404 would tell anyone which numbers have a bot.
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not InboundEvent.objects.exists()
    assert any(getattr(r, "phone_number_ids", None) == ["777666555"] for r in caplog.records)


# --- Speed ------------------------------------------------------------------------------------


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


# --- Bot routes remembered between webhooks ---------------------------------------------------


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
    assert post(client, payload).status_code == 401  # unknown numbers are not remembered

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
        == 401
    )
