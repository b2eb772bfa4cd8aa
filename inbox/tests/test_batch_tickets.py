"""In a processor batch the live inbox looks up the open tickets of the batch's
conversations once (config.memo), not once per message, and every message still shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatbots import processor
from chatbots.models import Conversation
from inbox import live, services
from tests.factories import ChatbotFactory, ClienteFactory, InboundEventFactory

pytestmark = pytest.mark.django_db


class RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


def _batch(tenant, bot, suporte, layer, capture, size: int, offset: int):
    """`size` customers waiting for a person each write once; one batch answers them."""
    phones = [f"55119{offset + n:08d}" for n in range(size)]
    for phone in phones:
        cliente = ClienteFactory(tenant=tenant, telefone=phone, wa_id=phone)
        conversation = Conversation.objects.create(tenant=tenant, chatbot=bot, cliente=cliente)
        services.ticket_open(conversation, queue=suporte)
        InboundEventFactory(chatbot=bot, text="ainda estou aqui", sender=phone)
    layer.sent.clear()
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        assert processor.drain(batch=50).turns == size
    lookups = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "inbox_ticket"' in q["sql"]
    ]
    shown = [
        m["data"]["text"]
        for g, m in layer.sent
        if m["kind"] == "message" and g.endswith(".all") and m["data"]["direction"] == "in"
    ]
    return len(lookups), shown


def test_a_batch_looks_up_its_open_tickets_once_whatever_its_size(
    tenant, monkeypatch, django_capture_on_commit_callbacks
):
    from inbox.models import Queue

    layer = RecordingLayer()
    monkeypatch.setattr(live, "_layer", lambda: layer)
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    suporte = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    capture = django_capture_on_commit_callbacks

    small, shown_small = _batch(tenant, bot, suporte, layer, capture, 2, 0)
    large, shown_large = _batch(tenant, bot, suporte, layer, capture, 6, 100)

    assert shown_small == ["ainda estou aqui"] * 2  # every customer's message reaches staff
    assert shown_large == ["ainda estou aqui"] * 6
    assert large == small <= 1
