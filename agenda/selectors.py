"""Reads of the agenda: configuration, a customer's next appointment, the rows the periodic
jobs (reminders, no-show, follow-up) must work on, and the figures the admin shows.

The job selectors filter on exactly the conditions of the partial indexes declared on
Agendamento, so PostgreSQL reads only the due rows, however long the history grows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from agenda.models import Agendamento, ConfiguracaoAgenda, FeedbackEvent, Servico
from billing.models import Tenant
from clientes.models import Cliente

# When each reminder is due: the start is within (agora + desde, agora + ate]. A 24 h reminder
# not sent before the last hour is dropped; the 1 h reminder covers that hour.
REMINDERS: dict[str, tuple[str, timedelta, timedelta]] = {
    "24h": ("lembrete_24h_enviado_em", timedelta(hours=1), timedelta(hours=24)),
    "1h": ("lembrete_1h_enviado_em", timedelta(0), timedelta(hours=1)),
}
# The satisfaction question goes one hour after the end (issue "Appointments"); after a day
# the customer's memory and WhatsApp's 24-hour window have both passed, so it is skipped.
FOLLOWUP_DELAY = timedelta(hours=1)
FOLLOWUP_EXPIRY = timedelta(hours=24)


def configuracao_get(*, tenant: Tenant) -> ConfiguracaoAgenda | None:
    return ConfiguracaoAgenda.objects.filter(tenant=tenant).first()


def horario_is_taken(
    *, tenant_id: int, inicio: datetime, fim: datetime, exceto: int | None = None
) -> bool:
    """Whether an active appointment of the tenant overlaps [inicio, fim)."""
    qs = Agendamento.objects.filter(
        tenant_id=tenant_id, status__in=Agendamento.ATIVOS, inicio__lt=fim, fim__gt=inicio
    )
    if exceto:
        qs = qs.exclude(pk=exceto)
    return qs.exists()


def servico_list_active(*, tenant: Tenant) -> QuerySet[Servico]:
    return Servico.objects.filter(tenant=tenant, ativo=True).order_by("nome")


def servico_get_active(*, tenant_id: int, pk: int) -> Servico | None:
    """The tenant's service `pk` while it can be booked; else None."""
    return Servico.objects.filter(tenant_id=tenant_id, pk=pk, ativo=True).first()


def agendamento_get_of_cliente(*, tenant_id: int, cliente_id: int, pk: int) -> Agendamento | None:
    """Appointment `pk` if it is this customer's, in this tenant; else None (a reply id
    that names someone else's appointment finds nothing)."""
    return (
        Agendamento.objects.select_related("servico", "tenant", "cliente")
        .filter(pk=pk, tenant_id=tenant_id, cliente_id=cliente_id)
        .first()
    )


def agendamento_latest_version(*, agendamento: Agendamento, max_hops: int = 10) -> Agendamento:
    """The appointment `agendamento` became through reschedules (Agendamento.reagendado_para),
    itself when it was not moved; at most `max_hops` moves are followed."""
    for _hop in range(max_hops):
        if (
            agendamento.status != Agendamento.Status.REAGENDADO
            or not agendamento.reagendado_para_id
        ):
            break
        agendamento = Agendamento.objects.select_related("servico", "tenant", "cliente").get(
            pk=agendamento.reagendado_para_id
        )
    return agendamento


def agendamento_list_upcoming(
    *, cliente: Cliente, agora: datetime | None = None
) -> QuerySet[Agendamento]:
    """The customer's active appointments that have not started yet, soonest first."""
    return (
        Agendamento.objects.filter(
            tenant_id=cliente.tenant_id,
            cliente=cliente,
            status__in=Agendamento.ATIVOS,
            inicio__gt=agora or timezone.now(),
        )
        .select_related("servico")
        .order_by("inicio")
    )


def agendamento_next(*, cliente: Cliente, agora: datetime | None = None) -> Agendamento | None:
    return agendamento_list_upcoming(cliente=cliente, agora=agora).first()


def agendamento_last_no_show(*, cliente: Cliente) -> Agendamento | None:
    """The customer's most recent missed appointment (the no-show offer is about it)."""
    return (
        Agendamento.objects.filter(cliente=cliente, status=Agendamento.Status.NAO_COMPARECEU)
        .select_related("servico", "tenant", "cliente")
        .order_by("-inicio")
        .first()
    )


def agendamento_last_rateable(*, cliente: Cliente) -> Agendamento | None:
    """The customer's most recent attended appointment they were asked to rate."""
    return (
        Agendamento.objects.filter(
            cliente=cliente,
            status=Agendamento.Status.CONCLUIDO,
            followup_enviado_em__isnull=False,
        )
        .select_related("servico", "tenant", "cliente")
        .order_by("-followup_enviado_em")
        .first()
    )


def agendamento_list_reminder_due(*, tipo: str, agora: datetime) -> QuerySet[Agendamento]:
    """Active appointments whose `tipo` ("24h" or "1h") reminder is due and not yet sent.

    Reads the partial index agenda_lembrete_<tipo>_idx. Sending must still claim each row
    with `services.lembrete_claim` so two workers never send the same reminder.
    """
    try:
        campo, desde, ate = REMINDERS[tipo]
    except KeyError:
        raise ValueError(f"unknown reminder kind {tipo!r}; use one of {sorted(REMINDERS)}")
    return (
        Agendamento.objects.filter(
            **{f"{campo}__isnull": True},
            status__in=Agendamento.ATIVOS,
            inicio__gt=agora + desde,
            inicio__lte=agora + ate,
            tenant__active=True,
        )
        .select_related("tenant", "cliente", "servico")
        .order_by("inicio")
    )


def agendamento_list_no_show_due(*, agora: datetime) -> QuerySet[Agendamento]:
    """Active appointments past their end plus the tenant's tolerance: customers who did not
    come (staff who saw them mark attendance, which moves them out of the active statuses).

    Tolerances are per tenant; they take a handful of distinct values, so the condition is a
    few plain ranges on `fim` (readable from agenda_ativos_fim_idx, portable to SQLite).
    """
    padrao = ConfiguracaoAgenda._meta.get_field("tolerancia_no_show_minutos").default
    por_tolerancia: dict[int, list[int]] = defaultdict(list)
    for tenant_id, minutos in ConfiguracaoAgenda.objects.exclude(
        tolerancia_no_show_minutos=padrao
    ).values_list("tenant_id", "tolerancia_no_show_minutos"):
        por_tolerancia[minutos].append(tenant_id)
    outros = [tid for ids in por_tolerancia.values() for tid in ids]
    condicao = Q(fim__lte=agora - timedelta(minutes=padrao)) & ~Q(tenant_id__in=outros)
    for minutos, ids in por_tolerancia.items():
        condicao |= Q(tenant_id__in=ids, fim__lte=agora - timedelta(minutes=minutos))
    return (
        Agendamento.objects.filter(
            condicao, status__in=Agendamento.ATIVOS, fim__lte=agora, tenant__active=True
        )
        .select_related("tenant", "cliente", "servico")
        .order_by("fim")
    )


def agendamento_list_followup_due(*, agora: datetime) -> QuerySet[Agendamento]:
    """Attended appointments that ended at least an hour ago (and less than a day ago) and
    were not asked about satisfaction yet. Reads agenda_followup_idx."""
    return (
        Agendamento.objects.filter(
            status=Agendamento.Status.CONCLUIDO,
            followup_enviado_em__isnull=True,
            fim__lte=agora - FOLLOWUP_DELAY,
            fim__gt=agora - FOLLOWUP_EXPIRY,
            tenant__active=True,
        )
        .select_related("tenant", "cliente", "servico")
        .order_by("fim")
    )


def agendamento_attendance_rate(*, tenant: Tenant, inicio: datetime, fim: datetime) -> float | None:
    """Attended / (attended + no-show) of appointments starting in [inicio, fim); None when
    there is nothing to measure yet."""
    contagem = Agendamento.objects.filter(
        tenant=tenant,
        inicio__gte=inicio,
        inicio__lt=fim,
        status__in=[Agendamento.Status.CONCLUIDO, Agendamento.Status.NAO_COMPARECEU],
    ).aggregate(
        total=Count("id"),
        presentes=Count("id", filter=Q(status=Agendamento.Status.CONCLUIDO)),
    )
    if not contagem["total"]:
        return None
    return contagem["presentes"] / contagem["total"]


def feedback_average_score(*, tenant: Tenant, dias: int = 30) -> float | None:
    """Average score (1-5) of the feedback received in the last `dias` days; None if none."""
    media = FeedbackEvent.objects.filter(
        tenant=tenant, recebido_em__gte=timezone.now() - timedelta(days=dias)
    ).aggregate(media=Avg("nota"))["media"]
    return None if media is None else float(media)
