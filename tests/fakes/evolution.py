"""A fake Evolution API server on 127.0.0.1 (Evolution API: https://doc.evolution-api.com/), and webhook builders.

Loaded for every test by `pytest_plugins` in the root conftest.py:

    def test_it_sends(fake_evolution, ...):
        fake_evolution.add_instance("loja", state="open")
        ...
        assert [r.json["text"] for r in fake_evolution.sends] == ["Olá!"]

What it does, like Evolution v2 (v1 bodies accepted too):
* every call needs the `apikey` header equal to `fake.apikey`, else 401;
* `POST /message/sendText/{instance}` (`{"number","text"}` or v1 `{"number",
  "textMessage":{"text"}}`) and `POST /message/sendMedia/{instance}` answer 201 with the
  created message (`key.id` "3EB0..."), and so does `POST /message/sendWhatsAppAudio/{instance}`
  (`{"number", "audio"}`, v1 `{"number", "audioMessage": {"audio"}}`); a number in `fake.not_on_whatsapp` gets Evolution's
  400 with `exists: false`; an unknown instance 404;
* `GET /instance/connectionState/{instance}`, `POST /instance/create`,
  `POST /webhook/set/{instance}`, `GET /webhook/find/{instance}`,
  `GET /instance/connect/{instance}` (a QR code PNG drawn from `fake.qr_modules`, the raw
  `code`, and a `pairingCode` when `?number=` is given).
* `POST /chat/getBase64FromMediaMessage/{instance}` (`{"message": {"key": {"id"}}}`) answers
  201 with the file `fake.add_media(id, bytes, mimetype)` put there, base64-encoded, and
  Evolution's 400 for a message it does not have.
`respond_next(...)` scripts raw answers for the next requests.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import time
import uuid
import zlib
from typing import Any

import pytest

from tests.factories import ChatbotFactory
from tests.fakes.server import FakeServer, RecordedRequest

APIKEY = "evo-global-key"
WEBHOOK_SECRET = "evo-webhook-secret"
PAIRING_CODE = "WZYEH1YY"
QR_CODE = "2@y8eK+bjtEjUWy9/FOM1ZmtqE8W2T4LXOuoZ3qIBrRa1Sgs"
_ids = itertools.count(1)


def _error(status: int, error: str, message: Any) -> tuple[int, dict]:
    return status, {"status": status, "error": error, "response": {"message": message}}


def sample_modules(size: int = 21) -> list[list[bool]]:
    """A QR-shaped grid: the three 7×7 finder patterns and a fixed pattern elsewhere."""
    grid = [[(r * 7 + c * 3) % 5 < 2 for c in range(size)] for r in range(size)]
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for r in range(7):
            for c in range(7):
                ring = max(abs(r - 3), abs(c - 3))
                grid[top + r][left + c] = ring != 2  # dark 7×7 ring, light ring, dark 3×3
        # the separator around each finder is light
        for i in range(-1, 8):
            for r, c in (
                (top - 1, left + i),
                (top + 7, left + i),
                (top + i, left - 1),
                (top + i, left + 7),
            ):
                if 0 <= r < size and 0 <= c < size:
                    grid[r][c] = False
    return grid


def png_from_modules(modules: list[list[bool]], *, scale: int = 4, margin: int = 4) -> bytes:
    """An RGBA PNG of the grid (dark modules black, the rest white), like qrcode's output."""
    size = (len(modules) + 2 * margin) * scale
    rows = []
    for y in range(size):
        r = y // scale - margin
        line = bytearray([0])  # filter: none
        for x in range(size):
            c = x // scale - margin
            dark = 0 <= r < len(modules) and 0 <= c < len(modules) and modules[r][c]
            line += b"\x00\x00\x00\xff" if dark else b"\xff\xff\xff\xff"
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class FakeEvolution(FakeServer):
    def on_reset(self) -> None:
        self.apikey = APIKEY
        self.instances: dict[str, dict[str, Any]] = {}
        self.not_on_whatsapp: set[str] = set()
        self.qr_modules = sample_modules()
        self.media: dict[str, tuple[bytes, str]] = {}

    def add_media(self, message_id: str, content: bytes, mimetype: str) -> None:
        with self._lock:
            self.media[message_id] = (content, mimetype)

    def add_instance(self, name: str, *, state: str = "open") -> None:
        with self._lock:
            self.instances[name] = {"state": state, "webhook": None}

    @property
    def sends(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/message/send") and r.status == 201]

    def answer(self, record: RecordedRequest) -> tuple[int, Any]:
        if record.headers.get("apikey") != self.apikey:
            return _error(401, "Unauthorized", "Unauthorized")
        parts = record.path.strip("/").split("/")
        body = record.json if isinstance(record.json, dict) else {}
        if record.method == "POST" and parts == ["instance", "create"]:
            return self._create(body)
        if len(parts) != 3:
            return _error(404, "Not Found", f"Cannot {record.method} {record.path}")
        group, action, name = parts
        instance = self.instances.get(name)
        if instance is None:
            return _error(404, "Not Found", [f'The "{name}" instance does not exist'])
        if (group, action) == ("message", "sendText") and record.method == "POST":
            text = body.get("text") or (body.get("textMessage") or {}).get("text")
            if not body.get("number") or not text:
                return _error(400, "Bad Request", ["number and text are required"])
            return self._sent(body["number"], {"conversation": text})
        if (group, action) == ("message", "sendMedia") and record.method == "POST":
            media = body.get("mediaMessage") or body
            if not body.get("number") or not media.get("media"):
                return _error(400, "Bad Request", ["number and media are required"])
            kind = media.get("mediatype", "image")
            return self._sent(
                body["number"], {f"{kind}Message": {"caption": media.get("caption", "")}}
            )
        if (group, action) == ("message", "sendWhatsAppAudio") and record.method == "POST":
            audio = body.get("audio") or (body.get("audioMessage") or {}).get("audio")
            if not body.get("number") or not audio:
                return _error(400, "Bad Request", ["number and audio are required"])
            return self._sent(body["number"], {"audioMessage": {"ptt": True}})
        if (group, action) == ("chat", "getBase64FromMediaMessage") and record.method == "POST":
            key = ((body.get("message") or {}).get("key")) or {}
            found = self.media.get(str(key.get("id") or ""))
            if found is None:
                return _error(400, "Bad Request", ["Message not found"])
            content, mimetype = found
            return 201, {
                "mediaType": mimetype.split("/")[0] + "Message",
                "fileName": None,
                "size": {"fileLength": str(len(content))},
                "mimetype": mimetype,
                "base64": base64.b64encode(content).decode(),
                "buffer": None,
            }
        if (group, action) == ("instance", "connectionState"):
            return 200, {"instance": {"instanceName": name, "state": instance["state"]}}
        if (group, action) == ("webhook", "set") and record.method == "POST":
            webhook = body.get("webhook") if isinstance(body.get("webhook"), dict) else body
            instance["webhook"] = dict(webhook)
            return 201, {"id": uuid.uuid4().hex, **webhook}
        if (group, action) == ("webhook", "find"):
            return 200, instance["webhook"]
        if (group, action) == ("instance", "connect"):
            if instance["state"] == "open":
                return 200, {"instance": {"instanceName": name, "state": "open"}}
            png = png_from_modules(self.qr_modules)
            return 200, {
                "pairingCode": PAIRING_CODE if record.query.get("number") else None,
                "code": QR_CODE,
                "base64": "data:image/png;base64," + base64.b64encode(png).decode(),
                "count": 1,
            }
        return _error(404, "Not Found", f"Cannot {record.method} {record.path}")

    def _create(self, body: dict) -> tuple[int, Any]:
        name = str(body.get("instanceName") or "")
        if not name:
            return _error(400, "Bad Request", ["instanceName is required"])
        if name in self.instances:
            return _error(403, "Forbidden", [f'This name "{name}" is already in use.'])
        self.instances[name] = {"state": "close", "webhook": None}
        return 201, {
            "instance": {
                "instanceName": name,
                "instanceId": str(uuid.uuid4()),
                "status": "connecting",
            },
            "hash": uuid.uuid4().hex.upper(),
        }

    def _sent(self, number: str, message: dict) -> tuple[int, Any]:
        digits = "".join(ch for ch in str(number) if ch.isdigit())
        if digits in self.not_on_whatsapp:
            return _error(
                400,
                "Bad Request",
                [{"jid": f"{digits}@s.whatsapp.net", "exists": False, "number": digits}],
            )
        return 201, {
            "key": {
                "remoteJid": f"{digits}@s.whatsapp.net",
                "fromMe": True,
                "id": f"3EB0{uuid.uuid4().hex[:16].upper()}",
            },
            "message": message,
            "messageTimestamp": int(time.time()),
            "status": "PENDING",
        }


@pytest.fixture(scope="session")
def _fake_evolution_server():
    server = FakeEvolution()
    server.on_reset()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_evolution(_fake_evolution_server, private_egress) -> FakeEvolution:
    """The fake Evolution server, with no instances, accepting the API key `APIKEY`; bots
    may point at it (127.0.0.1: `private_egress`)."""
    _fake_evolution_server.reset()
    yield _fake_evolution_server
    _fake_evolution_server.reset()


def evolution_bot(tenant, fake: FakeEvolution, *, state: str = "open", **fields):
    """An Evolution bot of `tenant` on the instance "loja" of `fake` (connection `state`),
    with the fake's API key and the webhook secret `WEBHOOK_SECRET`."""
    fake.add_instance("loja", state=state)
    return ChatbotFactory(
        tenant=tenant,
        provider="evolution",
        phone_number_id=None,
        access_token="",
        app_secret="",
        provider_config={"base_url": fake.url, "instance": "loja"},
        provider_secrets=json.dumps({"apikey": APIKEY, "webhook_secret": WEBHOOK_SECRET}),
        **fields,
    )


# --- Webhook payloads and requests -------------------------------------------------------------


def new_id() -> str:
    return f"3EB0{next(_ids):08d}{uuid.uuid4().hex[:8].upper()}"


def upsert(
    *,
    instance: str = "loja",
    sender: str = "5511987654321",
    text: str | None = "Oi",
    message: dict | None = None,
    msg_id: str | None = None,
    from_me: bool = False,
    version: int = 2,
    lid: str = "",
    group: bool = False,
    name: str = "Maria",
    ts: int | None = None,
) -> dict:
    """A `messages.upsert` webhook as Evolution sends it.

    v2 puts text in `message.conversation`; v1 (and replies/links on raw Baileys) in
    `message.extendedTextMessage.text`, and v1.8 says `owner` where v2 says `instanceId`.
    `lid` addresses the sender by LID, with the phone in `key.remoteJidAlt`.
    """
    key: dict[str, Any] = {
        "remoteJid": f"{sender}@s.whatsapp.net",
        "fromMe": from_me,
        "id": msg_id or new_id(),
    }
    if group:
        key["remoteJid"] = "120363025555555555@g.us"
        key["participant"] = f"{sender}@s.whatsapp.net"
    if lid:
        key.update(
            remoteJid=f"{lid}@lid", remoteJidAlt=f"{sender}@s.whatsapp.net", addressingMode="lid"
        )
    if message is None:
        message = (
            {"conversation": text} if version == 2 else {"extendedTextMessage": {"text": text}}
        )
    data: dict[str, Any] = {
        "key": key,
        "pushName": name,
        "message": message,
        "messageType": next(iter(message), "conversation"),
        "messageTimestamp": ts or int(time.time()),
        "source": "android",
    }
    if version == 2:
        data["instanceId"] = "0d3c7b4e-2a41-4f0e-9f55-7d3c2f1b9a10"
    else:
        data["owner"] = instance
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": data,
        "destination": "http://testserver/api/chatbots/webhook/evolution/",
        "date_time": "2025-06-01T12:00:00.000Z",
        "sender": "5511900000000@s.whatsapp.net",
        "server_url": "http://127.0.0.1:8080",
        "apikey": None,
    }


def update(
    msg_id: str,
    status: str,
    *,
    instance: str = "loja",
    recipient: str = "5511987654321",
    from_me: bool = True,
    version: int = 2,
    ts: int | None = None,
) -> dict:
    """A `messages.update` webhook: the delivery status of a message.

    v2 names the WhatsApp id `keyId` (its `messageId` is Evolution's own row id) and adds
    `instanceId`; v1.8 spreads the message key (`id`) and adds `datetime` in milliseconds
    and `owner`."""
    data: dict[str, Any] = {
        "remoteJid": f"{recipient}@s.whatsapp.net",
        "fromMe": from_me,
        "status": status,
    }
    if version == 2:
        data.update(
            keyId=msg_id,
            messageId="cm3x0evolutionrowid",
            participant=f"{recipient}@s.whatsapp.net",
            instanceId="0d3c7b4e-2a41-4f0e-9f55-7d3c2f1b9a10",
        )
        if ts is not None:
            data["timestamp"] = ts
    else:
        data.update(id=msg_id, datetime=(ts or int(time.time())) * 1000, owner=instance)
    return {"event": "messages.update", "instance": instance, "data": data, "apikey": None}


def event(name: str, data: dict | None = None, *, instance: str = "loja") -> dict:
    """Any other event (connection.update, messages.update, ...)."""
    return {"event": name, "instance": instance, "data": data or {}, "apikey": None}


def post(
    client,
    bot_id: int,
    payload: dict | bytes,
    *,
    secret: str | None = WEBHOOK_SECRET,
    headers: dict[str, str] | None = None,
    suffix: str = "",
):
    """POST an Evolution webhook for bot `bot_id` with its secret header."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"X-Webhook-Secret": secret} if secret is not None else {}
    sent.update(headers or {})
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in sent.items()}
    path = f"/api/chatbots/webhook/evolution/{bot_id}/{suffix}"
    return client.post(path, data=body, content_type="application/json", **meta)
