"""POST /api/agenda/webhook/cal/<tenant>/: Cal.com keeps our appointments in step."""

import pytest

from agenda.models import Agendamento, CalWebhookEvento, Servico
from agenda.tests.conftest import SEGUNDA, assinar, cal_webhook_body, em, marcar
from clientes.models import Cliente

TERCA = SEGUNDA.replace(day=5)
URL = "/api/agenda/webhook/cal/padaria/"


@pytest.fixture
def enviar(client):
    def _enviar(corpo: bytes, assinatura: str | None = "auto", url: str = URL, **headers):
        if assinatura == "auto":
            assinatura = assinar(corpo)
        if assinatura is not None:
            headers["HTTP_X_CAL_SIGNATURE_256"] = assinatura
        return client.post(url, data=corpo, content_type="application/json", **headers)

    return _enviar


def test_a_bad_signature_is_refused_and_stores_nothing(agora, agenda_calcom, enviar):
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    respostas = [
        enviar(corpo, assinatura=assinar(corpo, "segredo-errado")),
        enviar(corpo, assinatura="no-secret-provided"),
        enviar(corpo, assinatura=None),
    ]

    assert [r.status_code for r in respostas] == [401, 401, 401]
    assert respostas[0].json()["error"] == "unauthorized"
    assert not Agendamento.objects.exists()
    assert not CalWebhookEvento.objects.exists()
    assert not Cliente.objects.exists()


def test_a_good_booking_created_delivered_twice_makes_one_appointment(
    agora, tenant, agenda_calcom, servico, enviar
):
    servico.cal_event_type_id = 4242
    servico.save()
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    primeira, segunda = enviar(corpo), enviar(corpo)

    assert (primeira.status_code, primeira.json()) == (200, {"resultado": "criado"})
    assert (segunda.status_code, segunda.json()) == (200, {"resultado": "duplicado"})
    agendamento = Agendamento.objects.get()
    assert agendamento.cal_booking_uid == "uid-1"
    assert agendamento.origem == Agendamento.Origem.CALCOM
    assert agendamento.servico == servico
    assert (agendamento.inicio, agendamento.fim) == (em(TERCA, "10:00"), em(TERCA, "10:30"))
    assert agendamento.cliente.telefone == "5511912345678"
    assert agendamento.cliente.nome == "Ana Souza"


def test_the_customer_is_matched_by_phone_in_any_spelling(
    agora, tenant, agenda_calcom, cliente, enviar
):
    # cliente is 5511987654321; Cal.com sends it without the ninth digit, in the attendee.
    corpo = cal_webhook_body(
        "BOOKING_CREATED",
        "uid-1",
        attendees=[{"name": "Maria", "phoneNumber": "+55 11 8765-4321"}],
        responses={},
    )

    assert enviar(corpo).status_code == 200

    assert Agendamento.objects.get().cliente == cliente
    assert Cliente.objects.count() == 1


def test_an_unknown_event_type_is_kept_under_a_new_inactive_service(
    agora, tenant, agenda_calcom, enviar
):
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1", eventTypeId=999, type="retorno")

    enviar(corpo)

    servico = Agendamento.objects.get().servico
    assert (servico.nome, servico.cal_event_type_id, servico.ativo) == ("retorno", 999, False)
    assert servico.duracao_minutos == 30


def test_reschedule_cancel_and_meeting_ended_follow_cal_com(
    agora, tenant, agenda_calcom, servico, cliente, enviar
):
    antigo = marcar(tenant, cliente, servico, em(TERCA, "10:00"), cal_booking_uid="uid-velho")
    outro = marcar(tenant, cliente, servico, em(TERCA, "15:00"), cal_booking_uid="uid-outro")

    reagendado = cal_webhook_body(
        "BOOKING_RESCHEDULED",
        "uid-novo",
        rescheduleUid="uid-velho",
        startTime="2030-03-05T17:00:00Z",
        endTime="2030-03-05T17:30:00Z",
    )
    assert enviar(reagendado).json() == {"resultado": "reagendado"}
    assert enviar(reagendado).json() == {"resultado": "duplicado"}
    assert enviar(cal_webhook_body("BOOKING_CANCELLED", "uid-outro")).json() == {
        "resultado": "cancelado"
    }

    antigo.refresh_from_db()
    novo = antigo.reagendado_para
    assert antigo.status == Agendamento.Status.REAGENDADO
    assert (novo.cal_booking_uid, novo.inicio, novo.cliente) == (
        "uid-novo",
        em(TERCA, "14:00"),
        cliente,
    )
    outro.refresh_from_db()
    assert outro.status == Agendamento.Status.CANCELADO

    enviar(cal_webhook_body("MEETING_ENDED", "uid-novo"))
    novo.refresh_from_db()
    assert (novo.status, novo.compareceu) == (Agendamento.Status.CONCLUIDO, True)


def test_the_tenant_may_come_in_the_x_cal_company_header(agora, agenda_calcom, enviar):
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    resposta = enviar(corpo, url="/api/agenda/webhook/cal/", HTTP_X_CAL_COMPANY="padaria")
    sem_empresa = enviar(corpo, url="/api/agenda/webhook/cal/")
    desconhecida = enviar(corpo, url="/api/agenda/webhook/cal/nao-existe/")

    assert resposta.status_code == 200
    assert (sem_empresa.status_code, desconhecida.status_code) == (400, 401)
    assert Agendamento.objects.count() == 1


def test_unhandled_triggers_are_acknowledged_and_bad_bodies_refused(agora, agenda_calcom, enviar):
    ignorado = enviar(cal_webhook_body("RECORDING_READY", "uid-1"))
    nao_json = enviar(b"not json")
    sem_horario = enviar(cal_webhook_body("BOOKING_CREATED", "uid-2", startTime=None))

    assert (ignorado.status_code, ignorado.json()) == (200, {"resultado": "ignorado"})
    assert (nao_json.status_code, sem_horario.status_code) == (400, 400)
    assert not CalWebhookEvento.objects.exists()  # the failed one can be delivered again
    assert not Agendamento.objects.exists()


def test_a_tenant_without_a_webhook_secret_refuses_every_delivery(
    agora, tenant, agenda_calcom, enviar, caplog
):
    agenda_calcom.cal_webhook_secret = ""
    agenda_calcom.save()
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    with caplog.at_level("WARNING", logger="agenda.api.views"):
        resposta = enviar(corpo, assinatura="no-secret-provided")

    assert resposta.status_code == 401
    # What to fix is in the server's log; the caller gets the one 401 of every webhook.
    assert any("segredo" in getattr(r, "detail", "") for r in caplog.records)
    assert not Servico.objects.exists()


def test_changes_made_by_cal_com_are_audited_once_with_cal_com_as_the_actor(
    agora, tenant, agenda_calcom, servico, cliente, enviar
):
    from compliance.models import AuditLog

    marcar(tenant, cliente, servico, em(TERCA, "10:00"), cal_booking_uid="uid-velho")
    reagendado = cal_webhook_body(
        "BOOKING_RESCHEDULED",
        "uid-novo",
        rescheduleUid="uid-velho",
        startTime="2030-03-05T17:00:00Z",
        endTime="2030-03-05T17:30:00Z",
    )
    enviar(reagendado)
    enviar(reagendado)  # a duplicate delivery changes nothing and is not audited again

    (entry,) = AuditLog.objects.filter(tenant=tenant, action="calcom.booking_rescheduled")
    assert entry.actor_label == "system:calcom-webhook"
    assert entry.object_id == "uid-novo"


def test_an_unknown_tenant_gets_the_same_answer_as_a_bad_signature(agora, agenda_calcom, enviar):
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    desconhecida = enviar(corpo, url="/api/agenda/webhook/cal/nao-existe/")
    sem_secreto = enviar(corpo, url="/api/agenda/webhook/cal/nao-existe/", assinatura=None)
    forjada = enviar(corpo, assinatura=assinar(corpo, "segredo-errado"))

    assert {(r.status_code, r.content) for r in (desconhecida, sem_secreto, forjada)} == {
        (401, forjada.content)
    }


@pytest.mark.parametrize("tamanho", ["abc", "-1", " 12x"])
def test_a_bad_content_length_is_a_400_not_a_500(agora, agenda_calcom, enviar, tamanho):
    corpo = cal_webhook_body("BOOKING_CREATED", "uid-1")

    conhecida = enviar(corpo, CONTENT_LENGTH=tamanho)
    desconhecida = enviar(corpo, url="/api/agenda/webhook/cal/nao-existe/", CONTENT_LENGTH=tamanho)

    assert (conhecida.status_code, conhecida.json()["error"]) == (400, "bad_content_length")
    assert desconhecida.content == conhecida.content  # before the tenant is looked up
    assert not Agendamento.objects.exists()
