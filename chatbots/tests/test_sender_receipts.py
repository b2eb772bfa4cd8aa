"""The sender's read receipts go out on threads of their own: a provider slow to take a
receipt (Meta often takes 150 ms a call) never holds back the next round's replies."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from chatbots.models import Conversation
from chatbots.outbox import queue, sending, wake
from chatbots.outbox.sender import Sender
from chatbots.wire import Text
from tests.factories import ClienteFactory


@pytest.fixture
def bot(graph_bot):
    return graph_bot


def reply(bot, phone, body):
    conversation = Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=bot.tenant, telefone=phone),
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )
    with transaction.atomic():
        queue.queue_replies(conversation=conversation, messages=[Text(body=body)])


@pytest.mark.django_db(transaction=True)
def test_a_slow_read_receipt_never_holds_back_the_next_rounds_replies(bot, fake_graph, monkeypatch):
    released = threading.Event()
    real_read_try = sending.read_try

    def slow_read_try(chatbot, external_id, *, tries=1):
        released.wait(timeout=10)  # the provider sitting on the receipt
        return real_read_try(chatbot, external_id, tries=tries)

    monkeypatch.setattr(sending, "read_try", slow_read_try)
    where = wake.names()
    wake.client().delete(where.receipts)
    sender = Sender(batch=10, threads=2, poll=0.01)
    try:
        reply(bot, "5511900000501", "Pedido recebido")
        wake.client().rpush(where.receipts, f"{bot.pk}:wamid.CLIENTE1")
        assert sender.run_once() == 1

        # The receipt is still with the provider; the next customer's reply goes meanwhile.
        reply(bot, "5511900000502", "Seu horário está confirmado")
        assert sender.run_once() == 1
        assert [r.json["text"]["body"] for r in fake_graph.sends] == [
            "Pedido recebido",
            "Seu horário está confirmado",
        ]
        assert fake_graph.reads == []
    finally:
        released.set()
        sender.close()  # waits for the receipts in flight, as SIGTERM does
    assert [r.json["message_id"] for r in fake_graph.reads] == ["wamid.CLIENTE1"]
