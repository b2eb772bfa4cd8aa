"""The booking steps: inicio -> agenda_servico -> agenda_dia -> agenda_horario (and
agenda_confirmar, in chatbots.handlers.agenda.confirm).

Services, days and times go out as WhatsApp lists, paged with "Ver mais"; the customer may
also tap, type the number of a row (chatbots.numbered: "Ver mais" and "Voltar" count), or
type the name, the day ("amanhã", "sexta", "07/03") or the time ("9:30", "14h"; a bare
number is a row, never a time). A time that is not free is answered as such, with the free
ones nearest to it. Ids: "srv:<id>", "dia:<YYYY-MM-DD>", "hora:<ISO datetime>".
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from agenda import selectors as agenda_selectors
from agenda import texts
from agenda.availability import (
    configuracao_get_active,
    days_with_free_slots,
    free_slots,
    tenant_time_zone,
)
from agenda.errors import AgendaErro, AgendaNaoConfigurada
from agenda.models import Servico
from chatbots import wire as wa
from chatbots.handlers import kit, schemas
from chatbots.handlers.agenda.base import (
    BOOK,
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    CHOOSE_TIME,
    CLEAN_STATE,
    CONFIRM,
    K_DAY,
    K_DAYS,
    K_PAGE,
    K_RESCHEDULING,
    K_SERVICE,
    K_START,
    K_TIMES,
    K_WANTED_DAY,
    K_WANTED_TIME,
    LEAVE,
    MINE,
    MORE_WORDS,
    MY_APPOINTMENT,
    START,
    AgendaStep,
    agenda_error,
    book_or_leave,
    chosen_servico,
    local_today,
    moment_of,
    rescheduling_of,
)
from chatbots.handlers.agenda.intake import WEEKDAY_NAMES, typed_time
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import register
from chatbots.text import match_option, normalize

# Days offered at once: 9 + "Voltar" = 10 rows (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
MAX_DAYS = 9

_TYPED_DATE = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*\d{2,4})?$")
# How many free times to name next to one that is not free ("os mais próximos: 13:30 e 15:00").
NEAREST = 2


# --- inicio ----------------------------------------------------------------------------


@register
class AgendaInicioHandler(AgendaStep):
    label = gettext_lazy("Agenda: início (Agendar, Meu horário)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Quer marcar um horário?"}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)
    NEXT_STEPS = (CHOOSE_SERVICE, MY_APPOINTMENT)

    OPTIONS = [
        (BOOK, gettext_lazy("Agendar")),
        (MINE, gettext_lazy("Meu horário")),
        (LEAVE, gettext_lazy("Encerrar")),
    ]
    ALIASES = {
        "marcar": BOOK,
        "agendar horario": BOOK,
        "marcar horario": BOOK,
        "ver horario": MINE,
        "meu agendamento": MINE,
        "sair": LEAVE,
        "tchau": LEAVE,
    }

    def enter(self, ctx: Context) -> Reply:
        body = ctx.config.get("text") or _(
            "Olá! 😊 Sou o assistente de agendamentos. O que você quer fazer?"
        )
        return Reply(messages=[self.ask(body)], state=dict(CLEAN_STATE))

    def handle(self, ctx: Context) -> Reply:
        choice = self.pressed(ctx)
        if choice == MINE:
            return Reply(next_step=MY_APPOINTMENT)
        return book_or_leave(choice) or Reply(
            messages=[kit.text(_("Toque em uma das opções: Agendar, Meu horário ou Encerrar."))],
            next_step=START,
            not_understood=True,
        )


# --- agenda_servico --------------------------------------------------------------------


@register
class EscolherServicoHandler(AgendaStep):
    label = gettext_lazy("Agenda: escolher serviço")
    config_help = gettext_lazy('Opcional: {"text": "Qual serviço você quer agendar?"}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)
    NEXT_STEPS = (CHOOSE_DAY,)

    def _items(self, ctx: Context) -> list[Servico]:
        return list(agenda_selectors.servico_list_active(tenant=ctx.chatbot.tenant))

    def enter(self, ctx: Context) -> Reply:
        try:
            configuracao_get_active(ctx.chatbot.tenant)
        except AgendaNaoConfigurada as exc:
            return agenda_error(exc)
        items = self._items(ctx)
        if not items:
            return Reply(
                messages=[kit.text(_("Ainda não há serviços disponíveis para agendar. 🙏"))],
                end=True,
            )
        page = kit.page_of(items, ctx.state.get(K_PAGE))
        rows = [
            wa.Row(
                id=f"srv:{s.pk}",
                title=kit.cut(s.nome, wa.LIST_ROW_TITLE_MAX),
                description=kit.cut(_servico_description(s), wa.LIST_ROW_DESCRIPTION_MAX),
            )
            for s in page.items
        ]
        body = ctx.config.get("text") or _("Qual serviço você quer agendar?")
        return Reply(
            messages=[
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver serviços"),
                    prefix="srv",
                    rows=rows,
                    more=page.has_more,
                    back=True,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        page = kit.page_of(items, ctx.state.get(K_PAGE))
        navigation = kit.navigation(ctx, "srv", more_words=MORE_WORDS)
        if navigation == kit.MORE and page.has_more:
            return Reply(state={K_PAGE: page.number + 1}, next_step=CHOOSE_SERVICE)
        if navigation == kit.BACK:
            return Reply(state=dict(CLEAN_STATE), next_step=START)
        choice = kit.pick(ctx, items, page, prefix="srv", title_of=lambda s: s.nome)
        if choice is None:
            return Reply(
                messages=[
                    kit.text(
                        _("Não encontrei esse serviço. Escolha um da lista ou digite o número.")
                    )
                ],
                next_step=CHOOSE_SERVICE,
                not_understood=True,
            )
        return Reply(state={K_SERVICE: choice.pk, K_PAGE: 0}, next_step=CHOOSE_DAY)


def _servico_description(servico: Servico) -> str:
    parts = [_("%(min)s min") % {"min": servico.duracao_minutos}]
    if servico.preco is not None:
        from pedidos.money import format_brl

        parts.append(format_brl(servico.preco))
    return " · ".join(parts)


# --- agenda_dia ------------------------------------------------------------------------


@register
class EscolherDiaHandler(AgendaStep):
    label = gettext_lazy("Agenda: escolher dia")
    config_help = gettext_lazy("Sem configuração.")
    config_schema = schemas.NONE
    NEXT_STEPS = (CHOOSE_TIME,)

    def enter(self, ctx: Context) -> Reply:
        servico = chosen_servico(ctx)
        if servico is None:
            return Reply(next_step=CHOOSE_SERVICE)
        rescheduling = rescheduling_of(ctx)
        try:
            days = days_with_free_slots(tenant=ctx.chatbot.tenant, servico=servico, limite=MAX_DAYS)
        except AgendaErro as exc:
            return agenda_error(exc)
        if not days:
            text = _("Não há horários livres para *%(servico)s* nos próximos dias. 😕") % {
                "servico": servico.nome
            }
            if rescheduling is not None:
                text += "\n" + _("Seu horário atual continua marcado.")
                return Reply(messages=[kit.text(text)], end=True)
            # The waiting list (agenda.waitlist): a cancelled time is offered to it.
            text += "\n" + _("Quer entrar na lista de espera? Se abrir um horário, eu te aviso.")
            return Reply(
                messages=[
                    kit.buttons(text, [(texts.espera_button_id(servico.pk), _("Lista de espera"))])
                ],
                state={K_PAGE: 0, K_WANTED_DAY: None, K_WANTED_TIME: None},
                next_step=CHOOSE_SERVICE,
            )
        today = local_today(ctx)
        offered = {K_DAYS: [d.isoformat() for d in days], K_WANTED_DAY: None}
        wanted = _wanted_day(ctx)
        if wanted in days:  # asked for in words ("amanhã"): straight to its times
            return Reply(
                state={**offered, K_DAY: wanted.isoformat(), K_PAGE: 0}, next_step=CHOOSE_TIME
            )
        notes = []
        if wanted is not None:
            notes.append(
                kit.text(
                    _("Não há horários livres para *%(servico)s* em %(dia)s. 😕")
                    % {"servico": servico.nome, "dia": texts.short_day(wanted)}
                )
            )
        rows = [
            wa.Row(
                id=f"dia:{d.isoformat()}",
                title=texts.short_day(d),
                description=_relative_day(d, today),
            )
            for d in days
        ]
        if rescheduling is not None:
            body = _("Para quando quer remarcar %(resumo)s? Escolha o dia:") % {
                "resumo": texts.appointment_summary(rescheduling)
            }
        else:
            body = _("*%(servico)s*: escolha o dia.") % {"servico": servico.nome}
        return Reply(
            messages=[
                *notes,
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver dias"),
                    prefix="dia",
                    rows=rows,
                    more=False,
                    back=rescheduling is None,
                ),
            ],
            # A time asked for with a day that is not free goes with it.
            state={**offered, **({K_WANTED_TIME: None} if wanted is not None else {})},
        )

    def handle(self, ctx: Context) -> Reply:
        if kit.navigation(ctx, "dia", more_words=MORE_WORDS) == kit.BACK:
            if ctx.state.get(K_RESCHEDULING):
                return Reply(
                    messages=[kit.text(_("Tudo bem, seu horário continua como estava."))], end=True
                )
            return Reply(state={K_PAGE: 0}, next_step=CHOOSE_SERVICE)
        days = [date.fromisoformat(d) for d in ctx.state.get(K_DAYS) or []]
        day = _chosen_day(ctx, days, local_today(ctx))
        if day is None:
            return Reply(
                messages=[
                    kit.text(_("Não entendi o dia. Escolha um da lista, ou digite o número."))
                ],
                next_step=CHOOSE_DAY,
                not_understood=True,
            )
        return Reply(state={K_DAY: day.isoformat(), K_PAGE: 0}, next_step=CHOOSE_TIME)


def _wanted_day(ctx: Context) -> date | None:
    try:
        return date.fromisoformat(ctx.state.get(K_WANTED_DAY) or "")
    except ValueError:
        return None


def _relative_day(day: date, today: date) -> str:
    if day == today:
        return _("Hoje")
    if day == today + timedelta(days=1):
        return _("Amanhã")
    return ""


def _chosen_day(ctx: Context, days: list[date], today: date) -> date | None:
    if ctx.reply_id.startswith("dia:"):
        try:
            return date.fromisoformat(ctx.reply_id[4:])
        except ValueError:
            return None
    typed = normalize(ctx.text)
    if not typed:
        return None
    if typed == "hoje":
        return today if today in days else None
    if typed in ("amanha", "amanha cedo"):
        tomorrow = today + timedelta(days=1)
        return tomorrow if tomorrow in days else None
    typed_date = _TYPED_DATE.match(typed)
    if typed_date:
        day, month = int(typed_date.group(1)), int(typed_date.group(2))
        return next((d for d in days if (d.day, d.month) == (day, month)), None)
    word = typed.split(" ")[0].replace("-feira", "")
    if len(word) >= 3 and not word.isdigit():
        for number, name in enumerate(WEEKDAY_NAMES):
            if name.startswith(word):
                return next((d for d in days if d.weekday() == number), None)
    return match_option(
        ctx.text, days, id_of=lambda d: f"dia:{d.isoformat()}", title_of=texts.short_day
    )


# --- agenda_horario --------------------------------------------------------------------


@register
class EscolherHorarioHandler(AgendaStep):
    label = gettext_lazy("Agenda: escolher horário")
    config_help = gettext_lazy("Sem configuração.")
    config_schema = schemas.NONE
    NEXT_STEPS = (CHOOSE_DAY, CONFIRM)

    def enter(self, ctx: Context) -> Reply:
        servico = chosen_servico(ctx)
        if servico is None:
            return Reply(next_step=CHOOSE_SERVICE)
        try:
            day = date.fromisoformat(ctx.state.get(K_DAY) or "")
        except ValueError:
            return Reply(next_step=CHOOSE_DAY)
        try:
            slots = free_slots(tenant=ctx.chatbot.tenant, servico=servico, dia=day)
        except AgendaErro as exc:
            return agenda_error(exc)
        if not slots:
            return Reply(
                messages=[
                    kit.text(
                        _("Não há mais horários livres em %(dia)s. Escolha outro dia:")
                        % {"dia": texts.short_day(day)}
                    )
                ],
                state={K_DAY: None, K_WANTED_TIME: None},
                next_step=CHOOSE_DAY,
            )
        zone = tenant_time_zone(ctx.chatbot.tenant)
        offered = {K_TIMES: [s.inicio.isoformat() for s in slots], K_WANTED_TIME: None}
        notes, page_number = [], ctx.state.get(K_PAGE)
        wanted = typed_time(ctx.state.get(K_WANTED_TIME) or "")
        if wanted is not None:  # typed ("14h") or asked for in words ("amanhã às 14h")
            hit = next((s for s in slots if _hour_minute(s.inicio, zone) == wanted), None)
            if hit is not None:
                return Reply(state={**offered, K_START: hit.inicio.isoformat()}, next_step=CONFIRM)
            moment = datetime.combine(day, time(*wanted), tzinfo=zone)
            nearest = sorted(slots, key=lambda s: abs(s.inicio - moment))[:NEAREST]
            notes.append(kit.text(_not_free_text(ctx, servico, moment, nearest)))
            page_number = slots.index(nearest[0]) // kit.PAGE_SIZE
        page = kit.page_of(slots, page_number)
        rows = [
            wa.Row(
                id=f"hora:{s.inicio.isoformat()}",
                title=texts.hora(s.inicio),
                description=_("até %(fim)s") % {"fim": texts.hora(s.fim)},
            )
            for s in page.items
        ]
        body = _("*%(servico)s*, %(dia)s: escolha o horário.") % {
            "servico": servico.nome,
            "dia": texts.short_day(day),
        }
        return Reply(
            messages=[
                *notes,
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver horários"),
                    prefix="hora",
                    rows=rows,
                    more=page.has_more,
                    back=True,
                ),
            ],
            state={**offered, K_PAGE: page.number},
        )

    def handle(self, ctx: Context) -> Reply:
        times = [datetime.fromisoformat(t) for t in ctx.state.get(K_TIMES) or []]
        page = kit.page_of(times, ctx.state.get(K_PAGE))
        navigation = kit.navigation(ctx, "hora", more_words=MORE_WORDS)
        if navigation == kit.MORE and page.has_more:
            return Reply(state={K_PAGE: page.number + 1}, next_step=CHOOSE_TIME)
        if navigation == kit.BACK:
            return Reply(state={K_PAGE: 0, K_DAY: None}, next_step=CHOOSE_DAY)
        start = _chosen_time(ctx, page)
        if start is not None:
            return Reply(state={K_START: start.isoformat()}, next_step=CONFIRM)
        wanted = typed_time(ctx.text)
        if wanted is not None:
            # Free or not, the times step answers it with what it sees now: taken by someone
            # else (or closed) is said so, with the free times nearest to it.
            return Reply(
                state={K_WANTED_TIME: f"{wanted[0]:02d}:{wanted[1]:02d}"}, next_step=CHOOSE_TIME
            )
        return Reply(
            messages=[
                kit.text(
                    _(
                        "Não entendi o horário. Toque em um da lista, envie o número da opção "
                        "ou o horário com h, por exemplo 14h ou 9:30."
                    )
                )
            ],
            next_step=CHOOSE_TIME,
            not_understood=True,
        )


def _hour_minute(moment: datetime, zone) -> tuple[int, int]:
    local = moment.astimezone(zone)
    return (local.hour, local.minute)


def _chosen_time(ctx: Context, page: kit.Page) -> datetime | None:
    """The time tapped ("hora:<ISO>"), or the number of a row on the page shown when the
    list was not the bot's last message (chatbots.numbered maps it otherwise)."""
    if ctx.reply_id.startswith("hora:"):
        return moment_of(ctx.reply_id[5:])
    return page.numbered(normalize(ctx.text).replace(" ", ""))


def _not_free_text(ctx: Context, servico: Servico, moment: datetime, nearest: list) -> str:
    """ "Ter 05/03 às 14:00 já está ocupado. Os horários livres mais próximos: 13:30 e 14:30." """
    when = {"dia": texts.short_day(moment.date()), "hora": texts.hora(moment)}
    end = moment + timedelta(minutes=servico.duracao_minutos)
    if agenda_selectors.horario_is_taken(tenant_id=ctx.chatbot.tenant_id, inicio=moment, fim=end):
        first = _("Poxa, %(dia)s às %(hora)s já está ocupado. 😕") % when
    else:
        first = _("%(dia)s às %(hora)s não está disponível. 😕") % when
    names = [texts.hora(s.inicio) for s in sorted(nearest, key=lambda s: s.inicio)]
    listed = names[0] if len(names) == 1 else _("%(a)s e %(b)s") % {"a": names[0], "b": names[1]}
    second = ngettext(
        "O horário livre mais próximo é %(horas)s.",
        "Os horários livres mais próximos são %(horas)s.",
        len(names),
    ) % {"horas": listed}
    return f"{first} {second}"
