"""A send the Graph API accepted while PostgreSQL dropped before its outcome was written
(the Celery send path, chatbots.outbox.sending): the row ends `sent` with its wamid once the
database is back, never left `sending` for the sweep to fail as interrupted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import queue, sending
from chatbots.wire import Text
from tests.factories import ClienteFactory


@pytest.mark.django_db(transaction=True)
def test_a_send_whose_outcome_met_a_database_drop_ends_sent_once(tenant, fake_graph, monkeypatch):
    bot = Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id="106540352242944",
        access_token="EAAG-tk",
    )
    conversation = Conversation.objects.create(
        tenant=tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=tenant, telefone="5511900000777"),
        last_customer_message_at=timezone.now() - timedelta(minutes=1),
    )
    monkeypatch.setattr(queue, "enqueue_send", lambda *a, **k: None)
    monkeypatch.setattr(sending, "enqueue_send", lambda *a, **k: None)
    with transaction.atomic():
        (row,) = queue.queue_replies(conversation=conversation, messages=[Text(body="saiu")])
    original, drops = sending._transition, []

    def dropping(target, **fields):
        if not drops:
            drops.append(fields.get("status"))
            raise OperationalError("server closed the connection unexpectedly")
        return original(target, **fields)

    monkeypatch.setattr(sending, "_transition", dropping)
    monkeypatch.setattr(sending.time, "sleep", lambda s: None)

    sending.send_pending(conversation.pk)

    row.refresh_from_db()
    assert drops == [Message.Status.SENT]
    assert row.status == Message.Status.SENT
    assert row.provider_message_id.startswith("wamid.")
    assert [r.json["text"]["body"] for r in fake_graph.sends] == ["saiu"]
