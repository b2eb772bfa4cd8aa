"""Booking rules on the built-in calendar, and the database guard against double booking."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from agenda import services
from agenda.errors import SlotTaken
from agenda.models import Agendamento, FeedbackEvent, HorarioFuncionamento
from agenda.services import (
    agendamento_cancel,
    agendamento_confirm,
    agendamento_create,
    agendamento_mark_attendance,
    agendamento_reschedule,
    feedback_comment,
    feedback_record,
)
from agenda.tests.conftest import AGORA, SEGUNDA, em, marcar
from tests.factories import ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)


def criar(tenant, cliente, servico, inicio, origem="chat"):
    return agendamento_create(
        tenant=tenant, cliente=cliente, servico=servico, inicio=inicio, origem=origem
    )


def test_it_books_a_free_slot_with_the_end_from_the_duration(
    agora, tenant, agenda_interna, servico, cliente
):
    agendamento = criar(tenant, cliente, servico, em(TERCA, "10:00"))

    agendamento.refresh_from_db()
    assert agendamento.fim == em(TERCA, "10:30")
    assert agendamento.status == Agendamento.Status.PENDENTE
    assert agendamento.origem == Agendamento.Origem.CHAT
    assert agendamento.cal_booking_uid == ""


def test_it_refuses_a_taken_time_with_a_clear_message(
    agora, tenant, agenda_interna, servico, cliente
):
    criar(tenant, cliente, servico, em(TERCA, "10:00"))
    outro = ClienteFactory(tenant=tenant)

    with pytest.raises(SlotTaken, match="acabou de ser ocupado"):
        criar(tenant, outro, servico, em(TERCA, "10:15"), origem="admin")
    assert Agendamento.objects.count() == 1


def test_it_maps_the_database_constraint_to_slot_taken(
    agora, tenant, agenda_interna, servico, cliente, monkeypatch
):
    """When two requests pass the early check together, the constraint still says no."""
    criar(tenant, cliente, servico, em(TERCA, "10:00"))
    monkeypatch.setattr(services, "horario_is_taken", lambda **kwargs: False)

    with pytest.raises(SlotTaken):
        criar(tenant, ClienteFactory(tenant=tenant), servico, em(TERCA, "10:00"))
    assert Agendamento.objects.count() == 1


@pytest.mark.parametrize(
    ("quando", "mensagem"),
    [
        (em(SEGUNDA, "08:30"), "antecedência"),  # 30 min from now, 60 required in the chat
        (em(TERCA, "12:00"), "fora do horário"),  # lunch break
        (em(TERCA, "11:45"), "fora do horário"),  # would end at 12:15
        (em(SEGUNDA, "07:00"), "já passou"),
        (em(SEGUNDA + timedelta(days=8), "10:00"), "7 dias"),
    ],
)
def test_it_refuses_times_outside_the_bookable_window(
    agora, tenant, agenda_interna, servico, cliente, quando, mensagem
):
    with pytest.raises(ValidationError, match=mensagem):
        criar(tenant, cliente, servico, quando)


def test_staff_may_book_sooner_than_the_chat_notice(
    agora, tenant, agenda_interna, servico, cliente
):
    HorarioFuncionamento.objects.create(tenant=tenant, dia_semana=0, abre="08:00", fecha="09:00")

    agendamento = criar(tenant, cliente, servico, em(SEGUNDA, "08:30"), origem="admin")

    assert agendamento.pk


def test_it_refuses_another_tenants_customer(agora, tenant, other_tenant, agenda_interna, servico):
    estranho = ClienteFactory(tenant=other_tenant)

    with pytest.raises(ValidationError, match="outra empresa"):
        criar(tenant, estranho, servico, em(TERCA, "10:00"))


def test_the_exclusion_constraint_refuses_overlaps_even_without_the_service(
    agora, tenant, other_tenant, servico, cliente
):
    marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    marcar(tenant, cliente, servico, em(TERCA, "10:30"))  # touching is not overlapping
    marcar(tenant, cliente, servico, em(TERCA, "10:10"), status=Agendamento.Status.CANCELADO)
    outro_servico = services.servico_create(tenant=other_tenant, nome="X", duracao_minutos=30)
    marcar(other_tenant, ClienteFactory(tenant=other_tenant), outro_servico, em(TERCA, "10:00"))

    with pytest.raises(IntegrityError, match="agenda_sem_sobreposicao"), transaction.atomic():
        marcar(tenant, cliente, servico, em(TERCA, "10:15"))

    cancelado = Agendamento.objects.get(status=Agendamento.Status.CANCELADO)
    with pytest.raises(IntegrityError, match="agenda_sem_sobreposicao"), transaction.atomic():
        Agendamento.objects.filter(pk=cancelado.pk).update(status=Agendamento.Status.PENDENTE)


@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_the_last_slot_get_one_booking(tenant, servico):
    from agenda.services import configuracao_set

    configuracao_set(tenant=tenant, fonte="interna", antecedencia_minima_minutos=0)
    HorarioFuncionamento.objects.create(tenant=tenant, dia_semana=1, abre="09:00", fecha="09:30")
    clientes = [ClienteFactory(tenant=tenant), ClienteFactory(tenant=tenant)]
    largada = threading.Barrier(2)
    resultados: list[str] = []

    def reservar(cliente):
        try:
            largada.wait(timeout=5)
            criar(tenant, cliente, servico, em(TERCA, "09:00"))
            resultados.append("ok")
        except SlotTaken as exc:
            resultados.append(str(exc))
        except Exception as exc:  # anything else fails the test below, visibly
            resultados.append(repr(exc))
        finally:
            connection.close()

    with time_machine.travel(AGORA, tick=False):
        threads = [threading.Thread(target=reservar, args=(c,)) for c in clientes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)

    assert sorted(resultados) == sorted(["ok", str(SlotTaken())])
    assert Agendamento.objects.filter(tenant=tenant).count() == 1


def test_it_confirms_and_cancels(agora, tenant, agenda_interna, servico, cliente):
    agendamento = criar(tenant, cliente, servico, em(TERCA, "10:00"))

    agendamento_confirm(agendamento=agendamento)
    agendamento_confirm(agendamento=agendamento)  # a second tap changes nothing
    assert agendamento.status == Agendamento.Status.CONFIRMADO

    agendamento_cancel(agendamento=agendamento)
    assert agendamento.status == Agendamento.Status.CANCELADO
    with pytest.raises(ValidationError, match="cancelado"):
        agendamento_confirm(agendamento=agendamento)
    # The freed time can be booked again.
    assert criar(tenant, ClienteFactory(tenant=tenant), servico, em(TERCA, "10:00")).pk


def test_rescheduling_links_the_old_appointment_to_the_new(
    agora, tenant, agenda_interna, servico, cliente
):
    antigo = criar(tenant, cliente, servico, em(TERCA, "10:00"))
    agendamento_confirm(agendamento=antigo)

    novo = agendamento_reschedule(agendamento=antigo, novo_inicio=em(TERCA, "10:15"))

    antigo.refresh_from_db()
    assert antigo.status == Agendamento.Status.REAGENDADO
    assert antigo.reagendado_para == novo
    assert (novo.inicio, novo.fim) == (em(TERCA, "10:15"), em(TERCA, "10:45"))
    assert novo.status == Agendamento.Status.CONFIRMADO
    assert novo.cliente == cliente and novo.lembrete_24h_enviado_em is None


def test_rescheduling_onto_a_taken_time_keeps_the_old_appointment(
    agora, tenant, agenda_interna, servico, cliente
):
    antigo = criar(tenant, cliente, servico, em(TERCA, "10:00"))
    criar(tenant, ClienteFactory(tenant=tenant), servico, em(TERCA, "11:00"))

    with pytest.raises(SlotTaken):
        agendamento_reschedule(agendamento=antigo, novo_inicio=em(TERCA, "11:00"))

    antigo.refresh_from_db()
    assert antigo.status == Agendamento.Status.PENDENTE and antigo.reagendado_para is None
    assert Agendamento.objects.count() == 2


def test_attendance_is_marked_only_once_the_appointment_started(
    agora, tenant, agenda_interna, servico, cliente
):
    agendamento = criar(tenant, cliente, servico, em(TERCA, "10:00"))
    with pytest.raises(ValidationError, match="ainda não começou"):
        agendamento_mark_attendance(agendamento=agendamento, compareceu=True)

    agora.move_to(em(TERCA, "10:40"))
    agendamento_mark_attendance(agendamento=agendamento, compareceu=False)
    assert agendamento.status == Agendamento.Status.NAO_COMPARECEU
    agendamento_mark_attendance(agendamento=agendamento, compareceu=True)  # staff correct it
    agendamento.refresh_from_db()
    assert (agendamento.status, agendamento.compareceu) == (Agendamento.Status.CONCLUIDO, True)


def test_feedback_keeps_one_score_per_appointment_and_the_comment_after_it(
    agora, tenant, servico, cliente
):
    agendamento = marcar(tenant, cliente, servico, em(SEGUNDA, "07:00"))
    with pytest.raises(ValidationError, match="1 a 5"):
        feedback_record(agendamento=agendamento, nota=6)

    feedback_record(agendamento=agendamento, nota=4)
    feedback_record(agendamento=agendamento, nota=5)
    feedback_comment(agendamento=agendamento, comentario="Atendimento ótimo!")

    feedback = FeedbackEvent.objects.get()
    assert (feedback.nota, feedback.comentario, feedback.tenant) == (
        5,
        "Atendimento ótimo!",
        tenant,
    )


def test_job_claims_succeed_once(agora, tenant, servico, cliente):
    agendamento = marcar(tenant, cliente, servico, em(TERCA, "10:00"))

    primeiros = [
        services.lembrete_claim(agendamento_id=agendamento.pk, tipo="24h", agora=AGORA),
        services.lembrete_claim(agendamento_id=agendamento.pk, tipo="24h", agora=AGORA),
        services.lembrete_claim(agendamento_id=agendamento.pk, tipo="1h", agora=AGORA),
    ]
    no_show = [
        services.agendamento_mark_no_show(agendamento_id=agendamento.pk),
        services.agendamento_mark_no_show(agendamento_id=agendamento.pk),
    ]

    assert primeiros == [True, False, True]
    assert no_show == [True, False]
    agendamento.refresh_from_db()
    assert agendamento.status == Agendamento.Status.NAO_COMPARECEU
    assert agendamento.lembrete_24h_enviado_em == AGORA
