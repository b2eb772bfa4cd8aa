"""/api/agenda/: services, appointments with their actions, availability; tenant-isolated."""

from datetime import timedelta

import pytest
import yaml
from rest_framework.test import APIClient

from agenda.models import Agendamento, Servico
from agenda.services import servico_create
from agenda.tests.conftest import SEGUNDA, em, marcar
from billing.services import api_key_create
from tests.factories import ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)


@pytest.fixture
def other_client(other_tenant):
    _, key = api_key_create(tenant=other_tenant, name="outra")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_services_crud_belongs_to_the_tenant(key_client, other_client, tenant):
    criado = key_client.post(
        "/api/agenda/servicos/", {"nome": "Limpeza", "duracao_minutos": 40, "preco": "120.00"}
    )
    pk = criado.json()["id"]
    alterado = key_client.patch(f"/api/agenda/servicos/{pk}/", {"ativo": False})

    assert criado.status_code == 201
    assert alterado.json()["ativo"] is False
    assert Servico.objects.get(pk=pk).tenant == tenant
    assert other_client.get(f"/api/agenda/servicos/{pk}/").status_code == 404
    assert other_client.get("/api/agenda/servicos/").json()["count"] == 0
    assert key_client.delete(f"/api/agenda/servicos/{pk}/").status_code == 204


def test_a_service_with_appointments_is_not_deleted(key_client, tenant, servico, cliente):
    marcar(tenant, cliente, servico, em(TERCA, "10:00"))

    resposta = key_client.delete(f"/api/agenda/servicos/{servico.pk}/")

    assert resposta.status_code == 400
    assert "desative" in str(resposta.json())


def test_it_books_through_the_api_and_answers_409_for_a_taken_time(
    agora, key_client, tenant, agenda_interna, servico, cliente
):
    corpo = {"cliente": cliente.pk, "servico": servico.pk, "inicio": "2030-03-05T10:00:00-03:00"}

    criado = key_client.post("/api/agenda/agendamentos/", corpo, format="json")
    outro = ClienteFactory(tenant=tenant)
    ocupado = key_client.post(
        "/api/agenda/agendamentos/", {**corpo, "cliente": outro.pk}, format="json"
    )
    fora = key_client.post(
        "/api/agenda/agendamentos/",
        {**corpo, "inicio": "2030-03-05T12:30:00-03:00"},
        format="json",
    )

    assert criado.status_code == 201, criado.json()
    assert criado.json()["origem"] == "api"
    assert criado.json()["fim"] == "2030-03-05T10:30:00-03:00"
    assert ocupado.status_code == 409
    assert "ocupado" in ocupado.json()["detail"]
    assert fora.status_code == 400
    assert "fora do horário" in str(fora.json())


def test_it_refuses_another_tenants_customer_or_service(
    agora, key_client, other_tenant, agenda_interna, servico
):
    estranho = ClienteFactory(tenant=other_tenant)
    servico_alheio = servico_create(tenant=other_tenant, nome="X", duracao_minutos=30)

    resposta = key_client.post(
        "/api/agenda/agendamentos/",
        {"cliente": estranho.pk, "servico": servico_alheio.pk, "inicio": "2030-03-05T10:00:00Z"},
        format="json",
    )

    assert resposta.status_code == 400
    assert set(resposta.json()) == {"cliente", "servico"}


def test_appointments_filter_by_day_customer_and_status(
    agora, key_client, tenant, servico, cliente
):
    a = marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    b = marcar(tenant, cliente, servico, em(TERCA, "23:30"), status=Agendamento.Status.PENDENTE)
    c = marcar(
        tenant, ClienteFactory(tenant=tenant), servico, em(TERCA + timedelta(days=1), "09:00")
    )

    def ids(**params):
        resposta = key_client.get("/api/agenda/agendamentos/", params)
        return sorted(r["id"] for r in resposta.json()["results"])

    assert ids(desde="2030-03-05", ate="2030-03-05") == sorted([a.pk, b.pk])
    assert ids(desde="2030-03-06") == [c.pk]
    assert ids(cliente=cliente.pk) == sorted([a.pk, b.pk])
    assert ids(status="pendente") == [b.pk]
    assert ids(status=["pendente", "confirmado"]) == sorted([a.pk, b.pk, c.pk])


def test_actions_confirm_reschedule_cancel_and_attendance(
    agora, key_client, tenant, agenda_interna, servico, cliente
):
    agendamento = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")
    url = f"/api/agenda/agendamentos/{agendamento.pk}"

    confirmado = key_client.post(f"{url}/confirmar/")
    novo = key_client.post(f"{url}/reagendar/", {"inicio": "2030-03-05T11:00:00-03:00"})
    novo_url = f"/api/agenda/agendamentos/{novo.json()['id']}"
    cedo = key_client.post(f"{novo_url}/presenca/", {"compareceu": True})
    cancelado = key_client.post(f"{novo_url}/cancelar/", {"motivo": "imprevisto"})
    de_novo = key_client.post(f"{url}/reagendar/", {"inicio": "2030-03-05T15:00:00-03:00"})

    assert confirmado.json()["status"] == "confirmado"
    assert novo.status_code == 201 and novo.json()["inicio"] == "2030-03-05T11:00:00-03:00"
    assert key_client.get(f"{url}/").json()["reagendado_para"] == novo.json()["id"]
    assert cedo.status_code == 400 and "ainda não começou" in str(cedo.json())
    assert cancelado.json()["status"] == "cancelado"
    assert de_novo.status_code == 400  # the old one is `reagendado` now
    assert key_client.put(f"{url}/", {}).status_code == 405


def test_another_tenants_appointment_is_not_found(agora, other_client, tenant, servico, cliente):
    agendamento = marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    url = f"/api/agenda/agendamentos/{agendamento.pk}/"

    assert other_client.get(url).status_code == 404
    assert other_client.post(f"{url}cancelar/").status_code == 404
    assert other_client.get("/api/agenda/agendamentos/").json()["count"] == 0
    agendamento.refresh_from_db()
    assert agendamento.status == Agendamento.Status.CONFIRMADO


def test_availability_endpoint(agora, key_client, other_client, tenant, agenda_interna, servico):
    resposta = key_client.get(
        "/api/agenda/disponibilidade/", {"servico": servico.pk, "data": "2030-03-05"}
    )
    alheio = other_client.get(
        "/api/agenda/disponibilidade/", {"servico": servico.pk, "data": "2030-03-05"}
    )
    sem_data = key_client.get("/api/agenda/disponibilidade/", {"servico": servico.pk})

    assert resposta.status_code == 200
    horarios = resposta.json()["horarios"]
    assert horarios[0] == {
        "inicio": "2030-03-05T09:00:00-03:00",
        "fim": "2030-03-05T09:30:00-03:00",
    }
    assert len(horarios) == 14
    assert alheio.status_code == 404
    assert sem_data.status_code == 400


def test_availability_without_a_source_says_so(agora, key_client, servico):
    resposta = key_client.get(
        "/api/agenda/disponibilidade/", {"servico": servico.pk, "data": "2030-03-05"}
    )

    assert resposta.status_code == 400
    assert "não está configurada" in resposta.json()["detail"]


def test_a_service_without_a_duration_gets_the_documented_default(key_client, client, db):
    criado = key_client.post("/api/agenda/servicos/", {"nome": "Avaliação"}, format="json")
    schema = yaml.safe_load(client.get("/api/schema/").content)
    campo = schema["components"]["schemas"]["ServicoRequest"]["properties"]["duracao_minutos"]

    assert criado.status_code == 201, criado.content
    assert criado.json()["duracao_minutos"] == 30
    assert campo["default"] == 30


def test_a_time_zone_offset_postgresql_does_not_take_is_read_as_its_instant(
    key_client, tenant, servico, cliente
):
    marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    # -20:00 is valid RFC 3339 (offsets up to 23:59); PostgreSQL stops at 15:59.
    depois = key_client.get(
        "/api/agenda/agendamentos/", {"inicio_apos": "2000-01-01T00:00:00-20:00"}
    )
    antes = key_client.get(
        "/api/agenda/agendamentos/", {"inicio_antes": "2000-01-01T00:00:00+23:59"}
    )

    assert depois.status_code == 200, depois.content
    assert depois.json()["count"] == 1
    assert antes.json()["count"] == 0


def test_a_time_with_no_utc_instant_is_a_json_400_naming_the_filter(key_client, db):
    resposta = key_client.get(
        "/api/agenda/agendamentos/", {"inicio_apos": "9999-12-31T23:59:59-20:00"}
    )

    assert resposta.status_code == 400
    assert "inicio_apos" in resposta.json()
