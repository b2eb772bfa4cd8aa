"""Builders for the Meta webhook tests (test_webhook_meta*.py): payloads, signed posts."""

from __future__ import annotations

import hashlib
import hmac
import json

from prometheus_client import REGISTRY

from chatbots.models import Chatbot

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


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def record_queued(monkeypatch) -> list[int]:
    """Record what would be queued for processing (the engine is tested elsewhere)."""
    ids: list[int] = []
    monkeypatch.setattr("chatbots.inbound._dispatch", ids.append)
    return ids


def create_bot(tenant) -> Chatbot:
    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id=PHONE_NUMBER_ID,
        app_secret=SECRET,
        verify_token="token-da-padaria",
    )
