"""agenda_confirmar: the booking's last step (Confirmar, Outro horário, Cancelar), and the
booking itself: a new appointment, or the one being rescheduled moved to the chosen time."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import services as agenda_services
from agenda import texts
from agenda.errors import AgendaIndisponivel, AgendaNaoConfigurada, SlotTaken
from agenda.models import Agendamento, Servico
from chatbots.handlers import kit, schemas
from chatbots.handlers.agenda.base import (
    CHOOSE_TIME,
    CONFIRM,
    K_PAGE,
    K_RESCHEDULING,
    K_START,
    AgendaStep,
    agenda_error,
    chosen_servico,
    moment_of,
    rescheduling_of,
    unavailable_text,
)
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import register

YES = "conf:sim"
OTHER_TIME = "conf:trocar"
NO = "conf:nao"


@register
class ConfirmarAgendamentoHandler(AgendaStep):
    label = gettext_lazy("Agenda: confirmar agendamento")
    config_help = gettext_lazy('Opcional: {"text": "Até lá! Qualquer coisa, é só chamar."}')
    config_schema = schemas.OPTIONAL_TEXT
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
        servico, start = chosen_servico(ctx), moment_of(ctx.state.get(K_START))
        if servico is None or start is None:
            return Reply(next_step=CHOOSE_TIME)
        tenant = ctx.chatbot.tenant
        if ctx.state.get(K_RESCHEDULING):
            old = rescheduling_of(ctx)
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
                not_understood=True,
            )
        servico, start = chosen_servico(ctx), moment_of(ctx.state.get(K_START))
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
    old = rescheduling_of(ctx) if ctx.state.get(K_RESCHEDULING) else None
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
        return agenda_error(exc)
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
