"""agenda_meu_horario, and what can be done to one appointment from the chat: confirm,
cancel, reschedule or book again (its buttons, a reminder's, a template's)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import selectors as agenda_selectors
from agenda import services as agenda_services
from agenda import texts
from agenda.errors import AgendaIndisponivel
from agenda.models import Agendamento
from chatbots.handlers import kit, schemas
from chatbots.handlers.agenda.base import (
    BOOK,
    CHOOSE_SERVICE,
    K_MINE,
    K_RESCHEDULING,
    K_SERVICE,
    LEAVE,
    AgendaStep,
    book_or_leave,
    customer_appointment,
    unavailable_text,
)
from chatbots.handlers.agenda.embedded import enter_agenda
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import register


def _status_text(agendamento: Agendamento) -> str:
    return agendamento.get_status_display().lower()


@register
class MeuHorarioHandler(AgendaStep):
    label = gettext_lazy("Agenda: meu próximo horário (ver, remarcar, cancelar)")
    config_help = gettext_lazy("Sem configuração.")
    config_schema = schemas.NONE
    NEXT_STEPS = (CHOOSE_SERVICE,)

    ALIASES = {"remarcar": texts.REAGENDAR, "mudar": texts.REAGENDAR, "trocar": texts.REAGENDAR}

    def _options(self, agendamento: Agendamento | None) -> list[tuple[str, str]]:
        if agendamento is None:
            return [(BOOK, _("Agendar")), (LEAVE, _("Encerrar"))]
        options = []
        if agendamento.status == Agendamento.Status.PENDENTE:
            options.append(
                (texts.action_button_id(texts.CONFIRMAR, agendamento.pk), _("Confirmar"))
            )
        options += [
            (texts.action_button_id(texts.REAGENDAR, agendamento.pk), _("Reagendar")),
            (texts.action_button_id(texts.CANCELAR, agendamento.pk), _("Cancelar")),
        ]
        return options

    def enter(self, ctx: Context) -> Reply:
        agendamento = agenda_selectors.agendamento_next(cliente=ctx.cliente)
        if agendamento is None:
            return Reply(
                messages=[
                    kit.buttons(
                        _("Você não tem nenhum horário marcado. Quer agendar agora?"),
                        self._options(None),
                    )
                ],
                state={K_MINE: None},
            )
        body = _("Seu próximo horário: %(resumo)s (%(status)s).") % {
            "resumo": texts.appointment_summary(agendamento),
            "status": _status_text(agendamento),
        }
        return Reply(
            messages=[kit.buttons(body, self._options(agendamento))],
            state={K_MINE: agendamento.pk},
        )

    def handle(self, ctx: Context) -> Reply:
        # Taps on "ag:..." buttons never get here: the interceptor takes them first.
        agendamento = customer_appointment(ctx, ctx.state.get(K_MINE))
        if agendamento is not None and not agendamento.ativo:
            agendamento = None
        options = self._options(agendamento)
        aliases = {}
        if agendamento is not None:
            aliases = {
                k: texts.action_button_id(v, agendamento.pk) for k, v in self.ALIASES.items()
            }
        choice = kit.match_button(ctx, options, aliases)
        menu = book_or_leave(choice)
        if menu is not None:
            return menu
        action = texts.ACTION_BUTTON.match(choice or "")
        if action and agendamento is not None:
            return appointment_action(ctx, action["acao"], agendamento)
        # A short answer naming the way on, once, under the buttons already shown: never the
        # same prompt again and again (a greeting, "meu horário" and "menu" are taken before
        # the step, by the understanding interceptors and the global commands).
        titles = [t for _i, t in options]
        return Reply(
            messages=[
                kit.text(
                    _(
                        "Não entendi. Toque em %(opcoes)s, ou envie *menu* para ver as opções "
                        "do início."
                    )
                    % {
                        "opcoes": _(" ou ").join([", ".join(titles[:-1]), titles[-1]])
                        if len(titles) > 1
                        else titles[0]
                    }
                )
            ],
            not_understood=True,
        )


def appointment_action(ctx: Context, action: str, agendamento: Agendamento) -> Reply:
    """Confirm, cancel, reschedule or book again `agendamento` (already checked to be this
    customer's); `action` is one of agenda.texts.ACTIONS. Confirm and cancel leave the
    conversation where it was."""
    if action == texts.CONFIRMAR:
        if agendamento.status == Agendamento.Status.CONFIRMADO:
            text = _("Seu horário de %(resumo)s já está confirmado. Até lá! 😊")
        else:
            try:
                agenda_services.agendamento_confirm(agendamento=agendamento)
            except ValidationError as exc:
                return Reply(messages=[kit.text(" ".join(exc.messages))])
            text = _("Obrigado! Seu horário de %(resumo)s está confirmado. Até lá! 😊")
        return Reply(messages=[kit.text(text % {"resumo": texts.appointment_summary(agendamento)})])
    if action == texts.CANCELAR:
        if agendamento.status == Agendamento.Status.CANCELADO:
            return Reply(messages=[kit.text(_("Esse horário já estava cancelado."))])
        try:
            agenda_services.agendamento_cancel(
                agendamento=agendamento, motivo=_("Cancelado pelo cliente no WhatsApp")
            )
        except AgendaIndisponivel:
            return Reply(messages=[kit.text(unavailable_text())])
        except ValidationError as exc:
            return Reply(messages=[kit.text(" ".join(exc.messages))])
        agenda_services.agendamento_audit(
            tenant=agendamento.tenant,
            action="agendamento.cancel",
            agendamento=agendamento,
            cliente=ctx.cliente,
            changes={
                "status": [agendamento.status, Agendamento.Status.CANCELADO],
                "canal": [None, "whatsapp"],
            },
        )
        return Reply(
            messages=[
                kit.text(
                    _(
                        "Pronto, cancelei seu horário de %(resumo)s. Se quiser marcar outro, "
                        "é só chamar. 😊"
                    )
                    % {"resumo": texts.appointment_summary(agendamento)}
                )
            ]
        )
    if action == texts.REAGENDAR:
        if not agendamento.ativo or agendamento.inicio <= timezone.now():
            return Reply(
                messages=[
                    kit.text(
                        _("Esse agendamento está %(status)s e não pode ser remarcado.")
                        % {"status": _status_text(agendamento)}
                    )
                ]
            )
        return enter_agenda(
            ctx,
            state={K_SERVICE: agendamento.servico_id, K_RESCHEDULING: agendamento.pk},
            messages=[],
        )
    if action == texts.REMARCAR:
        return enter_agenda(ctx, state={K_SERVICE: agendamento.servico_id}, messages=[])
    raise ValueError(f"unknown appointment action {action!r}")
