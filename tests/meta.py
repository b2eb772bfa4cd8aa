"""Builders for real-shaped Meta Cloud API webhook payloads, and their signatures."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

_seq = itertools.count(1)


def wamid() -> str:
    return f"wamid.TEST{next(_seq):012d}{int(time.time() * 1000)}"


def envelope(
    phone_number_id: str, *, messages=(), statuses=(), contacts=(), display="5511900000000"
):
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id},
    }
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
    }


def text_message(
    phone_number_id: str,
    *,
    sender: str,
    body: str,
    name: str = "Maria",
    ts: int | None = None,
    mid: str | None = None,
) -> dict:
    return envelope(
        phone_number_id,
        contacts=[{"profile": {"name": name}, "wa_id": sender}],
        messages=[
            {
                "from": sender,
                "id": mid or wamid(),
                "timestamp": str(ts or int(time.time())),
                "type": "text",
                "text": {"body": body},
            }
        ],
    )


def _interactive_reply(
    kind: str,
    phone_number_id: str,
    *,
    sender: str,
    reply_id: str,
    title: str,
    ts: int | None = None,
    mid: str | None = None,
) -> dict:
    return envelope(
        phone_number_id,
        contacts=[{"profile": {"name": "Maria"}, "wa_id": sender}],
        messages=[
            {
                "from": sender,
                "id": mid or wamid(),
                "timestamp": str(ts or int(time.time())),
                "type": "interactive",
                "context": {"from": "5511900000000", "id": "wamid.CTX"},
                "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
            }
        ],
    )


def button_reply(phone_number_id: str, **fields) -> dict:
    """A tap on a reply button: `sender`, `reply_id`, `title` (and `ts`, `mid`)."""
    return _interactive_reply("button_reply", phone_number_id, **fields)


def list_reply(phone_number_id: str, **fields) -> dict:
    """A pick of a list row: `sender`, `reply_id`, `title` (and `ts`, `mid`)."""
    return _interactive_reply("list_reply", phone_number_id, **fields)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, payload: dict, secret: str, path: str = "/api/chatbots/webhook/"):
    body = json.dumps(payload).encode()
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body, secret),
    )
