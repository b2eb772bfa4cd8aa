"""What the agenda tells customers on its own: reminders (24 h and 1 h before), the "we
missed you" after a no-show and the satisfaction question after an attended appointment.

Each job claims its work with a conditional UPDATE (agenda.services: lembrete_claim,
agendamento_mark_no_show, followup_claim) and queues the message in the SAME
transaction, so:
* two beat ticks or two workers never send the same thing twice (the second UPDATE waits
  for the first transaction and then matches no row);
* a failure while queueing rolls the claim back, and the next tick tries again.

Messages go out through the outbox (chatbots.outbox), through the bot the customer talks
to (chatbot_for_customer): it applies WhatsApp's 24-hour window, falling back to the bot's
approved template for that kind of message (TEMPLATE_*), or records that the message could
not be sent. Reminders are notices about the customer's own booking; the no-show offer and
the satisfaction question are proactive (`proactive=True`): a customer who opted out (SAIR)
does not get them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from agenda import selectors, services, texts
from agenda.availability import tenant_time_zone
from agenda.models import Agendamento
from chatbots import outbox
from chatbots.models import Chatbot, Message
from chatbots.outbox import Button, Buttons, Outbound, Template

logger = logging.getLogger(__name__)

REMINDERS_SENT = Counter(
    "agenda_reminders_total",
    "Appointment reminders queued, by kind (24h, 1h, manual, risk)",
    ["kind"],
)
NO_SHOWS = Counter("agenda_no_shows_total", "Appointments marked as missed by the no-show job")
SURVEYS_SENT = Counter("agenda_surveys_total", "Satisfaction questions queued after a visit")

# MessageTemplate.purpose of the templates sent outside the 24-hour window, one per kind of
# message. Their body parameters, in order (as many as the template declares): customer's
# name, service, day ("Ter 05/03"), time ("10:00"). A quick-reply tap answering one of them
# acts on the customer's appointment (chatbots.handlers.agenda: the next one for a reminder,
# the last missed one for the no-show offer, the last attended one for the survey).
TEMPLATE_LEMBRETE = "reminder"
TEMPLATE_NO_SHOW = "no_show"
TEMPLATE_FOLLOWUP = "feedback"


class NoChatbot(Exception):
    """The tenant has no active chatbot to send through."""


# --- Sending ---------------------------------------------------------------------------


def _template(*, chatbot: Chatbot, agendamento: Agendamento, purpose: str) -> Template | None:
    """The bot's approved template for `purpose` (a TEMPLATE_* above), filled for
    `agendamento`."""

    def params() -> list[str]:
        local = agendamento.inicio.astimezone(tenant_time_zone(agendamento.tenant))
        return [
            agendamento.cliente.nome or _("cliente"),
            agendamento.servico.nome,
            texts.short_day(local.date()),
            texts.hora(local),
        ]

    return outbox.template_for(
        chatbot=chatbot, purpose=purpose, params=params, cliente=agendamento.cliente
    )


def _send(
    *,
    agendamento: Agendamento,
    message: Outbound,
    reason: str,
    template: str = "",
    proactive: bool = False,
) -> Message:
    """Send through the customer's bot; outside the 24-hour window, the bot's approved
    template whose purpose is `template` goes instead (none: recorded as not sent)."""
    chatbot = outbox.chatbot_for_customer(cliente=agendamento.cliente)
    if chatbot is None:
        raise NoChatbot(
            _("A empresa não tem nenhum chatbot ativo para enviar mensagens ao cliente.")
        )
    return outbox.send_to_customer(
        chatbot=chatbot,
        cliente=agendamento.cliente,
        message=message,
        template=(
            _template(chatbot=chatbot, agendamento=agendamento, purpose=template)
            if template
            else None
        ),
        reason=reason,
        proactive=proactive,
        purpose=template,
    )


# --- Reminders -------------------------------------------------------------------------


def lembrete_message(*, agendamento: Agendamento, now: datetime | None = None) -> Buttons:
    """The reminder with its three buttons; their ids carry the appointment."""
    first_name = (agendamento.cliente.nome or "").split(" ")[0]
    greeting = _("Olá, %(nome)s!") % {"nome": first_name} if first_name else _("Olá!")
    body = _("%(saudacao)s Lembrete do seu horário: %(resumo)s.\n\nPodemos confirmar?") % {
        "saudacao": greeting,
        "resumo": texts.appointment_summary(agendamento, agora=now),
    }
    return Buttons(
        body=body,
        buttons=[
            Button(
                id=texts.action_button_id(texts.CONFIRMAR, agendamento.pk), title=_("Confirmar")
            ),
            Button(
                id=texts.action_button_id(texts.REAGENDAR, agendamento.pk), title=_("Reagendar")
            ),
            Button(id=texts.action_button_id(texts.CANCELAR, agendamento.pk), title=_("Cancelar")),
        ],
    )


def lembrete_send(*, agendamento: Agendamento, tipo: str, now: datetime) -> bool:
    """Claim and queue the `tipo` ("24h"/"1h") reminder of one appointment. True when this
    call did it; False when someone else already had (or the appointment is no longer
    active). Without a bot to send through, the claim stays and the reason is logged."""
    with transaction.atomic():
        if not services.lembrete_claim(agendamento_id=agendamento.pk, tipo=tipo, agora=now):
            return False
        try:
            _send(
                agendamento=agendamento,
                message=lembrete_message(agendamento=agendamento, now=now),
                reason=f"reminder_{tipo}",
                template=TEMPLATE_LEMBRETE,
            )
            REMINDERS_SENT.labels(kind=tipo).inc()
        except NoChatbot:
            logger.warning(
                "reminder not sent: tenant has no active chatbot",
                extra={"agendamento": agendamento.pk, "tipo": tipo},
            )
    return True


def lembretes_send(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic reminder job: every due 24 h and 1 h reminder, once each."""
    now = now or timezone.now()
    sent = {}
    for tipo in selectors.REMINDERS:
        sent[tipo] = sum(
            lembrete_send(agendamento=agendamento, tipo=tipo, now=now)
            for agendamento in selectors.agendamento_list_reminder_due(tipo=tipo, agora=now)
        )
    if any(sent.values()):
        logger.info("agenda reminders", extra={"enviados": sent})
    return sent


def lembrete_send_now(*, agendamento: Agendamento) -> Message:
    """Staff's "send reminder now" (admin action, API): one reminder, whatever the clock.

    It claims nothing, so the automatic 24 h and 1 h reminders still go at their time.
    Returns the outbound row (its status says whether it was queued or could not be sent);
    raises ValidationError for an appointment that is not upcoming and active, or when the
    tenant has no active chatbot.
    """
    if not agendamento.ativo or agendamento.inicio <= timezone.now():
        raise ValidationError(
            _("Só é possível lembrar agendamentos futuros, pendentes ou confirmados.")
        )
    try:
        message = _send(
            agendamento=agendamento,
            message=lembrete_message(agendamento=agendamento),
            reason="reminder_manual",
            template=TEMPLATE_LEMBRETE,
        )
    except NoChatbot as exc:
        raise ValidationError(str(exc)) from exc
    REMINDERS_SENT.labels(kind="manual").inc()
    return message


# --- Extra confirmation (high no-show risk) ---------------------------------------------


def confirmacao_extra_message(*, agendamento: Agendamento, now: datetime | None = None) -> Buttons:
    """The request sent to a customer likely to miss (agenda.noshow); its buttons are the
    reminder's confirm and reschedule actions, so the chat side needs nothing new."""
    first_name = (agendamento.cliente.nome or "").split(" ")[0]
    greeting = _("Olá, %(nome)s!") % {"nome": first_name} if first_name else _("Olá!")
    body = _(
        "%(saudacao)s Seu horário de %(resumo)s está chegando. Você confirma que vem? Se não "
        "puder, remarcamos agora mesmo."
    ) % {"saudacao": greeting, "resumo": texts.appointment_summary(agendamento, agora=now)}
    return Buttons(
        body=body,
        buttons=[
            Button(id=texts.action_button_id(texts.CONFIRMAR, agendamento.pk), title=_("Confirmo")),
            Button(
                id=texts.action_button_id(texts.REAGENDAR, agendamento.pk),
                title=_("Preciso remarcar"),
            ),
        ],
    )


def confirmacao_extra_send(*, agendamento: Agendamento, now: datetime) -> bool:
    """Claim and queue the extra confirmation request of one high-risk appointment; outside
    the 24-hour window the bot's reminder template goes instead, as for the reminders."""
    with transaction.atomic():
        if not services.confirmacao_extra_claim(agendamento_id=agendamento.pk, agora=now):
            return False
        try:
            _send(
                agendamento=agendamento,
                message=confirmacao_extra_message(agendamento=agendamento, now=now),
                reason="no_show_risk",
                template=TEMPLATE_LEMBRETE,
            )
            REMINDERS_SENT.labels(kind="risk").inc()
        except NoChatbot:
            logger.warning(
                "confirmation request not sent: no chatbot", extra={"id": agendamento.pk}
            )
    return True


# --- No-show ---------------------------------------------------------------------------


def no_show_message(*, agendamento: Agendamento) -> Buttons:
    body = _("Sentimos sua falta no horário de %(resumo)s. 😕\n\nQuer marcar um novo horário?") % {
        "resumo": texts.appointment_summary(agendamento)
    }
    return Buttons(
        body=body,
        buttons=[
            Button(
                id=texts.action_button_id(texts.REMARCAR, agendamento.pk), title=_("Marcar de novo")
            )
        ],
    )


def no_shows_process(*, now: datetime | None = None) -> int:
    """The periodic no-show job: appointments past their end plus the tenant's tolerance,
    still pending or confirmed, become `nao_compareceu` and the customer is offered to book
    again. Returns how many were marked."""
    now = now or timezone.now()
    marked = 0
    for agendamento in selectors.agendamento_list_no_show_due(agora=now):
        with transaction.atomic():
            if not services.agendamento_mark_no_show(
                agendamento_id=agendamento.pk, tenant_id=agendamento.tenant_id
            ):
                continue  # staff marked attendance meanwhile, or another worker got it
            marked += 1
            NO_SHOWS.inc()
            try:
                _send(
                    agendamento=agendamento,
                    message=no_show_message(agendamento=agendamento),
                    reason="no_show",
                    template=TEMPLATE_NO_SHOW,
                    proactive=True,  # an offer, not a notice: the opt-out ledger decides
                )
            except NoChatbot:
                logger.warning("no-show not messaged: no chatbot", extra={"id": agendamento.pk})
    if marked:
        logger.info("agenda no-shows", extra={"marcados": marked})
    return marked


# --- Follow-up -------------------------------------------------------------------------


def followup_message(*, agendamento: Agendamento) -> Buttons:
    body = _("Como foi seu atendimento de *%(servico)s*? Sua opinião nos ajuda a melhorar.") % {
        "servico": agendamento.servico.nome
    }
    return Buttons(
        body=body,
        buttons=[
            Button(id=texts.score_button_id(nota, agendamento.pk), title=str(titulo))
            for nota, titulo in texts.SCORES
        ],
    )


def followups_send(*, now: datetime | None = None) -> int:
    """The periodic follow-up job: one satisfaction question per attended appointment, an
    hour after its end. Returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for agendamento in selectors.agendamento_list_followup_due(agora=now):
        with transaction.atomic():
            if not services.followup_claim(agendamento_id=agendamento.pk, agora=now):
                continue
            sent += 1
            try:
                _send(
                    agendamento=agendamento,
                    message=followup_message(agendamento=agendamento),
                    reason="feedback",
                    template=TEMPLATE_FOLLOWUP,
                    proactive=True,  # a survey, not a notice: the opt-out ledger decides
                )
                SURVEYS_SENT.inc()
            except NoChatbot:
                logger.warning("follow-up not sent: no chatbot", extra={"id": agendamento.pk})
    return sent
