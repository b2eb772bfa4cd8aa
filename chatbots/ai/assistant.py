"""The assistant's turn, in two halves on two queues.

On the replies path (the engine, queue `replies`), `reply_to_free_text` decides in a few
milliseconds and never calls the model: a blocked message gets the fallback; without a
usable model (no key, plan without AI or over its allowance, circuit breaker open) the
business's answer comes from the knowledge entries and our facts (chatbots.ai.knowledge),
or the bot's fallback; otherwise `chatbots.ai.tasks.answer_llm` is queued on `llm` with the
inbound Message id and the engine's turn ends (with "one moment" only if the bot says so).

On the `llm` queue, `answer_message` screens the message again together with the customer's
previous turns (an attack split over several messages), asks the breaker, has the model
classify the message (chatbots.ai.classifier, when the bot's "ai_screening" is on), builds
the grounded prompt, calls the model (outside any lock), meters the tokens, checks the
answer (an unfounded price, discount or rule becomes "vou confirmar com a equipe"), and
saves the reply under the same per-contact lock the engine uses, with
chatbots.outbox.queue.queue_replies (which sends it on `replies`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from prometheus_client import Counter

from billing.models import Tenant
from chatbots import wire as wa
from chatbots.ai import classifier, guard, intent, knowledge
from chatbots.ai.breaker import gemini_breaker
from chatbots.ai.client import ModelError, ai_configured, generate_json
from chatbots.ai.options import ai_options, assistant_in_use, flow_steps, handoff_offer_on
from chatbots.ai.prompt import (
    ANSWER_SCHEMA,
    allowed_link_domains,
    customer_turns_before,
    prompt_build,
)
from chatbots.handlers.base import Context, Reply
from chatbots.inbound import lock_contact
from chatbots.models import Conversation, Message, Step
from chatbots.wire import InboundMessage

logger = logging.getLogger(__name__)

ANSWERS = Counter(
    "chatbot_ai_answers_total",
    "Free-text answers by source: model, knowledge, fallback, blocked, rejected, deferred",
    ["source"],
)

# Taps on the buttons the assistant offers. The ids are ours, handled by
# chatbots.ai.interceptors.AssistantButtons whatever step the conversation is at.
PREFIX = "ai:"
PERSON_ID = "ai:humano"
MENU_ID = "ai:menu"
STAY_ID = "ai:ficar"
GOTO_PREFIX = "ai:goto:"  # + step code [+ ":" + the answered inbound Message id]

NEUTRAL_TEXT = gettext_lazy(
    "Desculpe, não consigo ajudar com isso por aqui. Posso te ajudar com informações sobre a "
    "empresa, nossos produtos e serviços."
)
NO_ANSWER_TEXT = gettext_lazy(
    "Não encontrei essa informação agora. Quer ver o menu ou falar com alguém da nossa equipe?"
)
SAFE_TEXT = gettext_lazy(
    "Desculpe, não consegui responder isso agora. Quer ver o menu ou falar com alguém da "
    "nossa equipe?"
)
# An answer promising a price, discount or rule the business's data does not hold.
CONFIRM_TEXT = gettext_lazy(
    "Preciso confirmar essa informação com a nossa equipe. Quer falar com uma pessoa agora?"
)
OFFER_PERSON_TEXT = gettext_lazy("Quer falar com uma pessoa da nossa equipe?")
OFFER_PERSON_UPSET_TEXT = gettext_lazy(
    "Sinto muito por isso. Quer falar com uma pessoa da nossa equipe?"
)
MORE_HELP_TEXT = gettext_lazy("Posso ajudar com mais alguma coisa?")
STAY_TEXT = gettext_lazy("Tudo bem! É só escrever sua dúvida que eu respondo.")
HANDOFF_TEXT = gettext_lazy(
    "Certo! Vou chamar uma pessoa da equipe. Aguarde um instante, por favor."
)
PERSON_TITLE = gettext_lazy("Falar com atendente")
MENU_TITLE = gettext_lazy("Ver menu")
STAY_TITLE = gettext_lazy("Continuar aqui")
FLOW_TITLES = {
    Message.Intent.PEDIDO: gettext_lazy("Fazer pedido"),
    Message.Intent.AGENDAMENTO: gettext_lazy("Agendar horário"),
}
# An answer that waited in the llm queue longer than this is not sent: the customer has
# moved on, and a late answer to an old question confuses more than it helps.
MAX_ANSWER_AGE = timedelta(minutes=10)
# A task delivered twice (acks_late, redelivery) answers once.
CLAIM_TTL = 24 * 3600


# --- Shared pieces ------------------------------------------------------------------------


def _ai_allowed(tenant: Tenant) -> bool:
    from billing.quotas import ai_allowed

    return ai_allowed(tenant=tenant)


def model_usable(tenant: Tenant) -> bool:
    """Could a model call be made for `tenant` now? (No side effects: no probe is claimed.)"""
    return ai_configured() and not gemini_breaker().is_open() and _ai_allowed(tenant)


def fallback_reply(text: str | None = None) -> Reply:
    """The bot's answer when neither the model nor the knowledge answers: menu or person."""
    return Reply(
        messages=[
            wa.Buttons(
                body=str(text or NO_ANSWER_TEXT),
                buttons=[
                    wa.Button(id=MENU_ID, title=str(MENU_TITLE)),
                    wa.Button(id=PERSON_ID, title=str(PERSON_TITLE)),
                ],
            )
        ]
    )


def _local_reply(tenant: Tenant, text: str, fallback: Reply) -> Reply:
    answer = knowledge.local_answer(tenant=tenant, text=text)
    if answer:
        ANSWERS.labels(source="knowledge").inc()
        return Reply(messages=[wa.Text(body=answer[: wa.TEXT_MAX])])
    ANSWERS.labels(source="fallback").inc()
    return fallback


def person_offer(guess: intent.Guess) -> wa.Buttons:
    upset = guess.polarity == Message.Polarity.VERY_NEGATIVE
    return wa.Buttons(
        body=str(OFFER_PERSON_UPSET_TEXT if upset else OFFER_PERSON_TEXT),
        buttons=[
            wa.Button(id=PERSON_ID, title=str(PERSON_TITLE)),
            wa.Button(id=STAY_ID, title=str(STAY_TITLE)),
        ],
    )


# --- The replies path (engine, handlers, interceptors) ------------------------------------


def reply_to_free_text(ctx: Context, *, fallback: Reply) -> Reply:
    """Answer the customer's free text without waiting for a model.

    `fallback` is what the bot says when nothing answers (a step's re-prompt, or the
    assistant's menu/person buttons).
    """
    verdict = guard.screen_input(ctx.text)
    if not verdict.allowed:
        logger.info(
            "prompt-injection guard blocked a message",
            extra={"conversation_id": ctx.conversation.pk, "reason": verdict.reason},
        )
        ANSWERS.labels(source="blocked").inc()
        return fallback
    tenant = ctx.chatbot.tenant
    if not model_usable(tenant):
        return _local_reply(tenant, verdict.text, fallback)
    message_id = _inbound_id(ctx)
    if message_id is None:
        return _local_reply(tenant, verdict.text, fallback)
    answer_later(message_id=message_id)
    ANSWERS.labels(source="deferred").inc()
    waiting = ai_options(ctx.chatbot).waiting_text
    return Reply(messages=[wa.Text(body=waiting[: wa.TEXT_MAX])] if waiting else [])


def not_understood_reply(ctx: Context, reply: Reply) -> Reply:
    """The engine's hook for a step's re-prompt: with "ai_fallback" on, answer the free
    text instead (now from knowledge, or later from the model); otherwise keep `reply`."""
    if ctx.message is None or ctx.message.type != "text" or not ctx.text:
        return reply
    if not ai_options(ctx.chatbot).fallback:
        return reply
    guess = intent.classify_local(ctx.text)
    if guess.settled:
        return reply  # "1", "oi", "menu"...: the step's own re-prompt is the right answer
    return reply_to_free_text(ctx, fallback=reply)


def opening_reply(ctx: Context) -> Reply | None:
    """A new conversation's first message, after the flow's greeting: when the customer
    opened with a question ("vocês abrem domingo?", not "oi", a number or "menu") and the
    assistant answers this bot's free text (its step is the one just entered, or
    "ai_fallback" is on), answer it too, rather than make them ask again. None: the
    greeting is the whole answer."""
    if ctx.message is None or ctx.message.type != "text" or not ctx.text:
        return None
    if not assistant_in_use(ctx.chatbot, ctx.step):
        return None
    if intent.classify_local(ctx.text).settled:
        return None
    reply = reply_to_free_text(ctx, fallback=Reply())
    return reply if reply.messages or reply.handoff else None


def answer_later(*, message_id: int) -> None:
    """Queue the model's answer to inbound Message `message_id` on the llm queue, on commit."""
    transaction.on_commit(partial(_publish, message_id))


def _publish(message_id: int) -> None:
    from chatbots.ai import tasks
    from config.celery import app

    try:
        tasks.answer_llm.delay(message_id)
    except Exception:
        if app.conf.task_always_eager:
            raise
        # The customer already got the turn's replies (or none); a lost answer is a lost
        # answer, not a stuck conversation.
        logger.exception("could not queue the assistant's answer", extra={"message_id": message_id})


def _inbound_id(ctx: Context) -> int | None:
    if ctx.message is None or not ctx.message.external_id:
        return None
    return (
        Message.objects.filter(
            conversation_id=ctx.conversation.pk,
            direction=Message.Direction.IN,
            provider_message_id=ctx.message.external_id,
        )
        .values_list("pk", flat=True)
        .first()
    )


# --- The llm queue ------------------------------------------------------------------------


def answer_message(*, message_id: int) -> list[Message]:
    """Body of chatbots.ai.tasks.answer_llm: answer one inbound message with the model.

    Returns the queued reply rows (empty when nothing was sent: a duplicate task, a
    conversation a person took over, an answer too late to make sense).
    """
    inbound = (
        Message.objects.select_related("conversation__chatbot__tenant", "conversation__cliente")
        .filter(pk=message_id, direction=Message.Direction.IN)
        .first()
    )
    if inbound is None:
        return []
    if not cache.add(f"ai:answer:{message_id}", 1, timeout=CLAIM_TTL):
        return []  # another delivery of this task answered (or is answering) it
    conversation = inbound.conversation
    if conversation.status != Conversation.Status.BOT:
        return []
    if timezone.now() - inbound.created_at > MAX_ANSWER_AGE:
        logger.warning(
            "assistant answer dropped: waited too long", extra={"message_id": message_id}
        )
        return []
    try:
        messages, guess = _answer(conversation, inbound)
    except Exception:  # a bug of ours must not leave the customer without any answer
        logger.exception("assistant failed; sending the fallback", extra={"message_id": message_id})
        messages, guess = fallback_reply(str(SAFE_TEXT)).messages, None
    return _save(conversation, inbound, messages, guess)


def _answer(conversation: Conversation, inbound: Message) -> tuple[list[wa.Outbound], Any]:
    chatbot = conversation.chatbot
    tenant = chatbot.tenant
    earlier = customer_turns_before(conversation=conversation, before=inbound)
    verdict = guard.screen_conversation([*earlier, inbound.text])
    if not verdict.allowed:
        return _refused(inbound, verdict.reason), None
    breaker = gemini_breaker()
    if not ai_configured() or not _ai_allowed(tenant) or not breaker.allow():
        return _local_reply(tenant, verdict.text, fallback_reply()).messages, None
    if ai_options(chatbot).screening:
        refused = guard.attack_turns(earlier)
        screening = classifier.classify(
            text=verdict.text,
            earlier=[guard.clean(t) for i, t in enumerate(earlier) if i not in refused],
        )
        _meter(tenant, screening.tokens)
        if screening.attack:
            guard.BLOCKED.labels(side="input", reason="classifier").inc()
            return _refused(inbound, "classifier"), None

    built = prompt_build(conversation=conversation, inbound=inbound, text=verdict.text)
    try:
        result = generate_json(system=built.system, turns=built.turns, schema=ANSWER_SCHEMA)
    except ModelError as exc:
        # The model's own safety filter refusing a customer's text is not an outage: counting
        # it would let one customer switch the AI off for every tenant.
        if exc.kind == "blocked":
            breaker.record_success()
        else:
            breaker.record_failure()
        _meter(tenant, exc.tokens)
        return _local_reply(tenant, verdict.text, fallback_reply()).messages, None
    _meter(tenant, result.tokens)
    parsed = _parse(result.data)
    if parsed is None:
        breaker.record_failure()
        return _local_reply(tenant, verdict.text, fallback_reply()).messages, None
    breaker.record_success()
    answer, guess, offer = parsed
    intent.count(guess, source="model")

    policy = guard.OutputPolicy(
        rules=built.rules,
        canary=built.canary,
        facts=built.facts,
        own_phones=[p for p in (conversation.cliente.telefone, chatbot.display_number) if p],
        allowed_domains=allowed_link_domains(tenant),
        secrets=_secrets(chatbot),
    )
    checked = guard.check_output(answer, policy)
    if not checked.ok:
        logger.warning(
            "assistant answer rejected by the output guard",
            extra={"message_id": inbound.pk, "reason": checked.reason},
        )
        ANSWERS.labels(source="rejected").inc()
        text = CONFIRM_TEXT if checked.promise else SAFE_TEXT
        return fallback_reply(str(text)).messages, guess
    ANSWERS.labels(source="model").inc()
    step = Step.objects.filter(chatbot=chatbot, code=conversation.current_step, active=True).first()
    return _compose(answer, guess, offer, chatbot=chatbot, step=step, asked=inbound.pk), guess


def _refused(inbound: Message, reason: str) -> list[wa.Outbound]:
    logger.info(
        "prompt-injection guard blocked a message before the model",
        extra={"message_id": inbound.pk, "reason": reason},
    )
    ANSWERS.labels(source="blocked").inc()
    return [wa.Text(body=str(NEUTRAL_TEXT))]


def _parse(data: dict[str, Any]) -> tuple[str, intent.Guess, str] | None:
    answer = data.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return None
    intents = {c.value for c in Message.Intent}
    polarities = {c.value for c in Message.Polarity}
    found_intent = data.get("intent") if data.get("intent") in intents else ""
    found_polarity = data.get("polarity") if data.get("polarity") in polarities else ""
    offer = data.get("offer") if isinstance(data.get("offer"), str) else ""
    return answer.strip(), intent.Guess(found_intent, found_polarity, "model"), offer


def goto_id(code: str, asked: int | None = None) -> str:
    """The id of a button to step `code`, carrying the inbound Message `asked` whose answer
    offers it: tapped, the flow opens with what that message said filled in
    (chatbots.ai.interceptors.AssistantButtons)."""
    return f"{GOTO_PREFIX}{code}:{asked}" if asked else f"{GOTO_PREFIX}{code}"


def _compose(
    answer: str, guess: intent.Guess, offer: str, *, chatbot, step, asked: int | None = None
) -> list[wa.Outbound]:
    """The answer, ending with buttons: the flow it proposes (for the message `asked`), or a
    person."""
    buttons: list[wa.Button] = []
    flows = flow_steps(chatbot=chatbot, step=step)
    if offer in flows and offer in FLOW_TITLES:
        buttons.append(wa.Button(id=goto_id(flows[offer], asked), title=str(FLOW_TITLES[offer])))
    person = offer == Message.Intent.HUMANO or (
        intent.wants_person(guess) and handoff_offer_on(chatbot, step)
    )
    if person:
        buttons.append(wa.Button(id=PERSON_ID, title=str(PERSON_TITLE)))
    if not buttons:
        return [wa.Text(body=answer)]
    if len(answer) <= wa.INTERACTIVE_BODY_MAX:
        return [wa.Buttons(body=answer, buttons=buttons)]
    return [wa.Text(body=answer), wa.Buttons(body=str(MORE_HELP_TEXT), buttons=buttons)]


def _meter(tenant: Tenant, tokens: int) -> None:
    if tokens <= 0:
        return
    from billing.metering import record

    record(tenant_id=tenant.pk, ai_tokens=tokens)


def _secrets(chatbot) -> list[str]:
    values = [settings.GEMINI_API_KEY, settings.SECRET_KEY]
    values += [chatbot.access_token, chatbot.app_secret, chatbot.verify_token]
    return [str(v) for v in values if v]


def _contact_key(inbound: Message) -> str:
    """The key the engine locks the contact by (InboundEvent.contact_key)."""
    try:
        key = InboundMessage.from_dict(inbound.payload).contact_key
    except (KeyError, TypeError, ValueError):
        key = ""
    cliente = inbound.conversation.cliente
    return (key or cliente.telefone or getattr(cliente, "whatsapp_user_id", "") or "")[:64]


def _save(
    conversation: Conversation,
    inbound: Message,
    messages: list[wa.Outbound],
    guess: intent.Guess | None,
) -> list[Message]:
    from chatbots.outbox import queue

    with transaction.atomic():
        lock_contact(chatbot_id=conversation.chatbot_id, contact_key=_contact_key(inbound))
        status = (
            Conversation.objects.filter(pk=conversation.pk).values_list("status", flat=True).first()
        )
        if status != Conversation.Status.BOT:
            return []  # a person took over while the model was thinking
        if guess is not None and (guess.intent or guess.polarity):
            Message.objects.filter(pk=inbound.pk).update(
                intent=guess.intent or inbound.intent, polarity=guess.polarity or inbound.polarity
            )
        return queue.queue_replies(conversation=conversation, messages=messages)
