"""Booking through the chat, as a customer does it: the built-in calendar and Cal.com,
and what the customer reads when the agenda cannot help."""

from __future__ import annotations

import json
from datetime import timedelta

from agenda.models import Agendamento
from agenda.services import servico_create
from agenda.tests.conftest import SEGUNDA, em
from chatbots.models import Conversation
from chatbots.wire import LIST_ROWS_MAX
from tests.conversation import body_text, buttons, rows

TERCA = SEGUNDA + timedelta(days=1)


def test_a_customer_books_on_the_built_in_calendar(agora, chat, tenant, agenda_interna, servico):
    chat.text("oi")
    assert [t for _i, t in buttons(chat.last)] == ["Agendar", "Meu horário", "Encerrar"]

    chat.tap("agenda:agendar", "Agendar")
    assert [r["title"] for r in rows(chat.last)][0] == "Consulta"

    chat.text("consulta")  # typed, not tapped
    dias = rows(chat.last)
    assert [(r["title"], r.get("description", "")) for r in dias[:2]] == [
        ("Seg 04/03", "Hoje"),
        ("Ter 05/03", "Amanhã"),
    ]
    assert "Sáb 09/03" not in [r["title"] for r in dias]  # closed on weekends

    chat.pick("dia:2030-03-05", "Ter 05/03")
    horarios = rows(chat.last)
    assert len(horarios) == LIST_ROWS_MAX  # 8 times + "Ver mais" + "Voltar"
    assert [r["title"] for r in horarios[:3]] == ["09:00", "09:30", "10:00"]
    assert horarios[-2]["id"] == "hora:mais"

    chat.pick("hora:mais", "Ver mais")
    assert [r["title"] for r in rows(chat.last)] == [
        "15:00",
        "15:30",
        "16:00",
        "16:30",
        "17:00",
        "17:30",
        "Voltar",
    ]

    chat.text("14:30")  # a typed time is found on any page of the day
    assert "Confirma *Consulta* amanhã (Ter 05/03) às 14:30?" in body_text(chat.last)
    assert [t for _i, t in buttons(chat.last)] == ["Confirmar", "Outro horário", "Cancelar"]

    chat.tap("conf:sim", "Confirmar")
    agendamento = Agendamento.objects.get(tenant=tenant)
    assert (agendamento.inicio, agendamento.fim) == (em(TERCA, "14:30"), em(TERCA, "15:00"))
    assert agendamento.origem == Agendamento.Origem.CHAT
    assert agendamento.status == Agendamento.Status.PENDENTE
    assert "Agendado" in body_text(chat.last)
    assert "Ter 05/03" in body_text(chat.last)
    assert Conversation.objects.get().status == Conversation.Status.CLOSED


def test_days_and_times_can_be_typed_by_number_weekday_and_hour(
    agora, chat, tenant, agenda_interna, servico
):
    servico_create(tenant=tenant, nome="Retorno", duracao_minutos=20)
    chat.text("oi")
    chat.text("agendar")
    chat.text("2")  # second service of the list: "Retorno"
    chat.text("quarta")
    assert "Qua 06/03" in body_text(chat.last)
    chat.text("3")  # third time of the page shown
    assert "Confirma *Retorno* Qua 06/03 às 09:40?" in body_text(chat.last)
    chat.text("sim")

    agendamento = Agendamento.objects.get(tenant=tenant)
    assert agendamento.servico.nome == "Retorno"
    assert agendamento.inicio == em(SEGUNDA + timedelta(days=2), "09:40")


def test_a_customer_books_through_cal_com(agora, chat, tenant, agenda_calcom, servico, fake_cal):
    fake_cal.expect_request("/v2/slots", method="GET").respond_with_json(
        {
            "status": "success",
            "data": {
                "2030-03-05": [
                    {"start": "2030-03-05T10:00:00.000-03:00"},
                    {"start": "2030-03-05T11:00:00.000-03:00"},
                ],
                "2030-03-07": [{"start": "2030-03-07T15:00:00.000-03:00"}],
            },
        }
    )
    fake_cal.expect_request("/v2/bookings", method="POST").respond_with_json(
        {
            "status": "success",
            "data": {
                "id": 7,
                "uid": "cal-uid-1",
                "start": "2030-03-05T14:00:00.000Z",
                "end": "2030-03-05T14:30:00.000Z",
            },
        },
        status=201,
    )

    chat.text("oi")
    chat.tap("agenda:agendar", "Agendar")
    chat.pick(f"srv:{servico.pk}", "Consulta")
    assert [r["title"] for r in rows(chat.last)][:2] == ["Ter 05/03", "Qui 07/03"]
    chat.pick("dia:2030-03-05", "Ter 05/03")
    assert [r["title"] for r in rows(chat.last)][:2] == ["10:00", "11:00"]
    chat.pick("hora:2030-03-05T11:00:00-03:00", "11:00")
    chat.tap("conf:sim", "Confirmar")

    reserva = next(p for p, _r in fake_cal.log if p.method == "POST")
    assert json.loads(reserva.data)["start"] == "2030-03-05T14:00:00.000Z"
    assert json.loads(reserva.data)["attendee"]["phoneNumber"] == "+5511987654321"
    agendamento = Agendamento.objects.get(tenant=tenant)
    assert agendamento.cal_booking_uid == "cal-uid-1"
    assert agendamento.inicio == em(TERCA, "11:00")
    assert "Agendado" in body_text(chat.last)


def test_when_cal_com_fails_the_customer_is_told_and_loses_nothing(
    agora, chat, tenant, agenda_calcom, servico, fake_cal
):
    fake_cal.expect_request("/v2/slots").respond_with_json(
        {"status": "success", "data": {"2030-03-05": [{"start": "2030-03-05T10:00:00-03:00"}]}}
    )
    chat.text("oi")
    chat.tap("agenda:agendar")
    chat.pick(f"srv:{servico.pk}")
    chat.pick("dia:2030-03-05")
    chat.pick("hora:2030-03-05T10:00:00-03:00")
    fake_cal.expect_oneshot_request("/v2/bookings", method="POST").respond_with_data(
        "bad gateway", status=502
    )

    chat.tap("conf:sim", "Confirmar")

    assert "não consegui acessar a agenda agora" in chat.texts[0]
    assert [t for _i, t in buttons(chat.last)] == ["Confirmar", "Outro horário", "Cancelar"]
    assert not Agendamento.objects.exists()

    fake_cal.expect_request("/v2/bookings", method="POST").respond_with_json(
        {"status": "success", "data": {"uid": "cal-uid-2", "start": "2030-03-05T13:00:00Z"}},
        status=201,
    )
    chat.tap("conf:sim", "Confirmar")  # the same tap again, nothing to choose anew

    assert Agendamento.objects.get().cal_booking_uid == "cal-uid-2"


def test_cal_com_down_while_listing_days_keeps_the_chosen_service(
    agora, chat, tenant, agenda_calcom, servico, fake_cal
):
    fake_cal.expect_oneshot_request("/v2/slots").respond_with_data("", status=503)
    chat.text("oi")
    chat.tap("agenda:agendar")
    chat.pick(f"srv:{servico.pk}")
    assert "não consegui acessar a agenda agora" in body_text(chat.last)

    fake_cal.expect_request("/v2/slots").respond_with_json(
        {"status": "success", "data": {"2030-03-05": [{"start": "2030-03-05T10:00:00-03:00"}]}}
    )
    chat.text("e agora?")

    assert [r["title"] for r in rows(chat.last)] == ["Ter 05/03", "Voltar"]


def test_without_an_agenda_source_the_customer_is_told_it_is_not_configured(
    agora, chat, tenant, servico
):
    chat.text("oi")
    chat.tap("agenda:agendar", "Agendar")

    assert "agenda não está configurada" in body_text(chat.last)
    assert not Agendamento.objects.exists()


def test_my_appointment_shows_the_next_one_and_can_cancel_it_by_typing(
    agora, chat, tenant, agenda_interna, servico, cliente
):
    from agenda.tests.conftest import marcar

    marcado = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")
    chat.text("oi")
    chat.tap("agenda:meu", "Meu horário")
    assert "*Consulta* amanhã (Ter 05/03) às 10:00" in body_text(chat.last)
    assert [i for i, _t in buttons(chat.last)] == [
        f"ag:confirmar:{marcado.pk}",
        f"ag:reagendar:{marcado.pk}",
        f"ag:cancelar:{marcado.pk}",
    ]

    chat.text("cancelar")

    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.CANCELADO
    assert "cancelei seu horário" in body_text(chat.last)
