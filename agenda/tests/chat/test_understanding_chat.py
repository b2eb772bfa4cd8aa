"""The agenda at the edges a customer reaches in the first minute, through the webhook:
numbers and times, a time someone else has, "Meu horário" that must not trap anyone, and a
first message that already says what it wants."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agenda.models import Agendamento
from agenda.services import servico_create
from agenda.tests.chat.whatsapp import SECRET
from agenda.tests.conftest import SEGUNDA, em, marcar
from chatbots.models import Conversation, Message
from tests.conversation import body_text, buttons, rows
from tests.factories import ChatbotFactory, ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)


def _titles(sent) -> list[str]:
    """Row titles of a list, a Meta body or a stub bot's Message."""
    if isinstance(sent, Message):
        return [r["title"] for s in sent.payload["sections"] for r in s["rows"]]
    return [r["title"] for r in rows(sent)]


def _body(sent) -> str:
    return sent.text if isinstance(sent, Message) else body_text(sent)


@pytest.fixture(params=["meta", "stub"])
def any_chat(request, chat_with, tenant):
    """Maria and the agenda bot on Meta (native lists) or on the stub (the simulator prints
    its lists numbered): the numbers mean the same on both."""
    bot = ChatbotFactory(
        tenant=tenant,
        provider=request.param,
        phone_number_id="3000010",
        app_secret=SECRET,
        flow="agenda",
    )
    return chat_with(bot)


def _to_times(chat):
    chat.text("oi")
    chat.text("1")  # Agendar
    chat.text("1")  # Consulta
    chat.text("2")  # Ter 05/03
    assert _titles(chat.sent[-1])[:3] == ["09:00", "09:30", "10:00"]


def test_a_bare_number_is_the_row_shown_there_ver_mais_and_voltar_included(
    agora, any_chat, agenda_interna, servico
):
    _to_times(any_chat)
    assert _titles(any_chat.sent[-1])[-2:] == ["Ver mais", "Voltar"]  # rows 9 and 10

    any_chat.text("9")
    assert _titles(any_chat.sent[-1]) == [
        "15:00",
        "15:30",
        "16:00",
        "16:30",
        "17:00",
        "17:30",
        "Voltar",
    ]
    any_chat.text("7")  # "Voltar" on this page: back to the days
    assert _titles(any_chat.sent[-1])[:2] == ["Seg 04/03", "Ter 05/03"]
    any_chat.text("2")
    any_chat.text("10")  # "Voltar" on the first page of times
    assert _titles(any_chat.sent[-1])[:2] == ["Seg 04/03", "Ter 05/03"]
    assert not Agendamento.objects.exists()


@pytest.mark.parametrize("typed", ["9h", "09:00", "9:00", "às 9"])
def test_a_time_is_typed_with_its_hour_mark(agora, chat, agenda_interna, servico, typed):
    _to_times(chat)

    chat.text(typed)

    assert "Confirma *Consulta* amanhã (Ter 05/03) às 09:00?" in body_text(chat.last)


def test_a_number_past_the_rows_is_not_a_time_and_the_answer_says_how_to_type_one(
    agora, chat, agenda_interna, servico
):
    _to_times(chat)

    chat.text("14")

    assert "por exemplo 14h ou 9:30" in chat.texts[0]
    assert chat.conversation.current_step == "agenda_horario"
    assert not Agendamento.objects.exists()


def test_a_time_someone_else_has_typed_as_14h_is_said_taken_with_the_free_ones_nearest(
    agora, chat, tenant, agenda_interna, servico
):
    marcar(tenant, ClienteFactory(tenant=tenant), servico, em(TERCA, "14:00"))
    _to_times(chat)

    chat.text("14h")

    assert chat.texts[0] == (
        "Poxa, Ter 05/03 às 14:00 já está ocupado. 😕 "
        "Os horários livres mais próximos são 14:30 e 15:00."
    )
    assert "14:30" in _titles(chat.last) and "14:00" not in _titles(chat.last)
    assert chat.conversation.current_step == "agenda_horario"

    chat.text("14:30")
    assert "Confirma *Consulta* amanhã (Ter 05/03) às 14:30?" in body_text(chat.last)


def test_a_time_outside_the_opening_hours_is_said_not_available(
    agora, chat, agenda_interna, servico
):
    _to_times(chat)

    chat.text("20h")

    assert chat.texts[0].startswith("Ter 05/03 às 20:00 não está disponível.")
    assert "17:30" in chat.texts[0]  # the nearest free one, at the end of the day
    assert "17:30" in _titles(chat.last)  # the page that holds it


def test_meu_horario_answers_a_greeting_itself_and_anything_else_without_a_loop(
    agora, chat, tenant, agenda_interna, servico, cliente
):
    marcado = marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    chat.text("oi")
    chat.tap("agenda:meu", "Meu horário")
    summary = body_text(chat.last)
    assert "*Consulta* amanhã (Ter 05/03) às 10:00" in summary

    chat.text("oi")  # a greeting: the menu again
    assert [t for _i, t in buttons(chat.last)] == ["Agendar", "Meu horário", "Encerrar"]
    assert chat.conversation.current_step == "inicio"

    chat.tap("agenda:meu", "Meu horário")
    chat.text("meu horário")  # shows it again
    assert body_text(chat.last) == summary
    assert [i for i, _t in buttons(chat.last)] == [
        f"ag:reagendar:{marcado.pk}",
        f"ag:cancelar:{marcado.pk}",
    ]

    chat.text("tá bom então")  # anything else: a short answer naming the way on, once
    assert chat.texts == [
        "Não entendi. Toque em Reagendar ou Cancelar, ou envie *menu* para ver as opções do início."
    ]
    chat.text("hmm")
    assert chat.texts[-1].endswith(
        "Se preferir, envie *menu* para ver as opções do início ou *atendente* para falar "
        "com uma pessoa."
    )
    chat.text("atendente")
    assert chat.conversation.status == Conversation.Status.WAITING


def test_quero_marcar_um_corte_amanha_opens_the_times_of_that_day_for_that_service(
    agora, chat, tenant, agenda_interna
):
    servico_create(tenant=tenant, nome="Corte de cabelo", duracao_minutos=30)
    servico_create(tenant=tenant, nome="Barba", duracao_minutos=20)

    chat.text("Quero marcar um corte amanhã")  # the very first message

    assert body_text(chat.last) == "*Corte de cabelo*, Ter 05/03: escolha o horário."
    assert _titles(chat.last)[0] == "09:00"
    assert chat.conversation.current_step == "agenda_horario"


def test_service_day_and_time_said_at_once_go_straight_to_the_confirmation(
    agora, chat, tenant, agenda_interna
):
    servico_create(tenant=tenant, nome="Corte de cabelo", duracao_minutos=30)
    servico_create(tenant=tenant, nome="Barba", duracao_minutos=20)
    chat.text("oi")

    chat.text("queria marcar uma barba amanhã às 14h")

    assert "Confirma *Barba* amanhã (Ter 05/03) às 14:00?" in body_text(chat.last)
    chat.tap("conf:sim", "Confirmar")
    agendamento = Agendamento.objects.get()
    assert (agendamento.servico.nome, agendamento.inicio) == ("Barba", em(TERCA, "14:00"))


def test_a_day_asked_for_that_has_no_free_time_is_said_so_with_the_days_that_have(
    agora, chat, tenant, agenda_interna
):
    servico_create(tenant=tenant, nome="Corte de cabelo", duracao_minutos=30)
    servico_create(tenant=tenant, nome="Barba", duracao_minutos=20)

    chat.text("quero marcar um corte no sábado")

    assert chat.texts[0] == "Não há horários livres para *Corte de cabelo* em Sáb 09/03. 😕"
    assert _titles(chat.last)[:2] == ["Seg 04/03", "Ter 05/03"]
    assert chat.conversation.current_step == "agenda_dia"


def test_a_day_without_a_service_named_is_kept_until_the_service_is_chosen(
    agora, chat, tenant, agenda_interna
):
    servico_create(tenant=tenant, nome="Corte de cabelo", duracao_minutos=30)
    barba = servico_create(tenant=tenant, nome="Barba", duracao_minutos=20)

    chat.text("quero agendar para sexta")
    assert _titles(chat.last)[:2] == ["Barba", "Corte de cabelo"]

    chat.pick(f"srv:{barba.pk}", "Barba")
    assert body_text(chat.last) == "*Barba*, Sex 08/03: escolha o horário."


def test_remarcar_typed_anywhere_shows_the_appointment_with_its_buttons(
    agora, chat, tenant, agenda_interna, servico, cliente
):
    marcado = marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    chat.text("oi")
    chat.tap("agenda:agendar", "Agendar")

    chat.text("preciso remarcar meu horário")

    assert chat.conversation.current_step == "agenda_meu_horario"
    assert f"ag:reagendar:{marcado.pk}" in [i for i, _t in buttons(chat.last)]


def test_a_first_question_is_answered_from_the_opening_hours_without_the_assistant(
    agora, chat, agenda_interna
):
    chat.text("vocês abrem domingo?")

    greeting, answer = chat.sent
    assert [t for _i, t in buttons(greeting)] == ["Agendar", "Meu horário", "Encerrar"]
    assert body_text(answer).startswith("Nosso horário de funcionamento:")
    assert "• domingo: fechado" in body_text(answer)
    assert chat.conversation.status == Conversation.Status.BOT


def test_a_first_question_nobody_can_answer_here_goes_to_a_person(agora, chat):
    chat.text("vocês abrem domingo?")

    *_, handoff, place = chat.sent
    assert "uma pessoa fala com você" in body_text(handoff)
    assert body_text(place).startswith(
        "Você é o número 1 na fila de Atendimento."
    )  # the queue's line
    assert chat.conversation.status == Conversation.Status.WAITING


def test_atendente_from_an_agenda_step_reaches_a_person(agora, chat, agenda_interna, servico):
    _to_times(chat)

    chat.text("quero falar com um atendente")

    assert "atendente" in body_text(chat.last)
    assert chat.conversation.status == Conversation.Status.WAITING
