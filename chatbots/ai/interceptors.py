"""The assistant's interceptors: its buttons and its "talk to a person?" offer, in any step."""

from __future__ import annotations

from dataclasses import replace

from chatbots import wire as wa
from chatbots.ai import intent
from chatbots.ai.assistant import (
    GOTO_PREFIX,
    HANDOFF_TEXT,
    PERSON_ID,
    PREFIX,
    STAY_ID,
    STAY_TEXT,
    person_offer,
)
from chatbots.ai.options import ai_options, flow_steps, handoff_offer_on
from chatbots.handlers import intents
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.models import Message, Step


class AssistantButtons(Interceptor):
    """Taps on the assistant's buttons ("Fazer pedido", "Falar com atendente", "Ver menu")
    act whatever the step: they answer the assistant, not the step. A flow's button opens
    it with what the customer had written filled in, as the local rules would have."""

    def intercept(self, ctx: Context) -> Reply | None:
        reply_id = ctx.reply_id
        if not reply_id.startswith(PREFIX):
            return None
        if reply_id == PERSON_ID:
            options = ai_options(ctx.chatbot)
            text = (options.handoff_text or str(HANDOFF_TEXT))[: wa.TEXT_MAX]
            return Reply(messages=[wa.Text(body=text)], handoff=True, queue=options.handoff_queue)
        if reply_id == STAY_ID:
            return Reply(messages=[wa.Text(body=str(STAY_TEXT))])
        if reply_id.startswith(GOTO_PREFIX):
            # Step codes are slugs (Step.code), so the first ":" ends the code.
            code, _sep, asked = reply_id.removeprefix(GOTO_PREFIX).partition(":")
            if Step.objects.filter(chatbot=ctx.chatbot, code=code, active=True).exists():
                said = _flow_with_what_was_said(ctx, code, asked)
                return said or Reply(next_step=code, clear_state=True)
        # "Ver menu", or a button of a step that is gone.
        return Reply(clear_state=True, restart=True)


# The local rule each flow the assistant offers acts on (chatbots.handlers.intents).
FLOW_RULES = {Message.Intent.PEDIDO: "pedido", Message.Intent.AGENDAMENTO: "agenda"}


def _flow_with_what_was_said(ctx: Context, code: str, asked: str) -> Reply | None:
    """The flow of step `code` opened as the local rules open it for the customer's message
    `asked` (its id, from the button): "vocês cortam cabelo amanhã?" -> the agenda with
    "Corte de cabelo" and tomorrow chosen. A fresh start of that flow: no step, no state,
    as the button's plain jump. None: nothing to fill in (the flow's step then)."""
    if not asked.isdigit():
        return None  # a button sent before the id was carried
    said = (
        Message.objects.filter(
            pk=int(asked), conversation_id=ctx.conversation.pk, direction=Message.Direction.IN
        )
        .values_list("text", flat=True)
        .first()
    )
    rule = next(
        (
            FLOW_RULES[i]
            for i, c in flow_steps(chatbot=ctx.chatbot, step=ctx.step).items()
            if c == code
        ),
        None,
    )
    if not said or rule is None or ctx.message is None:
        return None
    message = replace(ctx.message, type="text", text=said, reply_id="")
    fresh = replace(ctx, step=None, message=message, state={})
    reply = intents.flow_reply(fresh, rule)
    if reply is not None:
        reply.clear_state = True
    return reply


class AssistantPersonOffer(Interceptor):
    """On bots that use the assistant, a very negative message gets the "talk to a person?"
    buttons (chatbots.ai.intent). An explicit request for a person never gets here: it is
    handed over before, on every bot (chatbots.interceptors.understanding.PersonRequest)."""

    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.message is None or ctx.message.type != "text":
            return None
        guess = intent.classify_local(ctx.text)
        if not intent.wants_person(guess) or not handoff_offer_on(ctx.chatbot, ctx.step):
            return None
        return Reply(messages=[person_offer(guess)])
