"""The agenda's chat tests talk to their bots through the real Meta webhook
(tests/conversation.py), Meta faked on loopback (the `fake_graph` fixture)."""

from __future__ import annotations

from tests.factories import ChatbotFactory

SECRET = "agenda-chat-secret"
PNID = "3000001"
PNID_PEDIDOS = "3000002"
MARIA = "5511987654321"
JOAO = "5511976543210"


def make_bot(tenant, *, pnid: str = PNID, flow: str = "agenda", name: str = "Agenda"):
    return ChatbotFactory(
        tenant=tenant, name=name, phone_number_id=pnid, app_secret=SECRET, flow=flow
    )
