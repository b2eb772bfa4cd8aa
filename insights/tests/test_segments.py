"""Segments and churn lateness on a generated history of known structure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.audience import audience_customers, audience_problems
from clientes.models import Cliente
from insights import segments, selectors
from insights.models import PerfilCliente, Risco, Segmento
from pedidos.models import Pedido
from pedidos.status import StatusPedido

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def history(tenant, *, name: str, every_days: int, times: int, stopped_days: int = 0, total="50"):
    """A customer who orders every `every_days` days, `times` times, the last one
    `stopped_days` days ago (0: on schedule, the last order today)."""
    cliente = Cliente.objects.create(tenant=tenant, nome=name)
    last = NOW - timedelta(days=stopped_days)
    orders = [
        Pedido(
            tenant=tenant,
            cliente=cliente,
            status=StatusPedido.ENTREGUE,
            total=Decimal(total),
            confirmado_em=last - timedelta(days=every_days * i),
        )
        for i in range(times)
    ]
    Pedido.objects.bulk_create(orders)
    return cliente


def test_the_customers_who_stopped_rank_at_the_top_of_churn_risk(tenant):
    regular = [history(tenant, name=f"regular{i}", every_days=7 + i, times=8) for i in range(6)]
    stopped = [
        history(tenant, name="parou-semanal", every_days=7, times=10, stopped_days=40),
        history(tenant, name="parou-mensal", every_days=30, times=6, stopped_days=120),
    ]
    history(tenant, name="um-pouco-atrasado", every_days=20, times=5, stopped_days=32)

    assert segments.segments_refresh(tenant_id=tenant.pk, now=NOW) == 9

    ranking = [p.cliente for p in selectors.churn_ranking(tenant_id=tenant.pk)]
    assert set(ranking[:2]) == set(stopped)
    assert ranking[2].nome == "um-pouco-atrasado"
    assert all(c in ranking[3:] for c in regular)
    mensal = PerfilCliente.objects.get(cliente=stopped[1])
    assert mensal.risco == Risco.ALTO and mensal.segmento == Segmento.PERDIDOS
    assert round(mensal.intervalo_dias) == 30
    assert selectors.churn_reason(mensal) == (
        "Costuma voltar a cada 30 dias; a última vez foi há 120 dias (4,0× o intervalo habitual)."
    )
    late = PerfilCliente.objects.get(cliente__nome="um-pouco-atrasado")
    assert late.risco == Risco.MEDIO and late.segmento == Segmento.EM_RISCO
    assert {p.risco for p in PerfilCliente.objects.filter(cliente__in=regular)} == {Risco.BAIXO}
    # The win-back list: the late ones who can still be messaged.
    assert {p.cliente.nome for p in selectors.winback_list(tenant_id=tenant.pk)} == {
        "parou-semanal",
        "parou-mensal",
        "um-pouco-atrasado",
    }


def test_new_champions_and_loyal_customers_get_their_segments(tenant, other_tenant):
    novo = history(tenant, name="novo", every_days=5, times=1, stopped_days=3)
    campeao = history(tenant, name="campeao", every_days=3, times=30, total="200")
    fiel = history(tenant, name="fiel", every_days=4, times=20, total="0.50")
    for i in range(5):
        history(tenant, name=f"ocasional{i}", every_days=60, times=2, stopped_days=i, total="10")
    history(other_tenant, name="de-outra-empresa", every_days=7, times=3)
    segments.segments_refresh(tenant_id=tenant.pk, now=NOW)

    got = dict(PerfilCliente.objects.values_list("cliente__nome", "segmento"))
    assert got["novo"] == Segmento.NOVOS
    assert got["campeao"] == Segmento.CAMPEOES
    assert got["fiel"] == Segmento.FIEIS
    assert "de-outra-empresa" not in got  # only the refreshed tenant's customers
    # The segment is a campaign audience.
    assert audience_problems({"segment": ["campeoes", "fieis"]}) == []
    assert audience_problems({"segment": "vips"})
    audience = audience_customers(tenant_id=tenant.pk, definition={"segment": ["campeoes"]})
    assert list(audience) == [campeao]
    assert fiel not in audience and novo not in audience


@pytest.mark.parametrize("size", [5, 60])
def test_the_refresh_runs_the_same_queries_for_any_number_of_customers(tenant, size):
    for i in range(size):
        history(tenant, name=f"c{i}", every_days=3 + i % 20, times=1 + i % 4, stopped_days=i)
    with CaptureQueriesContext(connection) as queries:
        assert segments.segments_refresh(tenant_id=tenant.pk, now=NOW) == size
    # The DELETE and the INSERT … SELECT (plus the transaction's savepoint in a test).
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2
    assert PerfilCliente.objects.filter(tenant=tenant).count() == size


def test_visits_count_with_orders_and_a_missed_cancelled_or_future_one_does_not(tenant):
    from agenda.models import Agendamento, Servico

    cliente = history(tenant, name="Ana", every_days=10, times=2, stopped_days=5, total="50")
    corte = Servico.objects.create(tenant=tenant, nome="Corte", preco=Decimal("30"))
    for days_ago, status in (
        (25, Agendamento.Status.CONCLUIDO),
        (35, Agendamento.Status.CONCLUIDO),
        (45, Agendamento.Status.CONFIRMADO),  # past and confirmed: she came
        (55, Agendamento.Status.NAO_COMPARECEU),
        (65, Agendamento.Status.CANCELADO),
        (-3, Agendamento.Status.CONFIRMADO),  # still ahead
    ):
        start = NOW - timedelta(days=days_ago)
        Agendamento.objects.create(
            tenant=tenant,
            cliente=cliente,
            servico=corte,
            inicio=start,
            fim=start + timedelta(minutes=30),
            status=status,
            origem=Agendamento.Origem.CHAT,
        )

    segments.segments_refresh(tenant_id=tenant.pk, now=NOW)

    perfil = PerfilCliente.objects.get(cliente=cliente)
    assert perfil.compras == 5  # two orders and three visits
    assert perfil.valor_total == Decimal("190.00")  # 2 × 50 + 3 × 30
    assert perfil.primeira_em == NOW - timedelta(days=45)
    assert round(perfil.dias_sem_comprar) == 5
    assert round(perfil.intervalo_dias) == 10


def test_the_daily_job_refreshes_every_active_tenant_and_skips_the_others(tenant, other_tenant):
    from config.schedule import SCHEDULE
    from insights.tasks import bulk_refresh_segments

    entry = SCHEDULE["insights.refresh_segments"]
    assert entry["task"] == bulk_refresh_segments.name
    assert entry["crontab"] == {"minute": "50", "hour": "3"}  # once a day
    history(tenant, name="ativa", every_days=7, times=3)
    history(other_tenant, name="desativada", every_days=7, times=3)
    other_tenant.active = False
    other_tenant.save(update_fields=["active"])

    assert bulk_refresh_segments.apply().get() == 1

    assert list(PerfilCliente.objects.values_list("cliente__nome", flat=True)) == ["ativa"]


def test_nps_by_month_counts_promoters_passives_and_detractors(tenant):
    from campaigns.models import Survey
    from inbox.models import Queue, Ticket
    from tests.factories import ConversationFactory

    queue = Queue.objects.create(tenant=tenant, name="Geral", slug="geral")
    scores = [5, 5, 5, 4, 3, 1]
    for score in scores:
        conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
        ticket = Ticket.objects.create(tenant=tenant, conversation=conversation, queue=queue)
        Survey.objects.create(
            tenant=tenant,
            ticket=ticket,
            conversation=conversation,
            status=Survey.Status.ANSWERED,
            score=score,
            sent_at=NOW,
            answered_at=NOW,
        )
    [month] = selectors.nps_by_month(tenant_id=tenant.pk)
    assert (month["promoters"], month["passives"], month["detractors"]) == (3, 1, 2)
    assert month["nps"] == 17  # (3 − 2) / 6
