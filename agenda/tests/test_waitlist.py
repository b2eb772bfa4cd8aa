"""The waiting list's rules: who is offered a freed time, and when nobody is."""

from __future__ import annotations

from datetime import timedelta

from agenda import services, waitlist
from agenda.models import ListaEspera, OfertaVaga
from agenda.tests.conftest import AGORA, SEGUNDA, em, marcar
from tests.factories import ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)


def test_a_moved_appointment_offers_its_old_time_to_others_waiting_for_that_day(
    agora,
    tenant,
    agenda_interna,
    servico,
    cliente,
    django_capture_on_commit_callbacks,
    celery_eager,
):
    no_dia, outro_dia = ClienteFactory(tenant=tenant), ClienteFactory(tenant=tenant)
    waitlist.lista_espera_join(tenant=tenant, cliente=cliente, servico=servico)  # the mover
    waitlist.lista_espera_join(tenant=tenant, cliente=no_dia, servico=servico, data=TERCA)
    waitlist.lista_espera_join(
        tenant=tenant, cliente=outro_dia, servico=servico, data=TERCA + timedelta(days=1)
    )
    marcado = marcar(tenant, cliente, servico, em(TERCA, "10:00"))

    with django_capture_on_commit_callbacks(execute=True):
        services.agendamento_reschedule(agendamento=marcado, novo_inicio=em(TERCA, "15:00"))

    assert list(OfertaVaga.objects.values_list("entrada__cliente", "inicio")) == [
        (no_dia.pk, em(TERCA, "10:00"))
    ]


def test_a_past_or_retaken_time_is_offered_to_nobody(agora, tenant, servico, cliente):
    waitlist.lista_espera_join(
        tenant=tenant, cliente=ClienteFactory(tenant=tenant), servico=servico
    )
    passado = marcar(tenant, cliente, servico, AGORA - timedelta(hours=1), status="cancelado")
    futuro = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="cancelado")
    marcar(tenant, ClienteFactory(tenant=tenant), servico, em(TERCA, "10:00"))  # booked again

    assert waitlist.vaga_offer(agendamento_id=passado.pk) == 0
    assert waitlist.vaga_offer(agendamento_id=futuro.pk) == 0
    assert not OfertaVaga.objects.exists()


def test_joining_twice_keeps_one_place_and_leaving_frees_it(tenant, servico, cliente):
    primeira = waitlist.lista_espera_join(tenant=tenant, cliente=cliente, servico=servico)
    assert waitlist.lista_espera_join(tenant=tenant, cliente=cliente, servico=servico) == primeira
    waitlist.lista_espera_leave(entrada=primeira)
    de_novo = waitlist.lista_espera_join(tenant=tenant, cliente=cliente, servico=servico)
    assert de_novo != primeira
    assert ListaEspera.objects.filter(status="aguardando").count() == 1
