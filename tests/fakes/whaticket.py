"""A fake Whaticket backend on 127.0.0.1 (Whaticket: https://github.com/canove/whaticket-community), and Whaticket webhook builders.

Loaded for every test by `pytest_plugins` in the root conftest.py:

    def test_it_sends(fake_whaticket, ...):
        bot = whaticket_bot(tenant, fake_whaticket)        # base_url -> the fake
        ...
        assert [r.json["body"] for r in fake_whaticket.sends] == ["Olá!"]

Like the community edition's `POST /api/messages/send`:
* `Authorization: Bearer <token>` must equal `fake.token`: no header is 401
  `{"error": "ERR_SESSION_EXPIRED"}`, another token 403;
* `number` must be digits only, else 400 `{"error": "number is a required field"}`
  (what our connection check relies on: the token is checked before the number);
* success is an empty 200 (no message id).
Any other path is Express's 404 page. `respond_next(...)` scripts raw answers.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import pytest

from chatbots.providers.whaticket import signature
from tests.factories import ChatbotFactory
from tests.fakes.server import FakeServer, RecordedRequest

TOKEN = "wt-api-token"
SHARED_SECRET = "minha-shared-secret"
_ids = itertools.count(1)


class FakeWhaticket(FakeServer):
    def on_reset(self) -> None:
        self.token = TOKEN

    @property
    def sends(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/api/messages/send" and r.status == 200]

    def answer(self, record: RecordedRequest) -> tuple[int, Any]:
        if record.method != "POST" or record.path != "/api/messages/send":
            return 404, f"Cannot {record.method} {record.path}"
        auth = str(record.headers.get("Authorization", ""))
        if not auth:
            return 401, {"error": "ERR_SESSION_EXPIRED"}
        if auth != f"Bearer {self.token}":
            return 403, {"error": "Invalid token. We'll try to assign a new one on next request"}
        body = record.json if isinstance(record.json, dict) else {}
        number = str(body.get("number") or "").replace("-", "", 1).replace(" ", "", 1)
        if not number:
            return 400, {"error": "number is a required field"}
        if not re.fullmatch(r"\d+", number):
            return 400, {"error": "Invalid number format. Only numbers is allowed."}
        return 200, None


@pytest.fixture(scope="session")
def _fake_whaticket_server():
    server = FakeWhaticket()
    server.on_reset()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_whaticket(_fake_whaticket_server, private_egress) -> FakeWhaticket:
    """The fake Whaticket backend, empty, accepting the token `TOKEN`; bots may point at it
    (127.0.0.1: `private_egress`)."""
    _fake_whaticket_server.reset()
    yield _fake_whaticket_server
    _fake_whaticket_server.reset()


def whaticket_bot(tenant, fake: FakeWhaticket, **fields):
    """A Whaticket bot of `tenant` whose backend is `fake`, with the fake's token and the
    webhook secret `SHARED_SECRET`."""
    return ChatbotFactory(
        tenant=tenant,
        provider="whaticket",
        phone_number_id=None,
        access_token="",
        app_secret="",
        provider_config={"base_url": fake.url},
        provider_secrets=json.dumps({"token": TOKEN, "shared_secret": SHARED_SECRET}),
        **fields,
    )


# --- Webhook payloads and requests -------------------------------------------------------------


def new_id() -> str:
    return f"WT{next(_ids):08d}{int(time.time() * 1000)}"


def text_payload(
    text: str, *, number: str = "5511999999999", msg_id: str | None = None, with_id: bool = True
) -> dict:
    """The original system's text payload (`message.conversation` + `number`), plus a
    message id unless `with_id=False`."""
    payload: dict[str, Any] = {"message": {"conversation": text}, "number": number}
    if with_id:
        payload["id"] = msg_id or new_id()
    return payload


def button_payload(
    title: str, *, number: str = "5511999999999", button_id: str = "", msg_id: str | None = None
) -> dict:
    """An interactive reply: `message.buttonsResponseMessage.selectedDisplayText` and the
    number in `ticket.contact.number`."""
    reply: dict[str, Any] = {"selectedDisplayText": title}
    if button_id:
        reply["selectedButtonId"] = button_id
    return {
        "id": msg_id or new_id(),
        "message": {"buttonsResponseMessage": reply},
        "ticket": {"id": 42, "contact": {"number": number, "name": "Maria"}},
    }


def signed_headers(
    body: bytes, *, secret: str = SHARED_SECRET, timestamp: int | str | None = None
) -> dict[str, str]:
    """X-Timestamp and X-Signature for `body`, as plain header names."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Timestamp": ts, "X-Signature": signature(secret=secret, timestamp=ts, body=body)}


def post(
    client,
    payload: dict | bytes,
    *,
    secret: str = SHARED_SECRET,
    path: str = "/webhook/whaticket",
    timestamp: int | str | None = None,
    headers: dict[str, str] | None = None,
):
    """POST a signed Whaticket webhook through the Django test client."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {**signed_headers(body, secret=secret, timestamp=timestamp), **(headers or {})}
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in sent.items()}
    return client.post(path, data=body, content_type="application/json", **meta)
