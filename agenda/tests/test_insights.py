"""Agenda insights: occupation by weekday and hour, attendance by service, the busiest and
idlest hours and what to open or close, in SQL and through the API."""

from __future__ import annotations

from datetime import timedelta

from agenda import insights
from agenda.models import Servico
from agenda.services import servico_create
from agenda.tests.conftest import SEGUNDA, em, marcar
from billing.tests.api_roles_support import client_as
from tests.factories import ClienteFactory, MembershipFactory


def _four_weeks(tenant, servico, cliente):
    """Four past Mondays with 09:00-10:00 and 17:00-18:00 full, two of the 09:00 ones
    missed, and a cancelled Tuesday 10:00 (which occupies nothing)."""
    retorno = servico_create(tenant=tenant, nome="Retorno", duracao_minutos=30)
    for semana in range(1, 5):
        segunda = SEGUNDA - timedelta(weeks=semana)
        for hora in ("09:00", "09:30"):
            falta = semana <= 2 and hora == "09:00"
            marcar(
                tenant,
                cliente,
                servico,
                em(segunda, hora),
                status="nao_compareceu" if falta else "concluido",
            )
        for hora in ("17:00", "17:30"):
            marcar(tenant, cliente, retorno, em(segunda, hora), status="concluido")
        marcar(
            tenant, cliente, servico, em(segunda + timedelta(days=1), "10:00"), status="cancelado"
        )


def test_occupation_attendance_and_suggestions_follow_the_history(
    agora, tenant, agenda_interna, servico, cliente, django_assert_max_num_queries
):
    _four_weeks(tenant, servico, cliente)

    with django_assert_max_num_queries(4):
        dados = insights.agenda_insights(tenant=tenant, semanas=4)

    horas = {(h["dia_semana"], h["hora"]): h for h in dados["ocupacao"]}
    assert horas[(0, 9)]["ocupacao"] == 1.0 and horas[(0, 9)]["agendamentos"] == 8
    assert horas[(0, 9)]["minutos_abertos"] == 4 * 60
    assert horas[(1, 10)]["ocupacao"] == 0.0  # the cancelled one frees its time
    assert horas[(0, 10)]["ocupacao"] == 0.0
    assert {(h["dia_semana"], h["hora"]) for h in dados["mais_cheios"]} >= {(0, 9), (0, 17)}
    assert all(h["ocupacao"] > 0 for h in dados["mais_cheios"])  # never a 0 % "busiest"
    assert all(h["ocupacao"] == 0.0 for h in dados["mais_vazios"])
    cheios = {(h["dia_semana"], h["hora"]) for h in dados["mais_cheios"]}
    assert not cheios & {(h["dia_semana"], h["hora"]) for h in dados["mais_vazios"]}
    assert dados["comparecimento_por_servico"] == [
        {
            "servico": servico.pk,
            "nome": "Consulta",
            "atendidos": 6,
            "faltas": 2,
            "taxa_comparecimento": 0.75,
        },
        {
            "servico": Servico.objects.get(tenant=tenant, nome="Retorno").pk,
            "nome": "Retorno",
            "atendidos": 8,
            "faltas": 0,
            "taxa_comparecimento": 1.0,
        },
    ]
    sugestoes = {(s["acao"], s["dia_semana"], s["hora"]): s["motivo"] for s in dados["sugestoes"]}
    assert sugestoes[("abrir", 0, 18)] == (
        "segunda-feira, 17h, a hora vizinha, ficou 100% ocupado nas últimas 4 semanas."
    )
    assert ("abrir", 0, 8) in sugestoes
    assert (
        sugestoes[("fechar", 1, 10)] == "terça-feira, 10h ficou 0% ocupado nas últimas 4 semanas."
    )
    assert ("fechar", 0, 9) not in sugestoes and ("abrir", 1, 8) not in sugestoes


def test_the_api_shows_the_tenants_own_insights_to_owners_and_admins_only(
    agora, tenant, other_tenant, agenda_interna, servico, cliente
):
    _four_weeks(tenant, servico, cliente)
    outro = servico_create(tenant=other_tenant, nome="Outro", duracao_minutos=30)
    marcar(
        other_tenant,
        ClienteFactory(tenant=other_tenant),
        outro,
        em(SEGUNDA - timedelta(weeks=1), "11:00"),
        status="concluido",
    )

    resposta = client_as(tenant, "owner").get("/api/agenda/insights/", {"semanas": 4})
    assert resposta.status_code == 200
    corpo = resposta.json()
    assert corpo["semanas"] == 4 and corpo["desde"] == "2030-02-04" and corpo["ate"] == "2030-03-03"
    assert [s["nome"] for s in corpo["comparecimento_por_servico"]] == ["Consulta", "Retorno"]

    dos_outros = client_as(other_tenant, "admin").get("/api/agenda/insights/").json()
    assert [s["nome"] for s in dos_outros["comparecimento_por_servico"]] == ["Outro"]
    assert client_as(tenant, "agent").get("/api/agenda/insights/").status_code == 403
    ruim = client_as(tenant, "owner").get("/api/agenda/insights/", {"semanas": 0})
    assert ruim.status_code == 400


def test_the_owners_dashboard_shows_the_agenda_insights(
    agora, client, tenant, agenda_interna, servico, cliente
):
    _four_weeks(tenant, servico, cliente)
    client.force_login(MembershipFactory(tenant=tenant).user)

    html = client.get(f"/admin/billing/tenant/{tenant.pk}/dashboard/").content.decode()

    assert "Agenda: últimas 8 semanas" in html
    assert "<td>Consulta</td><td>6</td><td>2</td><td>75%</td>" in html
    assert "<th>09h</th><td>50%</td>" in html  # 4 of the 8 Mondays' 09:00 hours were booked
    assert "<strong>Abrir 18h</strong>" not in html  # half full over 8 weeks: no reason
    assert "<strong>Fechar 10h</strong> – terça-feira, 10h ficou 0% ocupado" in html
