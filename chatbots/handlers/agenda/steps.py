"""The booking steps: inicio -> agenda_servico -> agenda_dia -> agenda_horario ->
agenda_confirmar.

Services, days and times go out as WhatsApp lists, paged with "Ver mais"; the customer may
also tap, type the number, or type the name, the day ("amanhã", "sexta", "07/03") or the
time ("9:30", "14h"). Ids: "srv:<id>", "dia:<YYYY-MM-DD>", "hora:<ISO datetime>".
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import selectors as agenda_selectors
from agenda import services as agenda_services
from agenda import texts
from agenda.availability import (
    configuracao_get_active,
    days_with_free_slots,
    free_slots,
    tenant_time_zone,
)
from agenda.errors import AgendaErro, AgendaIndisponivel, AgendaNaoConfigurada, SlotTaken
from agenda.models import Agendamento, Servico
from chatbots import wire as wa
from chatbots.handlers import kit
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
    LEAVE,
    MINE,
    MORE_WORDS,
    MY_APPOINTMENT,
    START,
    AgendaStep,
    book_or_leave,
    customer_appointment,
    unavailable_text,
)
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import register
from chatbots.text import match_option, normalize

# Days offered at once: 9 + "Voltar" = 10 rows (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
MAX_DAYS = 9

WEEKDAY_NAMES = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
_TYPED_DATE = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*\d{2,4})?$")
# "9:30", "09h30", "14h", "14" (a typed hour after the numbers of the page shown).
_TYPED_TIME = re.compile(r"^(?P<h>\d{1,2})(?:(?:[:h])(?P<m>\d{2})?h?)?$")


def _not_configured_text() -> str:
    return _(
        "Desculpe, a agenda não está configurada, então ainda não consigo marcar horários "
        "por aqui. Por favor, fale com a gente por outro canal. 🙏"
    )


def _agenda_error(exc: AgendaErro) -> Reply:
    """No source: say so and end. Cal.com unreachable: say so and stay (nothing lost)."""
    if isinstance(exc, AgendaNaoConfigurada):
        return Reply(messages=[kit.text(_not_configured_text())], end=True)
    return Reply(messages=[kit.text(unavailable_text())])


def _today(ctx: Context) -> date:
    return timezone.now().astimezone(tenant_time_zone(ctx.chatbot.tenant)).date()


def _chosen_servico(ctx: Context) -> Servico | None:
    pk = ctx.state.get(K_SERVICE)
    if not pk:
        return None
    return agenda_selectors.servico_get_active(tenant_id=ctx.chatbot.tenant_id, pk=pk)


def _rescheduling(ctx: Context) -> Agendamento | None:
    return customer_appointment(ctx, ctx.state.get(K_RESCHEDULING))


def _moment(iso: str | None) -> datetime | None:
    """The aware datetime an ISO text (a tapped time row, the state) names; else None."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


# --- inicio ----------------------------------------------------------------------------


@register
class AgendaInicioHandler(AgendaStep):
    label = gettext_lazy("Agenda: início (Agendar, Meu horário)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Quer marcar um horário?"}')
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
        )


# --- agenda_servico --------------------------------------------------------------------


@register
class EscolherServicoHandler(AgendaStep):
    label = gettext_lazy("Agenda: escolher serviço")
    config_help = gettext_lazy('Opcional: {"text": "Qual serviço você quer agendar?"}')
    KEYS = ("text",)
    NEXT_STEPS = (CHOOSE_DAY,)

    def _items(self, ctx: Context) -> list[Servico]:
        return list(agenda_selectors.servico_list_active(tenant=ctx.chatbot.tenant))

    def enter(self, ctx: Context) -> Reply:
        try:
            configuracao_get_active(ctx.chatbot.tenant)
        except AgendaNaoConfigurada as exc:
            return _agenda_error(exc)
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
    NEXT_STEPS = (CHOOSE_TIME,)

    def enter(self, ctx: Context) -> Reply:
        servico = _chosen_servico(ctx)
        if servico is None:
            return Reply(next_step=CHOOSE_SERVICE)
        rescheduling = _rescheduling(ctx)
        try:
            days = days_with_free_slots(tenant=ctx.chatbot.tenant, servico=servico, limite=MAX_DAYS)
        except AgendaErro as exc:
            return _agenda_error(exc)
        if not days:
            text = _("Não há horários livres para *%(servico)s* nos próximos dias. 😕") % {
                "servico": servico.nome
            }
            if rescheduling is not None:
                text += "\n" + _("Seu horário atual continua marcado.")
                return Reply(messages=[kit.text(text)], end=True)
            return Reply(messages=[kit.text(text)], state={K_PAGE: 0}, next_step=CHOOSE_SERVICE)
        today = _today(ctx)
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
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver dias"),
                    prefix="dia",
                    rows=rows,
                    more=False,
                    back=rescheduling is None,
                )
            ],
            state={K_DAYS: [d.isoformat() for d in days]},
        )

    def handle(self, ctx: Context) -> Reply:
        if kit.navigation(ctx, "dia", more_words=MORE_WORDS) == kit.BACK:
            if ctx.state.get(K_RESCHEDULING):
                return Reply(
                    messages=[kit.text(_("Tudo bem, seu horário continua como estava."))], end=True
                )
            return Reply(state={K_PAGE: 0}, next_step=CHOOSE_SERVICE)
        days = [date.fromisoformat(d) for d in ctx.state.get(K_DAYS) or []]
        day = _chosen_day(ctx, days, _today(ctx))
        if day is None:
            return Reply(
                messages=[
                    kit.text(_("Não entendi o dia. Escolha um da lista, ou digite o número."))
                ],
                next_step=CHOOSE_DAY,
            )
        return Reply(state={K_DAY: day.isoformat(), K_PAGE: 0}, next_step=CHOOSE_TIME)


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
    NEXT_STEPS = (CHOOSE_DAY, CONFIRM)

    def enter(self, ctx: Context) -> Reply:
        servico = _chosen_servico(ctx)
        if servico is None:
            return Reply(next_step=CHOOSE_SERVICE)
        try:
            day = date.fromisoformat(ctx.state.get(K_DAY) or "")
        except ValueError:
            return Reply(next_step=CHOOSE_DAY)
        try:
            slots = free_slots(tenant=ctx.chatbot.tenant, servico=servico, dia=day)
        except AgendaErro as exc:
            return _agenda_error(exc)
        if not slots:
            return Reply(
                messages=[
                    kit.text(
                        _("Não há mais horários livres em %(dia)s. Escolha outro dia:")
                        % {"dia": texts.short_day(day)}
                    )
                ],
                state={K_DAY: None},
                next_step=CHOOSE_DAY,
            )
        page = kit.page_of(slots, ctx.state.get(K_PAGE))
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
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver horários"),
                    prefix="hora",
                    rows=rows,
                    more=page.has_more,
                    back=True,
                )
            ],
            state={K_TIMES: [s.inicio.isoformat() for s in slots], K_PAGE: page.number},
        )

    def handle(self, ctx: Context) -> Reply:
        times = [datetime.fromisoformat(t) for t in ctx.state.get(K_TIMES) or []]
        page = kit.page_of(times, ctx.state.get(K_PAGE))
        navigation = kit.navigation(ctx, "hora", more_words=MORE_WORDS)
        if navigation == kit.MORE and page.has_more:
            return Reply(state={K_PAGE: page.number + 1}, next_step=CHOOSE_TIME)
        if navigation == kit.BACK:
            return Reply(state={K_PAGE: 0, K_DAY: None}, next_step=CHOOSE_DAY)
        start = _chosen_time(ctx, times, page)
        if start is None:
            return Reply(
                messages=[
                    kit.text(
                        _(
                            "Não entendi o horário. Escolha um da lista ou digite, por exemplo, 9:30."
                        )
                    )
                ],
                next_step=CHOOSE_TIME,
            )
        return Reply(state={K_START: start.isoformat()}, next_step=CONFIRM)


def _chosen_time(ctx: Context, times: list[datetime], page: kit.Page) -> datetime | None:
    """The time tapped ("hora:<ISO>"), a number on the page shown, or a typed time."""
    if ctx.reply_id.startswith("hora:"):
        return _moment(ctx.reply_id[5:])
    typed = normalize(ctx.text).replace(" ", "")
    numbered = page.numbered(typed)
    if numbered is not None:
        return numbered
    typed_time = _TYPED_TIME.match(typed)
    if typed_time is None:
        return None
    hh, mm = int(typed_time["h"]), int(typed_time["m"] or 0)
    return next((t for t in times if (t.hour, t.minute) == (hh, mm)), None)


# --- agenda_confirmar ------------------------------------------------------------------

YES = "conf:sim"
OTHER_TIME = "conf:trocar"
NO = "conf:nao"


@register
class ConfirmarAgendamentoHandler(AgendaStep):
    label = gettext_lazy("Agenda: confirmar agendamento")
    config_help = gettext_lazy('Opcional: {"text": "Até lá! Qualquer coisa, é só chamar."}')
    KEYS = ("text",)
    NEXT_STEPS = (CHOOSE_TIME,)

    OPTIONS = [
        (YES, gettext_lazy("Confirmar")),
        (OTHER_TIME, gettext_lazy("Outro horário")),
        (NO, gettext_lazy("Cancelar")),
    ]
    ALIASES = {
        "sim": YES,
        "ok": YES,
        "confirmo": YES,
        "pode ser": YES,
        "outro": OTHER_TIME,
        "trocar": OTHER_TIME,
        "nao": NO,
        "desistir": NO,
    }

    def enter(self, ctx: Context) -> Reply:
        servico, start = _chosen_servico(ctx), _moment(ctx.state.get(K_START))
        if servico is None or start is None:
            return Reply(next_step=CHOOSE_TIME)
        tenant = ctx.chatbot.tenant
        if ctx.state.get(K_RESCHEDULING):
            old = _rescheduling(ctx)
            if old is None or not old.ativo:
                return _not_reschedulable()
            body = _("Remarcar %(resumo)s para *%(novo)s*?") % {
                "resumo": texts.appointment_summary(old),
                "novo": texts.when_label(start, tenant=tenant),
            }
        else:
            body = _("Confirma *%(servico)s* %(quando)s?") % {
                "servico": servico.nome,
                "quando": texts.when_label(start, tenant=tenant),
            }
        return Reply(messages=[self.ask(body)])

    def handle(self, ctx: Context) -> Reply:
        choice = self.pressed(ctx)
        if choice == OTHER_TIME:
            return _other_time()
        if choice == NO:
            text = (
                _("Tudo bem, seu horário continua como estava.")
                if ctx.state.get(K_RESCHEDULING)
                else _("Tudo bem, não marquei nada. Quando quiser, é só chamar. 😊")
            )
            return Reply(messages=[kit.text(text)], end=True)
        if choice != YES:
            return Reply(
                messages=[kit.text(_("Toque em Confirmar, Outro horário ou Cancelar."))],
                next_step=CONFIRM,
            )
        servico, start = _chosen_servico(ctx), _moment(ctx.state.get(K_START))
        if servico is None or start is None:
            return Reply(next_step=CHOOSE_TIME)
        return _book(ctx, servico=servico, start=start)


def _other_time(text: str | None = None) -> Reply:
    """Back to the times of the chosen day (from page 1), saying `text` first if given."""
    return Reply(
        messages=[] if text is None else [kit.text(text)],
        state={K_START: None, K_PAGE: 0},
        next_step=CHOOSE_TIME,
    )


def _not_reschedulable() -> Reply:
    return Reply(messages=[kit.text(_("Esse agendamento não pode mais ser remarcado."))], end=True)


def _book(ctx: Context, *, servico: Servico, start: datetime) -> Reply:
    """Book the chosen time, or move the appointment being rescheduled to it."""
    tenant = ctx.chatbot.tenant
    old = _rescheduling(ctx) if ctx.state.get(K_RESCHEDULING) else None
    try:
        if ctx.state.get(K_RESCHEDULING):
            if old is None:
                return _not_reschedulable()
            agendamento = agenda_services.agendamento_reschedule(agendamento=old, novo_inicio=start)
            agenda_services.agendamento_audit(
                tenant=agendamento.tenant,
                action="agendamento.reschedule",
                agendamento=agendamento,
                cliente=ctx.cliente,
                changes={
                    "inicio": [old.inicio.isoformat(), agendamento.inicio.isoformat()],
                    "reagendado_de": [None, old.pk],
                    "canal": [None, "whatsapp"],
                },
            )
        else:
            agendamento = agenda_services.agendamento_create(
                tenant=tenant,
                cliente=ctx.cliente,
                servico=servico,
                inicio=start,
                origem=Agendamento.Origem.CHAT,
            )
    except SlotTaken:
        return _other_time(
            _(
                "Poxa, esse horário acabou de ser ocupado por outra pessoa. 😕 "
                "Veja os próximos horários livres:"
            )
        )
    except AgendaIndisponivel:
        # Nothing was booked anywhere (the service calls Cal.com first): offer the same
        # confirmation again, so one tap retries.
        return Reply(messages=[kit.text(unavailable_text())], next_step=CONFIRM)
    except AgendaNaoConfigurada as exc:
        return _agenda_error(exc)
    except ValidationError as exc:
        return _other_time(" ".join(exc.messages))
    closing = ctx.config.get("text") or _("Você vai receber um lembrete antes. Até lá! 😊")
    if old is not None:
        body = _("✅ Remarcado! Seu horário agora é %(resumo)s.\n%(fim)s")
    else:
        body = _("✅ Agendado! %(resumo)s.\n%(fim)s")
    return Reply(
        messages=[
            kit.text(body % {"resumo": texts.appointment_summary(agendamento), "fim": closing})
        ],
        end=True,
    )
