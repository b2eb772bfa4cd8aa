"""The reminder's "Confirmar", "Reagendar" and "Cancelar" act on their appointment from any
point of any conversation: here, in the middle of an order in the order bot, and in the
middle of booking another appointment in the agenda bot."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from agenda import notifications
from agenda.models import Agendamento
from agenda.tests.chat.whatsapp import PNID_PEDIDOS, make_bot
from agenda.tests.conftest import SEGUNDA, em, marcar
from chatbots.models import Conversation
from pedidos import services as pedidos
from tests.conversation import body_text, buttons, rows
from tests.factories import ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)
QUARTA = SEGUNDA + timedelta(days=2)


@pytest.fixture
def pizza(tenant):
    categoria = pedidos.categoria_create(tenant=tenant, nome="Pizzas", ordem=1)
    return pedidos.produto_create(
        tenant=tenant, categoria=categoria, nome="Pizza Calabresa", preco=Decimal("47.90")
    )


@pytest.fixture
def loja(chat_with, tenant, cliente, pizza):
    """Maria in the order bot, in the middle of an order (asked for a quantity)."""
    chat = chat_with(make_bot(tenant, pnid=PNID_PEDIDOS, flow="pedidos", name="Pizzaria"))
    chat.text("oi")
    chat.pick(f"cat:{pizza.categoria_id}", "Pizzas")
    chat.pick(f"prod:{pizza.pk}", "Pizza Calabresa")
    assert "Quantas unidades" in body_text(chat.last)
    return chat


@pytest.fixture
def marcado(tenant, cliente, servico, agenda_interna):
    return marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")


def reminder_buttons(loja, marcado, django_capture_on_commit_callbacks):
    """Send the reminder now (staff's button) and return its buttons as Meta got them."""
    before = len(loja.fake.sends)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.lembrete_send_now(agendamento=marcado)
    (lembrete,) = [r.json for r in loja.fake.sends[before:]]
    return dict((title, reply_id) for reply_id, title in buttons(lembrete))


def step_of():
    return Conversation.objects.get(chatbot__phone_number_id=PNID_PEDIDOS).current_step


def test_confirmar_mid_order_confirms_and_the_order_carries_on(
    agora, loja, marcado, django_capture_on_commit_callbacks
):
    ids = reminder_buttons(loja, marcado, django_capture_on_commit_callbacks)
    assert ids == {
        "Confirmar": f"ag:confirmar:{marcado.pk}",
        "Reagendar": f"ag:reagendar:{marcado.pk}",
        "Cancelar": f"ag:cancelar:{marcado.pk}",
    }

    loja.tap(ids["Confirmar"], "Confirmar")

    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.CONFIRMADO
    assert loja.texts == [
        "Obrigado! Seu horário de *Consulta* amanhã (Ter 05/03) às 10:00 está confirmado. "
        "Até lá! 😊"
    ]
    assert step_of() == "informar_quantidade"
    loja.text("2")
    assert "2 × Pizza Calabresa" in body_text(loja.last)


def test_cancelar_mid_order_cancels_the_appointment_not_the_order(
    agora, loja, marcado, django_capture_on_commit_callbacks
):
    ids = reminder_buttons(loja, marcado, django_capture_on_commit_callbacks)

    loja.tap(ids["Cancelar"], "Cancelar")

    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.CANCELADO
    assert "cancelei seu horário de *Consulta*" in loja.texts[0]
    assert step_of() == "informar_quantidade"
    loja.text("1")
    assert "1 × Pizza Calabresa" in body_text(loja.last)


def test_reagendar_mid_order_moves_the_appointment_then_resumes_the_order(
    agora, loja, marcado, django_capture_on_commit_callbacks
):
    ids = reminder_buttons(loja, marcado, django_capture_on_commit_callbacks)

    loja.tap(ids["Reagendar"], "Reagendar")
    assert "Para quando quer remarcar *Consulta*" in body_text(loja.last)
    assert "Voltar" not in [r["title"] for r in rows(loja.last)]
    loja.text("quarta")
    loja.text("15h")
    assert "Remarcar *Consulta* amanhã (Ter 05/03) às 10:00 para *Qua 06/03 às 15:00*?" in (
        body_text(loja.last)
    )
    loja.tap("conf:sim", "Confirmar")

    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.REAGENDADO
    novo = marcado.reagendado_para
    assert novo.inicio == em(QUARTA, "15:00") and novo.status == Agendamento.Status.PENDENTE
    assert "Remarcado" in loja.texts[0]
    assert "Quantas unidades de *Pizza Calabresa*" in body_text(loja.last)  # back to the order
    assert step_of() == "informar_quantidade"
    loja.text("2")
    assert "2 × Pizza Calabresa" in body_text(loja.last)

    loja.tap(ids["Confirmar"], "Confirmar")  # the old reminder, still in the chat

    novo.refresh_from_db()
    assert novo.status == Agendamento.Status.CONFIRMADO
    assert "Qua 06/03 às 15:00 está confirmado" in loja.texts[0]


def test_reagendar_in_the_agenda_bot_moves_to_its_choose_day_step(
    agora, chat, marcado, tenant, servico
):
    chat.text("oi")
    chat.tap("agenda:agendar")
    chat.pick(f"srv:{servico.pk}")
    chat.pick("dia:2030-03-07")  # choosing a time for a second appointment...

    chat.tap(f"ag:reagendar:{marcado.pk}", "Reagendar")  # ...when the reminder is tapped

    conversa = Conversation.objects.get()
    assert conversa.current_step == "agenda_dia"
    assert conversa.state["agenda_reagendar_id"] == marcado.pk
    chat.pick("dia:2030-03-06")
    chat.pick("hora:2030-03-06T09:00:00-03:00")
    chat.tap("conf:sim")
    marcado.refresh_from_db()
    assert marcado.reagendado_para.inicio == em(QUARTA, "09:00")
    assert Agendamento.objects.filter(status__in=Agendamento.ATIVOS).count() == 1


def test_a_reschedule_is_audited_when_compliance_is_installed(
    agora, chat, marcado, tenant, servico
):
    audit = pytest.importorskip("compliance.audit")
    from compliance.models import AuditLog

    chat.tap(f"ag:reagendar:{marcado.pk}", "Reagendar")
    chat.pick("dia:2030-03-06")
    chat.pick("hora:2030-03-06T09:00:00-03:00")
    chat.tap("conf:sim")

    marcado.refresh_from_db()
    entrada = AuditLog.objects.get(action="agendamento.reschedule")
    assert entrada.object_id == str(marcado.reagendado_para_id)
    assert entrada.tenant_id == tenant.pk
    assert entrada.actor_label == audit.customer_actor(marcado.cliente).label


def test_a_tap_for_someone_elses_appointment_changes_nothing(
    agora, chat, tenant, servico, agenda_interna
):
    outra = ClienteFactory(tenant=tenant, telefone="5511955554444")
    alheio = marcar(tenant, outra, servico, em(TERCA, "10:00"), status="pendente")

    chat.tap(f"ag:cancelar:{alheio.pk}", "Cancelar")

    alheio.refresh_from_db()
    assert alheio.status == Agendamento.Status.PENDENTE
    assert chat.texts == ["Não encontrei esse agendamento."]
