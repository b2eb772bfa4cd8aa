"""Send gates: billing and compliance register their rules; the outbox asks them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import metering, quotas
from chatbots import outbox
from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import gates, queue, sending
from compliance import consent


@pytest.fixture
def bot(tenant, fake_graph):
    return Chatbot.objects.create(
        tenant=tenant, name="Padaria", provider="meta", phone_number_id="1065", access_token="tk"
    )


@pytest.fixture
def conversation(bot, cliente):
    return Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )


@pytest.fixture
def registry(monkeypatch):
    """The registry as the apps left it at start-up, restored after the test."""
    monkeypatch.setattr(gates, "_gates", {stage: list(g) for stage, g in gates._gates.items()})
    monkeypatch.setattr(gates, "_on_sent", list(gates._on_sent))
    return gates


def test_billing_and_compliance_register_their_gates_at_start_up():
    assert consent.proactive_gate in gates._gates[outbox.QUEUE]
    assert quotas.subscription_gate in gates._gates[outbox.SEND]
    assert metering.count_sent in gates._on_sent


def test_registering_a_gate_twice_asks_it_once(registry):
    asked = []

    def gate(outgoing):
        asked.append(outgoing)

    outbox.register_gate(gate, stage=outbox.QUEUE)
    outbox.register_gate(gate, stage=outbox.QUEUE)
    assert gates._gates[outbox.QUEUE].count(gate) == 1


def test_an_unknown_stage_is_refused_naming_the_right_ones(registry):
    with pytest.raises(ValueError, match="outbox.QUEUE or outbox.SEND"):
        outbox.register_gate(lambda outgoing: None, stage="later")


def test_a_queue_gate_refusal_is_recorded_and_nothing_is_queued(
    registry, bot, conversation, cliente, django_capture_on_commit_callbacks
):
    seen = []

    def gate(outgoing):
        seen.append(outgoing)
        return ("blocked_here", "Bloqueado pelo teste.")

    outbox.register_gate(gate, stage=outbox.QUEUE)
    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.send_to_customer(
            chatbot=bot, cliente=cliente, message=outbox.Text(body="Oi"), proactive=True
        )
    assert (row.status, row.error_code, row.error_detail) == (
        "failed",
        "blocked_here",
        "Bloqueado pelo teste.",
    )
    assert seen == [
        outbox.Outgoing(tenant_id=bot.tenant_id, chatbot=bot, cliente=cliente, proactive=True)
    ]


def test_a_send_gate_is_asked_before_each_provider_call_and_hooks_after_it(
    registry, fake_graph, bot, conversation, celery_eager, django_capture_on_commit_callbacks
):
    refuse = {"first": True}
    sent = []

    def gate(outgoing):
        if refuse.pop("first", False):
            return ("blocked_here", "Bloqueado pelo teste.")
        return None

    outbox.register_gate(gate, stage=outbox.SEND)
    outbox.register_on_sent(sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        queue.queue_replies(
            conversation=conversation, messages=[outbox.Text(body="1"), outbox.Text(body="2")]
        )
    first, second = Message.objects.filter(conversation=conversation).order_by("id")
    assert (first.status, first.error_code) == ("failed", "blocked_here")
    assert second.status == "sent"
    assert len(fake_graph.requests) == 1
    assert [o.tenant_id for o in sent] == [bot.tenant_id]


def test_no_hook_runs_for_a_message_the_provider_refused(
    registry, fake_graph, bot, conversation, celery_eager, django_capture_on_commit_callbacks
):
    sent = []
    outbox.register_on_sent(sent.append)
    conversation.last_customer_message_at = None
    conversation.save()
    (row,) = queue.queue_replies(conversation=conversation, messages=[outbox.Text(body="1")])
    sending.send_pending(conversation.pk)
    row.refresh_from_db()
    assert row.error_code == "outside_24h_window"
    assert sent == []
