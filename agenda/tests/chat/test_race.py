"""Two customers racing for the last free slot, each at the confirm step, tapping at the
same moment on two workers: one booking, and one polite "taken" answer."""

from __future__ import annotations

import threading
from datetime import time

import pytest
from django.db import connection
from django.test import Client

from agenda.defaults import horario_funcionamento_replace
from agenda.models import Agendamento
from agenda.services import configuracao_set
from agenda.tests.chat.whatsapp import JOAO, MARIA, make_bot
from chatbots.models import Message
from tests.conversation import Chat, bot_said


def _to_confirm_step(chat, servico):
    chat.text("oi")
    chat.tap("agenda:agendar", "Agendar")
    chat.pick(f"srv:{servico.pk}", "Consulta")
    chat.pick("dia:2030-03-05", "Ter 05/03")
    chat.pick("hora:2030-03-05T10:00:00-03:00", "10:00")


def _replies(bot, phone):
    return [m.text for m in bot_said(bot, phone)]


@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_the_last_slot_get_one_booking_and_one_polite_no(
    agora, tenant, servico, celery_eager, fake_graph
):
    # One bookable slot in the whole window: Tuesday 10:00-10:30.
    configuracao_set(tenant=tenant, fonte="interna", dias_antecedencia=7)
    horario_funcionamento_replace(tenant=tenant, horarios=[(1, time(10), time(10, 30))])
    bot = make_bot(tenant)
    # No on-commit capture: this test commits, so what the webhook queues runs for real.
    chats = {phone: Chat(Client(), bot, phone=phone) for phone in (MARIA, JOAO)}
    for chat in chats.values():
        _to_confirm_step(chat, servico)
    assert all("Confirma *Consulta*" in _replies(bot, p)[-1] for p in (MARIA, JOAO))
    marks = {p: len(_replies(bot, p)) for p in (MARIA, JOAO)}

    barrier = threading.Barrier(2)
    errors = []

    def confirm(phone):
        try:
            barrier.wait()
            chats[phone].tap("conf:sim", "Confirmar")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(p,)) for p in (MARIA, JOAO)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert not errors, errors
    agendamento = Agendamento.objects.get()
    winner = agendamento.cliente.telefone
    loser = JOAO if winner == MARIA else MARIA
    assert "Agendado" in _replies(bot, winner)[marks[winner]]
    answer = _replies(bot, loser)[marks[loser] :]
    assert "acabou de ser ocupado" in answer[0]
    assert "Não há mais horários livres em Ter 05/03" in answer[1]
    assert Message.objects.filter(direction="out", status="failed").count() == 0
