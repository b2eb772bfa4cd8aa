"""What a customer sees of the no-show risk (the extra confirmation request) and of the
waiting list (a cancelled time offered, the first to accept gets it), through the fake Meta."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agenda.models import Agendamento, DataFechada, ListaEspera, ModeloFalta, OfertaVaga
from agenda.notifications import TEMPLATE_LEMBRETE
from agenda.services import agendamento_cancel
from agenda.tasks import bulk_no_show_risk
from agenda.tests import history
from agenda.tests.chat.whatsapp import make_bot
from agenda.tests.conftest import AGORA, SEGUNDA, em, marcar
from tests.conversation import body_text, buttons
from tests.factories import ClienteFactory, MessageTemplateFactory

TERCA = SEGUNDA + timedelta(days=1)
JOANA = "5511911112222"


@pytest.fixture
def tick(fake_graph, django_capture_on_commit_callbacks, celery_eager):
    def _tick(task):
        before = len(fake_graph.sends)
        with django_capture_on_commit_callbacks(execute=True):
            task.delay()
        return [r.json for r in fake_graph.sends[before:]]

    return _tick


def test_a_likely_no_show_is_asked_once_to_confirm_and_a_confirmed_one_is_not(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    history.generate(tenant, servico, n=600)
    chat.text("oi")
    arriscado = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")
    seguro = marcar(
        tenant,
        ClienteFactory(tenant=tenant),
        servico,
        em(TERCA, "11:00"),
        status="confirmado",
        confirmado_em=AGORA - timedelta(hours=2),
    )
    Agendamento.objects.filter(pk=arriscado.pk).update(criado_em=AGORA - timedelta(days=25))
    Agendamento.objects.filter(pk=seguro.pk).update(criado_em=AGORA - timedelta(days=2))

    (pedido,) = tick(bulk_no_show_risk)
    assert tick(bulk_no_show_risk) == []

    assert pedido["to"].lstrip("+") == cliente.telefone
    assert "Seu horário de *Consulta* amanhã (Ter 05/03) às 10:00 está chegando" in body_text(
        pedido
    )
    assert buttons(pedido) == [
        (f"ag:confirmar:{arriscado.pk}", "Confirmo"),
        (f"ag:reagendar:{arriscado.pk}", "Preciso remarcar"),
    ]
    arriscado.refresh_from_db()
    seguro.refresh_from_db()
    assert arriscado.risco_falta > 0.35 > seguro.risco_falta
    chat.tap(f"ag:confirmar:{arriscado.pk}", "Confirmo")
    assert "está confirmado" in chat.texts[0]
    arriscado.refresh_from_db()
    assert arriscado.status == "confirmado" and arriscado.confirmado_em == AGORA


def test_outside_the_window_the_request_is_the_reminder_template(
    agora, tick, tenant, agenda_interna, servico, cliente
):
    bot = make_bot(tenant)  # the customer never wrote to it
    MessageTemplateFactory(
        chatbot=bot, name="lembrete_horario", param_count=4, purpose=TEMPLATE_LEMBRETE
    )
    # A young agenda: its base rate alone says half the customers miss.
    ModeloFalta.objects.create(
        tenant=tenant, tipo="taxa_base", taxa_base=0.5, amostras=12, ajustado_em=AGORA
    )
    marcado = marcar(tenant, cliente, servico, em(TERCA, "15:00"), status="pendente")

    (enviado,) = tick(bulk_no_show_risk)

    assert enviado["type"] == "template"
    assert enviado["template"]["name"] == "lembrete_horario"
    params = [p["text"] for p in enviado["template"]["components"][0]["parameters"]]
    assert params == ["Maria", "Consulta", "Ter 05/03", "15:00"]
    marcado.refresh_from_db()
    assert marcado.risco_falta == 0.5
    assert marcado.confirmacao_extra_enviada_em == AGORA


def test_a_cancelled_time_goes_to_the_first_of_the_waiting_list_who_accepts(
    agora, chat_with, bot_agenda, tenant, agenda_interna, servico
):
    maria = chat_with(bot_agenda)
    joana = chat_with(bot_agenda, phone=JOANA, name="Joana")
    maria.tap(f"le:{servico.pk}", "Lista de espera")
    assert maria.texts == [
        "Combinado! Você está na lista de espera de *Consulta*. Se abrir um horário, eu te "
        "aviso por aqui."
    ]
    joana.tap(f"le:{servico.pk}", "Lista de espera")
    joana.tap(f"le:{servico.pk}", "Lista de espera")  # twice: one place
    assert ListaEspera.objects.filter(tenant=tenant, status="aguardando").count() == 2
    ana = ClienteFactory(tenant=tenant, nome="Ana")
    dela = marcar(tenant, ana, servico, em(TERCA, "10:00"))

    ofertas = maria.during(lambda: agendamento_cancel(agendamento=dela))

    assert sorted(o["to"].lstrip("+") for o in ofertas) == sorted([maria.phone, JOANA])
    assert all(
        "Abriu um horário de *Consulta* amanhã (Ter 05/03) às 10:00" in body_text(o)
        for o in ofertas
    )
    by_phone = {o["to"].lstrip("+"): buttons(o)[0] for o in ofertas}
    joana.tap(*by_phone[JOANA])
    assert joana.texts == [
        "Pronto! O horário de *Consulta* amanhã (Ter 05/03) às 10:00 é seu e já está "
        "confirmado. Até lá! 😊"
    ]
    maria.tap(*by_phone[maria.phone])
    assert maria.texts[0].startswith("Que pena, esse horário já foi preenchido.")

    (ficou,) = Agendamento.objects.filter(tenant=tenant, status__in=Agendamento.ATIVOS)
    assert ficou.cliente.telefone == JOANA and ficou.inicio == em(TERCA, "10:00")
    assert ficou.status == "confirmado"
    assert ListaEspera.objects.get(cliente=ficou.cliente).status == "atendido"
    assert ListaEspera.objects.get(cliente__telefone=maria.phone).status == "aguardando"
    assert OfertaVaga.objects.get(entrada__cliente__telefone=maria.phone).status == "perdida"
    joana.tap(*by_phone[JOANA])  # a second tap: the same appointment, nothing new
    assert "é seu" in joana.texts[0]
    assert Agendamento.objects.filter(tenant=tenant, status__in=Agendamento.ATIVOS).count() == 1


def test_with_no_free_time_the_chat_offers_the_waiting_list(
    agora, chat, tenant, agenda_interna, servico
):
    DataFechada.objects.bulk_create(  # a week of holidays: nothing free
        DataFechada(tenant=tenant, data=SEGUNDA + timedelta(days=d)) for d in range(9)
    )
    chat.text("oi")
    chat.tap("agenda:agendar", "Agendar")
    chat.text("consulta")

    sem_vaga, servicos = chat.sent  # then the services again, to pick another
    assert body_text(sem_vaga).startswith(
        "Não há horários livres para *Consulta* nos próximos dias. 😕\nQuer entrar na lista "
        "de espera?"
    )
    assert buttons(sem_vaga) == [(f"le:{servico.pk}", "Lista de espera")]
    assert body_text(servicos) == "Qual serviço você quer agendar?"
    chat.tap(f"le:{servico.pk}", "Lista de espera")
    entrada = ListaEspera.objects.get(tenant=tenant)
    assert (entrada.servico, entrada.data, entrada.status) == (servico, None, "aguardando")
