from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from agenda.availability import days_with_free_slots, free_slots
from agenda.errors import AgendaNaoConfigurada
from agenda.models import Agendamento, DataFechada, HorarioFuncionamento
from agenda.services import configuracao_set, servico_create
from agenda.tests.conftest import SEGUNDA, em, marcar

TERCA = SEGUNDA + timedelta(days=1)


def horas(slots):
    return [s.inicio.strftime("%H:%M") for s in slots]


def test_it_offers_business_hours_in_steps_of_the_service_duration(
    agora, tenant, agenda_interna, servico
):
    longo = servico_create(tenant=tenant, nome="Avaliação", duracao_minutos=45)

    meia_hora = free_slots(tenant=tenant, servico=servico, dia=TERCA)
    tres_quartos = free_slots(tenant=tenant, servico=longo, dia=TERCA)

    assert horas(meia_hora) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00", "17:30",
    ]  # fmt: skip
    assert horas(tres_quartos) == [
        "09:00", "09:45", "10:30", "11:15", "14:00", "14:45", "15:30", "16:15", "17:00",
    ]  # fmt: skip
    assert all(s.fim - s.inicio == timedelta(minutes=45) for s in tres_quartos)
    assert meia_hora[0].inicio == em(TERCA, "09:00")
    assert str(meia_hora[0].inicio.tzinfo) == "America/Sao_Paulo"


def test_it_leaves_out_times_taken_by_active_appointments(
    agora, tenant, agenda_interna, servico, cliente
):
    marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    marcar(tenant, cliente, servico, em(TERCA, "11:00"), status=Agendamento.Status.CANCELADO)
    longo = servico_create(tenant=tenant, nome="Avaliação", duracao_minutos=45)
    marcar(tenant, cliente, longo, em(TERCA, "14:10"), status=Agendamento.Status.PENDENTE)

    livres = horas(free_slots(tenant=tenant, servico=servico, dia=TERCA))

    assert "10:00" not in livres
    assert "11:00" in livres  # a cancelled appointment frees its time
    assert "14:00" not in livres and "14:30" not in livres  # 14:10-14:55 overlaps both
    assert "15:00" in livres


def test_it_never_offers_the_past_or_less_than_the_minimum_notice(tenant, agenda_interna, servico):
    with time_machine.travel(em(SEGUNDA, "10:10"), tick=False):
        hoje = horas(free_slots(tenant=tenant, servico=servico, dia=SEGUNDA))
        ontem = free_slots(tenant=tenant, servico=servico, dia=SEGUNDA - timedelta(days=7))

    assert hoje[0] == "11:30"  # 10:10 + 60 minutes of notice
    assert "11:00" not in hoje
    assert ontem == []


def test_it_offers_nothing_on_closed_dates_or_days_without_hours(
    agora, tenant, agenda_interna, servico
):
    DataFechada.objects.create(tenant=tenant, data=TERCA, motivo="Carnaval")
    sabado = SEGUNDA + timedelta(days=5)

    assert free_slots(tenant=tenant, servico=servico, dia=TERCA) == []
    assert free_slots(tenant=tenant, servico=servico, dia=sabado) == []


def test_it_offers_nothing_beyond_the_days_ahead(agora, tenant, agenda_interna, servico):
    ultimo = SEGUNDA + timedelta(days=7)

    assert free_slots(tenant=tenant, servico=servico, dia=ultimo) != []
    assert free_slots(tenant=tenant, servico=servico, dia=ultimo + timedelta(days=1)) == []


def test_it_lists_the_next_days_with_free_slots(agora, tenant, agenda_interna, servico):
    DataFechada.objects.create(tenant=tenant, data=TERCA)

    dias = days_with_free_slots(tenant=tenant, servico=servico)
    tres = days_with_free_slots(tenant=tenant, servico=servico, limite=3)

    offsets = [(d - SEGUNDA).days for d in dias]
    assert offsets == [0, 2, 3, 4, 7]  # no Tuesday (closed), no weekend, nothing after 7 days
    assert tres == dias[:3]


def test_it_uses_the_tenant_time_zone(agora, tenant, servico):
    tenant.time_zone = "America/Manaus"  # UTC-4, an hour behind São Paulo
    tenant.save()
    configuracao_set(tenant=tenant, fonte="interna", antecedencia_minima_minutos=0)
    HorarioFuncionamento.objects.create(tenant=tenant, dia_semana=1, abre="09:00", fecha="10:00")

    slots = free_slots(tenant=tenant, servico=servico, dia=TERCA)

    assert [s.inicio.astimezone(UTC) for s in slots] == [
        datetime(2030, 3, 5, 13, 0, tzinfo=UTC),
        datetime(2030, 3, 5, 13, 30, tzinfo=UTC),
    ]
    assert slots[0].inicio.tzinfo == ZoneInfo("America/Manaus")


def test_it_says_the_agenda_is_not_configured(agora, tenant, servico):
    with pytest.raises(AgendaNaoConfigurada, match="não está configurada"):
        free_slots(tenant=tenant, servico=servico, dia=TERCA)

    configuracao_set(tenant=tenant, fonte="interna")
    with pytest.raises(AgendaNaoConfigurada, match="horários de funcionamento"):
        free_slots(tenant=tenant, servico=servico, dia=TERCA)
