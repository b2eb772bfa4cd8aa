"""What the agenda tells customers on its own: reminders (24 h and 1 h before), the "we
missed you" after a no-show and the satisfaction question after an attended appointment.

Each job claims its work with a conditional UPDATE (agenda.services: lembrete_claim,
agendamento_mark_no_show, followup_claim) and queues the message in the SAME
transaction, so:
* two beat ticks or two workers never send the same thing twice (the second UPDATE waits
  for the first transaction and then matches no row);
* a failure while queueing rolls the claim back, and the next tick tries again.

Messages go out through chatbots.services.send_to_customer, the one outbound service
(DESIGN.md, "The apps"): it applies WhatsApp's 24-hour window, falling back to the bot's
approved template for that kind of message (TEMPLATE_*), or records that the message could
not be sent. Reminders are
notices about the customer's own booking; the no-show offer and the satisfaction question
are proactive (`proactive=True`): a customer who opted out (SAIR) does not get them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import selectors, services, textos
from agenda.availability import tenant_time_zone
from agenda.models import Agendamento
from chatbots.models import Chatbot, Conversation, Message, MessageTemplate
from chatbots.wire import Button, Buttons, Outbound, Template
from clientes.models import Cliente

logger = logging.getLogger(__name__)

# MessageTemplate.purpose of the templates sent outside the 24-hour window, one per kind of
# message. Their body parameters, in order (as many as the template declares): customer's
# name, service, day ("Ter 05/03"), time ("10:00"). A quick-reply tap answering one of them
# acts on the customer's appointment (chatbots.handlers.agenda: the next one for a reminder,
# the last missed one for the no-show offer, the last attended one for the survey).
TEMPLATE_LEMBRETE = "reminder"
TEMPLATE_NO_SHOW = "no_show"
TEMPLATE_FOLLOWUP = "feedback"


class SemChatbot(Exception):
    """The tenant has no active chatbot to send through."""


# --- Which bot speaks ------------------------------------------------------------------


def chatbot_do_cliente(*, cliente: Cliente) -> Chatbot | None:
    """The bot the customer last talked to in this tenant (its 24-hour window is the one
    most likely open), else the tenant's first active bot; None when there is none."""
    conversa = (
        Conversation.objects.filter(
            tenant_id=cliente.tenant_id, cliente=cliente, chatbot__active=True
        )
        .select_related("chatbot")
        .order_by(F("last_customer_message_at").desc(nulls_last=True), "-updated_at")
        .first()
    )
    if conversa is not None:
        return conversa.chatbot
    return Chatbot.objects.filter(tenant_id=cliente.tenant_id, active=True).order_by("id").first()


def _template(*, chatbot: Chatbot, agendamento: Agendamento, uso: str) -> Template | None:
    """The bot's approved template for `uso` (a purpose above), filled for `agendamento`."""
    registrado = (
        MessageTemplate.objects.filter(chatbot=chatbot, purpose=uso, approved=True)
        .order_by("id")
        .first()
    )
    if registrado is None:
        return None
    local = agendamento.inicio.astimezone(tenant_time_zone(agendamento.tenant))
    params = [
        agendamento.cliente.nome or _("cliente"),
        agendamento.servico.nome,
        textos.dia_curto(local.date()),
        textos.hora(local),
    ]
    # Meta refuses a send whose parameter count differs from the approved template's.
    return Template(
        name=registrado.name, language=registrado.language, params=params[: registrado.param_count]
    )


def _enviar(
    *,
    agendamento: Agendamento,
    mensagem: Outbound,
    motivo: str,
    template: str = "",
    proativa: bool = False,
) -> Message:
    """Send through the customer's bot; outside the 24-hour window, the bot's approved
    template whose purpose is `template` goes instead (none: recorded as not sent)."""
    chatbot = chatbot_do_cliente(cliente=agendamento.cliente)
    if chatbot is None:
        raise SemChatbot(
            _("A empresa não tem nenhum chatbot ativo para enviar mensagens ao cliente.")
        )
    from chatbots.services import send_to_customer

    return send_to_customer(
        chatbot=chatbot,
        cliente=agendamento.cliente,
        message=mensagem,
        template=(
            _template(chatbot=chatbot, agendamento=agendamento, uso=template) if template else None
        ),
        reason=motivo,
        proactive=proativa,
    )


# --- Reminders -------------------------------------------------------------------------


def mensagem_lembrete(*, agendamento: Agendamento, agora: datetime | None = None) -> Buttons:
    """The reminder with its three buttons; their ids carry the appointment."""
    nome = (agendamento.cliente.nome or "").split(" ")[0]
    saudacao = _("Olá, %(nome)s!") % {"nome": nome} if nome else _("Olá!")
    corpo = _("%(saudacao)s Lembrete do seu horário: %(resumo)s.\n\nPodemos confirmar?") % {
        "saudacao": saudacao,
        "resumo": textos.resumo(agendamento, agora=agora),
    }
    return Buttons(
        body=corpo,
        buttons=[
            Button(id=textos.botao_acao(textos.CONFIRMAR, agendamento.pk), title=_("Confirmar")),
            Button(id=textos.botao_acao(textos.REAGENDAR, agendamento.pk), title=_("Reagendar")),
            Button(id=textos.botao_acao(textos.CANCELAR, agendamento.pk), title=_("Cancelar")),
        ],
    )


def lembrete_enviar(*, agendamento: Agendamento, tipo: str, agora: datetime) -> bool:
    """Claim and queue the `tipo` ("24h"/"1h") reminder of one appointment. True when this
    call did it; False when someone else already had (or the appointment is no longer
    active). Without a bot to send through, the claim stays and the reason is logged."""
    with transaction.atomic():
        if not services.lembrete_claim(agendamento_id=agendamento.pk, tipo=tipo, agora=agora):
            return False
        try:
            _enviar(
                agendamento=agendamento,
                mensagem=mensagem_lembrete(agendamento=agendamento, agora=agora),
                motivo=f"reminder_{tipo}",
                template=TEMPLATE_LEMBRETE,
            )
        except SemChatbot:
            logger.warning(
                "reminder not sent: tenant has no active chatbot",
                extra={"agendamento": agendamento.pk, "tipo": tipo},
            )
    return True


def lembretes_enviar(*, agora: datetime | None = None) -> dict[str, int]:
    """The periodic reminder job: every due 24 h and 1 h reminder, once each."""
    agora = agora or timezone.now()
    enviados = {}
    for tipo in selectors.REMINDERS:
        enviados[tipo] = sum(
            lembrete_enviar(agendamento=agendamento, tipo=tipo, agora=agora)
            for agendamento in selectors.agendamento_list_reminder_due(tipo=tipo, agora=agora)
        )
    if any(enviados.values()):
        logger.info("agenda reminders", extra={"enviados": enviados})
    return enviados


def lembrete_enviar_agora(*, agendamento: Agendamento) -> Message:
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
        return _enviar(
            agendamento=agendamento,
            mensagem=mensagem_lembrete(agendamento=agendamento),
            motivo="reminder_manual",
            template=TEMPLATE_LEMBRETE,
        )
    except SemChatbot as exc:
        raise ValidationError(str(exc)) from exc


# --- No-show ---------------------------------------------------------------------------


def mensagem_no_show(*, agendamento: Agendamento) -> Buttons:
    corpo = _("Sentimos sua falta no horário de %(resumo)s. 😕\n\nQuer marcar um novo horário?") % {
        "resumo": textos.resumo(agendamento)
    }
    return Buttons(
        body=corpo,
        buttons=[
            Button(id=textos.botao_acao(textos.REMARCAR, agendamento.pk), title=_("Marcar de novo"))
        ],
    )


def no_shows_processar(*, agora: datetime | None = None) -> int:
    """The periodic no-show job: appointments past their end plus the tenant's tolerance,
    still pending or confirmed, become `nao_compareceu` and the customer is offered to book
    again. Returns how many were marked."""
    agora = agora or timezone.now()
    marcados = 0
    for agendamento in selectors.agendamento_list_no_show_due(agora=agora):
        with transaction.atomic():
            if not services.agendamento_mark_no_show(agendamento_id=agendamento.pk):
                continue  # staff marked attendance meanwhile, or another worker got it
            marcados += 1
            try:
                _enviar(
                    agendamento=agendamento,
                    mensagem=mensagem_no_show(agendamento=agendamento),
                    motivo="no_show",
                    template=TEMPLATE_NO_SHOW,
                    proativa=True,  # an offer, not a notice: the opt-out ledger decides
                )
            except SemChatbot:
                logger.warning("no-show not messaged: no chatbot", extra={"id": agendamento.pk})
    if marcados:
        logger.info("agenda no-shows", extra={"marcados": marcados})
    return marcados


# --- Follow-up -------------------------------------------------------------------------


def mensagem_followup(*, agendamento: Agendamento) -> Buttons:
    corpo = _("Como foi seu atendimento de *%(servico)s*? Sua opinião nos ajuda a melhorar.") % {
        "servico": agendamento.servico.nome
    }
    return Buttons(
        body=corpo,
        buttons=[
            Button(id=textos.botao_nota(nota, agendamento.pk), title=str(titulo))
            for nota, titulo in textos.NOTAS
        ],
    )


def followups_enviar(*, agora: datetime | None = None) -> int:
    """The periodic follow-up job: one satisfaction question per attended appointment, an
    hour after its end. Returns how many were sent."""
    agora = agora or timezone.now()
    enviados = 0
    for agendamento in selectors.agendamento_list_followup_due(agora=agora):
        with transaction.atomic():
            if not services.followup_claim(agendamento_id=agendamento.pk, agora=agora):
                continue
            enviados += 1
            try:
                _enviar(
                    agendamento=agendamento,
                    mensagem=mensagem_followup(agendamento=agendamento),
                    motivo="feedback",
                    template=TEMPLATE_FOLLOWUP,
                    proativa=True,  # a survey, not a notice: the opt-out ledger decides
                )
            except SemChatbot:
                logger.warning("follow-up not sent: no chatbot", extra={"id": agendamento.pk})
    return enviados
