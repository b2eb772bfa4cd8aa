"""What a client may send the Meta webhook, signed or not, and what becomes of it.

Each class of input that once was a server error (NaN or 1e999, `\\u0000`, a lone
surrogate, deep nesting, a NUL in the routing id, an id too long, a message without a
sender) is either refused with the webhook's usual 400/401, or stored and then processed
exactly once, without holding back the customer's next message.
"""

from __future__ import annotations

import json

import pytest

from chatbots import engine
from chatbots.models import InboundEvent, Message
from chatbots.tests.webhook_meta_support import (
    PHONE_NUMBER_ID,
    SECRET,
    counter,
    envelope,
    messages_change,
    post,
    text_message,
)
from clientes.models import Cliente
from tests.factories import ChatbotFactory

CUSTOMER = "5511987654321"


@pytest.fixture
def menu_bot(tenant):
    """A bot that answers (the starter menu flow), on the webhook tests' number."""
    return ChatbotFactory(
        tenant=tenant,
        name="Padaria",
        provider="stub",
        phone_number_id=PHONE_NUMBER_ID,
        access_token="",
        app_secret=SECRET,
        flow="menu",
    )


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode()


def signed_text(mid: str, *, body: str = "Oi", sender: str = CUSTOMER, **message) -> dict:
    msg = {**text_message(mid, sender=sender, body=body), **message}
    return envelope(messages_change(messages=[msg]))


def process_all(_queued: list[int]) -> None:
    """What the worker does with every stored event (the engine, inline; the test's
    transaction never commits, so `queued` saw nothing queued after commit)."""
    pending = InboundEvent.objects.filter(state=InboundEvent.State.PENDING)
    for event_id in pending.order_by("id").values_list("id", flat=True):
        engine.process_event(event_id)


def answered(mid: str) -> bool:
    """The customer's message was processed once and the bot replied."""
    event = InboundEvent.objects.get(external_id=mid)
    inbound = Message.objects.filter(provider_message_id=mid, direction=Message.Direction.IN)
    replies = Message.objects.filter(
        conversation__in=inbound.values("conversation"), direction=Message.Direction.OUT
    )
    return (
        event.state == InboundEvent.State.DONE
        and event.attempts == 1
        and inbound.count() == 1
        and replies.exists()
    )


# --- Numbers JSON does not have -------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"], ids=lambda n: n
)
@pytest.mark.parametrize("where", ["message", "contact", "metadata"])
def test_a_number_postgresql_cannot_store_is_refused_with_a_400(
    client, menu_bot, queued, number, where
):
    payload = signed_text("wamid.N1")
    value = payload["entry"][0]["changes"][0]["value"]
    target = {
        "message": value["messages"][0],
        "contact": value["contacts"][0],
        "metadata": value["metadata"],
    }[where]
    target["weight"] = "__NUMBER__"
    body = body_of(payload).replace(b'"__NUMBER__"', number.encode())

    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert not InboundEvent.objects.exists()


def test_a_big_but_finite_number_is_stored_and_answered(client, menu_bot, queued):
    payload = signed_text("wamid.N2")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["weight"] = 1e308

    assert post(client, payload).status_code == 200
    process_all(queued)

    assert answered("wamid.N2")


# --- Characters PostgreSQL cannot store --------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\ud800", "\udfff"], ids=["nul", "high", "low"])
def test_a_nul_or_lone_surrogate_in_the_text_is_replaced_and_answered(
    client, menu_bot, queued, char
):
    payload = signed_text("wamid.C1", body=f"quero{char}pão")

    assert post(client, body_of(payload)).status_code == 200
    process_all(queued)

    assert answered("wamid.C1")
    assert Message.objects.get(provider_message_id="wamid.C1").text == "quero\ufffdpão"


def test_a_real_emoji_escaped_as_a_surrogate_pair_is_kept(client, menu_bot, queued):
    payload = signed_text("wamid.C2", body="oi 😀")

    assert post(client, body_of(payload)).status_code == 200  # sent as \ud83d\ude00
    process_all(queued)

    assert Message.objects.get(provider_message_id="wamid.C2").text == "oi 😀"


def test_a_nul_in_a_key_and_in_the_message_id_is_stored_and_answered(client, menu_bot, queued):
    payload = signed_text("wamid.C3\x00x")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["ext\x00ra"] = "\ud800"

    assert post(client, body_of(payload)).status_code == 200
    process_all(queued)

    assert answered("wamid.C3\ufffdx")


def test_a_nul_in_the_sender_drops_only_that_message(client, menu_bot, queued):
    bad = text_message("wamid.C4", sender="5511\x0098765")
    good = text_message("wamid.C5")
    response = post(client, body_of(envelope(messages_change(messages=[bad, good]))))
    process_all(queued)

    assert response.status_code == 200
    assert not InboundEvent.objects.filter(external_id="wamid.C4").exists()
    assert answered("wamid.C5")


@pytest.mark.parametrize("char", ["\x00", "\ud800"], ids=["nul", "surrogate"])
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_a_bad_character_in_phone_number_id_is_the_usual_401(
    client, menu_bot, queued, char, signed
):
    payload = envelope(
        messages_change(f"{PHONE_NUMBER_ID}{char}", messages=[text_message("wamid.P1")])
    )

    response = post(client, body_of(payload), secret=SECRET if signed else None)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not InboundEvent.objects.exists()


# --- Nesting -------------------------------------------------------------------------------------


def nested(levels: int) -> dict:
    value: dict = {"source_url": "https://fb.me/x"}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("field", ["referral", "contacts"])
def test_nesting_hundreds_of_levels_deep_is_refused_with_a_400(client, menu_bot, queued, field):
    message = text_message("wamid.D1")
    if field == "referral":
        message["referral"] = nested(480)
    else:
        message.update(type="contacts", contacts=[{"name": nested(480)}])

    response = post(client, body_of(envelope(messages_change(messages=[message]))))

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert not InboundEvent.objects.exists()


def test_a_referral_a_few_dozen_levels_deep_is_stored_and_answered(client, menu_bot, queued):
    message = text_message("wamid.D2")
    message["referral"] = nested(40)

    assert post(client, envelope(messages_change(messages=[message]))).status_code == 200
    process_all(queued)

    assert answered("wamid.D2")


@pytest.mark.parametrize(
    "response_json", ["[" * 480 + "]" * 480, '{"a": NaN}', '{"a": "\\u0000"}', "{not json"]
)
def test_a_flow_answer_we_cannot_read_is_kept_as_its_string_and_answered(
    client, menu_bot, queued, response_json
):
    message = {
        "from": CUSTOMER,
        "id": "wamid.F1",
        "timestamp": "1750000000",
        "type": "interactive",
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": response_json},
        },
    }

    assert post(client, envelope(messages_change(messages=[message]))).status_code == 200
    process_all(queued)

    assert answered("wamid.F1")
    event = InboundEvent.objects.get(external_id="wamid.F1")
    flow = event.payload["data"]["flow"]["response"]
    if "\\u0000" in response_json:
        assert flow == {"a": "\ufffd"}
    else:
        assert flow == {"response_json": response_json}


# --- Records that could never be processed ------------------------------------------------------


def test_a_message_without_a_sender_is_dropped_and_never_swept(client, menu_bot, queued):
    message = text_message("wamid.S1")
    del message["from"]
    before = counter("chatbot_webhook_rejected_total", provider="meta", reason="no_sender")

    response = post(client, envelope(messages_change(messages=[message], contacts=[])))

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()  # nothing for the sweeper to re-queue
    after = counter("chatbot_webhook_rejected_total", provider="meta", reason="no_sender")
    assert after == before + 1


def test_an_id_over_255_characters_never_holds_back_the_customers_next_message(
    client, menu_bot, queued
):
    poison = text_message("wamid." + "x" * 300, ts=1750000000)
    later = text_message("wamid.L1", ts=1750000060)

    assert post(client, envelope(messages_change(messages=[poison]))).status_code == 200
    assert post(client, envelope(messages_change(messages=[later]))).status_code == 200
    process_all(queued)

    assert InboundEvent.objects.count() == 1
    assert answered("wamid.L1")


def test_a_status_with_an_id_over_255_characters_is_dropped(client, menu_bot, queued):
    status = {"id": "wamid." + "s" * 300, "status": "read", "timestamp": "1750000000"}

    assert post(client, envelope(messages_change(statuses=[status]))).status_code == 200

    assert not InboundEvent.objects.exists()


def test_a_user_id_over_its_column_without_a_phone_is_dropped(client, menu_bot, queued):
    message = text_message("wamid.U1")
    del message["from"]
    message["from_user_id"] = "BR." + "u" * 100

    assert (
        post(client, envelope(messages_change(messages=[message], contacts=[]))).status_code == 200
    )

    assert not InboundEvent.objects.exists()


def test_a_long_profile_name_and_type_are_cut_to_their_columns_and_answered(
    client, menu_bot, queued
):
    message = text_message("wamid.L2")
    contacts = [{"profile": {"name": "M" * 500}, "wa_id": CUSTOMER}]
    unknown = {**text_message("wamid.L3", ts=1750000001), "type": "t" * 100}

    response = post(
        client, envelope(messages_change(messages=[message, unknown], contacts=contacts))
    )
    process_all(queued)

    assert response.status_code == 200
    assert answered("wamid.L2")
    assert Cliente.objects.get().nome == "M" * 200
    assert InboundEvent.objects.get(external_id="wamid.L3").state == InboundEvent.State.DONE


def test_a_surrogate_encoded_as_raw_bytes_is_not_utf8_and_refused_with_a_400(
    client, menu_bot, queued
):
    payload = signed_text("wamid.E1", body="__TEXT__")
    body = (
        json.dumps(payload).encode().replace(b"__TEXT__", "\ud800".encode("utf-8", "surrogatepass"))
    )

    response = post(client, body)

    assert response.status_code == 400
    assert not InboundEvent.objects.exists()
