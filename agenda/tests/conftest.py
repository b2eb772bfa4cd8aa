"""Agenda fixtures: a frozen clock on a Monday morning, a tenant with business hours, a
service, and a fake Cal.com (pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pytest_httpserver import HTTPServer

from agenda.models import Agendamento, HorarioFuncionamento
from agenda.services import configuracao_set, servico_create

SP = ZoneInfo("America/Sao_Paulo")
SEGUNDA = date(2030, 3, 4)  # a Monday
AGORA = datetime(2030, 3, 4, 8, 0, tzinfo=SP)
CAL_KEY = "cal_live_chave_de_teste"
CAL_SECRET = "segredo-do-webhook"
CAL_EVENT_TYPE = 4242


def em(dia: date, hora: str) -> datetime:
    """An aware datetime in São Paulo: em(SEGUNDA, "09:30")."""
    return datetime.combine(dia, time.fromisoformat(hora), tzinfo=SP)


@pytest.fixture
def agora():
    with time_machine.travel(AGORA, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agenda_interna(tenant):
    """Mon-Fri 09:00-12:00 and 14:00-18:00; book up to 7 days ahead, 60 min notice."""
    config = configuracao_set(
        tenant=tenant, fonte="interna", dias_antecedencia=7, antecedencia_minima_minutos=60
    )
    HorarioFuncionamento.objects.bulk_create(
        HorarioFuncionamento(tenant=tenant, dia_semana=dia, abre=abre, fecha=fecha)
        for dia in range(5)
        for abre, fecha in ((time(9), time(12)), (time(14), time(18)))
    )
    return config


@pytest.fixture
def servico(tenant):
    return servico_create(tenant=tenant, nome="Consulta", duracao_minutos=30)


@pytest.fixture(scope="session")
def cal_server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def fake_cal(cal_server, settings):
    """Cal.com API v2 on loopback; CAL_API_BASE_URL points at it."""
    cal_server.clear()
    settings.CAL_API_BASE_URL = cal_server.url_for("").rstrip("/")
    yield cal_server
    cal_server.clear()


@pytest.fixture
def agenda_calcom(tenant, fake_cal):
    return configuracao_set(
        tenant=tenant,
        fonte="calcom",
        cal_api_key=CAL_KEY,
        cal_webhook_secret=CAL_SECRET,
        cal_event_type_id=CAL_EVENT_TYPE,
        dias_antecedencia=14,
        antecedencia_minima_minutos=0,
    )


def marcar(tenant, cliente, servico, inicio, status=Agendamento.Status.CONFIRMADO, **extra):
    """Store an appointment directly (test set-up, not the booking rules)."""
    return Agendamento.objects.create(
        tenant=tenant,
        cliente=cliente,
        servico=servico,
        inicio=inicio,
        fim=inicio + timedelta(minutes=servico.duracao_minutos),
        status=status,
        origem=extra.pop("origem", Agendamento.Origem.ADMIN),
        **extra,
    )


def assinar(corpo: bytes, segredo: str = CAL_SECRET) -> str:
    return hmac.new(segredo.encode(), corpo, hashlib.sha256).hexdigest()


def cal_webhook_body(trigger: str, uid: str, **payload) -> bytes:
    base = {
        "uid": uid,
        "bookingId": 1,
        "eventTypeId": CAL_EVENT_TYPE,
        "type": "consulta",
        "title": "Consulta entre Clínica e Ana",
        "startTime": "2030-03-05T13:00:00.000Z",
        "endTime": "2030-03-05T13:30:00.000Z",
        "status": "ACCEPTED",
        "attendees": [
            {"name": "Ana Souza", "email": "ana@example.com", "timeZone": "America/Sao_Paulo"}
        ],
        "responses": {
            "name": {"label": "Nome", "value": "Ana Souza"},
            "attendeePhoneNumber": {"label": "Telefone", "value": "+55 11 91234-5678"},
        },
    }
    base.update(payload)
    envelope = {"triggerEvent": trigger, "createdAt": "2030-03-04T11:00:00.000Z", "payload": base}
    return json.dumps(envelope).encode()
