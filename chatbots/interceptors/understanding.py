"""Understanding what the customer types, at any step: a greeting, a request for a person, a
clear intent, and free text that no step expected.

Before the step (interceptors, in CHATBOT_INTERCEPTORS after the ones that take messages of
their own: opt-out, handoff, "menu", quota, appointment buttons, catalog carts, the
assistant's buttons):

* `PersonRequest`: "atendente", "quero falar com uma pessoa" typed at any step, or a
  "Falar com atendente" button of an older message tapped, reaches a person: the bot's
  handoff step when it has one (its text is the business's), else a handoff with our text.
  A tap on the person option of the bot's last message is that step's own answer.
* `Greeting`: "oi", "olá", "bom dia"... offers the flow's first step again (a restart, as
  "menu" does).
* `FlowIntent`: an order, an appointment ("quero marcar um corte amanhã"), "remarcar",
  "meu horário" go to that flow with what was said filled in (chatbots.handlers.intents);
  so does something asked for by name ("quero uma pizza calabresa") when a flow has it;
  our buttons "intencao:<rule>" too. (An order's status: chatbots.interceptors.order_status.)

A step whose answer is free text (Handler.takes_free_text: a name, an address) keeps all
of that as its answer, but for a message that is only a request for a person.

After the step, two hooks of the engine (chatbots.engine):

* `opening_reply`: a new conversation's first message, after the flow's greeting. A question
  is answered: by the assistant where it answers this bot's free text and a model can be
  called, else from what the business told us (chatbots.ai.knowledge: its knowledge entries, opening hours, address,
  prices), else a person is called to answer it. Never just the greeting.
* `after_step`: free text the step did not understand (`Reply.not_understood`) is answered
  the same way (the assistant with "ai_fallback", else the business's own answer, then the
  step again); when nothing answers, the step's re-prompt stands, and from the second miss
  in a row it also names the way out ("menu", "atendente").
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from chatbots import numbered
from chatbots import wire as wa
from chatbots.ai import assistant, intent, knowledge
from chatbots.ai.options import ai_options, assistant_in_use, flow_steps
from chatbots.handlers import intents
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.generic import DEFAULT_HANDOFF_TEXT, HandoffHandler
from chatbots.handlers.registry import HandlerNotFound, load_handler
from chatbots.interceptors.base import Interceptor
from chatbots.interceptors.core import DEFAULT_RESTART_KEYWORDS
from chatbots.models import Message, Step

# Our buttons that start a flow ("Fazer pedido" when there is no order to show).
INTENT_PREFIX = "intencao:"
# Consecutive messages the current step did not understand (conversation state).
K_MISSES = "nao_entendidas"
MISSES_BEFORE_HINT = 2

QUESTION_TO_PERSON_TEXT = gettext_lazy(
    "Essa eu vou deixar para a nossa equipe responder: uma pessoa fala com você por aqui "
    "assim que puder. 🙂"
)
WAY_OUT_TEXT = gettext_lazy(
    "Se preferir, envie *%(menu)s* para ver as opções do início ou *atendente* para falar "
    "com uma pessoa."
)
RULE_INTENTS = {
    "pedido": Message.Intent.PEDIDO,
    "agenda": Message.Intent.AGENDAMENTO,
    "agenda_change": Message.Intent.AGENDAMENTO,
    "meu_horario": Message.Intent.AGENDAMENTO,
}


def takes_free_text(ctx: Context) -> bool:
    """Does the conversation's current step take free text as its answer?"""
    if ctx.step is None:
        return False
    try:
        return load_handler(ctx.step.handler_path).takes_free_text(ctx.config)
    except HandlerNotFound:
        return False  # the engine refuses that step anyway (FlowError)


def _typed(ctx: Context) -> bool:
    message = ctx.message
    return (
        message is not None and message.type == "text" and not message.reply_id and bool(ctx.text)
    )


def person_reply(ctx: Context) -> Reply:
    """Hand the conversation to a person: through the bot's handoff step when it has one
    (the business's own words), else with the assistant's handoff text or ours."""
    code = (
        Step.objects.filter(chatbot=ctx.chatbot, active=True, handler_path=HandoffHandler.path())
        .order_by("order", "id")
        .values_list("code", flat=True)
        .first()
    )
    if code:
        return Reply(next_step=code)
    options = ai_options(ctx.chatbot)
    text = options.handoff_text or str(DEFAULT_HANDOFF_TEXT)
    return Reply(
        messages=[wa.Text(body=text[: wa.TEXT_MAX])], handoff=True, queue=options.handoff_queue
    )


class PersonRequest(Interceptor):
    """A typed request for a person, or a tapped "Falar com atendente", from any step."""

    def intercept(self, ctx: Context) -> Reply | None:
        message = ctx.message
        if message is None:
            return None
        if message.reply_id:
            if message.type == "text" or not intent.asks_for_person(ctx.text):
                return None  # a typed number (chatbots.numbered) is the step's, like its taps
            menu = numbered.last_menu(ctx.conversation)
            if ctx.step is not None and menu is not None:
                if message.reply_id in {option_id for option_id, _t in menu.options}:
                    return None  # the step's own "Falar com atendente": its flow goes on
            return person_reply(ctx)
        if not _typed(ctx):
            return None
        if takes_free_text(ctx):
            asked = intent.person_request_only(ctx.text)  # "o atendente foi ótimo" is a comment
        else:
            asked = intent.asks_for_person(ctx.text)
        return person_reply(ctx) if asked else None


class Greeting(Interceptor):
    """ "oi", "olá", "bom dia" at any step offer the flow's first step again."""

    def intercept(self, ctx: Context) -> Reply | None:
        if not _typed(ctx) or takes_free_text(ctx):
            return None
        if intent.classify_local(ctx.text).rule != "greeting":
            return None
        return Reply(clear_state=True, restart=True)


def flow_reply(ctx: Context, rule: str, *, tapped: bool = False) -> Reply | None:
    """The Reply of the flow that acts on `rule` (chatbots.handlers.intents), or the step that
    starts that flow; None when the bot has no such flow or the conversation is in it
    already (its steps take the message), unless the customer `tapped` our button."""
    reply = intents.flow_reply(ctx, rule)
    if reply is not None:
        return reply
    wanted = RULE_INTENTS.get(rule)
    code = flow_steps(chatbot=ctx.chatbot).get(wanted) if wanted else None
    if not code:
        return None
    if not tapped and ctx.step is not None:
        start = Step.objects.filter(chatbot=ctx.chatbot, code=code).values_list(
            "handler_path", flat=True
        )
        module = ctx.step.handler_path.rpartition(".")[0]
        if any(path.rpartition(".")[0] == module for path in start):
            return None
    return Reply(next_step=code)


class FlowIntent(Interceptor):
    """An order, an appointment, "remarcar", "meu horário", at any step: that flow, with
    what was said filled in; our "intencao:<rule>" buttons too."""

    def intercept(self, ctx: Context) -> Reply | None:
        message = ctx.message
        if message is None:
            return None
        if message.reply_id.startswith(INTENT_PREFIX):
            rule = message.reply_id.removeprefix(INTENT_PREFIX)
            # A button of a flow the bot no longer has: the first step, as "menu".
            return flow_reply(ctx, rule, tapped=True) or Reply(clear_state=True, restart=True)
        if not _typed(ctx) or takes_free_text(ctx):
            return None
        rule = intent.classify_local(ctx.text).rule
        if rule not in RULE_INTENTS and rule != intent.WANTS_RULE:
            return None
        return flow_reply(ctx, rule)


# --- After the step: the engine's hooks ---------------------------------------------------


def _business_answer(ctx: Context) -> str:
    """What the business told us that answers the customer's text ("" when nothing does)."""
    if intent.classify_local(ctx.text).settled:
        return ""  # "1", "oi", "menu", "quero pedir": never a question for the knowledge
    return knowledge.local_answer(tenant=ctx.chatbot.tenant, text=ctx.text)[: wa.TEXT_MAX]


def opening_reply(ctx: Context) -> Reply | None:
    """What to add to the flow's greeting for a new conversation's first message: the answer
    to the question it asked, or a person to answer it; None: the greeting is the answer
    ("oi", "1", or text that asks nothing)."""
    if not _typed(ctx) or takes_free_text(ctx):
        return None
    if assistant_in_use(ctx.chatbot, ctx.step) and assistant.model_usable(ctx.chatbot.tenant):
        return assistant.opening_reply(ctx)  # the model's answer follows (queue llm)
    answer = _business_answer(ctx)
    if answer:
        return Reply(messages=[wa.Text(body=answer)])
    if intent.is_question(ctx.text) and not intent.classify_local(ctx.text).settled:
        return Reply(
            messages=[wa.Text(body=str(QUESTION_TO_PERSON_TEXT))],
            handoff=True,
            queue=ai_options(ctx.chatbot).handoff_queue,
        )
    return None


def way_out_text(ctx: Context) -> str:
    keywords = ctx.chatbot.options.get("restart_keywords") or DEFAULT_RESTART_KEYWORDS
    return str(WAY_OUT_TEXT) % {"menu": str(keywords[0])}


def after_step(ctx: Context, reply: Reply) -> Reply:
    """The step's `reply` to the customer's message, or a better one when the step did not
    understand it (see the module docstring)."""
    misses = ctx.state.get(K_MISSES) or 0
    if not reply.not_understood:
        if misses:
            reply.state = {**reply.state, K_MISSES: 0}
        return reply
    answered = assistant.not_understood_reply(ctx, reply)
    if answered is not reply:
        answered.state = {**answered.state, K_MISSES: 0}
        return answered
    if _typed(ctx) and not assistant_in_use(ctx.chatbot, ctx.step):
        answer = _business_answer(ctx)
        if answer and ctx.step is not None:
            # The answer, then the step again: the customer carries on where they were.
            return Reply(
                messages=[wa.Text(body=answer)], next_step=ctx.step.code, state={K_MISSES: 0}
            )
    misses = (misses if isinstance(misses, int) else 0) + 1
    reply.state = {**reply.state, K_MISSES: misses}
    if misses >= MISSES_BEFORE_HINT:
        reply.messages = _with_way_out(reply.messages, way_out_text(ctx))
    return reply


def _with_way_out(messages: list[wa.Outbound], way_out: str) -> list[wa.Outbound]:
    """The re-prompt with the way out added to its first text, so that the step's buttons or
    list stay the last message (a typed number answers them: chatbots.numbered)."""
    first = messages[0] if messages else None
    if isinstance(first, wa.Text) and len(first.body) + len(way_out) + 2 <= wa.TEXT_MAX:
        return [wa.Text(body=f"{first.body}\n\n{way_out}"), *messages[1:]]
    return [wa.Text(body=way_out), *messages]
