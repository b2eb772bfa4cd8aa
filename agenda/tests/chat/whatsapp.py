"""Driving the agenda through the real Meta webhook, as a customer would (fake Meta on
loopback: the `fake_graph` fixture). Shared by the agenda's chat tests."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from chatbots import bots, starter_flows
from tests import meta

SECRET = "agenda-chat-secret"
PNID = "3000001"
PNID_PEDIDOS = "3000002"
MARIA = "5511987654321"
JOAO = "5511976543210"

_seq = itertools.count(1)


def _ts() -> int:
    # Meta's timestamps are whole seconds; under a frozen clock every message would tie, so
    # each one gets its own second (the engine orders a contact's messages by them).
    return int(time.time()) + next(_seq)


def body_text(body: dict) -> str:
    if body["type"] == "text":
        return body["text"]["body"]
    if body["type"] == "template":
        return "[template] " + body["template"]["name"]
    return body["interactive"]["body"]["text"]


def rows(body: dict) -> list[dict]:
    return [r for s in body["interactive"]["action"]["sections"] for r in s["rows"]]


def buttons(body: dict) -> list[tuple[str, str]]:
    return [
        (b["reply"]["id"], b["reply"]["title"]) for b in body["interactive"]["action"]["buttons"]
    ]


@dataclass
class Chat:
    """One customer writing to one bot through the webhook."""

    client: object
    fake_graph: object
    capture: object
    pnid: str
    phone: str = MARIA
    sent: list = field(default_factory=list)

    def post(self, payload: dict) -> list[dict]:
        before = len(self.fake_graph.sends)
        with self.capture(execute=True):
            response = meta.post(self.client, payload, SECRET)
        assert response.status_code == 200, response.content
        self.sent = [
            r.json for r in self.fake_graph.sends[before:] if r.json["to"] == f"+{self.phone}"
        ]
        return self.sent

    def text(self, body: str) -> list[dict]:
        return self.post(meta.text_message(self.pnid, sender=self.phone, body=body, ts=_ts()))

    def tap(self, reply_id: str, title: str = "ok") -> list[dict]:
        return self.post(
            meta.button_reply(
                self.pnid, sender=self.phone, reply_id=reply_id, title=title, ts=_ts()
            )
        )

    def pick(self, reply_id: str, title: str = "ok") -> list[dict]:
        return self.post(
            meta.list_reply(self.pnid, sender=self.phone, reply_id=reply_id, title=title, ts=_ts())
        )

    @property
    def texts(self) -> list[str]:
        return [body_text(b) for b in self.sent]

    @property
    def last(self) -> dict:
        return self.sent[-1]


def make_bot(tenant, *, pnid: str = PNID, flow: str = "agenda", name: str = "Agenda"):
    chatbot = bots.chatbot_create(
        tenant=tenant,
        name=name,
        provider="meta",
        phone_number_id=pnid,
        access_token="test-token",
        app_secret=SECRET,
    )
    starter_flows.flow_install(chatbot=chatbot, flow=flow)
    return chatbot
