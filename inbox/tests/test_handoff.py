"""A customer asks for a person through the webhook: a ticket in the step's queue, their
place in the line, or when the queue opens."""

from __future__ import annotations

from datetime import date, time

import pytest
import time_machine

from chatbots.models import Conversation
from inbox import services
from inbox.models import QueueHoliday, QueueHours, Ticket

pytestmark = pytest.mark.django_db

# A Saturday, 10:00 in São Paulo (UTC-3).
SATURDAY_10H = "2026-03-07T13:00:00Z"
MONDAY_10H = "2026-03-09T13:00:00Z"


def _weekdays_8_to_18(queue):
    for day in range(5):
        QueueHours.objects.create(
            tenant=queue.tenant, queue=queue, weekday=day, opens=time(8), closes=time(18)
        )


def test_it_hands_over_to_the_steps_queue_and_tells_the_place(chat_with, bot, suporte):
    chat = chat_with(bot)
    chat.text("oi")

    said = chat.tap("atendente", "Falar com atendente")

    assert [m["text"]["body"] for m in said if m["type"] == "text"] == [
        "Vou chamar alguém.",
        "Você é o número 1 na fila de Suporte. Um atendente já vai falar com você.",
    ]
    ticket = Ticket.objects.get(conversation=chat.conversation)
    assert ticket.queue == suporte and ticket.status == Ticket.Status.WAITING
    assert chat.conversation.status == Conversation.Status.WAITING


def test_the_second_customer_is_number_two(chat_with, bot, suporte):
    first = chat_with(bot)
    first.text("oi")
    first.tap("atendente")
    second = chat_with(bot, phone="5511911112222", name="João")
    second.text("oi")

    said = second.tap("atendente")

    assert "Você é o número 2 na fila de Suporte." in said[-1]["text"]["body"]


def test_the_queues_own_message_is_used(chat_with, bot, suporte):
    suporte.position_message = "Posição {position} em {queue} {sem_chave}"
    suporte.save()
    chat = chat_with(bot)
    chat.text("oi")

    said = chat.tap("atendente")

    assert said[-1]["text"]["body"] == "Posição 1 em Suporte {sem_chave}"


def test_outside_the_hours_it_says_when_the_queue_opens(chat_with, bot, suporte):
    _weekdays_8_to_18(suporte)
    with time_machine.travel(SATURDAY_10H, tick=False):
        chat = chat_with(bot)
        chat.text("oi")
        said = chat.tap("atendente")

    body = said[-1]["text"]["body"]
    assert "Nosso atendimento de Suporte está fechado agora." in body
    assert "Abrimos segunda-feira (09/03) às 08:00" in body
    # Still queued: someone answers when it opens.
    assert Ticket.objects.get(conversation=chat.conversation).status == Ticket.Status.WAITING


def test_the_queues_own_closed_hours_message_is_used(chat_with, bot, suporte):
    _weekdays_8_to_18(suporte)
    suporte.closed_message = "{queue} volta {opens_at}. Deixe sua dúvida aqui."
    suporte.save()
    with time_machine.travel(SATURDAY_10H, tick=False):
        chat = chat_with(bot)
        chat.text("oi")
        said = chat.tap("atendente")

    assert said[-1]["text"]["body"] == (
        "Suporte volta segunda-feira (09/03) às 08:00. Deixe sua dúvida aqui."
    )


def test_a_holiday_closes_the_queue_and_tomorrow_is_said_so(chat_with, bot, suporte):
    _weekdays_8_to_18(suporte)
    QueueHoliday.objects.create(tenant=suporte.tenant, queue=suporte, date=date(2026, 3, 9))
    with time_machine.travel(MONDAY_10H, tick=False):
        chat = chat_with(bot)
        chat.text("oi")
        said = chat.tap("atendente")

    assert "Abrimos amanhã às 08:00" in said[-1]["text"]["body"]


def test_inside_the_hours_it_tells_the_place(chat_with, bot, suporte):
    _weekdays_8_to_18(suporte)
    with time_machine.travel(MONDAY_10H, tick=False):
        chat = chat_with(bot)
        chat.text("oi")
        said = chat.tap("atendente")

    assert "Você é o número 1" in said[-1]["text"]["body"]


def test_while_waiting_the_bot_is_quiet_and_staff_see_unread(chat_with, bot, suporte):
    chat = chat_with(bot)
    chat.text("oi")
    chat.tap("atendente")

    assert chat.text("alguém aí?") == []
    assert chat.text("preciso de ajuda") == []

    ticket = Ticket.objects.get(conversation=chat.conversation)
    assert ticket.unread == 2


def test_after_close_the_next_message_gets_the_bot(chat_with, bot, suporte, agent):
    chat = chat_with(bot)
    chat.text("oi")
    chat.tap("atendente")
    ticket = Ticket.objects.get(conversation=chat.conversation)
    services.ticket_take(ticket, agent)
    services.ticket_close(ticket, agent)

    said = chat.text("oi de novo")

    assert said[-1]["interactive"]["body"]["text"] == "Olá! Como posso ajudar?"
    assert chat.conversation.status == Conversation.Status.BOT


def test_return_to_bot_after_the_handoff_step_starts_the_flow_over(chat_with, bot, suporte, agent):
    chat = chat_with(bot)
    chat.text("oi")
    chat.tap("atendente")
    ticket = Ticket.objects.get(conversation=chat.conversation)

    services.ticket_return_to_bot(ticket, agent)

    assert chat.conversation.status == Conversation.Status.BOT
    # Back at the handoff step the bot would hand over again: the flow starts over instead.
    assert chat.text("obrigado")[-1]["interactive"]["body"]["text"] == "Olá! Como posso ajudar?"
    assert Ticket.objects.filter(conversation=chat.conversation).count() == 1


def test_the_assistants_person_button_names_its_queue(chat_with, bot, financeiro):
    bot.options = {"ai_handoff_queue": "financeiro"}
    bot.save()
    chat = chat_with(bot)
    chat.text("oi")

    said = chat.tap("ai:humano", "Falar com atendente")

    assert Ticket.objects.get(conversation=chat.conversation).queue == financeiro
    assert "fila de Financeiro" in said[-1]["text"]["body"]
