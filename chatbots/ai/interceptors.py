"""The assistant's interceptors: its buttons and its "talk to a person?" offer, in any step."""

from __future__ import annotations

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
from chatbots.ai.options import ai_options, handoff_offer_on
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.models import Step


class AssistantButtons(Interceptor):
    """Taps on the assistant's buttons ("Fazer pedido", "Falar com atendente", "Ver menu")
    act whatever the step: they answer the assistant, not the step."""

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
            code = reply_id.removeprefix(GOTO_PREFIX)
            if Step.objects.filter(chatbot=ctx.chatbot, code=code, active=True).exists():
                return Reply(next_step=code, clear_state=True)
        # "Ver menu", or a button of a step that is gone.
        return Reply(clear_state=True, restart=True)


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
