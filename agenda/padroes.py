"""Starting points: the default agenda a tenant gets when its bot is bound to the agenda
flow without one, and the demo services of `seed_demo`. Both idempotent."""

from __future__ import annotations

from datetime import time

from django.db import transaction
from django.utils.translation import gettext as _

from agenda import services
from agenda.models import ConfiguracaoAgenda, HorarioFuncionamento, Servico
from agenda.selectors import configuracao_get
from billing.models import Tenant

# Monday to Friday, 9:00 to 18:00 (date.weekday() numbers).
HORARIO_PADRAO = [(dia, time(9), time(18)) for dia in range(5)]

SERVICOS_DEMO = [("Corte de cabelo", 30), ("Barba", 20)]


def horarios_definir(*, tenant: Tenant, horarios: list[tuple[int, time, time]]) -> list:
    """Replace the tenant's business hours with `horarios` [(weekday, opens, closes)]."""
    novos = [
        HorarioFuncionamento(tenant=tenant, dia_semana=dia, abre=abre, fecha=fecha)
        for dia, abre, fecha in horarios
    ]
    for horario in novos:
        horario.full_clean()
    with transaction.atomic():
        HorarioFuncionamento.objects.filter(tenant=tenant).delete()
        return HorarioFuncionamento.objects.bulk_create(novos)


def agenda_padrao_garantir(*, tenant: Tenant) -> str:
    """Give a tenant without an availability source the built-in calendar, Monday to Friday
    9:00-18:00. Returns what was done (for the command's output), "" if nothing was needed."""
    config = configuracao_get(tenant=tenant)
    if config is not None and config.fonte:
        return ""
    with transaction.atomic():
        services.configuracao_set(tenant=tenant, fonte=ConfiguracaoAgenda.Fonte.INTERNA)
        if not HorarioFuncionamento.objects.filter(tenant=tenant).exists():
            horarios_definir(tenant=tenant, horarios=HORARIO_PADRAO)
    return _(
        "Agenda configurada com a agenda própria, de segunda a sexta, das 9h às 18h. "
        "Ajuste horários, serviços e datas fechadas no painel (Agenda)."
    )


def agenda_demo(*, tenant: Tenant) -> None:
    """The demo tenant's services and business hours."""
    agenda_padrao_garantir(tenant=tenant)
    for nome, minutos in SERVICOS_DEMO:
        if not Servico.objects.filter(tenant=tenant, nome=nome).exists():
            services.servico_create(tenant=tenant, nome=nome, duracao_minutos=minutos)
