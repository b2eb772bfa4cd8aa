"""What the periodic jobs and the admin figures read."""

from datetime import timedelta

from django.db import connection

from agenda.models import Agendamento, FeedbackEvent
from agenda.selectors import (
    agendamento_attendance_rate,
    agendamento_list_followup_due,
    agendamento_list_no_show_due,
    agendamento_list_reminder_due,
    feedback_average_score,
)
from agenda.services import configuracao_set, servico_create
from agenda.tests.conftest import AGORA, marcar
from tests.factories import ClienteFactory

HORA = timedelta(hours=1)
ATIVO = Agendamento.Status.CONFIRMADO


def test_reminders_are_due_24h_and_1h_before_the_start(agora, tenant, servico, cliente):
    em_30min = marcar(tenant, cliente, servico, AGORA + timedelta(minutes=30))
    em_5h = marcar(tenant, cliente, servico, AGORA + 5 * HORA)
    em_23h = marcar(tenant, cliente, servico, AGORA + 23 * HORA)
    marcar(tenant, cliente, servico, AGORA + 25 * HORA)  # not yet
    marcar(tenant, cliente, servico, AGORA + 3 * HORA, lembrete_24h_enviado_em=AGORA)
    marcar(tenant, cliente, servico, AGORA + 4 * HORA, status=Agendamento.Status.CANCELADO)

    vinte_quatro = list(agendamento_list_reminder_due(tipo="24h", agora=AGORA))
    uma = list(agendamento_list_reminder_due(tipo="1h", agora=AGORA))

    assert vinte_quatro == [em_5h, em_23h]
    assert uma == [em_30min]


def test_the_reminder_query_reads_only_due_rows_of_100_000(
    agora, tenant, servico, cliente, django_assert_num_queries
):
    marcar_em_massa(tenant, cliente, servico)
    due = [marcar(tenant, cliente, servico, AGORA + (2 + i) * HORA) for i in range(5)]

    with django_assert_num_queries(1):
        encontrados = list(agendamento_list_reminder_due(tipo="24h", agora=AGORA))
    plano = agendamento_list_reminder_due(tipo="24h", agora=AGORA).explain()

    assert encontrados == due
    assert Agendamento.objects.count() == 100_005
    assert "agenda_lembrete_24h_idx" in plano


def marcar_em_massa(tenant, cliente, servico):
    """100,000 rows in one INSERT: 98,000 of the past, 2,000 future ones already reminded
    or not due yet. Then ANALYZE, as autovacuum would after such a load."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO agenda_agendamento (tenant_id, cliente_id, servico_id, inicio, fim,
                status, origem, cal_booking_uid, observacoes, criado_em, atualizado_em,
                lembrete_24h_enviado_em)
            SELECT %(t)s, %(c)s, %(s)s, i.inicio, i.inicio + interval '30 minutes',
                CASE WHEN g <= 98000 THEN 'concluido' ELSE 'confirmado' END,
                'chat', '', '', now(), now(),
                CASE WHEN g > 99000 THEN %(agora)s::timestamptz END
            FROM generate_series(1, 100000) AS g,
            LATERAL (SELECT CASE
                WHEN g <= 98000 THEN %(agora)s::timestamptz - g * interval '1 hour'
                WHEN g <= 99000 THEN %(agora)s::timestamptz + (g - 97000) * interval '1 hour'
                ELSE %(agora)s::timestamptz + (g - 96000) * interval '1 hour'
            END AS inicio) AS i
            """,
            {"t": tenant.pk, "c": cliente.pk, "s": servico.pk, "agora": AGORA},
        )
        cursor.execute("ANALYZE agenda_agendamento")


def test_no_shows_wait_for_each_tenants_tolerance(agora, tenant, other_tenant, servico, cliente):
    configuracao_set(tenant=other_tenant, tolerancia_no_show_minutos=60)
    servico_b = servico_create(tenant=other_tenant, nome="B", duracao_minutos=30)
    cliente_b = ClienteFactory(tenant=other_tenant)
    # Ended 20 minutes ago: past the default 15 min, within the other tenant's 60.
    vencido = marcar(tenant, cliente, servico, AGORA - timedelta(minutes=50))
    marcar(other_tenant, cliente_b, servico_b, AGORA - timedelta(minutes=50))
    curto = servico_create(tenant=tenant, nome="Retorno", duracao_minutos=10)
    recente = marcar(tenant, cliente, curto, AGORA - timedelta(minutes=20))  # ended 10 ago
    marcar(tenant, cliente, servico, AGORA - 3 * HORA, status=Agendamento.Status.CONCLUIDO)
    antigo_b = marcar(other_tenant, cliente_b, servico_b, AGORA - 2 * HORA)

    faltas = list(agendamento_list_no_show_due(agora=AGORA))

    assert faltas == [antigo_b, vencido]
    assert recente not in faltas


def test_follow_up_goes_an_hour_after_an_attended_appointment(agora, tenant, servico, cliente):
    concluido = Agendamento.Status.CONCLUIDO
    devido = marcar(tenant, cliente, servico, AGORA - 2 * HORA, status=concluido)
    marcar(tenant, cliente, servico, AGORA - 50 * timedelta(minutes=1), status=concluido)
    marcar(tenant, cliente, servico, AGORA - 3 * HORA, status=concluido, followup_enviado_em=AGORA)
    marcar(tenant, cliente, servico, AGORA - 4 * HORA, status=Agendamento.Status.NAO_COMPARECEU)
    marcar(tenant, cliente, servico, AGORA - 30 * HORA, status=concluido)  # too late to ask

    assert list(agendamento_list_followup_due(agora=AGORA)) == [devido]


def test_attendance_rate_and_satisfaction(agora, tenant, servico, cliente):
    inicio, fim = AGORA - timedelta(days=30), AGORA
    assert agendamento_attendance_rate(tenant=tenant, inicio=inicio, fim=fim) is None
    assert feedback_average_score(tenant=tenant) is None

    veio = [
        marcar(tenant, cliente, servico, AGORA - i * HORA, status=Agendamento.Status.CONCLUIDO)
        for i in (2, 3, 4)
    ]
    marcar(tenant, cliente, servico, AGORA - 5 * HORA, status=Agendamento.Status.NAO_COMPARECEU)
    marcar(tenant, cliente, servico, AGORA - 6 * HORA, status=Agendamento.Status.CANCELADO)
    for agendamento, nota, dias in zip(veio, (5, 4, 1), (1, 2, 40), strict=True):
        FeedbackEvent.objects.create(
            tenant=tenant,
            agendamento=agendamento,
            nota=nota,
            recebido_em=AGORA - timedelta(days=dias),
        )

    assert agendamento_attendance_rate(tenant=tenant, inicio=inicio, fim=fim) == 0.75
    assert feedback_average_score(tenant=tenant, dias=30) == 4.5
