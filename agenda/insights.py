"""Agenda insights for the owner: how full each weekday and hour is, how often customers
come to each service, the busiest and idlest hours, and which hours to open or close.

The figures come from two grouped queries (appointments by local weekday and hour;
finished appointments by service) and the business hours (a handful of rows); nothing is
read appointment by appointment. Occupation is the booked minutes of appointments starting
in an hour over the minutes the business is open in that hour, across the period.

The suggestions are a plain rule, each with its reason: an open hour filled less than
CLOSE_BELOW of its time is a candidate to close; a weekday whose first or last open hour is
filled at least OPEN_ABOVE suggests opening the hour before or after it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda.availability import tenant_time_zone
from agenda.models import Agendamento, DataFechada, HorarioFuncionamento
from billing.models import Tenant

CLOSE_BELOW = 0.10
OPEN_ABOVE = 0.85
TOP = 3
MAX_SEMANAS = 52


@dataclass(frozen=True)
class Hora:
    dia_semana: int  # date.weekday(): 0 = Monday, as HorarioFuncionamento
    hora: int
    agendamentos: int
    minutos_ocupados: int
    minutos_abertos: int

    @property
    def ocupacao(self) -> float | None:
        if not self.minutos_abertos:
            return None
        return round(self.minutos_ocupados / self.minutos_abertos, 4)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "dia_nome": str(HorarioFuncionamento.DiaSemana(self.dia_semana).label),
            "ocupacao": self.ocupacao,
        }


def _open_minutes(*, tenant: Tenant, desde: date, ate: date) -> dict[tuple[int, int], int]:
    """Minutes open per (weekday, hour) over the days [desde, ate), closed dates left out."""
    dias = defaultdict(int)  # weekday -> how many open days of it in the period
    fechadas = set(
        DataFechada.objects.filter(tenant=tenant, data__gte=desde, data__lt=ate).values_list(
            "data", flat=True
        )
    )
    dia = desde
    while dia < ate:
        if dia not in fechadas:
            dias[dia.weekday()] += 1
        dia += timedelta(days=1)
    minutos: dict[tuple[int, int], int] = defaultdict(int)
    for h in HorarioFuncionamento.objects.filter(tenant=tenant):
        abre = h.abre.hour * 60 + h.abre.minute
        fecha = h.fecha.hour * 60 + h.fecha.minute
        for hora in range(abre // 60, (fecha - 1) // 60 + 1):
            dentro = min(fecha, (hora + 1) * 60) - max(abre, hora * 60)
            if dentro > 0:
                minutos[(h.dia_semana, hora)] += dentro * dias[h.dia_semana]
    return minutos


def _period(tenant: Tenant, semanas: int, agora: datetime | None) -> tuple[date, date]:
    hoje = (agora or timezone.now()).astimezone(tenant_time_zone(tenant)).date()
    return hoje - timedelta(weeks=semanas), hoje


def occupation(*, tenant: Tenant, semanas: int = 8, agora: datetime | None = None) -> list[Hora]:
    """Every (weekday, hour) that is open or had appointments in the last `semanas` weeks
    (up to yesterday), in order."""
    fuso = tenant_time_zone(tenant)
    desde, ate = _period(tenant, semanas, agora)
    rows = (
        Agendamento.objects.filter(
            tenant=tenant,
            inicio__gte=datetime.combine(desde, time.min, tzinfo=fuso),
            inicio__lt=datetime.combine(ate, time.min, tzinfo=fuso),
        )
        .exclude(status__in=[Agendamento.Status.CANCELADO, Agendamento.Status.REAGENDADO])
        .annotate(
            dia=ExtractIsoWeekDay("inicio", tzinfo=fuso), hora=ExtractHour("inicio", tzinfo=fuso)
        )
        .values("dia", "hora")
        .annotate(n=Count("id"), ocupado=Sum(F("fim") - F("inicio")))
        .order_by()
    )
    booked = {(r["dia"] - 1, r["hora"]): (r["n"], r["ocupado"]) for r in rows}
    aberto = _open_minutes(tenant=tenant, desde=desde, ate=ate)
    horas = []
    for chave in sorted(set(booked) | set(aberto)):
        n, ocupado = booked.get(chave, (0, timedelta(0)))
        horas.append(
            Hora(
                dia_semana=chave[0],
                hora=chave[1],
                agendamentos=n,
                minutos_ocupados=int(ocupado.total_seconds() // 60),
                minutos_abertos=aberto.get(chave, 0),
            )
        )
    return horas


def attendance_by_service(
    *, tenant: Tenant, semanas: int = 8, agora: datetime | None = None
) -> list[dict]:
    """Attended and missed appointments per service in the period, with the rate."""
    fuso = tenant_time_zone(tenant)
    desde, ate = _period(tenant, semanas, agora)
    rows = (
        Agendamento.objects.filter(
            tenant=tenant,
            inicio__gte=datetime.combine(desde, time.min, tzinfo=fuso),
            inicio__lt=datetime.combine(ate, time.min, tzinfo=fuso),
            status__in=[Agendamento.Status.CONCLUIDO, Agendamento.Status.NAO_COMPARECEU],
        )
        .values("servico_id", "servico__nome")
        .annotate(
            atendidos=Count("id", filter=Q(status=Agendamento.Status.CONCLUIDO)),
            faltas=Count("id", filter=Q(status=Agendamento.Status.NAO_COMPARECEU)),
        )
        .order_by("servico__nome")
    )
    return [
        {
            "servico": r["servico_id"],
            "nome": r["servico__nome"],
            "atendidos": r["atendidos"],
            "faltas": r["faltas"],
            "taxa_comparecimento": round(r["atendidos"] / (r["atendidos"] + r["faltas"]), 4),
        }
        for r in rows
    ]


def _label(h: Hora) -> str:
    return _("%(dia)s, %(hora)02dh") % {
        "dia": HorarioFuncionamento.DiaSemana(h.dia_semana).label,
        "hora": h.hora,
    }


def suggestions(horas: list[Hora], *, semanas: int) -> list[dict]:
    """Hours to close (rarely booked) and to open (next to a full first or last hour)."""
    sugestoes = []
    abertas = [h for h in horas if h.minutos_abertos]
    for h in abertas:
        if h.ocupacao < CLOSE_BELOW:
            sugestoes.append(
                {
                    "acao": "fechar",
                    "dia_semana": h.dia_semana,
                    "hora": h.hora,
                    "motivo": _(
                        "%(quando)s ficou %(pct)d%% ocupado nas últimas %(semanas)d semanas."
                    )
                    % {"quando": _label(h), "pct": round(h.ocupacao * 100), "semanas": semanas},
                }
            )
    por_dia: dict[int, list[Hora]] = defaultdict(list)
    for h in abertas:
        por_dia[h.dia_semana].append(h)
    abertas_chaves = {(h.dia_semana, h.hora) for h in abertas}
    for dia, lista in sorted(por_dia.items()):
        for borda, vizinha in ((lista[0], lista[0].hora - 1), (lista[-1], lista[-1].hora + 1)):
            if 0 <= vizinha <= 23 and (dia, vizinha) not in abertas_chaves:
                if borda.ocupacao >= OPEN_ABOVE:
                    sugestoes.append(
                        {
                            "acao": "abrir",
                            "dia_semana": dia,
                            "hora": vizinha,
                            "motivo": _(
                                "%(quando)s, a hora vizinha, ficou %(pct)d%% ocupado nas "
                                "últimas %(semanas)d semanas."
                            )
                            % {
                                "quando": _label(borda),
                                "pct": round(borda.ocupacao * 100),
                                "semanas": semanas,
                            },
                        }
                    )
    return sugestoes


def occupation_grid(ocupacao: list[dict]) -> list[dict]:
    """The occupation as rows of hours with one cell per weekday (Monday first), for a
    table: a cell is the share booked (0-1), or None when closed and unbooked."""
    cells = {(h["dia_semana"], h["hora"]): h["ocupacao"] for h in ocupacao}
    horas = sorted({h for _d, h in cells})
    return [{"hora": hora, "dias": [cells.get((dia, hora)) for dia in range(7)]} for hora in horas]


def agenda_insights(*, tenant: Tenant, semanas: int = 8, agora: datetime | None = None) -> dict:
    """Everything the dashboard and `GET /api/agenda/insights/` show."""
    semanas = max(1, min(int(semanas), MAX_SEMANAS))
    horas = occupation(tenant=tenant, semanas=semanas, agora=agora)
    abertas = [h for h in horas if h.minutos_abertos]
    # An hour nobody booked is not among the busiest, and an hour listed as busiest is not
    # listed again as idlest (a small agenda has fewer than 2 × TOP open hours).
    ocupadas = [h for h in abertas if h.ocupacao > 0]
    cheias = sorted(ocupadas, key=lambda h: (-h.ocupacao, h.dia_semana, h.hora))[:TOP]
    nas_cheias = {(h.dia_semana, h.hora) for h in cheias}
    vazias = sorted(
        (h for h in abertas if (h.dia_semana, h.hora) not in nas_cheias),
        key=lambda h: (h.ocupacao, h.dia_semana, h.hora),
    )
    desde, ate = _period(tenant, semanas, agora)
    return {
        "semanas": semanas,
        "desde": desde,
        "ate": ate - timedelta(days=1),
        "ocupacao": [h.as_dict() for h in horas],
        "comparecimento_por_servico": attendance_by_service(
            tenant=tenant, semanas=semanas, agora=agora
        ),
        "mais_cheios": [h.as_dict() for h in cheias[:TOP]],
        "mais_vazios": [h.as_dict() for h in vazias[:TOP]],
        "sugestoes": suggestions(horas, semanas=semanas),
    }
