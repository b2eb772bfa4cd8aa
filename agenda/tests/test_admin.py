"""The agenda admin as a tenant's owner sees it."""

from datetime import timedelta

import pytest

from agenda.models import Agendamento, ConfiguracaoAgenda, FeedbackEvent
from agenda.services import servico_create
from agenda.tests.conftest import AGORA, CAL_KEY, SEGUNDA, em, marcar
from tests.factories import ClienteFactory

TERCA = SEGUNDA + timedelta(days=1)
LISTA = "/admin/agenda/agendamento/"


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


def test_the_list_shows_only_the_tenants_appointments_and_its_figures(
    agora, staff, tenant, other_tenant, servico, cliente
):
    passado = marcar(tenant, cliente, servico, AGORA - timedelta(days=1), status="concluido")
    FeedbackEvent.objects.create(tenant=tenant, agendamento=passado, nota=4, recebido_em=AGORA)
    marcar(tenant, cliente, servico, AGORA - timedelta(days=2), status="nao_compareceu")
    alheio = servico_create(tenant=other_tenant, nome="Clareamento", duracao_minutos=30)
    marcar(other_tenant, ClienteFactory(tenant=other_tenant), alheio, em(TERCA, "10:00"))

    resposta = staff.get(LISTA)
    filtrada = staff.get(LISTA, {"cliente": cliente.pk, "status__exact": "concluido"})

    assert resposta.status_code == 200
    html = resposta.content.decode()
    assert "Clareamento" not in html
    assert "50%" in html and "4.0/5" in html  # attendance and satisfaction, last 30 days
    assert list(filtrada.context["cl"].result_list) == [passado]


def test_actions_go_through_the_services(agora, staff, tenant, servico, cliente):
    pendente = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")
    futuro = marcar(tenant, cliente, servico, em(TERCA, "11:00"), status="pendente")

    staff.post(LISTA, {"action": "acao_confirmar", "_selected_action": [pendente.pk]})
    resposta = staff.post(
        LISTA, {"action": "acao_compareceu", "_selected_action": [futuro.pk]}, follow=True
    )

    pendente.refresh_from_db()
    futuro.refresh_from_db()
    assert pendente.status == Agendamento.Status.CONFIRMADO
    assert futuro.status == Agendamento.Status.PENDENTE  # it has not started yet
    assert "ainda não começou" in resposta.content.decode()


def test_adding_an_appointment_books_it_with_the_rules(
    agora, staff, tenant, agenda_interna, servico, cliente
):
    dados = {
        "tenant": tenant.pk,
        "cliente": cliente.pk,
        "servico": servico.pk,
        "inicio_0": "05/03/2030",
        "inicio_1": "10:00",
        "observacoes": "primeira vez",
    }

    criado = staff.post(f"{LISTA}add/", dados)
    ocupado = staff.post(f"{LISTA}add/", {**dados, "cliente": ClienteFactory(tenant=tenant).pk})

    assert criado.status_code == 302
    agendamento = Agendamento.objects.get()
    assert (agendamento.origem, agendamento.fim) == ("admin", em(TERCA, "10:30"))
    assert ocupado.status_code == 200
    assert "acabou de ser ocupado" in ocupado.content.decode()


def test_cal_com_secrets_are_write_only(staff, tenant, agenda_calcom):
    url = f"/admin/agenda/configuracaoagenda/{agenda_calcom.pk}/change/"

    pagina = staff.get(url).content.decode()
    dados = {
        "tenant": tenant.pk,
        "fonte": "calcom",
        "dias_antecedencia": 14,
        "antecedencia_minima_minutos": 0,
        "tolerancia_no_show_minutos": 15,
        "cal_username": "",
        "cal_event_type_id": "4242",
        "cal_api_key": "",
        "cal_webhook_secret": "novo-segredo",
    }
    resposta = staff.post(url, dados)

    assert CAL_KEY not in pagina and "segredo-do-webhook" not in pagina
    assert resposta.status_code == 302
    config = ConfiguracaoAgenda.objects.get()
    assert config.cal_api_key == CAL_KEY  # left blank: kept
    assert config.cal_webhook_secret == "novo-segredo"
