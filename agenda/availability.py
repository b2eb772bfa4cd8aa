"""Free time slots, one interface over two sources chosen per tenant.

`ConfiguracaoAgenda.fonte` picks the source: the built-in calendar (business hours minus
active appointments, in steps of the service's duration) or the tenant's Cal.com. Both
honour the same window: nothing in the past or sooner than the minimum notice, nothing
beyond `dias_antecedencia` days from today (in the tenant's time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import calcom
from agenda.errors import AgendaNaoConfigurada
from agenda.models import (
    Agendamento,
    ConfiguracaoAgenda,
    DataFechada,
    HorarioFuncionamento,
    Servico,
)
from agenda.selectors import configuracao_get
from billing.models import Tenant


@dataclass(frozen=True)
class Slot:
    """A bookable time: aware datetimes in the tenant's time zone."""

    inicio: datetime
    fim: datetime


@dataclass(frozen=True)
class Janela:
    """The bookable window at one moment."""

    hoje: date
    ultimo_dia: date
    inicio_minimo: datetime  # now plus the minimum notice


def tenant_time_zone(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.time_zone or "America/Sao_Paulo")


def configuracao_get_active(tenant: Tenant) -> ConfiguracaoAgenda:
    """The tenant's configuration with a source, or AgendaNaoConfigurada."""
    config = configuracao_get(tenant=tenant)
    if config is None or not config.fonte:
        raise AgendaNaoConfigurada()
    if config.fonte == ConfiguracaoAgenda.Fonte.CALCOM and not config.cal_api_key:
        raise AgendaNaoConfigurada(
            _("A agenda usa o Cal.com, mas a chave de API não foi informada.")
        )
    return config


def booking_window(
    *, tenant: Tenant, config: ConfiguracaoAgenda, agora: datetime | None = None
) -> Janela:
    agora = agora or timezone.now()
    hoje = agora.astimezone(tenant_time_zone(tenant)).date()
    return Janela(
        hoje=hoje,
        ultimo_dia=hoje + timedelta(days=config.dias_antecedencia),
        inicio_minimo=agora + timedelta(minutes=config.antecedencia_minima_minutos),
    )


def _days_between(primeiro: date, ultimo: date) -> list[date]:
    return [primeiro + timedelta(days=n) for n in range((ultimo - primeiro).days + 1)]


def servico_event_type(*, servico: Servico, config: ConfiguracaoAgenda) -> int:
    """The Cal.com event type a service books: its own, else the agenda's default."""
    event_type_id = servico.cal_event_type_id or config.cal_event_type_id
    if not event_type_id:
        raise AgendaNaoConfigurada(
            _("O serviço %(servico)s não tem tipo de evento do Cal.com configurado.")
            % {"servico": servico.nome}
        )
    return event_type_id


def _builtin_slots(
    *,
    tenant: Tenant,
    servico: Servico,
    primeiro: date,
    ultimo: date,
    inicio_minimo: datetime,
) -> dict[date, list[Slot]]:
    tz = tenant_time_zone(tenant)
    horarios: dict[int, list[tuple]] = {}
    for dia_semana, abre, fecha in HorarioFuncionamento.objects.filter(tenant=tenant).values_list(
        "dia_semana", "abre", "fecha"
    ):
        horarios.setdefault(dia_semana, []).append((abre, fecha))
    if not horarios:
        raise AgendaNaoConfigurada(_("A agenda não tem horários de funcionamento cadastrados."))
    fechados = set(
        DataFechada.objects.filter(tenant=tenant, data__range=(primeiro, ultimo)).values_list(
            "data", flat=True
        )
    )
    desde = datetime.combine(primeiro, datetime.min.time(), tzinfo=tz)
    ate = datetime.combine(ultimo + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    ocupados = list(
        Agendamento.objects.filter(
            tenant=tenant, status__in=Agendamento.ATIVOS, inicio__lt=ate, fim__gt=desde
        ).values_list("inicio", "fim")
    )
    duracao = timedelta(minutes=servico.duracao_minutos)
    resultado: dict[date, list[Slot]] = {}
    for dia in _days_between(primeiro, ultimo):
        if dia in fechados:
            continue
        slots = []
        for abre, fecha in sorted(horarios.get(dia.weekday(), [])):
            inicio = datetime.combine(dia, abre, tzinfo=tz)
            limite = datetime.combine(dia, fecha, tzinfo=tz)
            while inicio + duracao <= limite:
                fim = inicio + duracao
                livre = not any(o_ini < fim and inicio < o_fim for o_ini, o_fim in ocupados)
                if livre and inicio >= inicio_minimo:
                    slots.append(Slot(inicio=inicio, fim=fim))
                inicio = fim
        if slots:
            resultado[dia] = slots
    return resultado


def _calcom_slots(
    *,
    tenant: Tenant,
    servico: Servico,
    config: ConfiguracaoAgenda,
    primeiro: date,
    ultimo: date,
    inicio_minimo: datetime,
) -> dict[date, list[Slot]]:
    tz = tenant_time_zone(tenant)
    horarios = calcom.horario_list(
        api_key=config.cal_api_key,
        event_type_id=servico_event_type(servico=servico, config=config),
        primeiro_dia=primeiro,
        ultimo_dia=ultimo,
        fuso=str(tz),
    )
    duracao = timedelta(minutes=servico.duracao_minutos)
    resultado: dict[date, list[Slot]] = {}
    for horario in horarios:
        inicio = horario.inicio.astimezone(tz)
        fim = (horario.fim or horario.inicio + duracao).astimezone(tz)
        if inicio < inicio_minimo or not primeiro <= inicio.date() <= ultimo:
            continue
        resultado.setdefault(inicio.date(), []).append(Slot(inicio=inicio, fim=fim))
    return resultado


def _slots_by_day(
    *, tenant: Tenant, servico: Servico, primeiro: date, ultimo: date
) -> dict[date, list[Slot]]:
    if servico.tenant_id != tenant.pk:
        raise ValidationError({"servico": _("Serviço não encontrado.")})
    config = configuracao_get_active(tenant)
    atual = booking_window(tenant=tenant, config=config)
    primeiro = max(primeiro, atual.hoje)
    ultimo = min(ultimo, atual.ultimo_dia)
    if primeiro > ultimo or not servico.ativo:
        return {}
    if config.fonte == ConfiguracaoAgenda.Fonte.CALCOM:
        return _calcom_slots(
            tenant=tenant,
            servico=servico,
            config=config,
            primeiro=primeiro,
            ultimo=ultimo,
            inicio_minimo=atual.inicio_minimo,
        )
    return _builtin_slots(
        tenant=tenant,
        servico=servico,
        primeiro=primeiro,
        ultimo=ultimo,
        inicio_minimo=atual.inicio_minimo,
    )


def free_slots(*, tenant: Tenant, servico: Servico, dia: date) -> list[Slot]:
    """Free slots of `servico` on `dia` (a date in the tenant's time zone), in order.

    Raises AgendaNaoConfigurada when the tenant has no source, AgendaIndisponivel when
    Cal.com cannot be reached.
    """
    return _slots_by_day(tenant=tenant, servico=servico, primeiro=dia, ultimo=dia).get(dia, [])


def days_with_free_slots(*, tenant: Tenant, servico: Servico, limite: int = 7) -> list[date]:
    """Up to `limite` days, from today on, with at least one free slot (one Cal.com call)."""
    config = configuracao_get_active(tenant)
    atual = booking_window(tenant=tenant, config=config)
    por_dia = _slots_by_day(
        tenant=tenant, servico=servico, primeiro=atual.hoje, ultimo=atual.ultimo_dia
    )
    return sorted(dia for dia, slots in por_dia.items() if slots)[:limite]


def horario_validate(
    *,
    tenant: Tenant,
    config: ConfiguracaoAgenda,
    inicio: datetime,
    fim: datetime,
    exigir_antecedencia: bool,
) -> None:
    """Refuse (ValidationError) a booking outside the bookable window.

    The built-in calendar also requires the whole booking inside one opening interval of a
    day that is not closed; Cal.com applies its own rules when the booking is created there.
    """
    if timezone.is_naive(inicio):
        raise ValidationError({"inicio": _("Informe o horário com fuso horário.")})
    agora = timezone.now()
    atual = booking_window(tenant=tenant, config=config, agora=agora)
    if inicio <= agora:
        raise ValidationError({"inicio": _("Esse horário já passou.")})
    if exigir_antecedencia and inicio < atual.inicio_minimo:
        raise ValidationError(
            {
                "inicio": _("Agendamentos precisam de pelo menos %(min)s minutos de antecedência.")
                % {"min": config.antecedencia_minima_minutos}
            }
        )
    tz = tenant_time_zone(tenant)
    inicio_local, fim_local = inicio.astimezone(tz), fim.astimezone(tz)
    if inicio_local.date() > atual.ultimo_dia:
        raise ValidationError(
            {
                "inicio": _("Só é possível agendar até %(dias)s dias à frente.")
                % {"dias": config.dias_antecedencia}
            }
        )
    if config.fonte != ConfiguracaoAgenda.Fonte.INTERNA:
        return
    dia = inicio_local.date()
    if DataFechada.objects.filter(tenant=tenant, data=dia).exists():
        raise ValidationError({"inicio": _("Não atendemos nesse dia.")})
    dentro = fim_local.date() == dia and any(
        abre <= inicio_local.time() and fim_local.time() <= fecha
        for abre, fecha in HorarioFuncionamento.objects.filter(
            tenant=tenant, dia_semana=dia.weekday()
        ).values_list("abre", "fecha")
    )
    if not dentro:
        raise ValidationError({"inicio": _("Esse horário está fora do horário de atendimento.")})
