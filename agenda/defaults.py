"""Starting points: the default agenda a tenant gets when its bot is bound to the agenda
flow without one, and the demo services and hours of `seed_demo`. Both idempotent."""

from __future__ import annotations

from datetime import time

from django.db import transaction
from django.utils.translation import gettext as _

from agenda import services
from agenda.models import ConfiguracaoAgenda, HorarioFuncionamento, Servico
from agenda.selectors import configuracao_get
from billing.models import Tenant

# Monday to Friday, 9:00 to 18:00 (date.weekday() numbers).
DEFAULT_HOURS = [(weekday, time(9), time(18)) for weekday in range(5)]

DEMO_SERVICES = [("Corte de cabelo", 30), ("Barba", 20)]


def horario_funcionamento_replace(
    *, tenant: Tenant, horarios: list[tuple[int, time, time]]
) -> list:
    """Replace the tenant's business hours with `horarios` [(weekday, opens, closes)]."""
    rows = [
        HorarioFuncionamento(tenant=tenant, dia_semana=weekday, abre=opens, fecha=closes)
        for weekday, opens, closes in horarios
    ]
    for row in rows:
        row.full_clean()
    with transaction.atomic():
        HorarioFuncionamento.objects.filter(tenant=tenant).delete()
        return HorarioFuncionamento.objects.bulk_create(rows)


def agenda_default_ensure(*, tenant: Tenant) -> str:
    """Give a tenant without an availability source the built-in calendar, Monday to Friday
    9:00-18:00. Returns what was done (for the command's output), "" if nothing was needed."""
    config = configuracao_get(tenant=tenant)
    if config is not None and config.fonte:
        return ""
    with transaction.atomic():
        services.configuracao_set(tenant=tenant, fonte=ConfiguracaoAgenda.Fonte.INTERNA)
        if not HorarioFuncionamento.objects.filter(tenant=tenant).exists():
            horario_funcionamento_replace(tenant=tenant, horarios=DEFAULT_HOURS)
    return _(
        "Agenda configurada com a agenda própria, de segunda a sexta, das 9h às 18h. "
        "Ajuste horários, serviços e datas fechadas no painel (Agenda)."
    )


def agenda_demo_install(*, tenant: Tenant, horarios: list[tuple[int, time, time]]) -> None:
    """The demo tenant's services, and its business hours `horarios` [(weekday, opens,
    closes)] when it has none: the demo store's week (pedidos.demo.SEMANA), which its
    orders and its knowledge base state too."""
    with transaction.atomic():
        if not HorarioFuncionamento.objects.filter(tenant=tenant).exists():
            horario_funcionamento_replace(tenant=tenant, horarios=horarios)
        agenda_default_ensure(tenant=tenant)
    for name, minutes in DEMO_SERVICES:
        if not Servico.objects.filter(tenant=tenant, nome=name).exists():
            services.servico_create(tenant=tenant, nome=name, duracao_minutos=minutes)
