"""What every webhook answers before it knows who is calling: nothing that tells which bots
and tenants exist, and never a 500 for a bad Content-Length."""

from __future__ import annotations

import json

import pytest

from chatbots.tests.webhook_meta_support import PHONE_NUMBER_ID, create_bot, sign

BODY = json.dumps({"hello": "world"}).encode()


def meta_batch(phone_number_id: str) -> bytes:
    change = {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": phone_number_id},
        },
    }
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    ).encode()


# One request per webhook naming something that does not exist, unsigned.
UNKNOWN = {
    "meta: unknown phone_number_id": ("/api/chatbots/webhook/", meta_batch("999000999")),
    "evolution: unknown bot id": ("/api/chatbots/webhook/evolution/999999/", BODY),
    "whaticket: unknown bot id": ("/webhook/whaticket/999999", BODY),
    "whaticket: no bot at all": ("/webhook/whaticket", BODY),
    "cal.com: unknown tenant slug": ("/api/agenda/webhook/cal/nao-existe/", BODY),
    "payments: unsigned": ("/api/billing/webhook/", BODY),
}


def test_every_webhook_answers_the_same_401_for_what_does_not_exist_and_a_forged_signature(
    client, tenant, settings
):
    settings.BILLING_WEBHOOK_SECRET = "segredo-do-provedor"
    create_bot(tenant)
    forged = client.post(
        "/api/chatbots/webhook/",
        data=meta_batch(PHONE_NUMBER_ID),
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(meta_batch(PHONE_NUMBER_ID), "chute"),
    )

    answers = {
        name: client.post(path, data=body, content_type="application/json")
        for name, (path, body) in UNKNOWN.items()
    }

    assert forged.status_code == 401
    assert {name: (a.status_code, a.json()) for name, a in answers.items()} == {
        name: (401, forged.json()) for name in UNKNOWN
    }
    assert forged.json()["error"] == "unauthorized"


@pytest.mark.parametrize("length", ["abc", "-1", "12 34", "0x10", "٣"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/chatbots/webhook/",
        "/api/chatbots/webhook/evolution/1/",
        "/webhook/whaticket/1",
        "/api/agenda/webhook/cal/padaria/",
        "/api/billing/webhook/",
        "/api/clientes/",  # not a webhook: a 400 everywhere, never a 500
    ],
)
def test_a_bad_content_length_is_a_400_everywhere(client, tenant, path, length):
    response = client.post(path, data=BODY, content_type="application/json", CONTENT_LENGTH=length)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_content_length"
