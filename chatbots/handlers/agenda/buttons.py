"""The appointment buttons interceptor: taps that belong to an appointment, not to the step
the conversation is at.

A reminder's "Confirmar" ("ag:confirmar:42"), the "book again" after a no-show
("ag:remarcar:42") and the satisfaction score ("fb:5:42") act on their appointment from any
step of any flow, as do the waiting list's buttons (join: "le:7", take a freed time: "vg:9"); so do the quick-reply buttons of the agenda's templates, sent outside the
24-hour window. The comment typed after a score, and the answers to embedded agenda steps
(chatbots.handlers.agenda.embedded), are taken here too.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from agenda import notifications, texts, waitlist
from agenda import selectors as agenda_selectors
from agenda import services as agenda_services
from agenda.errors import AgendaErro
from chatbots.handlers import kit
from chatbots.handlers.agenda.base import K_AWAITING_COMMENT, MAX_HOPS, customer_appointment
from chatbots.handlers.agenda.embedded import embedded_step
from chatbots.handlers.agenda.my_appointment import appointment_action
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.models import Message, MessageTemplate
from chatbots.text import normalize

# What the quick-reply buttons of the agenda's templates say (normalize()d).
_TYPED_ACTIONS = {
    "confirmar": texts.CONFIRMAR,
    "reagendar": texts.REAGENDAR,
    "cancelar": texts.CANCELAR,
}
_TYPED_SCORES = {"otimo": 5, "bom": 3, "ruim": 1}


class AppointmentButtons(Interceptor):
    """Buttons that carry an appointment, the comment after a satisfaction score, and the
    embedded agenda steps. None: not ours."""

    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.message is None:
            return None
        reply_id = ctx.reply_id
        action = texts.ACTION_BUTTON.match(reply_id)
        if action:
            agendamento = customer_appointment(ctx, action["id"])
            if agendamento is None:
                return Reply(messages=[kit.text(_("Não encontrei esse agendamento."))])
            if action["acao"] != texts.REMARCAR:
                # An old reminder's buttons stay in the chat after a reschedule: they act
                # on the appointment it became, not on the moved one.
                agendamento = agenda_selectors.agendamento_latest_version(
                    agendamento=agendamento, max_hops=MAX_HOPS
                )
            return appointment_action(ctx, action["acao"], agendamento)
        vaga = texts.VAGA_BUTTON.match(reply_id)
        if vaga:
            return _take_slot(ctx, oferta_id=int(vaga["id"]))
        espera = texts.ESPERA_BUTTON.match(reply_id)
        if espera:
            return _join_waitlist(ctx, servico_id=int(espera["servico"]))
        score = texts.SCORE_BUTTON.match(reply_id)
        if score:
            return _rate(ctx, agendamento_id=score["id"], score=int(score["nota"]))
        template_tap = _template_tap(ctx)
        if template_tap is not None:
            return template_tap
        awaited = ctx.state.get(K_AWAITING_COMMENT)
        if awaited and ctx.message.type == "text" and not reply_id and ctx.text:
            agendamento = customer_appointment(ctx, awaited)
            if agendamento is not None:
                agenda_services.feedback_comment(agendamento=agendamento, comentario=ctx.text)
            return Reply(
                messages=[kit.text(_("Obrigado pelo comentário! 🙏"))],
                state={K_AWAITING_COMMENT: None},
            )
        return embedded_step(ctx)


def _take_slot(ctx: Context, *, oferta_id: int) -> Reply:
    """ "Quero esse horário" under a waiting-list offer: the first to tap books it."""
    try:
        agendamento = waitlist.vaga_accept(oferta_id=oferta_id, cliente=ctx.cliente)
    except AgendaErro as exc:
        return Reply(messages=[kit.text(exc.message)])
    return Reply(
        messages=[
            kit.text(
                _("Pronto! O horário de %(resumo)s é seu e já está confirmado. Até lá! 😊")
                % {"resumo": texts.appointment_summary(agendamento)}
            )
        ]
    )


def _join_waitlist(ctx: Context, *, servico_id: int) -> Reply:
    servico = agenda_selectors.servico_get_active(tenant_id=ctx.chatbot.tenant_id, pk=servico_id)
    if servico is None:
        return Reply(messages=[kit.text(_("Esse serviço não está mais disponível."))])
    waitlist.lista_espera_join(tenant=servico.tenant, cliente=ctx.cliente, servico=servico)
    return Reply(
        messages=[
            kit.text(
                _(
                    "Combinado! Você está na lista de espera de *%(servico)s*. Se abrir um "
                    "horário, eu te aviso por aqui."
                )
                % {"servico": servico.nome}
            )
        ],
        end=True,
    )


def _rate(ctx: Context, *, agendamento_id: str, score: int) -> Reply:
    agendamento = customer_appointment(ctx, agendamento_id)
    if agendamento is None:
        return Reply(messages=[kit.text(_("Não encontrei esse agendamento."))])
    try:
        agenda_services.feedback_record(agendamento=agendamento, nota=score)
    except ValidationError as exc:
        return Reply(messages=[kit.text(" ".join(exc.messages))])
    return Reply(
        messages=[
            kit.text(
                _(
                    "Obrigado pela avaliação! 💙 Se quiser, escreva em uma mensagem o que "
                    "achou (é opcional)."
                )
            )
        ],
        state={K_AWAITING_COMMENT: agendamento.pk},
    )


def _template_tap(ctx: Context) -> Reply | None:
    """A quick-reply tap on one of the agenda's TEMPLATES (sent outside the 24-hour window).

    Template buttons carry a payload fixed when the template was approved, not the
    appointment id; so the tap counts only when it answers (context) an agenda template we
    sent in this conversation, and which appointment it is about follows from the
    template's purpose (agenda.notifications): the next one for a reminder (Confirmar /
    Reagendar / Cancelar), the last missed one for the no-show offer (any button: book
    again), the last rated-to-be one for the survey (Ótimo / Bom / Ruim).
    """
    if ctx.message.type != "button" or not ctx.message.context_id:
        return None
    payload = (
        Message.objects.filter(
            conversation=ctx.conversation,
            direction=Message.Direction.OUT,
            provider_message_id=ctx.message.context_id,
            type="template",
        )
        .values_list("payload", flat=True)
        .first()
    )
    name = (payload or {}).get("name")
    purposes = {
        notifications.TEMPLATE_LEMBRETE,
        notifications.TEMPLATE_NO_SHOW,
        notifications.TEMPLATE_FOLLOWUP,
    }
    purpose = (
        MessageTemplate.objects.filter(chatbot=ctx.chatbot, name=name, purpose__in=purposes)
        .values_list("purpose", flat=True)
        .first()
        if name
        else None
    )
    tapped = [normalize(ctx.text), normalize(ctx.reply_id)]
    if purpose == notifications.TEMPLATE_LEMBRETE:
        action = next((_TYPED_ACTIONS[t] for t in tapped if t in _TYPED_ACTIONS), None)
        if action is None:
            return None
        agendamento = agenda_selectors.agendamento_next(cliente=ctx.cliente)
        if agendamento is None:
            return Reply(messages=[kit.text(_("Você não tem nenhum horário marcado no momento."))])
        return appointment_action(ctx, action, agendamento)
    if purpose == notifications.TEMPLATE_NO_SHOW:
        agendamento = agenda_selectors.agendamento_last_no_show(cliente=ctx.cliente)
        if agendamento is None:
            return None
        return appointment_action(ctx, texts.REMARCAR, agendamento)
    if purpose == notifications.TEMPLATE_FOLLOWUP:
        score = next(
            (_TYPED_SCORES[word] for t in tapped for word in t.split() if word in _TYPED_SCORES),
            None,
        )
        agendamento = agenda_selectors.agendamento_last_rateable(cliente=ctx.cliente)
        if score is None or agendamento is None:
            return None
        return _rate(ctx, agendamento_id=str(agendamento.pk), score=score)
    return None
