"""Availability and bookings through Cal.com API v2, against a fake Cal.com on 127.0.0.1."""

import json
import threading
from datetime import timedelta

import pytest
from werkzeug import Response

from agenda.availability import days_with_free_slots, free_slots
from agenda.calcom import verify_signature
from agenda.errors import AgendaIndisponivel, SlotTaken
from agenda.models import Agendamento
from agenda.services import (
    agendamento_cancel,
    agendamento_create,
    agendamento_reschedule,
    servico_create,
)
from agenda.tests.conftest import CAL_EVENT_TYPE, CAL_KEY, SEGUNDA, assinar, em, marcar

TERCA = SEGUNDA + timedelta(days=1)


def cal_booking(uid, start, end):
    return {
        "status": "success",
        "data": {"id": 91, "uid": uid, "start": start, "end": end, "status": "accepted"},
    }


@pytest.fixture
def cal(fake_cal):
    return fake_cal


def test_cal_com_slots_become_our_slots(agora, tenant, agenda_calcom, servico, cal):
    cal.expect_request("/v2/slots", method="GET").respond_with_json(
        {
            "status": "success",
            "data": {
                "2030-03-05": [
                    {"start": "2030-03-05T10:00:00.000-03:00"},
                    {"start": "2030-03-05T13:30:00.000Z"},
                ]
            },
        }
    )

    slots = free_slots(tenant=tenant, servico=servico, dia=TERCA)

    assert [(s.inicio, s.fim) for s in slots] == [
        (em(TERCA, "10:00"), em(TERCA, "10:30")),
        (em(TERCA, "10:30"), em(TERCA, "11:00")),
    ]
    pedido = cal.log[0][0]
    assert pedido.headers["cal-api-version"] == "2024-09-04"
    assert pedido.headers["Authorization"] == f"Bearer {CAL_KEY}"
    assert pedido.args["eventTypeId"] == str(CAL_EVENT_TYPE)
    assert pedido.args["timeZone"] == "America/Sao_Paulo"
    assert pedido.args["start"] == "2030-03-05T03:00:00.000Z"  # local midnight in UTC


def test_a_service_uses_its_own_event_type_and_one_call_lists_the_days(
    agora, tenant, agenda_calcom, cal
):
    servico = servico_create(tenant=tenant, nome="Corte", duracao_minutos=60, cal_event_type_id=7)
    cal.expect_request("/v2/slots").respond_with_json(
        {
            "status": "success",
            "data": {
                "2030-03-05": [{"start": "2030-03-05T10:00:00-03:00"}],
                "2030-03-07": [{"start": "2030-03-07T10:00:00-03:00"}],
            },
        }
    )

    dias = days_with_free_slots(tenant=tenant, servico=servico)

    assert dias == [TERCA, TERCA + timedelta(days=2)]
    assert len(cal.log) == 1
    assert cal.log[0][0].args["eventTypeId"] == "7"


def test_cal_com_errors_and_timeouts_say_the_agenda_is_unreachable(
    agora, tenant, agenda_calcom, servico, cliente, cal, settings
):
    cal.expect_request("/v2/slots").respond_with_data("boom", status=500)
    with pytest.raises(AgendaIndisponivel, match="Não consegui acessar a agenda agora"):
        free_slots(tenant=tenant, servico=servico, dia=TERCA)

    settings.HTTP_TIMEOUT_SECONDS = 0.3
    cal.clear()

    answer = threading.Event()  # Cal.com answers only after the client gave up

    def lento(request):
        answer.wait(timeout=5)
        return Response("{}", status=200, content_type="application/json")

    cal.expect_request("/v2/bookings", method="POST").respond_with_handler(lento)
    with pytest.raises(AgendaIndisponivel):
        agendamento_create(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=em(TERCA, "10:00"),
            origem="chat",
        )
    answer.set()
    assert Agendamento.objects.count() == 0  # nothing half-booked


def test_booking_creates_the_cal_com_booking_first(
    agora, tenant, agenda_calcom, servico, cliente, cal
):
    cal.expect_request("/v2/bookings", method="POST").respond_with_json(
        cal_booking("uid-novo", "2030-03-05T13:00:00.000Z", "2030-03-05T13:30:00.000Z"),
        status=201,
    )

    agendamento = agendamento_create(
        tenant=tenant, cliente=cliente, servico=servico, inicio=em(TERCA, "10:00"), origem="chat"
    )

    pedido = cal.log[0][0]
    assert pedido.headers["cal-api-version"] == "2024-08-13"
    assert pedido.headers["Authorization"] == f"Bearer {CAL_KEY}"
    corpo = json.loads(pedido.data)
    assert corpo["start"] == "2030-03-05T13:00:00.000Z"
    assert corpo["eventTypeId"] == CAL_EVENT_TYPE
    assert corpo["attendee"] == {
        "name": "Maria",
        "timeZone": "America/Sao_Paulo",
        "language": "pt-BR",
        "phoneNumber": "+5511987654321",
    }
    assert corpo["metadata"]["origem"] == "chat"
    agendamento.refresh_from_db()
    assert agendamento.cal_booking_uid == "uid-novo"
    assert (agendamento.inicio, agendamento.fim) == (em(TERCA, "10:00"), em(TERCA, "10:30"))


def test_a_time_cal_com_refuses_is_a_taken_slot(
    agora, tenant, agenda_calcom, servico, cliente, cal
):
    cal.expect_request("/v2/bookings", method="POST").respond_with_json(
        {
            "status": "error",
            "error": {
                "code": "BadRequestException",
                "message": "User either already has booking at this time or is not available",
            },
        },
        status=400,
    )

    with pytest.raises(SlotTaken):
        agendamento_create(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=em(TERCA, "10:00"),
            origem="chat",
        )
    assert Agendamento.objects.count() == 0


def test_cancel_and_reschedule_go_to_cal_com(agora, tenant, agenda_calcom, servico, cliente, cal):
    antigo = marcar(tenant, cliente, servico, em(TERCA, "10:00"), cal_booking_uid="uid-1")
    outro = marcar(tenant, cliente, servico, em(TERCA, "15:00"), cal_booking_uid="uid-2")
    cal.expect_request("/v2/bookings/uid-1/reschedule", method="POST").respond_with_json(
        cal_booking("uid-3", "2030-03-05T14:00:00.000Z", "2030-03-05T14:30:00.000Z"), status=201
    )
    cal.expect_request("/v2/bookings/uid-2/cancel", method="POST").respond_with_json(
        {"status": "success", "data": {}}
    )

    novo = agendamento_reschedule(agendamento=antigo, novo_inicio=em(TERCA, "11:00"))
    agendamento_cancel(agendamento=outro, motivo="Imprevisto")

    reagendar, cancelar = (pedido for pedido, _resposta in cal.log)
    assert reagendar.headers["cal-api-version"] == "2024-08-13"
    assert json.loads(reagendar.data) == {"start": "2030-03-05T14:00:00.000Z"}
    assert json.loads(cancelar.data) == {"cancellationReason": "Imprevisto"}
    antigo.refresh_from_db()
    assert antigo.status == Agendamento.Status.REAGENDADO and antigo.reagendado_para == novo
    assert novo.cal_booking_uid == "uid-3"
    assert outro.status == Agendamento.Status.CANCELADO


def test_a_failed_cal_com_cancel_changes_nothing(
    agora, tenant, agenda_calcom, servico, cliente, cal
):
    agendamento = marcar(tenant, cliente, servico, em(TERCA, "10:00"), cal_booking_uid="uid-1")
    cal.expect_request("/v2/bookings/uid-1/cancel").respond_with_data("", status=502)

    with pytest.raises(AgendaIndisponivel):
        agendamento_cancel(agendamento=agendamento)

    agendamento.refresh_from_db()
    assert agendamento.status == Agendamento.Status.CONFIRMADO


@pytest.mark.parametrize(
    ("header", "esperado"),
    [
        (lambda corpo: assinar(corpo), True),
        (lambda corpo: "sha256=" + assinar(corpo), True),
        (lambda corpo: assinar(corpo).upper(), True),
        (lambda corpo: assinar(corpo + b" "), False),
        (lambda corpo: assinar(corpo, "outro-segredo"), False),
        (lambda corpo: "no-secret-provided", False),
        (lambda corpo: None, False),
        (lambda corpo: "não-hex-ç", False),
    ],
)
def test_it_checks_the_webhook_signature(header, esperado):
    corpo = b'{"triggerEvent":"BOOKING_CREATED","payload":{}}'

    assert (
        verify_signature(raw_body=corpo, header=header(corpo), secret="segredo-do-webhook")
        is esperado
    )


def test_without_a_secret_no_signature_is_accepted():
    assert not verify_signature(raw_body=b"{}", header="no-secret-provided", secret="")
    assert not verify_signature(raw_body=b"{}", header=assinar(b"{}", ""), secret="")


@pytest.mark.django_db(transaction=True)
def test_a_booking_the_webhook_stored_first_is_adopted_not_cancelled(
    tenant, agenda_calcom, servico, cliente, cal
):
    """Cal.com may deliver BOOKING_CREATED before our own insert commits."""
    from django.db import connection

    from agenda.tests.conftest import AGORA

    def reserva_e_webhook(request):
        try:
            marcar(
                tenant,
                cliente,
                servico,
                em(TERCA, "10:00"),
                status=Agendamento.Status.PENDENTE,
                origem=Agendamento.Origem.CALCOM,
                cal_booking_uid="uid-corrida",
            )
        finally:
            connection.close()
        corpo = cal_booking("uid-corrida", "2030-03-05T13:00:00Z", "2030-03-05T13:30:00Z")
        return Response(json.dumps(corpo), status=201, content_type="application/json")

    cal.expect_request("/v2/bookings", method="POST").respond_with_handler(reserva_e_webhook)

    import time_machine

    with time_machine.travel(AGORA, tick=False):
        agendamento = agendamento_create(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=em(TERCA, "10:00"),
            origem="chat",
        )

    assert Agendamento.objects.get() == agendamento
    assert agendamento.origem == Agendamento.Origem.CHAT
    assert [p.path for p, _r in cal.log] == ["/v2/bookings"]  # no compensating cancel
