"""A message a staff member schedules goes at its time: as text while the customer's 24-hour
window is open, as the approved template outside it; cancelled, it never goes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaigns import scheduled
from campaigns.models import ScheduledMessage
from campaigns.tests.conftest import MONDAY_TEN
from tests.factories import ClienteFactory, ConversationFactory, MessageTemplateFactory


@pytest.fixture
def maria(tenant):
    return ClienteFactory(tenant=tenant, nome="Maria", telefone="5511987650001")


def _due(run, clock):
    from campaigns import tasks

    return run(tasks.bulk_scheduled_due, clock)


def test_inside_the_window_it_goes_as_text_at_its_time(bot, maria, run, clock, fake_graph):
    ConversationFactory(
        chatbot=bot, cliente=maria, last_customer_message_at=MONDAY_TEN - timedelta(hours=1)
    )
    scheduled.scheduled_create(
        chatbot=bot,
        cliente=maria,
        text="Seu pedido fica pronto às 18h.",
        send_at=MONDAY_TEN + timedelta(hours=2),
    )

    clock.shift(timedelta(hours=1, minutes=59))
    assert _due(run, clock) == []
    clock.shift(timedelta(minutes=1))
    assert _due(run, clock) == ["+5511987650001"]

    body = fake_graph.sends[-1].json
    assert body["type"] == "text"
    assert body["text"]["body"] == "Seu pedido fica pronto às 18h."
    assert ScheduledMessage.objects.get().status == ScheduledMessage.Status.SENT


def test_outside_the_window_the_chosen_template_goes(bot, maria, run, clock, fake_graph):
    lembrete = MessageTemplateFactory(chatbot=bot, name="lembrete_retirada", param_count=1)
    scheduled.scheduled_create(
        chatbot=bot,
        cliente=maria,
        text="Seu pedido está pronto.",
        send_at=MONDAY_TEN + timedelta(hours=1),
        template=lembrete,
        params=["Maria"],
    )
    clock.shift(timedelta(hours=1))
    assert _due(run, clock) == ["+5511987650001"]

    body = fake_graph.sends[-1].json
    assert body["type"] == "template"
    assert body["template"]["name"] == "lembrete_retirada"
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Maria"


def test_outside_the_window_without_a_chosen_one_the_scheduled_message_template_carries_it(
    bot, maria, run, clock, fake_graph
):
    MessageTemplateFactory(chatbot=bot, name="recado", param_count=1, purpose=scheduled.PURPOSE)
    scheduled.scheduled_create(
        chatbot=bot,
        cliente=maria,
        text="Chegou o seu livro.",
        send_at=MONDAY_TEN + timedelta(minutes=5),
    )
    clock.shift(timedelta(minutes=5))
    _due(run, clock)

    body = fake_graph.sends[-1].json
    assert body["template"]["name"] == "recado"
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Chegou o seu livro."


def test_outside_the_window_with_no_template_nothing_goes_and_it_says_why(
    bot, maria, run, clock, fake_graph
):
    message = scheduled.scheduled_create(
        chatbot=bot, cliente=maria, text="Oi", send_at=MONDAY_TEN + timedelta(minutes=5)
    )
    clock.shift(timedelta(minutes=5))
    assert _due(run, clock) == []
    message.refresh_from_db()
    assert message.status == ScheduledMessage.Status.FAILED
    assert "24 horas" in message.reason


def test_a_cancelled_message_never_goes_and_a_sent_one_cannot_be_cancelled(
    bot, maria, run, clock, fake_graph
):
    ConversationFactory(chatbot=bot, cliente=maria, last_customer_message_at=MONDAY_TEN)
    cancelled = scheduled.scheduled_create(
        chatbot=bot, cliente=maria, text="Promoção", send_at=MONDAY_TEN + timedelta(hours=1)
    )
    kept = scheduled.scheduled_create(
        chatbot=bot, cliente=maria, text="Lembrete", send_at=MONDAY_TEN + timedelta(hours=1)
    )
    assert scheduled.scheduled_cancel(scheduled=cancelled) is True

    clock.shift(timedelta(hours=1))
    _due(run, clock)

    assert [r.json["text"]["body"] for r in fake_graph.sends] == ["Lembrete"]
    assert scheduled.scheduled_cancel(scheduled=kept) is False
    assert kept.status == ScheduledMessage.Status.SENT


def test_a_time_in_the_past_is_refused(bot, maria, clock):
    with pytest.raises(scheduled.ScheduleError, match="futuro"):
        scheduled.scheduled_create(
            chatbot=bot, cliente=maria, text="Oi", send_at=MONDAY_TEN - timedelta(minutes=1)
        )
