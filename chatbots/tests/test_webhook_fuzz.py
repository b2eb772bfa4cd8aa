"""Fuzz of the provider webhooks: random mutations of real-shaped bodies, signed and not.

Whatever a client sends, the answer is never a server error (the test client raises the
view's exception, so a failure shows its traceback); what is answered 2xx and stored is
then processed once by the engine, leaving no event pending. Short and deterministic here
(tests/fuzz.py: FUZZ_EXAMPLES, derandomized); `make fuzz` runs thousands of cases.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from chatbots import engine
from chatbots.models import InboundEvent
from chatbots.tests.webhook_meta_support import PHONE_NUMBER_ID, SECRET, sign
from tests import fuzz
from tests.factories import ChatbotFactory
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt

CUSTOMER = "5511987654321"
WABA = "419561257915477"

META_BASE = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": WABA,
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "5511900000000",
                            "phone_number_id": PHONE_NUMBER_ID,
                        },
                        "contacts": [{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}],
                        "messages": [
                            {
                                "from": CUSTOMER,
                                "id": "wamid.FUZZ1",
                                "timestamp": "1750000000",
                                "type": "text",
                                "text": {"body": "Oi"},
                                "referral": {"source_url": "https://fb.me/x", "source_id": "1"},
                            },
                            {
                                "from": CUSTOMER,
                                "id": "wamid.FUZZ2",
                                "timestamp": "1750000001",
                                "type": "interactive",
                                "interactive": {
                                    "type": "nfm_reply",
                                    "nfm_reply": {
                                        "name": "flow",
                                        "body": "Sent",
                                        "response_json": '{"flow_token": "t", "a": [1, 2]}',
                                    },
                                },
                            },
                            {
                                "from": CUSTOMER,
                                "id": "wamid.FUZZ3",
                                "timestamp": "1750000002",
                                "type": "contacts",
                                "contacts": [{"name": {"formatted_name": "Ana"}, "phones": []}],
                                "context": {"id": "wamid.OUT1", "forwarded": True},
                            },
                        ],
                        "statuses": [
                            {
                                "id": "wamid.OUT1",
                                "status": "failed",
                                "timestamp": "1750000003",
                                "recipient_id": CUSTOMER,
                                "errors": [{"code": 131026, "title": "Undeliverable"}],
                            }
                        ],
                    },
                },
                {
                    "field": "user_preferences",
                    "value": {
                        "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                        "user_preferences": [
                            {
                                "wa_id": CUSTOMER,
                                "category": "marketing_messages",
                                "value": "stop",
                                "timestamp": 1750000004,
                            }
                        ],
                    },
                },
                {
                    "field": "account_update",
                    "value": {"event": "ACCOUNT_RESTRICTION", "waba_info": {"waba_id": WABA}},
                },
            ],
        }
    ],
}


@pytest.fixture
def meta_bot(tenant):
    return ChatbotFactory(
        tenant=tenant,
        name="Padaria",
        provider="stub",
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA,
        access_token="",
        app_secret=SECRET,
        flow="menu",
    )


def answered_once_or_refused(response, *, accepted: tuple[int, ...]) -> None:
    """2xx: every stored event is then processed, none left pending; otherwise a refusal
    (400, 401, 413) that stored nothing."""
    assert response.status_code < 500
    if response.status_code not in accepted:
        assert response.status_code in (400, 401, 413), response.status_code
        assert not InboundEvent.objects.exists()
        return
    pending = InboundEvent.objects.filter(state=InboundEvent.State.PENDING)
    for event_id in pending.order_by("id").values_list("id", flat=True):
        engine.process_event(event_id)
    assert not InboundEvent.objects.filter(
        state__in=[InboundEvent.State.PENDING, InboundEvent.State.PROCESSING]
    ).exists()
    assert all(
        attempts <= 1 for attempts in InboundEvent.objects.values_list("attempts", flat=True)
    )


def in_rollback(check) -> None:
    """Each example starts from the same empty tables."""
    with transaction.atomic():
        check()
        transaction.set_rollback(True)


@fuzz.FUZZ_SETTINGS
@given(body=fuzz.mutated(META_BASE), signing=st.sampled_from(["signed", "signed", "none", "bad"]))
def test_meta_webhook_fuzz_gives_no_server_error(client, meta_bot, body, signing):
    headers = {}
    if signing == "signed":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body)
    elif signing == "bad":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body, "not-the-secret")

    def check():
        response = client.post(
            "/api/chatbots/webhook/", data=body, content_type="application/json", **headers
        )
        answered_once_or_refused(response, accepted=(200,))

    in_rollback(check)


def test_the_meta_base_body_is_stored_and_processed(client, meta_bot):
    """The fuzz starts from a body the webhook takes whole (so mutations test something)."""
    body = json.dumps(META_BASE).encode()
    response = client.post(
        "/api/chatbots/webhook/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body),
    )
    answered_once_or_refused(response, accepted=(200,))
    assert response.status_code == 200
    kinds = sorted(InboundEvent.objects.values_list("kind", flat=True))
    assert kinds == ["account", "message", "message", "message", "preference", "status"]


@pytest.fixture
def evolution_bot(tenant, fake_evolution):
    return evo.evolution_bot(tenant, fake_evolution, name="Loja")


@fuzz.FUZZ_SETTINGS_HALF
@given(body=fuzz.mutated(evo.upsert(text="Quero pizza", msg_id="3EB0FUZZ", ts=1750000000)))
def test_evolution_webhook_fuzz_gives_no_server_error(client, evolution_bot, body):
    in_rollback(
        lambda: answered_once_or_refused(evo.post(client, evolution_bot.pk, body), accepted=(200,))
    )


@pytest.fixture
def whaticket_bot(tenant, fake_whaticket):
    return wt.whaticket_bot(tenant, fake_whaticket, name="Pizzaria")


@fuzz.FUZZ_SETTINGS_HALF
@given(body=fuzz.mutated(wt.button_payload("Finalizar", button_id="f", msg_id="WTFUZZ")))
def test_whaticket_webhook_fuzz_gives_no_server_error(client, whaticket_bot, body):
    in_rollback(
        lambda: answered_once_or_refused(
            wt.post(client, body, path=f"/webhook/whaticket/{whaticket_bot.pk}"), accepted=(202,)
        )
    )
